// Bindings for the diffusion runtime's building blocks: the CLIP tokenizer, prompt weights,
// scheduler traces (for the fixture runner) and reading .safetensors files.
//
//   ClipTokenizer.load(dir | { vocab, merges } | undefined) → Promise<ClipTokenizer>
//     tok.encode(prompt, { maxLength = 77, padToken = '<|endoftext|>', truncation = true }) → Int32Array
//     tok.tokenize(prompt, { padToken }) → string[]
//     tok.encodeWeighted(prompt, { padToken }) → { ids: Int32Array, weights: Float32Array }[] (77 each)
//   parsePromptWeights(prompt) → { text, weight, isBreak }[]
//   schedulerTrace({ scheduler, config, steps, noise, modelOutputs, ancestralNoise? }) → trace
//     (ancestralNoise: the fresh noise each step draws — Euler a, LCM — step after step)
//   readSafetensors(path) → Promise<{ metadata, tensors: { [name]: { dtype, shape, data } } }>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/errors.h"
#include "addon/js_values.h"
#include "diffusion/schedulers.h"
#include "formats/json.h"
#include "formats/safetensors.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_weights.h"

namespace bgn::addon {

namespace {

[[noreturn]] void bad_input(Napi::Env env, const std::string& msg) { throw make_error(env, "E_BAD_INPUT", msg); }

Napi::Int32Array i32_js(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
  return a;
}

// opts.padToken (string) or the default.
std::string pad_token_opt(Napi::Env env, const Napi::Value& opts) {
  if (!opts.IsObject()) return "<|endoftext|>";
  Napi::Value v = opts.As<Napi::Object>().Get("padToken");
  if (v.IsUndefined()) return "<|endoftext|>";
  if (!v.IsString()) bad_input(env, "padToken must be a string (e.g. '<|endoftext|>' or '!')");
  return v.As<Napi::String>();
}

std::string prompt_arg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) bad_input(info.Env(), "the prompt must be a string");
  return info[0].As<Napi::String>();
}

// ---- ClipTokenizer ------------------------------------------------------------------------------

