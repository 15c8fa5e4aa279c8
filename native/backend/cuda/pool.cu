// Max and average pooling of (NC, H, W) planes: one thread per output value, the window walked in
// the CPU twin's order so sums round identically and results are exact.
#include <cmath>
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

constexpr unsigned kThreads = 256;

// x (NC, H, W) → y (NC, OH, OW); padding never wins the max (an all-padding window gives −inf).
__global__ void maxpool2d_kernel(const float* __restrict__ x, int64_t NC, int64_t H, int64_t W, cpu::Pool2dParams p,
                                 float* __restrict__ y, int64_t OH, int64_t OW) {
  const int64_t n = NC * OH * OW;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t ox = i % OW, r = i / OW, oy = r % OH, c = r / OH;
    const float* xc = x + c * H * W;
    float m = -INFINITY;
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      const int64_t iy = oy * p.stride_h - p.pad_top + kh * p.dilation_h;
      if (iy < 0 || iy >= H) continue;
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        const int64_t ix = ox * p.stride_w - p.pad_left + kw * p.dilation_w;
        if (ix < 0 || ix >= W) continue;
        const float v = xc[iy * W + ix];
        m = m < v ? v : m;  // std::max(m, v)
      }
    }
    y[i] = m;
  }
}

// The average over the window's positions inside the input; the divisor also counts positions in
// the explicit padding when count_include_pad (never those beyond it, which ceil_mode can add).
__global__ void avgpool2d_kernel(const float* __restrict__ x, int64_t NC, int64_t H, int64_t W, cpu::Pool2dParams p,
                                 bool count_include_pad, float* __restrict__ y, int64_t OH, int64_t OW) {
  const int64_t n = NC * OH * OW;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t ox = i % OW, r = i / OW, oy = r % OH, c = r / OH;
    const float* xc = x + c * H * W;
    float s = 0.f;
    int64_t count = 0, padded_count = 0;
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      const int64_t iy = oy * p.stride_h - p.pad_top + kh * p.dilation_h;
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        const int64_t ix = ox * p.stride_w - p.pad_left + kw * p.dilation_w;
        if (iy >= -p.pad_top && iy < H + p.pad_bottom && ix >= -p.pad_left && ix < W + p.pad_right) ++padded_count;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
        s += xc[iy * W + ix];
        ++count;
      }
    }
    const int64_t d = count_include_pad ? padded_count : count;
    y[i] = d > 0 ? s / static_cast<float>(d) : 0.f;
  }
}

void check_pool(const char* what, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p, int64_t OH,
                int64_t OW) {
  if (NC < 0 || H <= 0 || W <= 0 || OH < 0 || OW < 0)
    fail(Code::Internal, what, ": bad shape (", NC, ", ", H, ", ", W, ") → (", OH, ", ", OW, ")");
  if (p.kernel_h <= 0 || p.kernel_w <= 0 || p.stride_h <= 0 || p.stride_w <= 0 || p.dilation_h <= 0 ||
      p.dilation_w <= 0 || p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 || p.pad_right < 0)
    fail(Code::Internal, what, ": bad window (kernel ", p.kernel_h, "x", p.kernel_w, ", stride ", p.stride_h, "x",
         p.stride_w, ", dilation ", p.dilation_h, "x", p.dilation_w, ")");
}

}  // namespace

void maxpool2d(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p, float* y,
               int64_t OH, int64_t OW) {
  check_pool("maxpool2d", NC, H, W, p, OH, OW);
  const int64_t n = NC * OH * OW;
  if (n == 0) return;
  BGN_LAUNCH(maxpool2d_kernel, grid_for(n, kThreads), kThreads, 0, s)(x, NC, H, W, p, y, OH, OW);
  check_launch("maxpool2d");
}

void avgpool2d(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p,
               bool count_include_pad, float* y, int64_t OH, int64_t OW) {
  check_pool("avgpool2d", NC, H, W, p, OH, OW);
  const int64_t n = NC * OH * OW;
  if (n == 0) return;
  BGN_LAUNCH(avgpool2d_kernel, grid_for(n, kThreads), kThreads, 0, s)(x, NC, H, W, p, count_include_pad, y, OH, OW);
  check_launch("avgpool2d");
}

}  // namespace bgn::cuda
