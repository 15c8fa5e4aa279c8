// parsePromptWeights(prompt) → { text, weight, isBreak }[]: the emphasis syntax of a prompt
// (text/prompt_weights.h). Synchronous: string work on one prompt.
#include <string>

#include "addon/args.h"
#include "addon/bindings.h"
#include "addon/errors.h"
#include "text/prompt_weights.h"

namespace bgn::addon {

namespace {

Napi::Value ParsePromptWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string prompt = string_arg(info, 0, "the prompt must be a string");
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

}  // namespace

void init_parse_prompt_weights(Napi::Env env, Napi::Object exports) {
  exports.Set("parsePromptWeights", Napi::Function::New(env, ParsePromptWeights, "parsePromptWeights"));
}

}  // namespace bgn::addon
