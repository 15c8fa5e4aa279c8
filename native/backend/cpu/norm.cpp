// Group norm and layer norm (f32 data, statistics accumulated in double). The passes run on
// 16-float vectors (backend/cpu/vmath.h): the sums in eight double lanes each, the affine map and
// SiLU's exponential vectorised, so a norm costs about three trips through memory.
#include <algorithm>
#include <cmath>

#include "backend/cpu/nn_ops.h"
#include "backend/cpu/vmath.h"

namespace bgn::cpu {

namespace {

typedef double vd8 __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));

// The two halves of a 16-float vector widened to doubles.
inline void widen(vm::vf16 v, vd8* lo, vd8* hi) {
  vf8 a, b;
  __builtin_memcpy(&a, &v, sizeof a);
  __builtin_memcpy(&b, reinterpret_cast<const char*>(&v) + sizeof a, sizeof b);
  *lo = __builtin_convertvector(a, vd8);
  *hi = __builtin_convertvector(b, vd8);
}

inline double lanes_sum(vd8 v) {
  double s = 0.0;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

// Σ x[i] in double.
double sum_of(const float* x, int64_t n) {
  vd8 s0{}, s1{};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vd8 lo, hi;
    widen(vm::load(x + i), &lo, &hi);
    s0 += lo;
    s1 += hi;
  }
  double s = lanes_sum(s0 + s1);
  for (; i < n; ++i) s += x[i];
  return s;
}

// Σ (x[i] − mean)² in double.
double squared_deviation_of(const float* x, int64_t n, double mean) {
  const vd8 m = vd8{} + mean;
  vd8 s0{}, s1{};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vd8 lo, hi;
    widen(vm::load(x + i), &lo, &hi);
    lo -= m;
    hi -= m;
    s0 += lo * lo;
    s1 += hi * hi;
  }
  double s = lanes_sum(s0 + s1);
  for (; i < n; ++i) {
    const double d = x[i] - mean;
    s += d * d;
  }
  return s;
}

inline vm::vf16 silu(vm::vf16 v) { return v / (vm::splat(1.f) + vm::exp(-v)); }
inline float silu1(float v) { return v / (1.f + vm::exp1(-v)); }

// y[i] = x[i]·a + b, then SiLU when asked.
void affine(const float* x, int64_t n, float a, float b, bool with_silu, float* y) {
  const vm::vf16 va = vm::splat(a), vb = vm::splat(b);
  int64_t i = 0;
  if (with_silu) {
    for (; i + 16 <= n; i += 16) vm::store(y + i, silu(vm::load(x + i) * va + vb));
    for (; i < n; ++i) y[i] = silu1(x[i] * a + b);
  } else {
    for (; i + 16 <= n; i += 16) vm::store(y + i, vm::load(x + i) * va + vb);
    for (; i < n; ++i) y[i] = x[i] * a + b;
  }
}

}  // namespace

void group_norm(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t S, int64_t groups, const float* gamma,
                const float* beta, float eps, bool silu, float* y) {
  const int64_t cg = C / groups;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, cg * S));
  pool.parallel_for(N * groups, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / groups, g = t % groups;
      const float* xg = x + (n * C + g * cg) * S;
      float* yg = y + (n * C + g * cg) * S;
      const int64_t cnt = cg * S;
      const double mean = sum_of(xg, cnt) / double(cnt);
      const double rstd = 1.0 / std::sqrt(squared_deviation_of(xg, cnt, mean) / double(cnt) + double(eps));
      for (int64_t c = 0; c < cg; ++c) {
        const int64_t ch = g * cg + c;
        const float a = float(rstd) * (gamma ? gamma[ch] : 1.f);
        const float b = (beta ? beta[ch] : 0.f) - float(mean) * a;
        affine(xg + c * S, S, a, b, silu, yg + c * S);
      }
    }
  });
}

void layer_norm(ThreadPool& pool, const float* x, int64_t M, int64_t C, const float* gamma, const float* beta,
                float eps, float* y) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, C));
  pool.parallel_for(M, grain, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* xr = x + m * C;
      float* yr = y + m * C;
      const double mean = sum_of(xr, C) / double(C);
      const float rstd = float(1.0 / std::sqrt(squared_deviation_of(xr, C, mean) / double(C) + double(eps)));
      const float mu = float(mean);
      int64_t i = 0;
      if (gamma && beta) {
        const vm::vf16 vmu = vm::splat(mu), vr = vm::splat(rstd);
        for (; i + 16 <= C; i += 16)
          vm::store(yr + i, (vm::load(xr + i) - vmu) * vr * vm::load(gamma + i) + vm::load(beta + i));
      }
      for (; i < C; ++i) yr[i] = (xr[i] - mu) * rstd * (gamma ? gamma[i] : 1.f) + (beta ? beta[i] : 0.f);
    }
  });
}

}  // namespace bgn::cpu
