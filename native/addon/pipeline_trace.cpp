// pipelineTrace(): the pipeline core (diffusion/pipeline.h) on supplied embeddings, with every
// per-step tensor kept — for the fixture runner, which compares each against the reference.
//
//   pipelineTrace({ kind: 'txt2img'|'img2img'|'inpaint', unet, vae, scheduler, config, steps, guidance,
//                   strength?, cond: Float32Array (S·D), uncond?: Float32Array, height, width,
//                   image?: Float32Array (3·H·W in [0,1]), mask?: Float32Array (H·W), latents?, vaeNoise?,
//                   noise?, stepNoise?, seed?, tiled?, tileSize?, tileOverlap?, pooled?, uncondPooled?,
//                   timeIds? (SDXL), tinyVae? })
//     → Promise<{ timesteps, unetTimesteps, unetInputs, unetOutputs, stepLatents, stepDenoised,
//                 finalLatents, imageRaw, image, initLatents, maskedImageLatents, maskLatent }>
//   unet / vae: UNet and Vae objects (unet_binding.cpp, vae_binding.cpp); tinyVae: a TinyVae
//   (tiny_vae_binding.cpp) for the draft quality: it decodes the result and, having an encoder,
//   encodes the img2img / inpainting images.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/component_handles.h"
#include "addon/errors.h"
#include "addon/js_values.h"
#include "diffusion/pipeline.h"
#include "diffusion/schedulers.h"
#include "formats/json.h"

namespace bgn::addon {

namespace {

Napi::Float64Array f64_js(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

Napi::Value trace_js(Napi::Env env, PipelineResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("timesteps", f64_js(env, r.timesteps));
  out.Set("unetTimesteps", f32_js(env, r.unet_timesteps));
  out.Set("unetInputs", f32_js(env, r.unet_inputs));
  out.Set("unetOutputs", f32_js(env, r.unet_outputs));
  out.Set("stepLatents", f32_js(env, r.step_latents));
  out.Set("stepDenoised", f32_js(env, r.step_denoised));
  out.Set("finalLatents", f32_js(env, r.final_latents));
  out.Set("imageRaw", f32_js(env, r.image_raw));
  out.Set("image", f32_js(env, r.image));
  out.Set("initLatents", f32_js(env, r.init_latents));
  out.Set("maskedImageLatents", f32_js(env, r.masked_image_latents));
  out.Set("maskLatent", f32_js(env, r.mask_latent));
  return out;
}

Napi::Value PipelineTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return with_promise(env, [&] {
    if (info.Length() < 1 || !info[0].IsObject()) bad_input(env, "pipelineTrace(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto req = std::make_shared<PipelineRequest>();
    const std::string kind = enum_option(env, o, "kind", {"txt2img", "img2img", "inpaint"}, "");
    if (kind.empty()) bad_input(env, "kind must be 'txt2img', 'img2img' or 'inpaint'");
    req->kind = kind == "txt2img"   ? PipelineKind::Txt2Img
                : kind == "img2img" ? PipelineKind::Img2Img
                                    : PipelineKind::Inpaint;
    req->unet = unet_of(env, o.Get("unet"), "unet");
    req->vae = vae_of(env, o.Get("vae"), "vae");
    if (!o.Get("tinyVae").IsUndefined()) {
      req->tiny_vae = tiny_vae_of(env, o.Get("tinyVae"), "tinyVae");
      req->tiny_decode = true;
    }
    Napi::Value sn = o.Get("scheduler");
    if (!sn.IsString()) bad_input(env, "scheduler must be a sampler or diffusers scheduler class name");
    const std::string sched_name = sn.As<Napi::String>();
    const std::string config_text = json_option(env, o, "config");
    guarded(env, [&] {
      bool karras = false;
      SchedulerKind sk = scheduler_kind_from_name(sched_name, &karras);
      SchedulerConfig sc = SchedulerConfig::from_json(sk, json::parse(config_text, "scheduler config"), sched_name);
      if (karras) sc.use_karras_sigmas = true;
      req->scheduler = make_scheduler(sk, sc);
      return 0;
    });
    req->steps = int(int_option(env, o, "steps", 20, 1, 1000));
    req->guidance = float(number_option(env, o, "guidance", 7.5));
    req->strength = number_option(env, o, "strength", 1.0);
    req->height = int_option(env, o, "height", 0, 1, 65536);
    req->width = int_option(env, o, "width", 0, 1, 65536);
    req->seed = uint64_t(int_option(env, o, "seed", 0, 0, int64_t(1) << 53));
    req->cond = f32_option(env, o, "cond");
    req->uncond = f32_option(env, o, "uncond");
    const int64_t D = req->unet->config().context_dim;
    req->seq = D ? int64_t(req->cond.size()) / D : 0;
    req->pooled = f32_option(env, o, "pooled");
    req->uncond_pooled = f32_option(env, o, "uncondPooled");
    req->time_ids = f32_option(env, o, "timeIds");
    req->image = f32_option(env, o, "image");
    req->mask = f32_option(env, o, "mask");
    req->noise = f32_option(env, o, "latents");
    req->vae_noise = f32_option(env, o, "vaeNoise");
    req->img2img_noise = f32_option(env, o, "noise");
    req->step_noise = f32_option(env, o, "stepNoise");
    req->vae_tiling = tiling_option(env, o, VaeTiling::Off);
    req->trace = true;
    return run_async<PipelineResult>(
        env, [req] { return run_pipeline(*req); }, &trace_js);
  });
}

}  // namespace

void init_pipeline_trace(Napi::Env env, Napi::Object exports) {
  exports.Set("pipelineTrace", Napi::Function::New(env, PipelineTrace, "pipelineTrace"));
}

}  // namespace bgn::addon
