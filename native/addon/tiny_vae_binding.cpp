// TinyVae: the tiny autoencoder (TAESD / TAESDXL, models/taesd.h) on its own.
//
//   TinyVae.load(pathOrDir, { threads?, device? }) → Promise<TinyVae>
//     pathOrDir: a diffusers AutoencoderTiny folder or .safetensors, taesd_decoder.safetensors /
//     taesd_encoder.safetensors, or a folder holding them (models/taesd_weights.h)
//   vae.encode(image: Float32Array, [N,C,H,W]) → Promise<{ latents: Float32Array, shape }>   image in [−1, 1]
//   vae.decode(latents: Float32Array, [N,C,h,w]) → Promise<{ image: Float32Array, shape }>  ≈[−1, 1], unclamped
//   vae.scaleLatents(latents: Float32Array) → Float32Array   clamp(x / (2·latentMagnitude) + latentShift, 0, 1)
//   vae.latentChannels, imageChannels, downscale, scalingFactor, hasEncoder, hasDecoder, layout; vae.dispose()
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/component_handles.h"
#include "addon/device.h"
#include "addon/handle_wrap.h"
#include "addon/js_values.h"
#include "models/taesd.h"

namespace bgn::addon {

namespace {

class TinyVaeWrap : public HandleWrap<TaesdModel, TinyVaeWrap> {
 public:
  static constexpr const char* kName = "TinyVae";
  static constexpr const char* kCreate = "use TinyVae.load(path, options)";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, kName,
        {StaticMethod("load", &TinyVaeWrap::Load), InstanceMethod("encode", &TinyVaeWrap::Encode),
         InstanceMethod("decode", &TinyVaeWrap::Decode), InstanceMethod("scaleLatents", &TinyVaeWrap::ScaleLatents),
         InstanceMethod("dispose", &TinyVaeWrap::Dispose),
         InstanceAccessor("latentChannels", &TinyVaeWrap::Get<0>, nullptr),
         InstanceAccessor("imageChannels", &TinyVaeWrap::Get<1>, nullptr),
         InstanceAccessor("downscale", &TinyVaeWrap::Get<2>, nullptr),
         InstanceAccessor("hasEncoder", &TinyVaeWrap::Get<3>, nullptr),
         InstanceAccessor("hasDecoder", &TinyVaeWrap::Get<4>, nullptr),
         InstanceAccessor("scalingFactor", &TinyVaeWrap::Scaling, nullptr),
         InstanceAccessor("layout", &TinyVaeWrap::Layout, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      const std::string path = string_arg(info, 0, "TinyVae.load(path, options): path must be a string");
      Napi::Object o = options_arg(info, 1);
      TaesdLoadOptions opts;
      opts.threads = int(int_option(env, o, "threads", 0, 0, 1024));
      const std::string device = device_option(env, o);
      return run_async<std::shared_ptr<TaesdModel>>(
          env,
          [path, opts, device]() mutable {
            opts.gpu = resolve_device(device);
            return TaesdModel::load(path, opts);
          },
          &TinyVaeWrap::wrap);
    });
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 2) bad_input(env, "encode(image: Float32Array, shape: [N, C, H, W])");
      const Shape s = shape_value(env, info[1], 4, "shape");
      const TaesdConfig& c = m->config();
      if (s[1] != c.image_channels)
        bad_input(env, "this tiny autoencoder encodes " + std::to_string(c.image_channels) + "-channel images; got " +
                           std::to_string(s[1]));
      std::vector<float> x = f32_value(env, info[0], s[0] * s[1] * s[2] * s[3], "image");
      const int64_t f = c.downscale, lc = c.latent_channels;
      return run_async<std::vector<float>>(
          env, [m, x, s] { return m->encode(x.data(), s[0], s[2], s[3]); },
          [s, f, lc](Napi::Env env, std::vector<float>& r) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("latents", f32_js(env, r));
            o.Set("shape", shape_js(env, {s[0], lc, s[2] / f, s[3] / f}));
            return o;
          });
    });
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 2) bad_input(env, "decode(latents: Float32Array, shape: [N, C, h, w])");
      const Shape s = shape_value(env, info[1], 4, "shape");
      const TaesdConfig& c = m->config();
      if (s[1] != c.latent_channels)
        bad_input(env, "this tiny autoencoder decodes " + std::to_string(c.latent_channels) + "-channel latents; got " +
                           std::to_string(s[1]));
      std::vector<float> x = f32_value(env, info[0], s[0] * s[1] * s[2] * s[3], "latents");
      const int64_t f = c.downscale, ic = c.image_channels;
      return run_async<std::vector<float>>(
          env, [m, x, s] { return m->decode(x.data(), s[0], s[2], s[3]); },
          [s, f, ic](Napi::Env env, std::vector<float>& r) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("image", f32_js(env, r));
            o.Set("shape", shape_js(env, {s[0], ic, s[2] * f, s[3] * f}));
            return o;
          });
    });
  }

  // Synchronous: one clamp per value.
  Napi::Value ScaleLatents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 1) bad_input(env, "scaleLatents(latents: Float32Array)");
    std::vector<float> x = f32_value(env, info[0], -1, "latents");
    m->scale_latents(x.data(), int64_t(x.size()));
    return f32_js(env, x);
  }

  template <int K>
  Napi::Value Get(const Napi::CallbackInfo& info) {
    if (!impl_) return info.Env().Undefined();
    const TaesdConfig& c = impl_->config();
    if (K == 3) return Napi::Boolean::New(info.Env(), impl_->has_encoder());
    if (K == 4) return Napi::Boolean::New(info.Env(), impl_->has_decoder());
    const int64_t v[] = {c.latent_channels, c.image_channels, c.downscale};
    return Napi::Number::New(info.Env(), double(v[K < 3 ? K : 0]));
  }
  Napi::Value Scaling(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::Number::New(info.Env(), impl_->config().scaling_factor)) : info.Env().Undefined();
  }
  Napi::Value Layout(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->layout())) : info.Env().Undefined();
  }
};

}  // namespace

std::shared_ptr<TaesdModel> tiny_vae_of(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(TinyVaeWrap::ctor->Value()))
    bad_input(env, std::string(what) + " must be a TinyVae");
  return TinyVaeWrap::Unwrap(v.As<Napi::Object>())->impl(env);
}

void init_tiny_vae(Napi::Env env, Napi::Object exports) { TinyVaeWrap::export_class(env, exports); }

}  // namespace bgn::addon
