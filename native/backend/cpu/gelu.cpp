#include "backend/cpu/gelu.h"

#include "backend/cpu/vmath.h"

namespace bgn::cpu {

void erf(ThreadPool& pool, const float* x, float* y, int64_t n) {
  pool.parallel_for(n, 1 << 14,
                    [&](int64_t b, int64_t e) { vm::map(x + b, y + b, e - b, [](vm::vf16 v) { return vm::erf(v); }); });
}

namespace {

inline vm::vf16 gelu16(vm::vf16 v) {
  return v * (vm::splat(1.f) + vm::erf(v * vm::splat(0.70710678118654752f))) * vm::splat(0.5f);
}

}  // namespace

void gelu(ThreadPool& pool, const float* x, float* y, int64_t n) {
  pool.parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) { vm::map(x + b, y + b, e - b, gelu16); });
}

void gelu_block(float* c, int64_t rows, int64_t cols, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r) vm::map(c + r * ldc, c + r * ldc, cols, gelu16);
}

}  // namespace bgn::cpu
