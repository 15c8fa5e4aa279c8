// Group norm and layer norm (f32 data, statistics accumulated in double).
#include <algorithm>
#include <cmath>

#include "backend/cpu/nn_ops.h"

namespace bgn::cpu {

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
      double sum = 0.0;
      for (int64_t i = 0; i < cnt; ++i) sum += xg[i];
      const double mean = sum / double(cnt);
      double sq = 0.0;
      for (int64_t i = 0; i < cnt; ++i) {
        double d = xg[i] - mean;
        sq += d * d;
      }
      const double rstd = 1.0 / std::sqrt(sq / double(cnt) + double(eps));
      for (int64_t c = 0; c < cg; ++c) {
        const int64_t ch = g * cg + c;
        const float a = float(rstd) * (gamma ? gamma[ch] : 1.f);
        const float b = (beta ? beta[ch] : 0.f) - float(mean) * a;
        const float* xc = xg + c * S;
        float* yc = yg + c * S;
        if (silu) {
          for (int64_t i = 0; i < S; ++i) {
            float v = xc[i] * a + b;
            yc[i] = v / (1.f + std::exp(-v));
          }
        } else {
          for (int64_t i = 0; i < S; ++i) yc[i] = xc[i] * a + b;
        }
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
      double sum = 0.0;
      for (int64_t i = 0; i < C; ++i) sum += xr[i];
      const double mean = sum / double(C);
      double sq = 0.0;
      for (int64_t i = 0; i < C; ++i) {
        double d = xr[i] - mean;
        sq += d * d;
      }
      const float rstd = float(1.0 / std::sqrt(sq / double(C) + double(eps)));
      const float mu = float(mean);
      for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] - mu) * rstd * (gamma ? gamma[i] : 1.f) + (beta ? beta[i] : 0.f);
    }
  });
}

}  // namespace bgn::cpu
