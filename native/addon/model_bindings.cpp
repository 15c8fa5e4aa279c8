// Bindings for the diffusion model components, one class each (used by the fixture runner and
// by the pipeline; no math here):
//
//   TextEncoder.load(pathOrDir, { threads, device, encoder = 1, attentionHeads, loras }) → Promise<TextEncoder>
//     encoder 2: SDXL's second encoder (text_encoder_2/, conditioner.embedders.1.*); attentionHeads
//     overrides the head count (default: config.json, else hidden / 64)
//     te.encode(ids: Int32Array (B·T), { batch = 1, clipSkip = 0, hiddenStates = false, finalNorm = true,
//                                        pooled = false })
//       → Promise<{ lastHiddenState: Float32Array (B,T,C), hiddenStates?: Float32Array (L+1,B,T,C),
//                   pooled?: Float32Array (B,P), shape: [B,T,C] }>
//       finalNorm false: lastHiddenState is the raw hidden state (SDXL); pooled: final-normed EOS
//       row, through text_projection when the model has one (P = projectionDim, else hiddenSize)
//     te.hiddenSize, te.layers, te.vocabSize, te.maxPositions, te.projectionDim, te.layout; te.dispose()
//   UNet.load(pathOrDir, { threads, device, attentionHeads, loras, precision }) → Promise<UNet>
//     precision: 'f32' (default) | 'bf16' | 'auto' (bf16 where the CPU has AVX512-BF16), nn/precision.h
//     loras: [{ path, scale? = 1 }], merged into this component's weights (models/lora.h); the
//     LoRA modules for other components are not used
//     unet.forward({ sample: Float32Array, shape: [N,C,H,W], timesteps: number[] | Float32Array (1 or N),
//                    context: Float32Array (N·S·D), textEmbeds?: Float32Array (N·P), timeIds?: Float32Array (N·6) })
//       → Promise<Float32Array (N,out,H,W)>; textEmbeds + timeIds: required by SDXL UNets, refused by others
//     unet.inChannels, unet.outChannels, unet.contextDim, unet.heads, unet.textTime, unet.layout,
//     unet.precision ('f32' | 'bf16': what its CPU layers compute in); unet.dispose()
//   Vae.load(pathOrDir, { threads, device }) → Promise<Vae>
//     vae.encode(image: Float32Array, [N,C,H,W], tiling?) → Promise<{ moments: Float32Array, shape }>
//     vae.decode(latents: Float32Array, [N,C,h,w], tiling?) → Promise<{ image: Float32Array, shape }>
//       tiling: { tiled?: 'auto' | true | false = false, tileSize? = 64, tileOverlap? = 16 } (latent
//       pixels; see models/vae_tiling.h). The default here is false — the plain pass, exact
//       against the reference; 'auto' tiles latents larger in area than tileSize², true any
//       latent that does not fit one tile. Bad values throw E_BAD_INPUT.
//     vae.scalingFactor, vae.latentChannels, vae.downscale, vae.layout; vae.dispose()
//   pipelineTrace({ kind: 'txt2img'|'img2img'|'inpaint', unet, vae, scheduler, config, steps, guidance,
//                   strength?, cond: Float32Array (S·D), uncond?: Float32Array, height, width,
//                   image?: Float32Array (3·H·W in [0,1]), mask?: Float32Array (H·W), latents?, vaeNoise?,
//                   noise?, stepNoise?, seed?, tiled?, tileSize?, tileOverlap?, pooled?, uncondPooled?,
//                   timeIds? (SDXL) })
//                   → Promise<{ timesteps, unetTimesteps, unetInputs, unetOutputs, stepLatents, stepDenoised,
//                   finalLatents, imageRaw, image, initLatents, maskedImageLatents, maskLatent }>
//     the pipeline core on supplied embeddings (see diffusion/pipeline.h), with every per-step tensor kept.
//
// pathOrDir: an LDM single-file .safetensors, a diffusers pipeline folder, a component folder or
// a component's .safetensors file (see models/weight_map.h).
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
#include "addon/lora_option.h"
#include "diffusion/pipeline.h"
#include "diffusion/schedulers.h"
#include "formats/json.h"
#include "models/clip_text.h"
#include "models/lora.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/vae_tiling.h"

