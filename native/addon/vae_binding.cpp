// JS class Vae: a diffusion model's VAE on its own (models/vae.h; the fixture runner and
// pipelineTrace drive it).
//
//   Vae.load(pathOrDir, { threads, device }) → Promise<Vae>
//   vae.encode(image: Float32Array, [N,C,H,W], tiling?) → Promise<{ moments: Float32Array, shape }>
//   vae.decode(latents: Float32Array, [N,C,h,w], tiling?) → Promise<{ image: Float32Array, shape }>
//     tiling: { tiled?: 'auto' | true | false = false, tileSize? = 64, tileOverlap? = 16 } (latent
//     pixels; see models/vae_tiling.h). The default here is false — the plain pass, exact
//     against the reference; 'auto' tiles latents larger in area than tileSize², true any
//     latent that does not fit one tile. Bad values reject with E_BAD_INPUT.
//   vae.scalingFactor, vae.latentChannels, vae.downscale, vae.imageChannels, vae.layout; vae.dispose()
//
// pathOrDir: an LDM single-file .safetensors, a diffusers pipeline folder, a component folder or
// a component's .safetensors file (see models/weight_map.h).
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
#include "models/vae.h"
#include "models/vae_tiling.h"

namespace bgn::addon {

namespace {

class VaeWrap : public HandleWrap<VaeModel, VaeWrap> {
 public:
  static constexpr const char* kName = "Vae";
  static constexpr const char* kCreate = "use Vae.load(path, options)";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, kName,
                       {StaticMethod("load", &VaeWrap::Load), InstanceMethod("encode", &VaeWrap::Encode),
                        InstanceMethod("decode", &VaeWrap::Decode), InstanceMethod("dispose", &VaeWrap::Dispose),
                        InstanceAccessor("scalingFactor", &VaeWrap::Scaling, nullptr),
                        InstanceAccessor("latentChannels", &VaeWrap::Get<0>, nullptr),
                        InstanceAccessor("downscale", &VaeWrap::Get<1>, nullptr),
                        InstanceAccessor("imageChannels", &VaeWrap::Get<2>, nullptr),
                        InstanceAccessor("layout", &VaeWrap::Layout, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      const std::string path = string_arg(info, 0, "Vae.load(path, options): path must be a string");
      Napi::Object o = options_arg(info, 1);
      VaeLoadOptions opts;
      opts.threads = int(int_option(env, o, "threads", 0, 0, 1024));
      const std::string device = device_option(env, o);
      return run_async<std::shared_ptr<VaeModel>>(
          env,
          [path, opts, device]() mutable {
            opts.gpu = resolve_device(device);
            return VaeModel::load(path, opts);
          },
          &VaeWrap::wrap);
    });
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 2) bad_input(env, "encode(image: Float32Array, shape: [N, C, H, W], tiling?)");
      const Shape s = shape_value(env, info[1], 4, "shape");
      const VaeConfig& c = m->config();
      if (s[1] != c.image_channels)
        bad_input(env, "this VAE encodes " + std::to_string(c.image_channels) + "-channel images; got " +
                           std::to_string(s[1]));
      std::vector<float> x = f32_value(env, info[0], s[0] * s[1] * s[2] * s[3], "image");
      const VaeTileOptions t = tiling_option(env, options_arg(info, 2), VaeTiling::Off);
      const int64_t f = c.downscale, lc = c.latent_channels;
      return run_async<std::vector<float>>(
          env, [m, x, s, t] { return vae_encode(*m, x.data(), s[0], s[2], s[3], t); },
          [s, f, lc](Napi::Env env, std::vector<float>& r) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("moments", f32_js(env, r));
            o.Set("shape", shape_js(env, {s[0], 2 * lc, s[2] / f, s[3] / f}));
            return o;
          });
    });
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 2) bad_input(env, "decode(latents: Float32Array, shape: [N, C, h, w], tiling?)");
      const Shape s = shape_value(env, info[1], 4, "shape");
      const VaeConfig& c = m->config();
      if (s[1] != c.latent_channels)
        bad_input(env, "this VAE decodes " + std::to_string(c.latent_channels) + "-channel latents; got " +
                           std::to_string(s[1]));
      std::vector<float> x = f32_value(env, info[0], s[0] * s[1] * s[2] * s[3], "latents");
      const VaeTileOptions t = tiling_option(env, options_arg(info, 2), VaeTiling::Off);
      const int64_t f = c.downscale, ic = c.image_channels;
      return run_async<std::vector<float>>(
          env, [m, x, s, t] { return vae_decode(*m, x.data(), s[0], s[2], s[3], t); },
          [s, f, ic](Napi::Env env, std::vector<float>& r) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("image", f32_js(env, r));
            o.Set("shape", shape_js(env, {s[0], ic, s[2] * f, s[3] * f}));
            return o;
          });
    });
  }

  template <int K>
  Napi::Value Get(const Napi::CallbackInfo& info) {
    if (!impl_) return info.Env().Undefined();
    const VaeConfig& c = impl_->config();
    const int64_t v[] = {c.latent_channels, c.downscale, c.image_channels};
    return Napi::Number::New(info.Env(), double(v[K]));
  }
  Napi::Value Scaling(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::Number::New(info.Env(), impl_->config().scaling_factor)) : info.Env().Undefined();
  }
  Napi::Value Layout(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->layout())) : info.Env().Undefined();
  }
};

}  // namespace

std::shared_ptr<VaeModel> vae_of(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(VaeWrap::ctor->Value()))
    bad_input(env, std::string(what) + " must be a Vae");
  return VaeWrap::Unwrap(v.As<Napi::Object>())->impl(env);
}

void init_vae(Napi::Env env, Napi::Object exports) { VaeWrap::export_class(env, exports); }

}  // namespace bgn::addon
