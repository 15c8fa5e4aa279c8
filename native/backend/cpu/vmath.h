// Elementwise transcendental functions on 16-float vectors (GCC/Clang vector extensions: one
// AVX-512 register, or two AVX2 registers, or whatever the target has), branch-free so that a
// loop over an array vectorises. Each has a scalar twin with the same arithmetic for the tails.
#pragma once
#include <cstdint>
#include <cstring>

namespace bgn::cpu::vm {

typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

inline vf16 splat(float v) { return vf16{} + v; }
inline vf16 load(const float* p) {
  vf16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, vf16 v) { std::memcpy(p, &v, sizeof v); }
inline vf16 vselect(vi16 mask, vf16 a, vf16 b) { return mask ? a : b; }

// e^x: x = n·ln2 + r, |r| ≤ ln2/2, e^r ≈ 1 + r + r²·P(r) (Cephes' expf coefficients), 2^n in the
// exponent bits. Relative error below 3e-7 on [-87.3, 88.37]; 0 below, clamped above; NaN → NaN.
inline vf16 exp(vf16 x) {
  const vf16 lo = splat(-87.3365448f), hi = splat(88.37f);
  const vi16 under = x < lo;
  const vi16 nan = x != x;
  x = vselect(x > hi, hi, x);
  x = vselect(under, lo, x);
  // Round to nearest by the 1.5·2^23 trick (|x·log2 e| < 2^22).
  const vf16 magic = splat(12582912.f);
  const vf16 n = (x * splat(1.44269504088896341f) + magic) - magic;
  vf16 r = x - n * splat(0.693359375f);
  r = r - n * splat(-2.12194440e-4f);
  vf16 p = splat(1.9875691500e-4f) * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  const vf16 y = (p * (r * r) + r) + splat(1.f);
  const vi16 bits = (__builtin_convertvector(n, vi16) + 127) << 23;
  vf16 scale;
  std::memcpy(&scale, &bits, sizeof scale);
  vf16 out = vselect(under, splat(0.f), y * scale);
  return vselect(nan, x, out);
}

// erf(x): for |x| < 0.5 the Taylor series to x^11 (relative error < 1e-7); above,
// 1 − erfc(|x|) with Numerical Recipes' erfcc (t = 1/(1 + |x|/2), fractional error < 1.2e-7), the
// sign restored. Absolute error below 2e-7 everywhere; NaN → NaN.
inline vf16 erf(vf16 x) {
  const vf16 z = vselect(x < 0.f, -x, x);
  const vf16 x2 = x * x;
  // 2/√π · (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)
  vf16 s = splat(-1.0 / 1320 * 1.1283791670955126) * x2 + splat(1.0 / 216 * 1.1283791670955126);
  s = s * x2 + splat(-1.0 / 42 * 1.1283791670955126);
  s = s * x2 + splat(1.0 / 10 * 1.1283791670955126);
  s = s * x2 + splat(-1.0 / 3 * 1.1283791670955126);
  s = s * x2 + splat(1.1283791670955126);
  const vf16 small = x * s;
  const vf16 t = splat(1.f) / (splat(1.f) + splat(0.5f) * z);
  vf16 q = splat(0.17087277f) * t + splat(-0.82215223f);
  q = q * t + splat(1.48851587f);
  q = q * t + splat(-1.13520398f);
  q = q * t + splat(0.27886807f);
  q = q * t + splat(-0.18628806f);
  q = q * t + splat(0.09678418f);
  q = q * t + splat(0.37409196f);
  q = q * t + splat(1.00002368f);
  q = q * t + splat(-1.26551223f);
  const vf16 erfc = t * exp(q - z * z);
  const vf16 big = splat(1.f) - erfc;
  const vf16 large = vselect(x < 0.f, -big, big);
  return vselect(z < 0.5f, small, large);
}

// The same functions on one value, through a vector (tails of arrays).
inline float exp1(float v) { return exp(splat(v))[0]; }
inline float erf1(float v) { return erf(splat(v))[0]; }

// y[i] = f(x[i]) for i < n with f taking and returning vf16.
template <class F>
inline void map(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store(y + i, f(load(x + i)));
  if (i < n) {
    float buf[16] = {};
    std::memcpy(buf, x + i, size_t(n - i) * sizeof(float));
    store(buf, f(load(buf)));
    std::memcpy(y + i, buf, size_t(n - i) * sizeof(float));
  }
}

}  // namespace bgn::cpu::vm