namespace bgn::addon {

namespace {

[[noreturn]] void bad(Napi::Env env, const std::string& msg) { throw make_error(env, "E_BAD_INPUT", msg); }

Napi::Object opts_of(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() > i && info[i].IsObject()) return info[i].As<Napi::Object>();
  if (info.Length() > i && !info[i].IsUndefined()) bad(info.Env(), "options must be an object");
  return Napi::Object::New(info.Env());
}

int64_t int_opt(Napi::Env env, const Napi::Object& o, const char* key, int64_t def, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) bad(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= double(lo) && d <= double(hi)) || d != std::floor(d))
    bad(env, std::string(key) + " must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return int64_t(d);
}

bool bool_opt(Napi::Env env, const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsBoolean()) bad(env, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>();
}

// { tiled, tileSize, tileOverlap } of `o` (models/vae_tiling.h), validated; `def` when tiled is absent.
VaeTileOptions tiling_opt(Napi::Env env, const Napi::Object& o, VaeTiling def) {
  VaeTileOptions t;
  t.mode = def;
  Napi::Value v = o.Get("tiled");
  if (v.IsBoolean()) t.mode = v.As<Napi::Boolean>().Value() ? VaeTiling::On : VaeTiling::Off;
  else if (v.IsString() && v.As<Napi::String>().Utf8Value() == "auto") t.mode = VaeTiling::Auto;
  else if (!v.IsUndefined()) bad(env, "tiled must be 'auto', true or false");
  const int64_t big = int64_t(1) << 40;
  t.tile = int_opt(env, o, "tileSize", t.tile, -big, big);
  t.overlap = int_opt(env, o, "tileOverlap", t.overlap, -big, big);
  guarded(env, [&] {
    validate_vae_tiling(t);
    return 0;
  });
  return t;
}

std::vector<LoraSpec> lora_opt(Napi::Env env, const Napi::Object& o) {
  std::vector<LoraSpec> out;
  const std::string err = read_lora_option(o.Get("loras"), out);
  if (!err.empty()) bad(env, err);
  return out;
}

std::string path_arg(const Napi::CallbackInfo& info, const char* cls) {
  if (info.Length() < 1 || !info[0].IsString())
    bad(info.Env(), std::string(cls) + ".load(path, options): path must be a string");
  return info[0].As<Napi::String>();
}

Shape shape_arg(Napi::Env env, const Napi::Value& v, size_t rank, const char* what) {
  if (!v.IsArray()) bad(env, std::string(what) + " must be an array of " + std::to_string(rank) + " integers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != rank) bad(env, std::string(what) + " must have " + std::to_string(rank) + " dimensions");
  Shape s;
  for (uint32_t i = 0; i < rank; ++i) {
    Napi::Value d = a.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 1 && x <= 65536) || x != std::floor(x))
      bad(env, std::string(what) + " dimensions must be integers from 1 to 65536");
    s.push_back(int64_t(x));
  }
  return s;
}

// A copy of a Float32Array holding exactly `n` values.
std::vector<float> f32_arg(Napi::Env env, const Napi::Value& v, int64_t n, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    bad(env, std::string(what) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (int64_t(a.ElementLength()) != n)
    bad(env, std::string(what) + " has " + std::to_string(a.ElementLength()) + " values; its shape needs " +
                 std::to_string(n));
  return std::vector<float>(a.Data(), a.Data() + n);
}

// Common part of the three classes: holds a shared_ptr<T>, created only by load().
template <class T, class Derived>
class ModelWrap : public Napi::ObjectWrap<Derived> {
 public:
  static inline Napi::FunctionReference* ctor = nullptr;

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      bad(info.Env(), std::string("use ") + Derived::kName + ".load(path, options)");
    impl_ = *info[0].As<Napi::External<std::shared_ptr<T>>>().Data();
  }

  static Napi::Value wrap(Napi::Env env, std::shared_ptr<T>& m) {
    auto ext = Napi::External<std::shared_ptr<T>>::New(env, &m);
    return ctor->New({ext});
  }

  std::shared_ptr<T> impl(Napi::Env env) const {
    if (!impl_) bad(env, std::string("this ") + Derived::kName + " was disposed");
    return impl_;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    impl_.reset();
    return info.Env().Undefined();
  }

 protected:
  std::shared_ptr<T> impl_;
};

// ---- TextEncoder -------------------------------------------------------------------------------

