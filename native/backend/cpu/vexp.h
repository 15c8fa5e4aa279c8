// A vectorised exponential for the bf16 path's softmax (and GELU's erf built on it): AVX-512 or
// AVX2 + FMA, chosen at run time (scalar on other CPUs). Range reduction x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact
// n·ln2), a degree-7 polynomial for e^r, and 2^n put into the exponent bits: relative error
// below 3e-7 (a few units in the last place) for x in [-87.3, 88.37]; below -87.3 the result is 0
// (std::exp gives a value under 1.2e-38 there), above 88.37 it is clamped to e^88.37.
#pragma once
#include <cstdint>

namespace bgn::cpu {

// The same approximation for one value (reference for the vector paths and their tails).
float exp_approx(float x);

// GELU (the erf form) with erf from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7) on this
// exponential: gelu_approx(v) is within 1e-6·max(1, |v|) of v/2·(1 + erf(v/√2)).
float gelu_approx(float v);
// o[i] = h[i] · gelu_approx(g[i]) for i < n (GEGLU's gate), vectorised like exp_shifted_sum.
void geglu_approx(const float* h, const float* g, float* o, int64_t n);

// x[i] *= scale for i < n, in place; returns the largest new value (-inf when n is 0; NaN is skipped).
float scale_and_max(float* x, int64_t n, float scale);

// x[i] = exp(x[i] - shift) for i < n, in place; returns the sum of the new values.
float exp_shifted_sum(float* x, int64_t n, float shift);
// The same with vectors of at most `width` bits (512: AVX-512, 256: AVX2 + FMA, 0: scalar), so
// tests reach every path; a width this CPU lacks falls back to the next narrower one.
float exp_shifted_sum_width(float* x, int64_t n, float shift, int width);

}  // namespace bgn::cpu