class TokenizerWrap : public Napi::ObjectWrap<TokenizerWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ClipTokenizer",
                       {StaticMethod("load", &TokenizerWrap::Load), InstanceMethod("encode", &TokenizerWrap::Encode),
                        InstanceMethod("tokenize", &TokenizerWrap::Tokenize),
                        InstanceMethod("encodeWeighted", &TokenizerWrap::EncodeWeighted),
                        InstanceAccessor("bosId", &TokenizerWrap::BosId, nullptr),
                        InstanceAccessor("eosId", &TokenizerWrap::EosId, nullptr),
                        InstanceAccessor("vocabSize", &TokenizerWrap::VocabSize, nullptr)});
  }

  explicit TokenizerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TokenizerWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      bad_input(info.Env(), "use ClipTokenizer.load(dir) to create a ClipTokenizer");
    impl_ = *info[0].As<Napi::External<std::shared_ptr<const ClipTokenizer>>>().Data();
  }

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string dir, vocab, merges;
    if (info.Length() >= 1 && info[0].IsString()) {
      dir = info[0].As<Napi::String>();
    } else if (info.Length() >= 1 && info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      if (!o.Get("vocab").IsString() || !o.Get("merges").IsString())
        bad_input(env, "ClipTokenizer.load({ vocab, merges }): both must be file paths");
      vocab = o.Get("vocab").As<Napi::String>();
      merges = o.Get("merges").As<Napi::String>();
    } else if (info.Length() >= 1 && !info[0].IsUndefined()) {
      bad_input(env, "ClipTokenizer.load(dir | { vocab, merges } | undefined): unexpected argument");
    }
    using Ptr = std::shared_ptr<const ClipTokenizer>;
    return run_async<Ptr>(
        env,
        [dir, vocab, merges]() -> Ptr {
          return vocab.empty() ? ClipTokenizer::load_dir(dir) : ClipTokenizer::load(vocab, merges);
        },
        [](Napi::Env env, Ptr& t) -> Napi::Value {
          auto ext = Napi::External<Ptr>::New(env, &t);
          return ctor->New({ext});
        });
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prompt = prompt_arg(info);
    ClipTokenizer::EncodeOptions o;
    Napi::Value opts = info.Length() > 1 ? info[1] : env.Undefined();
    o.pad_token = pad_token_opt(env, opts);
    if (opts.IsObject()) {
      Napi::Value ml = opts.As<Napi::Object>().Get("maxLength");
      if (!ml.IsUndefined()) {
        if (!ml.IsNumber()) bad_input(env, "maxLength must be a number (0 = no padding)");
        double v = ml.As<Napi::Number>().DoubleValue();
        if (!(v >= 0 && v <= 1e6) || v != double(int(v)) || v == 1) bad_input(env, "maxLength must be 0 or an integer >= 2");
        o.max_length = int(v);
      }
      Napi::Value tr = opts.As<Napi::Object>().Get("truncation");
      if (!tr.IsUndefined()) {
        if (!tr.IsBoolean()) bad_input(env, "truncation must be a boolean");
        o.truncate = tr.As<Napi::Boolean>();
      }
    }
    auto ids = guarded(env, [&] { return impl_->encode_padded(prompt, o); });
    return i32_js(env, ids);
  }

  Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prompt = prompt_arg(info);
    std::string pad = pad_token_opt(env, info.Length() > 1 ? info[1] : env.Undefined());
    auto toks = guarded(env, [&] { return impl_->tokenize(prompt, pad); });
    Napi::Array a = Napi::Array::New(env, toks.size());
    for (size_t i = 0; i < toks.size(); ++i) a.Set(uint32_t(i), Napi::String::New(env, toks[i]));
    return a;
  }

  Napi::Value EncodeWeighted(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string prompt = prompt_arg(info);
    std::string pad = pad_token_opt(env, info.Length() > 1 ? info[1] : env.Undefined());
    auto chunks = guarded(env, [&] { return encode_weighted_prompt(*impl_, prompt, pad); });
    Napi::Array a = Napi::Array::New(env, chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ids", i32_js(env, chunks[i].ids));
      o.Set("weights", f32_js(env, chunks[i].weights.data(), chunks[i].weights.size()));
      a.Set(uint32_t(i), o);
    }
    return a;
  }

  Napi::Value BosId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), impl_->bos_id()); }
  Napi::Value EosId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), impl_->eos_id()); }
  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(impl_->vocab_size()));
  }

  std::shared_ptr<const ClipTokenizer> impl_;
};

Napi::FunctionReference* TokenizerWrap::ctor = nullptr;

// ---- parsePromptWeights -------------------------------------------------------------------------

Napi::Value ParsePromptWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prompt = prompt_arg(info);
  auto pieces = guarded(env, [&] { return parse_prompt_weights(prompt); });
  Napi::Array a = Napi::Array::New(env, pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("text", pieces[i].text);
    o.Set("weight", pieces[i].is_break ? 0.0 : pieces[i].weight);
    o.Set("isBreak", pieces[i].is_break);
    a.Set(uint32_t(i), o);
  }
  return a;
}

// ---- schedulerTrace -----------------------------------------------------------------------------

Napi::Float32Array f32_arg(Napi::Env env, const Napi::Object& o, const char* key, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !required) return Napi::Float32Array();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    bad_input(env, std::string("schedulerTrace: ") + key + " must be a Float32Array");
  return v.As<Napi::Float32Array>();
}