class TextEncoderWrap : public ModelWrap<ClipTextModel, TextEncoderWrap> {
 public:
  static constexpr const char* kName = "TextEncoder";
  using ModelWrap::ModelWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, kName,
                       {StaticMethod("load", &TextEncoderWrap::Load), InstanceMethod("encode", &TextEncoderWrap::Encode),
                        InstanceMethod("dispose", &TextEncoderWrap::Dispose),
                        InstanceAccessor("hiddenSize", &TextEncoderWrap::Get<0>, nullptr),
                        InstanceAccessor("layers", &TextEncoderWrap::Get<1>, nullptr),
                        InstanceAccessor("vocabSize", &TextEncoderWrap::Get<2>, nullptr),
                        InstanceAccessor("maxPositions", &TextEncoderWrap::Get<3>, nullptr),
                        InstanceAccessor("projectionDim", &TextEncoderWrap::Get<4>, nullptr),
                        InstanceAccessor("layout", &TextEncoderWrap::Layout, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = path_arg(info, kName);
    Napi::Object o = opts_of(info, 1);
    ClipLoadOptions opts;
    opts.threads = int(int_opt(env, o, "threads", 0, 0, 1024));
    const Component which = int_opt(env, o, "encoder", 1, 1, 2) == 2 ? Component::TextEncoder2 : Component::TextEncoder;
    opts.heads = int_opt(env, o, "attentionHeads", 0, 0, 4096);
    const std::string device = device_option(env, o);
    const std::vector<LoraSpec> loras = lora_opt(env, o);
    return run_async<std::shared_ptr<ClipTextModel>>(
        env,
        [path, opts, which, device, loras]() mutable {
          opts.gpu = resolve_device(device);
          return ClipTextModel::from_weights(load_component_with_loras(path, which, open_loras(loras), opts.threads),
                                             opts);
        },
        &TextEncoderWrap::wrap);
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      bad(env, "encode(ids: Int32Array, options?)");
    Napi::Int32Array ids = info[0].As<Napi::Int32Array>();
    Napi::Object o = opts_of(info, 1);
    const int64_t B = int_opt(env, o, "batch", 1, 1, 4096);
    const int clip_skip = int(int_opt(env, o, "clipSkip", 0, 0, 1000));
    ClipEncodeOptions eo;
    eo.clip_skip = clip_skip;
    eo.keep_hidden_states = bool_opt(env, o, "hiddenStates", false);
    eo.final_norm = bool_opt(env, o, "finalNorm", true);
    eo.pooled = bool_opt(env, o, "pooled", false);
    const bool keep = eo.keep_hidden_states;
    if (int64_t(ids.ElementLength()) % B != 0 || ids.ElementLength() == 0)
      bad(env, "ids has " + std::to_string(ids.ElementLength()) + " values, not a multiple of batch " + std::to_string(B));
    const int64_t T = int64_t(ids.ElementLength()) / B;
    std::vector<int32_t> v(ids.Data(), ids.Data() + ids.ElementLength());
    return run_async<ClipTextOutput>(
        env, [m, v, B, T, eo] { return m->encode(v.data(), B, T, eo); },
        [keep, eo](Napi::Env env, ClipTextOutput& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("lastHiddenState", f32_js(env, r.last));
          if (keep) out.Set("hiddenStates", f32_js(env, r.hidden_states));
          if (eo.pooled) out.Set("pooled", f32_js(env, r.pooled));
          out.Set("shape", shape_js(env, {r.B, r.T, r.C}));
          return out;
        });
  }

  template <int K>
  Napi::Value Get(const Napi::CallbackInfo& info) {
    if (!impl_) return info.Env().Undefined();
    const ClipTextConfig& c = impl_->config();
    const int64_t v[] = {c.hidden, c.layers, c.vocab, c.max_positions, c.projection_dim};
    return Napi::Number::New(info.Env(), double(v[K]));
  }
  Napi::Value Layout(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->layout())) : info.Env().Undefined();
  }
};

// ---- UNet ----------------------------------------------------------------------------------------

