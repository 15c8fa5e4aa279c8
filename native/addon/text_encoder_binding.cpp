// JS class TextEncoder: a diffusion model's CLIP text encoder on its own (models/clip_text.h; the
// fixture runner drives it).
//
//   TextEncoder.load(pathOrDir, { threads, device, encoder = 1, attentionHeads, loras, precision }) → Promise<TextEncoder>
//     precision: 'f32' (default) | 'bf16' | 'auto' (bf16 where the CPU has AVX512-BF16), nn/precision.h
//     encoder 2: SDXL's second encoder (text_encoder_2/, conditioner.embedders.1.*); attentionHeads
//     overrides the head count (default: config.json, else hidden / 64)
//   te.encode(ids: Int32Array (B·T), { batch = 1, clipSkip = 0, hiddenStates = false, finalNorm = true,
//                                      pooled = false })
//     → Promise<{ lastHiddenState: Float32Array (B,T,C), hiddenStates?: Float32Array (L+1,B,T,C),
//                 pooled?: Float32Array (B,P), shape: [B,T,C] }>
//     finalNorm false: lastHiddenState is the raw hidden state (SDXL); pooled: final-normed EOS
//     row, through text_projection when the model has one (P = projectionDim, else hiddenSize)
//   te.hiddenSize, te.layers, te.vocabSize, te.maxPositions, te.projectionDim, te.layout; te.dispose()
//
// pathOrDir: an LDM single-file .safetensors, a diffusers pipeline folder, a component folder or
// a component's .safetensors file (see models/weight_map.h).
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/device.h"
#include "addon/handle_wrap.h"
#include "addon/js_values.h"
#include "models/clip_text.h"
#include "models/lora.h"

namespace bgn::addon {

namespace {

class TextEncoderWrap : public HandleWrap<ClipTextModel, TextEncoderWrap> {
 public:
  static constexpr const char* kName = "TextEncoder";
  static constexpr const char* kCreate = "use TextEncoder.load(path, options)";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, kName,
        {StaticMethod("load", &TextEncoderWrap::Load), InstanceMethod("encode", &TextEncoderWrap::Encode),
         InstanceMethod("dispose", &TextEncoderWrap::Dispose),
         InstanceAccessor("hiddenSize", &TextEncoderWrap::Get<0>, nullptr),
         InstanceAccessor("layers", &TextEncoderWrap::Get<1>, nullptr),
         InstanceAccessor("vocabSize", &TextEncoderWrap::Get<2>, nullptr),
         InstanceAccessor("maxPositions", &TextEncoderWrap::Get<3>, nullptr),
         InstanceAccessor("projectionDim", &TextEncoderWrap::Get<4>, nullptr),
         InstanceAccessor("layout", &TextEncoderWrap::Layout, nullptr),
         InstanceAccessor("precision", &TextEncoderWrap::Precision, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      const std::string path = string_arg(info, 0, "TextEncoder.load(path, options): path must be a string");
      Napi::Object o = options_arg(info, 1);
      ClipLoadOptions opts;
      opts.threads = int(int_option(env, o, "threads", 0, 0, 1024));
      const Component which =
          int_option(env, o, "encoder", 1, 1, 2) == 2 ? Component::TextEncoder2 : Component::TextEncoder;
      opts.heads = int_option(env, o, "attentionHeads", 0, 0, 4096);
      const std::string device = device_option(env, o);
      const std::vector<LoraSpec> loras = loras_option(env, o);
      // The spelling is the core's to check (nn::resolve_precision): E_BAD_INPUT from the worker.
      const std::string precision = string_option(env, o, "precision", "f32");
      return run_async<std::shared_ptr<ClipTextModel>>(
          env,
          [path, opts, which, device, loras, precision]() mutable {
            opts.gpu = resolve_device(device);
            opts.precision = nn::resolve_precision(precision, !opts.gpu);
            return ClipTextModel::from_weights(load_component_with_loras(path, which, open_loras(loras), opts.threads),
                                               opts);
          },
          &TextEncoderWrap::wrap);
    });
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      std::vector<int32_t> ids =
          i32_value(env, info.Length() > 0 ? info[0] : env.Undefined(), "encode(ids: Int32Array, options?)");
      Napi::Object o = options_arg(info, 1);
      const int64_t B = int_option(env, o, "batch", 1, 1, 4096);
      ClipEncodeOptions eo;
      eo.clip_skip = int(int_option(env, o, "clipSkip", 0, 0, 1000));
      eo.keep_hidden_states = bool_option(env, o, "hiddenStates", false);
      eo.final_norm = bool_option(env, o, "finalNorm", true);
      eo.pooled = bool_option(env, o, "pooled", false);
      if (int64_t(ids.size()) % B != 0 || ids.empty())
        bad_input(env,
                  "ids has " + std::to_string(ids.size()) + " values, not a multiple of batch " + std::to_string(B));
      const int64_t T = int64_t(ids.size()) / B;
      return run_async<ClipTextOutput>(
          env, [m, ids, B, T, eo] { return m->encode(ids.data(), B, T, eo); },
          [eo](Napi::Env env, ClipTextOutput& r) -> Napi::Value {
            Napi::Object out = Napi::Object::New(env);
            out.Set("lastHiddenState", f32_js(env, r.last));
            if (eo.keep_hidden_states) out.Set("hiddenStates", f32_js(env, r.hidden_states));
            if (eo.pooled) out.Set("pooled", f32_js(env, r.pooled));
            out.Set("shape", shape_js(env, {r.B, r.T, r.C}));
            return out;
          });
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
  Napi::Value Precision(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), nn::precision_name(impl_->precision())))
                 : info.Env().Undefined();
  }
};

}  // namespace

void init_text_encoder(Napi::Env env, Napi::Object exports) { TextEncoderWrap::export_class(env, exports); }

}  // namespace bgn::addon
