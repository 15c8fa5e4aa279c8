// 2-D convolution at bf16 precision: the banded im2col of conv.cpp, each band multiplied by the
// weights packed once at load (backend/cpu/gemm_bf16.h). Every kernel size and stride takes this
// path (no Winograd: its transforms would be rounded to bf16 too).
#include <algorithm>
#include <vector>

#include "backend/cpu/conv_bf16.h"
#include "backend/cpu/im2col.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

namespace bgn::cpu {

void conv2d_bf16(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const Bf16Weights& w,
                 int64_t O, int64_t KH, int64_t KW, const float* bias, const Conv2dParams& p, float* y, int64_t OH,
                 int64_t OW) {
  BGN_CHECK(p.groups == 1 && w.side() == Bf16Weights::Side::Left && w.rows() == O && w.depth() == C * KH * KW,
            Code::Internal, "conv2d_bf16: the packed weights do not fit the convolution");
  const int64_t K = C * KH * KW, OHW = OH * OW;
  // Bands as in conv2d: the column buffer near 1 MiB, at least 4 tasks, independent of the thread count.
  const int64_t target_cols = std::clamp<int64_t>(262144 / std::max<int64_t>(K, 1), 256, 4096);
  int64_t band_rows = std::clamp<int64_t>((target_cols + OW - 1) / OW, 1, OH);
  constexpr int64_t kMinTasks = 4;
  while (band_rows > 1 && N * ((OH + band_rows - 1) / band_rows) < kMinTasks) band_rows = (band_rows + 1) / 2;
  const int64_t bands = (OH + band_rows - 1) / band_rows;
  const bool direct = is_pointwise(KH, KW, p) && x.parts.size() == 1;

  pool.parallel_for(N * bands, 1, [&](int64_t t0, int64_t t1) {
    // The column buffer from the tensor allocator's cache (the calling thread changes between calls).
    const CachedBlock colb(direct ? 0 : size_t(K * band_rows * OW) * sizeof(float), "convolution columns");
    float* const col = colb.as<float>();
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t band = t % bands, n = t / bands;
      const int64_t oy0 = band * band_rows, oy1 = std::min(OH, oy0 + band_rows), cols = (oy1 - oy0) * OW;
      float* yn = y + n * O * OHW + oy0 * OW;
      if (direct) {
        gemm_bf16_left(w, x.plane(n, 0, H * W) + oy0 * OW, H * W, cols, yn, OHW);
      } else {
        im2col_band(x, n, 0, C, H, W, KH, KW, p, OW, oy0, oy1, col);
        gemm_bf16_left(w, col, cols, cols, yn, OHW);
      }
      apply_bias_activation(yn, O, cols, OHW, bias, p.activation);
    }
  });
}

}  // namespace bgn::cpu
