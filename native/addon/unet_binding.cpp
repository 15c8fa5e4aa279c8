// JS class UNet: a diffusion model's UNet on its own (models/unet.h; the fixture runner and
// pipelineTrace drive it).
//
//   UNet.load(pathOrDir, { threads, device, attentionHeads, loras, precision }) → Promise<UNet>
//     precision: 'f32' (default) | 'bf16' | 'auto' (bf16 where the CPU has AVX512-BF16), nn/precision.h
//     loras: [{ path, scale? = 1 }], merged into this component's weights (models/lora.h); the
//     LoRA modules for other components are not used
//   unet.forward({ sample: Float32Array, shape: [N,C,H,W], timesteps: number[] | Float32Array (1 or N),
//                  context: Float32Array (N·S·D), textEmbeds?: Float32Array (N·P), timeIds?: Float32Array (N·6) })
//     → Promise<Float32Array (N,out,H,W)>; textEmbeds + timeIds: required by SDXL UNets, refused by others
//   unet.inChannels, unet.outChannels, unet.contextDim, unet.heads, unet.textTime, unet.layout,
//   unet.precision ('f32' | 'bf16': what its CPU layers compute in); unet.dispose()
//
// pathOrDir: an LDM single-file .safetensors, a diffusers pipeline folder, a component folder or
// a component's .safetensors file (see models/weight_map.h).
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/component_handles.h"
#include "addon/device.h"
#include "addon/errors.h"
#include "addon/handle_wrap.h"
#include "addon/js_values.h"
#include "models/lora.h"
#include "models/unet.h"

