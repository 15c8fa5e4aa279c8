// The AVX-512 exponential behind backend/cpu/vexp.h, for kernels that fuse it into their own loops
// (the bf16 attention's softmax). Range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two
// for an exact n·ln2), a degree-7 polynomial for e^r (Cephes' expf coefficients), 2^n put into the
// exponent bits: 0 below kMin, clamped above kMax, NaN kept. The constants serve the scalar
// reference (exp_approx) too.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bgn::cpu::vexp {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;     // 8 significant bits: n·kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;  // ln 2 - kLn2Hi
constexpr float kMin = -87.3365448f;       // e^kMin = 2^-126, the smallest normal float
constexpr float kMax = 88.37f;             // n = round(x·log2 e) stays ≤ 127
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline __m512 exp512(__m512 v) {
  const __m512 lo = _mm512_set1_ps(kMin), hi = _mm512_set1_ps(kMax);
  const __mmask16 under = _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ);
  const __m512 c = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(c, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Hi), c);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kP0), r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.f));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
  const __m512 out = _mm512_maskz_mul_ps(__mmask16(~under), y, _mm512_castsi512_ps(e));
  return _mm512_mask_mov_ps(out, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);  // NaN stays NaN
}
#endif

}  // namespace bgn::cpu::vexp
