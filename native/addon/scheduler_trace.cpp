// schedulerTrace({ scheduler, config, steps, noise, modelOutputs, ancestralNoise? }) → trace: a
// scheduler (diffusion/schedulers.h) run on caller-supplied model outputs, every step kept, for the
// fixture runner (ancestralNoise: the fresh noise each step draws — Euler a, LCM — step after
// step). Synchronous: arithmetic on a few small arrays.
#include <cstring>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/bindings.h"
#include "addon/errors.h"
#include "addon/js_values.h"
#include "diffusion/schedulers.h"
#include "formats/json.h"

namespace bgn::addon {

namespace {

// Runs a scheduler the way diffusers' pipelines do, on caller-supplied model outputs:
//   set_timesteps(steps); x = noise · init_noise_sigma;
//   for i: scaled[i] = scale_model_input(x, i); x = step(model_outputs[i], i, x) → samples[i]
Napi::Value SchedulerTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) bad_input(env, "schedulerTrace(options): options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.Get("scheduler").IsString())
    bad_input(env, "schedulerTrace: scheduler must be a sampler or diffusers class name");
  const std::string name = o.Get("scheduler").As<Napi::String>();
  const std::string config_json = json_option(env, o, "config");
  const int steps = int(int_value(env, o.Get("steps"), "steps", 1, 10000));
  Napi::Float32Array noise = f32_view(env, o.Get("noise"), "noise");
  Napi::Float32Array outs = f32_view(env, o.Get("modelOutputs"), "modelOutputs");
  Napi::Value anc_v = o.Get("ancestralNoise");
  Napi::Float32Array anc = anc_v.IsUndefined() ? Napi::Float32Array() : f32_view(env, anc_v, "ancestralNoise");
  const int64_t per = int64_t(noise.ElementLength());
  if (per == 0) bad_input(env, "schedulerTrace: noise is empty");

  return guarded(env, [&]() -> Napi::Value {
    bool karras = false;
    SchedulerKind kind = scheduler_kind_from_name(name, &karras);
    SchedulerConfig c =
        SchedulerConfig::from_json(kind, json::parse(config_json, "scheduler config"), "scheduler config");
    if (karras) c.use_karras_sigmas = true;
    auto s = make_scheduler(kind, c);
    s->set_timesteps(steps);
    const int n = s->num_steps();
    if (int64_t(outs.ElementLength()) < n * per)
      fail(Code::BadInput, "schedulerTrace: modelOutputs has ", outs.ElementLength(), " values; ", n, " steps of ", per,
           " need ", n * per);
    Shape shape{per};
    Tensor x = Tensor::empty(DType::F32, shape);
    for (int64_t k = 0; k < per; ++k) x.data<float>()[k] = noise.Data()[k] * s->init_noise_sigma();
    Tensor initial = x.clone();
    std::vector<float> scaled(size_t(n * per)), samples(size_t(n * per)), x0s(size_t(n * per)), denoised;
    for (int i = 0; i < n; ++i) {
      Tensor xin = s->scale_model_input(x, i);
      std::memcpy(&scaled[size_t(i * per)], xin.raw(), size_t(per) * 4);
      Tensor mo = Tensor::view(DType::F32, shape, outs.Data() + i * per, nullptr);
      NoiseFn nf = [&](float* out, int64_t cnt) {
        if (anc.IsEmpty() || int64_t(anc.ElementLength()) < (i + 1) * per || cnt != per)
          fail(Code::BadInput, "schedulerTrace: this sampler needs ancestralNoise (", n, " × ", per, " values)");
        std::memcpy(out, anc.Data() + i * per, size_t(cnt) * 4);
      };
      Tensor x0;
      x = s->step(mo, i, x, nf, &x0);
      std::memcpy(&samples[size_t(i * per)], x.raw(), size_t(per) * 4);
      std::memcpy(&x0s[size_t(i * per)], x0.raw(), size_t(per) * 4);
      const Tensor& den = s->last_denoised();
      if (den.numel() == per) denoised.insert(denoised.end(), den.data<float>(), den.data<float>() + per);
    }
    Napi::Object r = Napi::Object::New(env);
    Napi::Float64Array ts = Napi::Float64Array::New(env, size_t(n));
    for (int i = 0; i < n; ++i) ts[size_t(i)] = s->timesteps()[size_t(i)];
    r.Set("scheduler", scheduler_class_name(kind));
    r.Set("timesteps", ts);
    r.Set("sigmas", f32_js(env, s->sigmas().data(), s->sigmas().size()));
    r.Set("initNoiseSigma", Napi::Number::New(env, s->init_noise_sigma()));
    r.Set("initialSample", f32_js(env, initial.data<float>(), size_t(per)));
    r.Set("scaledModelInputs", f32_js(env, scaled.data(), scaled.size()));
    r.Set("samples", f32_js(env, samples.data(), samples.size()));
    r.Set("predOriginalSamples", f32_js(env, x0s.data(), x0s.size()));
    if (!denoised.empty()) r.Set("denoised", f32_js(env, denoised.data(), denoised.size()));
    return r;
  });
}

}  // namespace

void init_scheduler_trace(Napi::Env env, Napi::Object exports) {
  exports.Set("schedulerTrace", Napi::Function::New(env, SchedulerTrace, "schedulerTrace"));
}

}  // namespace bgn::addon
