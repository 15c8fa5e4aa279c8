// JS class ClipTokenizer: the CLIP BPE tokenizer (text/clip_tokenizer.h).
//
//   ClipTokenizer.load(dir | { vocab, merges } | undefined) → Promise<ClipTokenizer>
//   tok.encode(prompt, { maxLength = 77, padToken = '<|endoftext|>', truncation = true }) → Int32Array
//   tok.tokenize(prompt, { padToken }) → string[]
//   tok.encodeWeighted(prompt, { padToken }) → { ids: Int32Array, weights: Float32Array }[] (77 each)
//   tok.bosId, tok.eosId, tok.vocabSize
// Encoding is synchronous (a prompt's worth of string work); loading reads files: a Promise.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/errors.h"
#include "addon/handle_wrap.h"
#include "addon/js_values.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_weights.h"

namespace bgn::addon {

namespace {

Napi::Int32Array i32_js(Napi::Env env, const std::vector<int32_t>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(int32_t));
  return a;
}

std::string pad_token_option(Napi::Env env, const Napi::Object& o) {
  return string_option(env, o, "padToken", "<|endoftext|>");
}

class ClipTokenizerWrap : public HandleWrap<const ClipTokenizer, ClipTokenizerWrap> {
 public:
  static constexpr const char* kName = "ClipTokenizer";
  static constexpr const char* kCreate = "use ClipTokenizer.load(dir) to create a ClipTokenizer";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, kName,
        {StaticMethod("load", &ClipTokenizerWrap::Load), InstanceMethod("encode", &ClipTokenizerWrap::Encode),
         InstanceMethod("tokenize", &ClipTokenizerWrap::Tokenize),
         InstanceMethod("encodeWeighted", &ClipTokenizerWrap::EncodeWeighted),
         InstanceAccessor("bosId", &ClipTokenizerWrap::BosId, nullptr),
         InstanceAccessor("eosId", &ClipTokenizerWrap::EosId, nullptr),
         InstanceAccessor("vocabSize", &ClipTokenizerWrap::VocabSize, nullptr)});
  }

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      std::string dir, vocab, merges;
      Napi::Value a = info.Length() >= 1 ? info[0] : env.Undefined();
      if (a.IsString()) {
        dir = a.As<Napi::String>();
      } else if (a.IsObject()) {
        Napi::Object o = a.As<Napi::Object>();
        if (!o.Get("vocab").IsString() || !o.Get("merges").IsString())
          bad_input(env, "ClipTokenizer.load({ vocab, merges }): both must be file paths");
        vocab = o.Get("vocab").As<Napi::String>();
        merges = o.Get("merges").As<Napi::String>();
      } else if (!a.IsUndefined()) {
        bad_input(env, "ClipTokenizer.load(dir | { vocab, merges } | undefined): unexpected argument");
      }
      using Ptr = std::shared_ptr<const ClipTokenizer>;
      return run_async<Ptr>(
          env,
          [dir, vocab, merges]() -> Ptr {
            return vocab.empty() ? ClipTokenizer::load_dir(dir) : ClipTokenizer::load(vocab, merges);
          },
          &ClipTokenizerWrap::wrap);
    });
  }

  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string prompt = string_arg(info, 0, "the prompt must be a string");
    Napi::Object opts = options_arg(info, 1);
    ClipTokenizer::EncodeOptions o;
    o.pad_token = pad_token_option(env, opts);
    o.max_length = int(int_option(env, opts, "maxLength", o.max_length, 0, 1000000));
    if (o.max_length == 1) bad_input(env, "maxLength must be 0 or an integer >= 2");
    o.truncate = bool_option(env, opts, "truncation", o.truncate);
    auto ids = guarded(env, [&] { return impl_->encode_padded(prompt, o); });
    return i32_js(env, ids);
  }

  Napi::Value Tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string prompt = string_arg(info, 0, "the prompt must be a string");
    const std::string pad = pad_token_option(env, options_arg(info, 1));
    auto toks = guarded(env, [&] { return impl_->tokenize(prompt, pad); });
    Napi::Array a = Napi::Array::New(env, toks.size());
    for (size_t i = 0; i < toks.size(); ++i) a.Set(uint32_t(i), Napi::String::New(env, toks[i]));
    return a;
  }

  Napi::Value EncodeWeighted(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::string prompt = string_arg(info, 0, "the prompt must be a string");
    const std::string pad = pad_token_option(env, options_arg(info, 1));
    auto chunks = guarded(env, [&] { return encode_weighted_prompt(*impl_, prompt, pad); });
    Napi::Array a = Napi::Array::New(env, chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ids", i32_js(env, chunks[i].ids));
      o.Set("weights", f32_js(env, chunks[i].weights));
      a.Set(uint32_t(i), o);
    }
    return a;
  }

  Napi::Value BosId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), impl_->bos_id()); }
  Napi::Value EosId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), impl_->eos_id()); }
  Napi::Value VocabSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(impl_->vocab_size()));
  }
};

}  // namespace

void init_clip_tokenizer(Napi::Env env, Napi::Object exports) { ClipTokenizerWrap::export_class(env, exports); }

}  // namespace bgn::addon
