#include "tensor/knobs.h"

#include <cerrno>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "tensor/error.h"
#include "tensor/limits.h"

namespace bgn::knobs {

namespace {

struct Overrides {
  std::mutex mu;
  std::map<std::string, std::optional<std::string>> values;  // name -> value (nullopt: reads as unset)
};

Overrides& overrides() {
  static Overrides* o = new Overrides();  // never destroyed: knobs may be read during static teardown
  return *o;
}

// The variable's text: a test's value when one is set, else the environment's; nullopt when unset.
std::optional<std::string> read(const char* name) {
  Overrides& o = overrides();
  {
    std::lock_guard<std::mutex> lock(o.mu);
    if (auto it = o.values.find(name); it != o.values.end()) return it->second;
  }
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

// A positive whole number, blanks around it allowed; unset or blank: the fallback.
uint64_t positive_limit(const char* name, uint64_t fallback) {
  const std::optional<std::string> v = read(name);
  if (!v) return fallback;
  std::string s = *v;
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  if (b == std::string::npos) return fallback;
  s = s.substr(b, e - b + 1);
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - 9) / 10)
      fail(Code::Config, name, " must be a positive whole number, got \"", *v, "\"");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) fail(Code::Config, name, " must be a positive whole number, got \"", *v, "\"");
  return n;
}

}  // namespace

int profile() {
  const std::optional<std::string> v = read("BGN_PROFILE");
  if (!v) return 0;
  return *v == "2" ? 2 : 1;
}

bool no_winograd() { return read("BGN_NO_WINOGRAD").has_value(); }

bool no_bf16() { return read("BGN_NO_BF16").has_value(); }

std::string bf16_kernel() { return read("BGN_BF16_KERNEL").value_or(""); }

std::string gemm_kernel() { return read("BGN_GEMM_KERNEL").value_or(""); }

size_t alloc_cache_bytes() {
  const std::optional<std::string> v = read("BGN_ALLOC_CACHE_MB");
  const long mb = v ? std::strtol(v->c_str(), nullptr, 10) : 1024;
  return size_t(mb < 0 ? 0 : mb) << 20;
}

size_t band_bytes() {
  const std::optional<std::string> v = read("BGN_BAND_MB");
  const long mb = v ? std::strtol(v->c_str(), nullptr, 10) : 8;
  return size_t(mb < 0 ? 0 : mb) << 20;
}

bool keep_weights_resident() {
  const std::optional<std::string> v = read("BGN_KEEP_WEIGHTS_RESIDENT");
  return v && !v->empty() && *v != "0";
}

CudaGemm cuda_gemm() {
  const std::optional<std::string> v = read("BGN_CUDA_GEMM");
  if (!v || v->empty() || *v == "auto") return CudaGemm::Auto;
  if (*v == "own") return CudaGemm::Own;
  if (*v == "cublas") return CudaGemm::Cublas;
  fail(Code::Config, "BGN_CUDA_GEMM=", *v, " is not one of own, cublas, auto");
}

int64_t cuda_im2col_bytes() {
  const std::optional<std::string> v = read("BGN_CUDA_IM2COL_BYTES");
  if (!v || v->empty()) return int64_t{256} << 20;
  char* end = nullptr;
  const long long b = std::strtoll(v->c_str(), &end, 10);
  BGN_CHECK(*end == '\0' && b > 0, Code::Config, "BGN_CUDA_IM2COL_BYTES=", *v, " is not a positive byte count");
  return b;
}

size_t cuda_memory_limit_bytes() {
  constexpr unsigned long long kMaxMiB = 1ull << 40;  // 2^60 bytes: no device has that much
  const std::optional<std::string> v = read("BGN_CUDA_MEMORY_LIMIT_MB");
  if (!v || v->empty()) return 0;
  errno = 0;
  char* end = nullptr;
  const long long mb = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || mb <= 0 || static_cast<unsigned long long>(mb) > kMaxMiB)
    fail(Code::Config, "BGN_CUDA_MEMORY_LIMIT_MB must be a positive whole number of MiB (e.g. 8000), not '", *v, "'");
  return static_cast<size_t>(mb) << 20;
}

size_t cuda_emu_memory_bytes() {
  const std::optional<std::string> v = read("BGN_CUDA_EMU_MEMORY_MB");
  if (!v || v->empty()) return size_t{4096} << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(v->c_str(), &end, 10);
  if (*end != '\0' || mb == 0 || mb > (1ull << 24))
    fail(Code::Config, "BGN_CUDA_EMU_MEMORY_MB='", *v, "' is not a size in MiB between 1 and 16777216");
  return static_cast<size_t>(mb) << 20;
}

uint64_t max_model_bytes() { return positive_limit("BG_MAX_MODEL_BYTES", kDefaultMaxModelBytes); }
uint64_t max_prompt_chars() { return positive_limit("BG_MAX_PROMPT_CHARS", kDefaultMaxPromptChars); }

void set_for_test(const char* name, const char* value) {
  Overrides& o = overrides();
  std::lock_guard<std::mutex> lock(o.mu);
  o.values[name] = value ? std::optional<std::string>(value) : std::nullopt;
}

void reset_for_test(const char* name) {
  Overrides& o = overrides();
  std::lock_guard<std::mutex> lock(o.mu);
  o.values.erase(name);
}

}  // namespace bgn::knobs
