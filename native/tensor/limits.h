// Resource limits the core enforces itself, whatever the caller checked: their defaults here;
// the values in force come from tensor/knobs.h (BG_MAX_MODEL_BYTES, BG_MAX_PROMPT_CHARS).
//   max model bytes   largest model file mapped (default 64 GiB)       → E_MODEL_FORMAT
//   max prompt chars  longest prompt, in Unicode characters (default 4000) → E_BAD_INPUT
#pragma once
#include <cstdint>
#include <string_view>

namespace bgn {

constexpr uint64_t kDefaultMaxModelBytes = uint64_t(64) << 30;
constexpr uint64_t kDefaultMaxPromptChars = 4000;

// Unicode characters in UTF-8 text (bytes that do not continue a sequence).
uint64_t utf8_length(std::string_view text);

}  // namespace bgn
