// TinyVae: the tiny autoencoder (TAESD / TAESDXL, models/taesd.h) on its own.
//
//   TinyVae.load(pathOrDir, { threads?, device? }) → Promise<TinyVae>
//     pathOrDir: a diffusers AutoencoderTiny folder or .safetensors, taesd_decoder.safetensors /
//     taesd_encoder.safetensors, or a folder holding them (models/taesd_weights.h)
//   vae.encode(image: Float32Array, [N,C,H,W]) → Promise<{ latents: Float32Array, shape }>   image in [−1, 1]
//   vae.decode(latents: Float32Array, [N,C,h,w]) → Promise<{ image: Float32Array, shape }>  ≈[−1, 1], unclamped
//   vae.scaleLatents(latents: Float32Array) → Float32Array   clamp(x / (2·latentMagnitude) + latentShift, 0, 1)
//   vae.latentChannels, imageChannels, downscale, scalingFactor, hasEncoder, hasDecoder, layout; vae.dispose()
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/device.h"
#include "addon/errors.h"
#include "addon/js_values.h"
#include "models/taesd.h"

namespace bgn::addon {

namespace {

[[noreturn]] void bad(Napi::Env env, const std::string& msg) { throw make_error(env, "E_BAD_INPUT", msg); }

Shape shape4(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 4) bad(env, std::string(what) + " must be an array of 4 integers");
  Napi::Array a = v.As<Napi::Array>();
  Shape s;
  for (uint32_t i = 0; i < 4; ++i) {
    Napi::Value d = a.Get(i);
    const double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 1 && x <= 65536) || x != std::floor(x)) bad(env, std::string(what) + " dimensions must be integers from 1 to 65536");
    s.push_back(int64_t(x));
  }
  return s;
}

std::vector<float> f32_of(Napi::Env env, const Napi::Value& v, int64_t n, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    bad(env, std::string(what) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (n >= 0 && int64_t(a.ElementLength()) != n)
    bad(env, std::string(what) + " has " + std::to_string(a.ElementLength()) + " values; its shape needs " +
                 std::to_string(n));
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

class TinyVaeWrap : public Napi::ObjectWrap<TinyVaeWrap> {
 public:
  static inline Napi::FunctionReference* ctor = nullptr;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TinyVae",
                       {StaticMethod("load", &TinyVaeWrap::Load), InstanceMethod("encode", &TinyVaeWrap::Encode),
                        InstanceMethod("decode", &TinyVaeWrap::Decode),
                        InstanceMethod("scaleLatents", &TinyVaeWrap::ScaleLatents),
                        InstanceMethod("dispose", &TinyVaeWrap::Dispose),
                        InstanceAccessor("latentChannels", &TinyVaeWrap::Get<0>, nullptr),
                        InstanceAccessor("imageChannels", &TinyVaeWrap::Get<1>, nullptr),
                        InstanceAccessor("downscale", &TinyVaeWrap::Get<2>, nullptr),
                        InstanceAccessor("hasEncoder", &TinyVaeWrap::Get<3>, nullptr),
                        InstanceAccessor("hasDecoder", &TinyVaeWrap::Get<4>, nullptr),
                        InstanceAccessor("scalingFactor", &TinyVaeWrap::Scaling, nullptr),
                        InstanceAccessor("layout", &TinyVaeWrap::Layout, nullptr)});
  }

  explicit TinyVaeWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TinyVaeWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) bad(info.Env(), "use TinyVae.load(path, options)");
    impl_ = *info[0].As<Napi::External<std::shared_ptr<TaesdModel>>>().Data();
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) bad(env, "TinyVae.load(path, options): path must be a string");
    const std::string path = info[0].As<Napi::String>();
    Napi::Object o = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    if (info.Length() > 1 && !info[1].IsObject() && !info[1].IsUndefined()) bad(env, "options must be an object");
    TaesdLoadOptions opts;
    Napi::Value t = o.Get("threads");
    if (!t.IsUndefined()) {
      const double d = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 1024) || d != std::floor(d)) bad(env, "threads must be an integer from 0 to 1024");
      opts.threads = int(d);
    }
    const std::string device = device_option(env, o);
    return run_async<std::shared_ptr<TaesdModel>>(
        env,
        [path, opts, device]() mutable {
          opts.gpu = resolve_device(device);
          return TaesdModel::load(path, opts);
        },
        [](Napi::Env env, std::shared_ptr<TaesdModel>& m) -> Napi::Value {
          auto ext = Napi::External<std::shared_ptr<TaesdModel>>::New(env, &m);
          return ctor->New({ext});
        });
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 2) bad(env, "encode(image: Float32Array, shape: [N, C, H, W])");
    const Shape s = shape4(env, info[1], "shape");
    const TaesdConfig& c = m->config();
    if (s[1] != c.image_channels)
      bad(env, "this tiny autoencoder encodes " + std::to_string(c.image_channels) + "-channel images; got " +
                   std::to_string(s[1]));
    std::vector<float> x = f32_of(env, info[0], s[0] * s[1] * s[2] * s[3], "image");
    const int64_t f = c.downscale, lc = c.latent_channels;
    return run_async<std::vector<float>>(
        env, [m, x, s] { return m->encode(x.data(), s[0], s[2], s[3]); },
        [s, f, lc](Napi::Env env, std::vector<float>& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("latents", f32_js(env, r));
          o.Set("shape", shape_js(env, {s[0], lc, s[2] / f, s[3] / f}));
          return o;
        });
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 2) bad(env, "decode(latents: Float32Array, shape: [N, C, h, w])");
    const Shape s = shape4(env, info[1], "shape");
    const TaesdConfig& c = m->config();
    if (s[1] != c.latent_channels)
      bad(env, "this tiny autoencoder decodes " + std::to_string(c.latent_channels) + "-channel latents; got " +
                   std::to_string(s[1]));
    std::vector<float> x = f32_of(env, info[0], s[0] * s[1] * s[2] * s[3], "latents");
    const int64_t f = c.downscale, ic = c.image_channels;
    return run_async<std::vector<float>>(
        env, [m, x, s] { return m->decode(x.data(), s[0], s[2], s[3]); },
        [s, f, ic](Napi::Env env, std::vector<float>& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("image", f32_js(env, r));
          o.Set("shape", shape_js(env, {s[0], ic, s[2] * f, s[3] * f}));
          return o;
        });
  }

  Napi::Value ScaleLatents(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 1) bad(env, "scaleLatents(latents: Float32Array)");
    std::vector<float> x = f32_of(env, info[0], -1, "latents");
    m->scale_latents(x.data(), int64_t(x.size()));
    return f32_js(env, x);
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    impl_.reset();
    return info.Env().Undefined();
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

 private:
  std::shared_ptr<TaesdModel> impl(Napi::Env env) const {
    if (!impl_) bad(env, "this TinyVae was disposed");
    return impl_;
  }
  std::shared_ptr<TaesdModel> impl_;
};

}  // namespace

void init_tiny_vae(Napi::Env env, Napi::Object exports) {
  Napi::Function f = TinyVaeWrap::Define(env);
  TinyVaeWrap::ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("TinyVae", f);
}

}  // namespace bgn::addon
