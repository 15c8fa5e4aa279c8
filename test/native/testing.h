// Minimal test harness for the native unit tests: named cases, CHECK macros, exit code.
//
//   TEST("a truncated file is a format error") { ... CHECK(x == y); CHECK_THROWS_CODE(f(), Code::ModelFormat); }
//   int main() { return bgn_test::run_all(); }
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "tensor/error.h"

namespace bgn_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
inline int& failures() {
  static int f = 0;
  return f;
}
struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline int run_all() {
  int failed_cases = 0;
  for (auto& c : registry()) {
    int before = failures();
    try {
      c.fn();
    } catch (const bgn::Error& e) {
      std::printf("    unexpected bgn::Error [%s]: %s\n", bgn::code_name(e.code()), e.what());
      ++failures();
    } catch (const std::exception& e) {
      std::printf("    unexpected exception: %s\n", e.what());
      ++failures();
    }
    bool ok = failures() == before;
    if (!ok) ++failed_cases;
    std::printf("%s %s\n", ok ? "  ok  " : "  FAIL", c.name);
  }
  std::printf("%zu cases, %d failed\n", registry().size(), failed_cases);
  return failed_cases == 0 ? 0 : 1;
}

// The fixtures directory: $BGN_FIXTURES_DIR, else ../shared/fixtures (relative to the working
// directory, normally the repository root). Empty when neither exists.
inline std::string fixtures_dir() {
  const char* env = std::getenv("BGN_FIXTURES_DIR");
  std::string d = env && *env ? env : "../shared/fixtures";
  struct stat st;
  if (::stat(d.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  return d;
}

// Deterministic test data: n floats from mt19937(seed), uniform in [lo, hi) or normal with mean
// 0 and standard deviation `scale`.
inline std::vector<float> uniform(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace bgn_test

#define BGN_TEST_CAT2(a, b) a##b
#define BGN_TEST_CAT(a, b) BGN_TEST_CAT2(a, b)
#define TEST(name)                                                                                      \
  static void BGN_TEST_CAT(test_fn_, __LINE__)();                                                       \
  static bgn_test::Registrar BGN_TEST_CAT(test_reg_, __LINE__)(name, BGN_TEST_CAT(test_fn_, __LINE__)); \
  static void BGN_TEST_CAT(test_fn_, __LINE__)()

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::printf("    %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      ++bgn_test::failures();                                                  \
    }                                                                          \
  } while (0)

#define CHECK_MSG(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::printf("    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      std::printf(__VA_ARGS__);                                                \
      std::printf("\n");                                                       \
      ++bgn_test::failures();                                                  \
    }                                                                          \
  } while (0)

// Expects `expr` to throw bgn::Error with `code`; returns the message through `msg_out` if given.
#define CHECK_THROWS_CODE(expr, want_code)                                                   \
  do {                                                                                       \
    bool threw_ = false;                                                                     \
    try {                                                                                    \
      (void)(expr);                                                                          \
    } catch (const bgn::Error& e_) {                                                         \
      threw_ = true;                                                                         \
      if (e_.code() != (want_code)) {                                                        \
        std::printf("    %s:%d: %s threw %s (%s), expected %s\n", __FILE__, __LINE__, #expr, \
                    bgn::code_name(e_.code()), e_.what(), bgn::code_name(want_code));        \
        ++bgn_test::failures();                                                              \
      }                                                                                      \
    }                                                                                        \
    if (!threw_) {                                                                           \
      std::printf("    %s:%d: %s did not throw\n", __FILE__, __LINE__, #expr);               \
      ++bgn_test::failures();                                                                \
    }                                                                                        \
  } while (0)
