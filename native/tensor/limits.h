// Resource limits the core enforces itself, whatever the caller checked: each read from its
// environment variable on use (so a process can change it), with a default.
//   BG_MAX_MODEL_BYTES   largest model file mapped (default 64 GiB)       → E_MODEL_FORMAT
//   BG_MAX_PROMPT_CHARS  longest prompt, in Unicode characters (default 4000) → E_BAD_INPUT
// A value that is not a positive whole number is E_CONFIG naming the variable.
#pragma once
#include <cstdint>
#include <string_view>

namespace bgn {

constexpr uint64_t kDefaultMaxModelBytes = uint64_t(64) << 30;
constexpr uint64_t kDefaultMaxPromptChars = 4000;

uint64_t max_model_bytes();
uint64_t max_prompt_chars();

// Unicode characters in UTF-8 text (bytes that do not continue a sequence).
uint64_t utf8_length(std::string_view text);

}  // namespace bgn