class UNetWrap : public ModelWrap<UNetModel, UNetWrap> {
 public:
  static constexpr const char* kName = "UNet";
  using ModelWrap::ModelWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, kName,
                       {StaticMethod("load", &UNetWrap::Load), InstanceMethod("forward", &UNetWrap::Forward),
                        InstanceMethod("dispose", &UNetWrap::Dispose),
                        InstanceAccessor("inChannels", &UNetWrap::Get<0>, nullptr),
                        InstanceAccessor("outChannels", &UNetWrap::Get<1>, nullptr),
                        InstanceAccessor("contextDim", &UNetWrap::Get<2>, nullptr),
                        InstanceAccessor("heads", &UNetWrap::Heads, nullptr),
                        InstanceAccessor("textTime", &UNetWrap::TextTime, nullptr),
                        InstanceAccessor("layout", &UNetWrap::Layout, nullptr),
                        InstanceAccessor("precision", &UNetWrap::Precision, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = path_arg(info, kName);
    Napi::Object o = opts_of(info, 1);
    UnetLoadOptions opts;
    opts.threads = int(int_opt(env, o, "threads", 0, 0, 1024));
    opts.attention_heads = int_opt(env, o, "attentionHeads", 0, 0, 4096);
    const std::string device = device_option(env, o);
    const std::vector<LoraSpec> loras = lora_opt(env, o);
    const Napi::Value pv = o.Get("precision");
    if (!pv.IsUndefined() && !pv.IsString()) bad(env, "precision must be 'auto', 'f32' or 'bf16'");
    const std::string precision = pv.IsString() ? pv.As<Napi::String>().Utf8Value() : "f32";
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
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 1 || !info[0].IsObject())
      bad(env, "forward({ sample, shape, timesteps, context })");
    Napi::Object a = info[0].As<Napi::Object>();
    const UnetConfig& c = m->config();
    Shape s = shape_arg(env, a.Get("shape"), 4, "shape");
    if (s[1] != c.in_channels)
      bad(env, "this UNet takes " + std::to_string(c.in_channels) + " input channels; sample has " + std::to_string(s[1]));
    const int64_t N = s[0], H = s[2], W = s[3];
    std::vector<float> x = f32_arg(env, a.Get("sample"), N * s[1] * H * W, "sample");
    // timesteps: one per batch element, or one for all
    std::vector<float> ts;
    Napi::Value tv = a.Get("timesteps");
    if (tv.IsNumber()) ts.push_back(tv.As<Napi::Number>().FloatValue());
    else if (tv.IsTypedArray() && tv.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
      Napi::Float32Array t = tv.As<Napi::Float32Array>();
      ts.assign(t.Data(), t.Data() + t.ElementLength());
    } else if (tv.IsArray()) {
      Napi::Array t = tv.As<Napi::Array>();
      for (uint32_t i = 0; i < t.Length(); ++i) {
        Napi::Value e = t.Get(i);
        if (!e.IsNumber()) bad(env, "timesteps must hold numbers");
        ts.push_back(e.As<Napi::Number>().FloatValue());
      }
    } else {
      bad(env, "timesteps must be a number, an array of numbers or a Float32Array");
    }
    if (ts.size() == 1) ts.assign(size_t(N), ts[0]);
    if (int64_t(ts.size()) != N) bad(env, "timesteps must have 1 or " + std::to_string(N) + " values");
    for (float t : ts)
      if (!std::isfinite(t)) bad(env, "timesteps must be finite");
    Napi::Value cv = a.Get("context");
    if (!cv.IsTypedArray() || cv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      bad(env, "context must be a Float32Array (N, S, " + std::to_string(c.context_dim) + ")");
    const int64_t clen = int64_t(cv.As<Napi::Float32Array>().ElementLength());
    if (clen == 0 || clen % (N * c.context_dim) != 0)
      bad(env, "context has " + std::to_string(clen) + " values; expected N·S·" + std::to_string(c.context_dim));
    const int64_t S = clen / (N * c.context_dim);
    std::vector<float> ctx = f32_arg(env, cv, clen, "context");
    // SDXL: pooled text (N, P) and time ids (N, 6)
    std::vector<float> te, ti;
    Napi::Value tev = a.Get("textEmbeds"), tiv = a.Get("timeIds");
    const bool has_added = !tev.IsUndefined() || !tiv.IsUndefined();
    if (c.text_time && !has_added)
      bad(env, "this is an SDXL UNet: forward needs textEmbeds (N·P pooled text) and timeIds (N·6: original size, "
               "crop top-left, target size)");
    if (!c.text_time && has_added) bad(env, "textEmbeds / timeIds are for SDXL UNets; this UNet takes neither");
    int64_t P = 0;
    if (has_added) {
      if (!tev.IsTypedArray() || tev.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        bad(env, "textEmbeds must be a Float32Array (N·P)");
      const int64_t tlen = int64_t(tev.As<Napi::Float32Array>().ElementLength());
      if (tlen == 0 || tlen % N != 0) bad(env, "textEmbeds has " + std::to_string(tlen) + " values; expected N·P");
      P = tlen / N;
      te = f32_arg(env, tev, tlen, "textEmbeds");
      ti = f32_arg(env, tiv, N * 6, "timeIds");
      guarded(env, [&] { return m->time_id_dim(P); });
    }
    return run_async<std::vector<float>>(
        env, [m, x, ts, ctx, N, H, W, S, te, ti, P] {
          UnetAddedCond ac;
          ac.text_embeds = te.data();
          ac.P = P;
          ac.time_ids = ti.data();
          return m->forward(x.data(), N, H, W, ts.data(), ctx.data(), S, te.empty() ? nullptr : &ac);
        },
        [](Napi::Env env, std::vector<float>& r) -> Napi::Value { return f32_js(env, r); });
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

// ---- Vae -----------------------------------------------------------------------------------------

class VaeWrap : public ModelWrap<VaeModel, VaeWrap> {
 public:
  static constexpr const char* kName = "Vae";
  using ModelWrap::ModelWrap;

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
    std::string path = path_arg(info, kName);
    Napi::Object o = opts_of(info, 1);
    VaeLoadOptions opts;
    opts.threads = int(int_opt(env, o, "threads", 0, 0, 1024));
    const std::string device = device_option(env, o);
    return run_async<std::shared_ptr<VaeModel>>(
        env,
        [path, opts, device]() mutable {
          opts.gpu = resolve_device(device);
          return VaeModel::load(path, opts);
        },
        &VaeWrap::wrap);
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 2) bad(env, "encode(image: Float32Array, shape: [N, C, H, W], tiling?)");
    Shape s = shape_arg(env, info[1], 4, "shape");
    const VaeConfig& c = m->config();
    if (s[1] != c.image_channels)
      bad(env, "this VAE encodes " + std::to_string(c.image_channels) + "-channel images; got " + std::to_string(s[1]));
    std::vector<float> x = f32_arg(env, info[0], s[0] * s[1] * s[2] * s[3], "image");
    const VaeTileOptions t = tiling_opt(env, opts_of(info, 2), VaeTiling::Off);
    const int64_t f = c.downscale, lc = c.latent_channels;
    return run_async<std::vector<float>>(
        env, [m, x, s, t] { return vae_encode(*m, x.data(), s[0], s[2], s[3], t); },
        [s, f, lc](Napi::Env env, std::vector<float>& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("moments", f32_js(env, r));
          o.Set("shape", shape_js(env, {s[0], 2 * lc, s[2] / f, s[3] / f}));
          return o;
        });
  }

  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto m = impl(env);
    if (info.Length() < 2) bad(env, "decode(latents: Float32Array, shape: [N, C, h, w], tiling?)");
    Shape s = shape_arg(env, info[1], 4, "shape");
    const VaeConfig& c = m->config();
    if (s[1] != c.latent_channels)
      bad(env, "this VAE decodes " + std::to_string(c.latent_channels) + "-channel latents; got " + std::to_string(s[1]));
    std::vector<float> x = f32_arg(env, info[0], s[0] * s[1] * s[2] * s[3], "latents");
    const VaeTileOptions t = tiling_opt(env, opts_of(info, 2), VaeTiling::Off);
    const int64_t f = c.downscale, ic = c.image_channels;
    return run_async<std::vector<float>>(
        env, [m, x, s, t] { return vae_decode(*m, x.data(), s[0], s[2], s[3], t); },
        [s, f, ic](Napi::Env env, std::vector<float>& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("image", f32_js(env, r));
          o.Set("shape", shape_js(env, {s[0], ic, s[2] * f, s[3] * f}));
          return o;
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

// ---- pipelineTrace ---------------------------------------------------------------------------------

std::vector<float> opt_f32(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    bad(env, std::string(key) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Float64Array f64_js(Napi::Env env, const std::vector<double>& v) {
  Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(double));
  return a;
}

Napi::Value PipelineTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) bad(env, "pipelineTrace(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  auto req = std::make_shared<PipelineRequest>();
  Napi::Value kind = o.Get("kind");
  std::string k = kind.IsString() ? kind.As<Napi::String>().Utf8Value() : "";
  if (k == "txt2img") req->kind = PipelineKind::Txt2Img;
  else if (k == "img2img") req->kind = PipelineKind::Img2Img;
  else if (k == "inpaint") req->kind = PipelineKind::Inpaint;
  else bad(env, "kind must be 'txt2img', 'img2img' or 'inpaint'");
  Napi::Value u = o.Get("unet"), v = o.Get("vae");
  if (!u.IsObject() || !u.As<Napi::Object>().InstanceOf(UNetWrap::ctor->Value())) bad(env, "unet must be a UNet");
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(VaeWrap::ctor->Value())) bad(env, "vae must be a Vae");
  req->unet = UNetWrap::Unwrap(u.As<Napi::Object>())->impl(env);
  req->vae = VaeWrap::Unwrap(v.As<Napi::Object>())->impl(env);
  Napi::Value sn = o.Get("scheduler");
  if (!sn.IsString()) bad(env, "scheduler must be a sampler or diffusers scheduler class name");
  std::string sched_name = sn.As<Napi::String>();
  std::string config_text = "{}";
  if (o.Get("config").IsObject()) {
    Napi::Object JSON = env.Global().Get("JSON").As<Napi::Object>();
    config_text = JSON.Get("stringify").As<Napi::Function>().Call(JSON, {o.Get("config")}).As<Napi::String>();
  }
  guarded(env, [&] {
    bool karras = false;
    SchedulerKind sk = scheduler_kind_from_name(sched_name, &karras);
    SchedulerConfig sc = SchedulerConfig::from_json(sk, json::parse(config_text, "scheduler config"), sched_name);
    if (karras) sc.use_karras_sigmas = true;
    req->scheduler = make_scheduler(sk, sc);
    return 0;
  });
  req->steps = int(int_opt(env, o, "steps", 20, 1, 1000));
  Napi::Value g = o.Get("guidance");
  req->guidance = g.IsNumber() ? g.As<Napi::Number>().FloatValue() : 7.5f;
  Napi::Value st = o.Get("strength");
  req->strength = st.IsNumber() ? st.As<Napi::Number>().DoubleValue() : 1.0;
  req->height = int_opt(env, o, "height", 0, 1, 65536);
  req->width = int_opt(env, o, "width", 0, 1, 65536);
  req->seed = uint64_t(int_opt(env, o, "seed", 0, 0, int64_t(1) << 53));
  req->cond = opt_f32(env, o, "cond");
  req->uncond = opt_f32(env, o, "uncond");
  const int64_t D = req->unet->config().context_dim;
  req->seq = D ? int64_t(req->cond.size()) / D : 0;
  req->pooled = opt_f32(env, o, "pooled");
  req->uncond_pooled = opt_f32(env, o, "uncondPooled");
  req->time_ids = opt_f32(env, o, "timeIds");
  req->image = opt_f32(env, o, "image");
  req->mask = opt_f32(env, o, "mask");
  req->noise = opt_f32(env, o, "latents");
  req->vae_noise = opt_f32(env, o, "vaeNoise");
  req->img2img_noise = opt_f32(env, o, "noise");
  req->step_noise = opt_f32(env, o, "stepNoise");
  req->vae_tiling = tiling_opt(env, o, VaeTiling::Off);
  req->trace = true;
  return run_async<PipelineResult>(
      env, [req] { return run_pipeline(*req); },
      [](Napi::Env env, PipelineResult& r) -> Napi::Value {
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
      });
}

template <class W>
void define(Napi::Env env, Napi::Object exports) {
  Napi::Function f = W::Define(env);
  W::ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set(W::kName, f);
}

}  // namespace

void init_models(Napi::Env env, Napi::Object exports) {
  define<TextEncoderWrap>(env, exports);
  define<UNetWrap>(env, exports);
  define<VaeWrap>(env, exports);
  exports.Set("pipelineTrace", Napi::Function::New(env, PipelineTrace, "pipelineTrace"));
}

}  // namespace bgn::addon
