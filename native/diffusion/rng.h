// The core's own seeded random numbers, so that the same seed gives the same noise on every
// machine and build (no dependence on std::normal_distribution, whose algorithm varies).
//
// Algorithm (documented, stable across releases):
//   * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) with
//     key = (seed low 32 bits, seed high 32 bits) and a 128-bit counter = (block, 0).
//     One block yields four uint32 words x0..x3.
//   * Standard normals by Box–Muller in double precision, two per word pair:
//       u1 = (x0 + 1) / 2^32  ∈ (0, 1],   u2 = x1 / 2^32 ∈ [0, 1)
//       r = sqrt(-2 ln u1);   n0 = r cos(2π u2),   n1 = r sin(2π u2)
//     and likewise (x2, x3) → n2, n3; each rounded to float32.
//   * Element k of a stream that starts at block b comes from block b + k/4, lane k%4; a fill of
//     n values consumes ceil(n/4) blocks. So a tensor's noise does not depend on how many
//     threads produced it, and `Rng(seed).normal(n)` is a pure function of (seed, n).
#pragma once
#include <cstdint>

namespace bgn {

class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t block = 0) : seed_(seed), block_(block) {}

  // Fills out[0..n) with N(0,1) samples and advances the stream.
  void normal(float* out, int64_t n);
  // Fills out[0..n) with uniform samples in [0, 1) (24-bit resolution) and advances.
  void uniform(float* out, int64_t n);

  uint64_t seed() const { return seed_; }
  uint64_t block() const { return block_; }

  // The raw generator: four words for (key, counter block).
  static void philox4x32(uint64_t seed, uint64_t block, uint32_t out[4]);

 private:
  uint64_t seed_;
  uint64_t block_;
};

}  // namespace bgn
