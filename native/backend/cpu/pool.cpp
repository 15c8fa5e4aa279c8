// Max and average pooling over (NC,H,W) planes.
#include <algorithm>
#include <limits>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                      bool ceil_mode) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + pad_begin + pad_end - span;
  if (stride <= 0 || padded < 0) return -1;
  int64_t out = ceil_mode ? (padded + stride - 1) / stride + 1 : padded / stride + 1;
  // A window that would start entirely in the end padding is dropped (ONNX and PyTorch agree).
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

namespace {

// 2x2 windows, stride 2, no padding (U-Net style downsampling): whole rows at a time, with the
// last row/column clamped when ceil_mode leaves a half window.
void maxpool2x2(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW) {
  const int64_t full_w = W / 2;  // output columns whose window lies fully inside
  pool.parallel_for(NC * OH, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t c = t / OH, oy = t % OH;
      const float* r0 = x + c * H * W + (2 * oy) * W;
      const float* r1 = (2 * oy + 1 < H) ? r0 + W : r0;
      float* out = y + c * OH * OW + oy * OW;
      const int64_t n = std::min(full_w, OW);
      for (int64_t ox = 0; ox < n; ++ox) {
        float a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
        float d = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
        out[ox] = a > d ? a : d;
      }
      for (int64_t ox = n; ox < OW; ++ox) out[ox] = std::max(r0[2 * ox], r1[2 * ox]);
    }
  });
}

}  // namespace

void maxpool2d(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, const Pool2dParams& p, float* y,
               int64_t OH, int64_t OW) {
  if (p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 && p.stride_w == 2 && p.dilation_h == 1 &&
      p.dilation_w == 1 && p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0 &&
      OH <= (H + 1) / 2 && OW <= (W + 1) / 2) {
    maxpool2x2(pool, x, NC, H, W, y, OH, OW);
    return;
  }
  pool.parallel_for(NC, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float* xc = x + c * H * W;
      float* yc = y + c * OH * OW;
      for (int64_t oy = 0; oy < OH; ++oy) {
        for (int64_t ox = 0; ox < OW; ++ox) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
            int64_t iy = oy * p.stride_h - p.pad_top + kh * p.dilation_h;
            if (iy < 0 || iy >= H) continue;
            for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
              int64_t ix = ox * p.stride_w - p.pad_left + kw * p.dilation_w;
              if (ix < 0 || ix >= W) continue;
              m = std::max(m, xc[iy * W + ix]);
            }
          }
          yc[oy * OW + ox] = m;
        }
      }
    }
  });
}

void avgpool2d(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, const Pool2dParams& p,
               bool count_include_pad, float* y, int64_t OH, int64_t OW) {
  pool.parallel_for(NC, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float* xc = x + c * H * W;
      float* yc = y + c * OH * OW;
      for (int64_t oy = 0; oy < OH; ++oy) {
        for (int64_t ox = 0; ox < OW; ++ox) {
          float s = 0.f;
          int64_t count = 0, padded_count = 0;
          for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
            int64_t iy = oy * p.stride_h - p.pad_top + kh * p.dilation_h;
            for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
              int64_t ix = ox * p.stride_w - p.pad_left + kw * p.dilation_w;
              // Positions in the explicit padding count when count_include_pad; beyond it never.
              bool in_padded = iy >= -p.pad_top && iy < H + p.pad_bottom && ix >= -p.pad_left && ix < W + p.pad_right;
              if (in_padded) ++padded_count;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              s += xc[iy * W + ix];
              ++count;
            }
          }
          int64_t d = count_include_pad ? padded_count : count;
          yc[oy * OW + ox] = d > 0 ? s / static_cast<float>(d) : 0.f;
        }
      }
    }
  });
}

}  // namespace bgn::cpu
