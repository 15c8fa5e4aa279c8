#include "backend/cpu/vexp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/vexp512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes the AVX-512 intrinsics' own "undefined" pass-through operands for uninitialised reads.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace bgn::cpu {

namespace {

using vexp::kLn2Hi;
using vexp::kLn2Lo;
using vexp::kLog2e;
using vexp::kMax;
using vexp::kMin;
using vexp::kP0;
using vexp::kP1;
using vexp::kP2;
using vexp::kP3;
using vexp::kP4;
using vexp::kP5;
// erf(x) ≈ 1 - t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·e^(-x²), t = 1 / (1 + p·x), x ≥ 0
// (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7).
constexpr float kErfP = 0.3275911f, kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f,
                kErfA4 = -1.453152027f, kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;
}  // namespace

float exp_approx(float x) {
  if (std::isnan(x)) return x;
  if (x < kMin) return 0.f;
  x = std::min(x, kMax);
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float p = std::fma(kP0, r, kP1);
  p = std::fma(p, r, kP2);
  p = std::fma(p, r, kP3);
  p = std::fma(p, r, kP4);
  p = std::fma(p, r, kP5);
  const float y = std::fma(p, r * r, r) + 1.f;
  const uint32_t bits = uint32_t(int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return y * scale;
}

namespace {

#if defined(__x86_64__)
using vexp::exp512;

__attribute__((target("avx512f"))) float exp_sum_avx512(float* x, int64_t n, float shift) {
  const __m512 sh = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 out = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh)));
    _mm512_mask_storeu_ps(x + i, m, out);
    sum = _mm512_add_ps(sum, out);
  }
  return _mm512_reduce_add_ps(sum);
}

// o = h · gelu(g) per lane, gelu(v) = v/2 · (1 + erf(v/√2)) with erf as in gelu_approx.
__attribute__((target("avx512f"))) void geglu_avx512(const float* h, const float* g, float* o, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 x = _mm512_mul_ps(v, _mm512_set1_ps(kInvSqrt2));
    const __m512 ax = _mm512_abs_ps(x);  // AVX512F (andnot would need AVX512DQ)
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(kErfP), ax, one));
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(kErfA5), t, _mm512_set1_ps(kErfA4));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kErfA3));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kErfA2));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kErfA1));
    q = _mm512_mul_ps(_mm512_mul_ps(q, t), exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax))));
    // 1 + erf(x): 2 - q for x ≥ 0, q for x < 0 (no cancellation on the negative side)
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 onep = _mm512_mask_mov_ps(_mm512_sub_ps(_mm512_set1_ps(2.f), q), neg, q);
    const __m512 gelu = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), onep);
    _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, h + i), gelu));
  }
}

__attribute__((target("avx2,fma"))) float exp_sum_avx2(float* x, int64_t n, float shift) {
  const __m256 sh = _mm256_set1_ps(shift), lo = _mm256_set1_ps(kMin), hi = _mm256_set1_ps(kMax);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_sub_ps(_mm256_loadu_ps(x + i), sh);
    const __m256 keep = _mm256_cmp_ps(v, lo, _CMP_GE_OQ);
    const __m256 c = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256 k =
        _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), c);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kP0), r, _mm256_set1_ps(kP1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
    const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    __m256 out = _mm256_and_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(e)), keep);
    out = _mm256_blendv_ps(out, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));  // NaN stays NaN
    _mm256_storeu_ps(x + i, out);
    sum = _mm256_add_ps(sum, out);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  float s = 0.f;
  for (float l : lanes) s += l;
  for (; i < n; ++i) {
    x[i] = exp_approx(x[i] - shift);
    s += x[i];
  }
  return s;
}

__attribute__((target("avx512f"))) float scale_max_avx512(float* x, int64_t n, float scale) {
  const __m512 sc = _mm512_set1_ps(scale);
  __m512 mx = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sc);
    _mm512_mask_storeu_ps(x + i, m, v);
    mx = _mm512_mask_max_ps(mx, m, v, mx);  // a NaN in v leaves mx as it was
  }
  return _mm512_reduce_max_ps(mx);
}

bool has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

}  // namespace

float exp_shifted_sum(float* x, int64_t n, float shift) { return exp_shifted_sum_width(x, n, shift, 512); }

float gelu_approx(float v) {
  const float x = v * kInvSqrt2, ax = std::fabs(x);
  const float t = 1.f / std::fma(kErfP, ax, 1.f);
  float q = std::fma(kErfA5, t, kErfA4);
  q = std::fma(q, t, kErfA3);
  q = std::fma(q, t, kErfA2);
  q = std::fma(q, t, kErfA1);
  q = q * t * exp_approx(-(ax * ax));
  return 0.5f * v * (x < 0.f ? q : 2.f - q);
}

void geglu_approx(const float* h, const float* g, float* o, int64_t n) {
#if defined(__x86_64__)
  if (cpu_features().avx512) return geglu_avx512(h, g, o, n);
#endif
  for (int64_t i = 0; i < n; ++i) o[i] = h[i] * gelu_approx(g[i]);
}

float scale_and_max(float* x, int64_t n, float scale) {
#if defined(__x86_64__)
  if (cpu_features().avx512) return scale_max_avx512(x, n, scale);
#endif
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= scale;
    m = std::max(m, x[i]);
  }
  return m;
}

float exp_shifted_sum_width(float* x, int64_t n, float shift, int width) {
#if defined(__x86_64__)
  if (width >= 512 && cpu_features().avx512) return exp_sum_avx512(x, n, shift);
  if (width >= 256 && has_avx2_fma()) return exp_sum_avx2(x, n, shift);
#endif
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = exp_approx(x[i] - shift);
    s += x[i];
  }
  return s;
}

}  // namespace bgn::cpu
