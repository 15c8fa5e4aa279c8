#include "diffusion/rng.h"

#include <cmath>

namespace bgn {

namespace {
constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;    // Philox round multipliers
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments

inline void mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}
}  // namespace

void Rng::philox4x32(uint64_t seed, uint64_t block, uint32_t out[4]) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, c0, &hi0, &lo0);
    mulhilo(kMul1, c2, &hi1, &lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void Rng::normal(float* out, int64_t n) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  constexpr double kInv32 = 1.0 / 4294967296.0;
  for (int64_t k = 0; k < n; k += 4) {
    uint32_t x[4];
    philox4x32(seed_, block_++, x);
    double v[4];
    for (int pair = 0; pair < 2; ++pair) {
      double u1 = (static_cast<double>(x[2 * pair]) + 1.0) * kInv32;
      double u2 = static_cast<double>(x[2 * pair + 1]) * kInv32;
      double r = std::sqrt(-2.0 * std::log(u1));
      v[2 * pair] = r * std::cos(kTwoPi * u2);
      v[2 * pair + 1] = r * std::sin(kTwoPi * u2);
    }
    for (int lane = 0; lane < 4 && k + lane < n; ++lane) out[k + lane] = static_cast<float>(v[lane]);
  }
}

void Rng::uniform(float* out, int64_t n) {
  for (int64_t k = 0; k < n; k += 4) {
    uint32_t x[4];
    philox4x32(seed_, block_++, x);
    for (int lane = 0; lane < 4 && k + lane < n; ++lane)
      out[k + lane] = static_cast<float>(x[lane] >> 8) * (1.0f / 16777216.0f);
  }
}

}  // namespace bgn
