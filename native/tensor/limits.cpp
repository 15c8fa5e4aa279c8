#include "tensor/limits.h"

#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace bgn {

namespace {
uint64_t env_limit(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v) return fallback;
  std::string s(v);
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  if (b == std::string::npos) return fallback;
  s = s.substr(b, e - b + 1);
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10)
      fail(Code::Config, name, " must be a positive whole number, got \"", v, "\"");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) fail(Code::Config, name, " must be a positive whole number, got \"", v, "\"");
  return n;
}
}  // namespace

uint64_t max_model_bytes() { return env_limit("BG_MAX_MODEL_BYTES", kDefaultMaxModelBytes); }
uint64_t max_prompt_chars() { return env_limit("BG_MAX_PROMPT_CHARS", kDefaultMaxPromptChars); }

uint64_t utf8_length(std::string_view text) {
  uint64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace bgn
