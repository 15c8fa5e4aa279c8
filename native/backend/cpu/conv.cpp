// 2-D convolution as banded im2col + GEMM: each task lays out the receptive fields of a band of
// output rows (small enough to stay in cache) and multiplies the group's weights into the output.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu/im2col.h"
#include "backend/cpu/ops.h"
#include "tensor/allocator.h"
#include "tensor/knobs.h"

namespace bgn::cpu {

int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                      int64_t dilation) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + pad_begin + pad_end;
  if (stride <= 0 || padded < span) return -1;
  return (padded - span) / stride + 1;
}

void apply_bias_activation(float* y, int64_t rows, int64_t cols, int64_t ld, const float* bias, Activation act) {
  for (int64_t r = 0; r < rows; ++r) {
    float* p = y + r * ld;
    float b = bias ? bias[r] : 0.f;
    switch (act) {
      case Activation::None:
        if (bias)
          for (int64_t i = 0; i < cols; ++i) p[i] += b;
        break;
      case Activation::Relu:
        for (int64_t i = 0; i < cols; ++i) p[i] = std::max(p[i] + b, 0.f);
        break;
      case Activation::Sigmoid:
        for (int64_t i = 0; i < cols; ++i) p[i] = 1.f / (1.f + std::exp(-(p[i] + b)));
        break;
    }
  }
}

// Receptive fields of output rows [oy0, oy1) for channels [c0, c0+Cg): col (Cg*KH*KW, rows*OW).
void im2col_band(const ConvInput& x, int64_t n, int64_t c0, int64_t Cg, int64_t H, int64_t W, int64_t KH, int64_t KW,
                 const Conv2dParams& p, int64_t OW, int64_t oy0, int64_t oy1, float* col) {
  int64_t cols = (oy1 - oy0) * OW;
  for (int64_t c = 0; c < Cg; ++c) {
    const float* xc = x.plane(n, c0 + c, H * W);
    for (int64_t kh = 0; kh < KH; ++kh) {
      for (int64_t kw = 0; kw < KW; ++kw) {
        float* out = col + ((c * KH + kh) * KW + kw) * cols;
        int64_t dx = kw * p.dilation_w - p.pad_left;
        // valid ox range: 0 <= ox*sw + dx < W
        int64_t ox_lo = dx >= 0 ? 0 : (-dx + p.stride_w - 1) / p.stride_w;
        int64_t ox_hi = W - dx <= 0 ? 0 : std::min(OW, (W - dx + p.stride_w - 1) / p.stride_w);
        if (ox_hi < ox_lo) ox_hi = ox_lo;
        for (int64_t oy = oy0; oy < oy1; ++oy, out += OW) {
          int64_t iy = oy * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (iy < 0 || iy >= H) {
            std::memset(out, 0, OW * sizeof(float));
            continue;
          }
          const float* row = xc + iy * W;
          for (int64_t ox = 0; ox < ox_lo; ++ox) out[ox] = 0.f;
          if (p.stride_w == 1) {
            if (ox_hi > ox_lo) std::memcpy(out + ox_lo, row + ox_lo + dx, (ox_hi - ox_lo) * sizeof(float));
          } else {
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) out[ox] = row[ox * p.stride_w + dx];
          }
          for (int64_t ox = ox_hi; ox < OW; ++ox) out[ox] = 0.f;
        }
      }
    }
  }
}

bool is_pointwise(int64_t KH, int64_t KW, const Conv2dParams& p) {
  return KH == 1 && KW == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.pad_bottom == 0 && p.pad_right == 0;
}

void conv2d(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w, int64_t O,
            int64_t KH, int64_t KW, const float* bias, const Conv2dParams& p, float* y, int64_t OH, int64_t OW) {
  if (winograd_applies(C, O, KH, KW, p, OH, OW) && !knobs::no_winograd()) {
    conv2d_winograd(pool, x, N, C, H, W, w, O, bias, p, y, OH, OW);
    return;
  }
  const int64_t G = p.groups, Cg = C / G, Og = O / G;
  const int64_t K = Cg * KH * KW, OHW = OH * OW;

  // Rows per band: at least a few hundred columns per GEMM (so the weights are packed once per
  // sizeable block of work), the column buffer near 1 MiB when K is small.
  const int64_t target_cols = std::clamp<int64_t>(262144 / std::max<int64_t>(K, 1), 256, 4096);
  int64_t band_rows = std::clamp<int64_t>((target_cols + OW - 1) / OW, 1, OH);
  // Enough bands to keep several threads busy. The split must not depend on the thread count:
  // BLAS GEMM results for a column depend on the GEMM's width (tail kernels), so a
  // thread-dependent band size would make 1- and 2-thread outputs differ in the last bits.
  constexpr int64_t kMinTasks = 4;  // = 2 tasks per thread on the 2-core target
  while (band_rows > 1 && N * G * ((OH + band_rows - 1) / band_rows) < kMinTasks) band_rows = (band_rows + 1) / 2;
  const int64_t bands = (OH + band_rows - 1) / band_rows;
  const int64_t tasks = N * G * bands;

  pool.parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    // The column buffer from the tensor allocator's cache (the calling thread changes between calls).
    const bool pointwise = is_pointwise(KH, KW, p) && x.parts.size() == 1;
    const CachedBlock colb(pointwise ? 0 : size_t(K * band_rows * OW) * sizeof(float), "convolution columns");
    float* const col = colb.as<float>();
    for (int64_t t = t0; t < t1; ++t) {
      int64_t band = t % bands, g = (t / bands) % G, n = t / (bands * G);
      int64_t oy0 = band * band_rows, oy1 = std::min(OH, oy0 + band_rows);
      int64_t cols = (oy1 - oy0) * OW;
      const bool direct = is_pointwise(KH, KW, p) && x.parts.size() == 1;
      const float* wg = w + g * Og * K;
      float* yg = y + (n * O + g * Og) * OHW + oy0 * OW;
      const float* bmat;
      int64_t ldb;
      if (direct) {
        bmat = x.plane(n, g * Cg, H * W) + oy0 * OW;  // x itself is the column matrix
        ldb = H * W;
      } else {
        im2col_band(x, n, g * Cg, Cg, H, W, KH, KW, p, OW, oy0, oy1, col);
        bmat = col;
        ldb = cols;
      }
      sgemm_serial(false, false, Og, cols, K, 1.f, wg, K, bmat, ldb, 0.f, yg, OHW);
      apply_bias_activation(yg, Og, cols, OHW, bias ? bias + g * Og : nullptr, p.activation);
    }
  });
}

}  // namespace bgn::cpu