namespace bgn::addon {

namespace {

class UNetWrap : public HandleWrap<UNetModel, UNetWrap> {
 public:
  static constexpr const char* kName = "UNet";
  static constexpr const char* kCreate = "use UNet.load(path, options)";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, kName,
        {StaticMethod("load", &UNetWrap::Load), InstanceMethod("forward", &UNetWrap::Forward),
         InstanceMethod("dispose", &UNetWrap::Dispose), InstanceAccessor("inChannels", &UNetWrap::Get<0>, nullptr),
         InstanceAccessor("outChannels", &UNetWrap::Get<1>, nullptr),
         InstanceAccessor("contextDim", &UNetWrap::Get<2>, nullptr),
         InstanceAccessor("heads", &UNetWrap::Heads, nullptr),
         InstanceAccessor("textTime", &UNetWrap::TextTime, nullptr),
         InstanceAccessor("layout", &UNetWrap::Layout, nullptr),
         InstanceAccessor("precision", &UNetWrap::Precision, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      const std::string path = string_arg(info, 0, "UNet.load(path, options): path must be a string");
      Napi::Object o = options_arg(info, 1);
      UnetLoadOptions opts;
      opts.threads = int(int_option(env, o, "threads", 0, 0, 1024));
      opts.attention_heads = int_option(env, o, "attentionHeads", 0, 0, 4096);
      const std::string device = device_option(env, o);
      const std::vector<LoraSpec> loras = loras_option(env, o);
      // The spelling is the core's to check (nn::resolve_precision): E_BAD_INPUT from the worker.
      const std::string precision = string_option(env, o, "precision", "f32");
      return run_async<std::shared_ptr<UNetModel>>(
          env,
          [path, opts, device, loras, precision]() mutable {
            opts.gpu = resolve_device(device);
            opts.precision = nn::resolve_precision(precision, !opts.gpu);
            ResidentRanges mapped;  // at bf16 the packing releases these pages as it goes
            ResidencyScope scope(&mapped);
            return UNetModel::from_weights(
                load_component_with_loras(path, Component::Unet, open_loras(loras), opts.threads), opts);
          },
          &UNetWrap::wrap);
    });
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 1 || !info[0].IsObject()) bad_input(env, "forward({ sample, shape, timesteps, context })");
      Napi::Object a = info[0].As<Napi::Object>();
      const UnetConfig& c = m->config();
      const Shape s = shape_value(env, a.Get("shape"), 4, "shape");
      if (s[1] != c.in_channels)
        bad_input(env, "this UNet takes " + std::to_string(c.in_channels) + " input channels; sample has " +
                           std::to_string(s[1]));
      const int64_t N = s[0], H = s[2], W = s[3];
      std::vector<float> x = f32_value(env, a.Get("sample"), N * s[1] * H * W, "sample");
      // timesteps: one per batch element, or one for all
      std::vector<float> ts = numbers_value(env, a.Get("timesteps"), "timesteps");
      if (ts.size() == 1) ts.assign(size_t(N), ts[0]);
      if (int64_t(ts.size()) != N) bad_input(env, "timesteps must have 1 or " + std::to_string(N) + " values");
      for (float t : ts)
        if (!std::isfinite(t)) bad_input(env, "timesteps must be finite");
      Napi::Value cv = a.Get("context");
      if (!is_typed(cv, napi_float32_array))
        bad_input(env, "context must be a Float32Array (N, S, " + std::to_string(c.context_dim) + ")");
      const int64_t clen = int64_t(cv.As<Napi::Float32Array>().ElementLength());
      if (clen == 0 || clen % (N * c.context_dim) != 0)
        bad_input(env,
                  "context has " + std::to_string(clen) + " values; expected N·S·" + std::to_string(c.context_dim));
      const int64_t S = clen / (N * c.context_dim);
      std::vector<float> ctx = f32_value(env, cv, clen, "context");
      // SDXL: pooled text (N, P) and time ids (N, 6)
      std::vector<float> te, ti;
      Napi::Value tev = a.Get("textEmbeds"), tiv = a.Get("timeIds");
      const bool has_added = !tev.IsUndefined() || !tiv.IsUndefined();
      if (c.text_time && !has_added)
        bad_input(env,
                  "this is an SDXL UNet: forward needs textEmbeds (N·P pooled text) and timeIds (N·6: original size, "
                  "crop top-left, target size)");
      if (!c.text_time && has_added) bad_input(env, "textEmbeds / timeIds are for SDXL UNets; this UNet takes neither");
      int64_t P = 0;
      if (has_added) {
        if (!is_typed(tev, napi_float32_array)) bad_input(env, "textEmbeds must be a Float32Array (N·P)");
        const int64_t tlen = int64_t(tev.As<Napi::Float32Array>().ElementLength());
        if (tlen == 0 || tlen % N != 0)
          bad_input(env, "textEmbeds has " + std::to_string(tlen) + " values; expected N·P");
        P = tlen / N;
        te = f32_value(env, tev, tlen, "textEmbeds");
        ti = f32_value(env, tiv, N * 6, "timeIds");
        guarded(env, [&] { return m->time_id_dim(P); });
      }
      return run_async<std::vector<float>>(
          env,
          [m, x, ts, ctx, N, H, W, S, te, ti, P] {
            UnetAddedCond ac;
            ac.text_embeds = te.data();
            ac.P = P;
            ac.time_ids = ti.data();
            return m->forward(x.data(), N, H, W, ts.data(), ctx.data(), S, te.empty() ? nullptr : &ac);
          },
          [](Napi::Env env, std::vector<float>& r) -> Napi::Value { return f32_js(env, r); });
    });
  }

  template <int K>
  Napi::Value Get(const Napi::CallbackInfo& info) {
    if (!impl_) return info.Env().Undefined();
    const UnetConfig& c = impl_->config();
    const int64_t v[] = {c.in_channels, c.out_channels, c.context_dim};
    return Napi::Number::New(info.Env(), double(v[K]));
  }
  Napi::Value TextTime(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::Boolean::New(info.Env(), impl_->config().text_time)) : info.Env().Undefined();
  }
  Napi::Value Heads(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(shape_js(info.Env(), impl_->config().heads)) : info.Env().Undefined();
  }
  Napi::Value Layout(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->layout())) : info.Env().Undefined();
  }
  Napi::Value Precision(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), nn::precision_name(impl_->precision())))
                 : info.Env().Undefined();
  }
};

}  // namespace

std::shared_ptr<UNetModel> unet_of(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(UNetWrap::ctor->Value()))
    bad_input(env, std::string(what) + " must be a UNet");
  return UNetWrap::Unwrap(v.As<Napi::Object>())->impl(env);
}

void init_unet(Napi::Env env, Napi::Object exports) { UNetWrap::export_class(env, exports); }

}  // namespace bgn::addon