// Runs a scheduler the way diffusers' pipelines do, on caller-supplied model outputs:
//   set_timesteps(steps); x = noise · init_noise_sigma;
//   for i: scaled[i] = scale_model_input(x, i); x = step(model_outputs[i], i, x) → samples[i]
Napi::Value SchedulerTrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) bad_input(env, "schedulerTrace(options): options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.Get("scheduler").IsString()) bad_input(env, "schedulerTrace: scheduler must be a sampler or diffusers class name");
  std::string name = o.Get("scheduler").As<Napi::String>();
  std::string config_json = "{}";
  Napi::Value cfg = o.Get("config");
  if (cfg.IsString()) {
    config_json = cfg.As<Napi::String>();
  } else if (cfg.IsObject()) {
    Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
    config_json = json.Get("stringify").As<Napi::Function>().Call(json, {cfg}).As<Napi::String>();
  } else if (!cfg.IsUndefined() && !cfg.IsNull()) {
    bad_input(env, "schedulerTrace: config must be an object or a JSON string");
  }
  if (!o.Get("steps").IsNumber()) bad_input(env, "schedulerTrace: steps must be a number");
  double steps_d = o.Get("steps").As<Napi::Number>().DoubleValue();
  if (!(steps_d >= 1 && steps_d <= 10000) || steps_d != double(int(steps_d)))
    bad_input(env, "schedulerTrace: steps must be an integer from 1 to 10000");
  Napi::Float32Array noise = f32_arg(env, o, "noise", true);
  Napi::Float32Array outs = f32_arg(env, o, "modelOutputs", true);
  Napi::Float32Array anc = f32_arg(env, o, "ancestralNoise", false);
  const int64_t per = int64_t(noise.ElementLength());
  if (per == 0) bad_input(env, "schedulerTrace: noise is empty");

  return guarded(env, [&]() -> Napi::Value {
    bool karras = false;
    SchedulerKind kind = scheduler_kind_from_name(name, &karras);
    SchedulerConfig c = SchedulerConfig::from_json(kind, json::parse(config_json, "scheduler config"), "scheduler config");
    if (karras) c.use_karras_sigmas = true;
    auto s = make_scheduler(kind, c);
    s->set_timesteps(int(steps_d));
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

// ---- readSafetensors ----------------------------------------------------------------------------

Napi::Value tensor_data_js(Napi::Env env, const Tensor& t) {
  size_t n = size_t(t.numel());
  switch (t.dtype()) {
    case DType::F64: {
      Napi::Float64Array a = Napi::Float64Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I64: {
      auto a = Napi::TypedArrayOf<int64_t>::New(env, n, napi_bigint64_array);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I32: {
      Napi::Int32Array a = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I16: {
      Napi::Int16Array a = Napi::Int16Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I8: {
      Napi::Int8Array a = Napi::Int8Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::U8:
    case DType::Bool: {
      Napi::Uint8Array a = Napi::Uint8Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    default: {  // F32, and F16/BF16 widened to float32
      Tensor f = t.dtype() == DType::F32 ? t : t.to(DType::F32);
      return f32_js(env, f.data<float>(), n);
    }
  }
}

Napi::Value ReadSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) bad_input(env, "readSafetensors(path): path must be a string");
  std::string path = info[0].As<Napi::String>();
  using Ptr = std::shared_ptr<SafetensorsFile>;
  return run_async<Ptr>(
      env, [path] { return SafetensorsFile::open(path); },
      [](Napi::Env env, Ptr& f) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        Napi::Object meta = Napi::Object::New(env);
        for (const auto& kv : f->metadata()) meta.Set(kv.first, kv.second);
        Napi::Object tensors = Napi::Object::New(env);
        for (const auto& e : f->entries()) {
          Napi::Object t = Napi::Object::New(env);
          t.Set("dtype", e.dtype_str);
          t.Set("shape", shape_js(env, e.shape));
          t.Set("data", tensor_data_js(env, f->tensor(e)));
          tensors.Set(e.name, t);
        }
        r.Set("metadata", meta);
        r.Set("tensors", tensors);
        return r;
      });
}

}  // namespace

void init_diffusion(Napi::Env env, Napi::Object exports) {
  Napi::Function tok = TokenizerWrap::Define(env);
  TokenizerWrap::ctor = new Napi::FunctionReference(Napi::Persistent(tok));
  exports.Set("ClipTokenizer", tok);
  exports.Set("parsePromptWeights", Napi::Function::New(env, ParsePromptWeights, "parsePromptWeights"));
  exports.Set("schedulerTrace", Napi::Function::New(env, SchedulerTrace, "schedulerTrace"));
  exports.Set("readSafetensors", Napi::Function::New(env, ReadSafetensors, "readSafetensors"));
}

}  // namespace bgn::addon
