// Elementwise activations, GEGLU and nearest upsampling for the diffusion models.
#include <algorithm>
#include <cmath>

#include "backend/cpu/nn_ops.h"
#include "backend/cpu/vexp.h"

namespace bgn::cpu {

namespace {
inline float gelu_erf(float v) { return 0.5f * v * (1.f + std::erf(v * 0.70710678118654752f)); }
}  // namespace

void activation(ThreadPool& pool, Act act, const float* x, float* y, int64_t n) {
  pool.parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
    switch (act) {
      case Act::SiLU:
        for (int64_t i = i0; i < i1; ++i) y[i] = x[i] / (1.f + std::exp(-x[i]));
        break;
      case Act::GELU:
        for (int64_t i = i0; i < i1; ++i) y[i] = gelu_erf(x[i]);
        break;
      case Act::QuickGELU:
        for (int64_t i = i0; i < i1; ++i) y[i] = x[i] / (1.f + std::exp(-1.702f * x[i]));
        break;
    }
  });
}

void geglu(ThreadPool& pool, const float* x, int64_t M, int64_t F, float* y) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, F));
  pool.parallel_for(M, grain, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const float* h = x + m * 2 * F;
      const float* g = h + F;
      float* o = y + m * F;
      for (int64_t f = 0; f < F; ++f) o[f] = h[f] * gelu_erf(g[f]);
    }
  });
}

void geglu_approx(ThreadPool& pool, const float* x, int64_t M, int64_t F, float* y) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, F));
  pool.parallel_for(M, grain, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) geglu_approx(x + m * 2 * F, x + m * 2 * F + F, y + m * F, F);
  });
}

void upsample_nearest(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH,
                      int64_t OW) {
  pool.parallel_for(NC * OH, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / OH, oy = r % OH;
      const int64_t iy = std::min<int64_t>(H - 1, (oy * H) / OH);
      const float* xr = x + (c * H + iy) * W;
      float* yr = y + r * OW;
      for (int64_t ox = 0; ox < OW; ++ox) yr[ox] = xr[std::min<int64_t>(W - 1, (ox * W) / OW)];
    }
  });
}

}  // namespace bgn::cpu
