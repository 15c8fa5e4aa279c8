// 2-D convolution as GEMM: per image and group, the receptive fields of a chunk of output pixels
// are laid out as a 16-bit column matrix in the workspace (im2col), the group's weights multiply
// it straight into the output planes, and one bias + activation pass finishes the tensor.
// Chunks keep the column matrix under a byte budget whatever the image size. Depthwise
// convolutions (one input channel per output) skip the GEMM for a direct kernel.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backend/cuda/kernels.h"
#include "backend/cuda/gemm_own.h"
#include "tensor/knobs.h"

namespace bgn::cuda {
namespace {

using detail::from_float;
using detail::to_float;

struct Window {
  int64_t H, W, KH, KW, OW;
  int64_t sh, sw, pt, pl, dh, dw;
};

// x (Cg, H, W) of one image and group → col (Cg·KH·KW, pc): column j is output pixel p0 + j,
// row (c·KH + kh)·KW + kw its input tap (zero in the padding), the order of a weight row.
template <class T>
__global__ void im2col_kernel(const float* x, Window win, int64_t p0, int64_t pc, int64_t rows, T* col) {
  const int64_t n = rows * pc;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    const int64_t r = i / pc, j = i % pc;
    const int64_t kw = r % win.KW, kh = (r / win.KW) % win.KH, c = r / (win.KW * win.KH);
    const int64_t p = p0 + j, oh = p / win.OW, ow = p % win.OW;
    const int64_t ih = oh * win.sh - win.pt + kh * win.dh;
    const int64_t iw = ow * win.sw - win.pl + kw * win.dw;
    float v = 0.0f;
    if (ih >= 0 && ih < win.H && iw >= 0 && iw < win.W) v = x[(c * win.H + ih) * win.W + iw];
    col[i] = from_float<T>(v);
  }
}

void im2col(cudaStream_t s, const float* x, const Window& win, int64_t p0, int64_t pc, int64_t rows, void* col,
            DType dt) {
  const unsigned threads = 256, blocks = grid_for(rows * pc, threads);
  if (dt == DType::F16) {
    auto k = im2col_kernel<__half>;
    BGN_LAUNCH(k, dim3(blocks), dim3(threads), 0, s)(x, win, p0, pc, rows, static_cast<__half*>(col));
  } else {
    auto k = im2col_kernel<__nv_bfloat16>;
    BGN_LAUNCH(k, dim3(blocks), dim3(threads), 0, s)(x, win, p0, pc, rows, static_cast<__nv_bfloat16*>(col));
  }
  check_launch("conv2d im2col");
}

template <class T>
__device__ __forceinline__ float round16(float v) {
  return to_float(from_float<T>(v));
}

// Depthwise (one input channel per output channel): x (N, C, H, W), w (C, 1, KH, KW) → y (N, C, OH, OW),
// one thread per output; x rounded to T like the im2col operands, so both paths multiply the same values.
template <class T>
__global__ void depthwise_kernel(const float* x, const T* w, Window win, int64_t NC, int64_t C, int64_t OH, float* y) {
  const int64_t n = NC * OH * win.OW;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    const int64_t ow = i % win.OW, oh = (i / win.OW) % OH, nc = i / (win.OW * OH), c = nc % C;
    const float* xp = x + nc * win.H * win.W;
    const T* wp = w + c * win.KH * win.KW;
    float acc = 0.0f;
    for (int64_t kh = 0; kh < win.KH; ++kh) {
      const int64_t ih = oh * win.sh - win.pt + kh * win.dh;
      if (ih < 0 || ih >= win.H) continue;
      for (int64_t kw = 0; kw < win.KW; ++kw) {
        const int64_t iw = ow * win.sw - win.pl + kw * win.dw;
        if (iw < 0 || iw >= win.W) continue;
        acc += round16<T>(xp[ih * win.W + iw]) * to_float(wp[kh * win.KW + kw]);
      }
    }
    y[i] = acc;
  }
}

void depthwise(cudaStream_t s, const float* x, const void* w, DType dt, const Window& win, int64_t N, int64_t C,
               int64_t OH, float* y) {
  const int64_t NC = N * C;
  const unsigned threads = 256, blocks = grid_for(NC * OH * win.OW, threads);
  if (dt == DType::F16) {
    auto k = depthwise_kernel<__half>;
    BGN_LAUNCH(k, dim3(blocks), dim3(threads), 0, s)(x, static_cast<const __half*>(w), win, NC, C, OH, y);
  } else {
    auto k = depthwise_kernel<__nv_bfloat16>;
    BGN_LAUNCH(k, dim3(blocks), dim3(threads), 0, s)(x, static_cast<const __nv_bfloat16*>(w), win, NC, C, OH, y);
  }
  check_launch("conv2d depthwise");
}

void check_conv_args(int64_t N, int64_t C, int64_t H, int64_t W, DType wdtype, int64_t O, int64_t KH, int64_t KW,
                     const cpu::Conv2dParams& p, int64_t OH, int64_t OW) {
  BGN_CHECK(wdtype == DType::F16 || wdtype == DType::BF16, Code::Internal,
            "conv2d: weights must be F16 or BF16 on the GPU, not ", dtype_name(wdtype));
  BGN_CHECK(N >= 0 && C > 0 && H > 0 && W > 0 && O > 0 && KH > 0 && KW > 0, Code::Internal, "conv2d: bad shape x (", N,
            ", ", C, ", ", H, ", ", W, "), w (", O, ", ., ", KH, ", ", KW, ")");
  BGN_CHECK(p.groups > 0 && C % p.groups == 0 && O % p.groups == 0, Code::Internal, "conv2d: groups ", p.groups,
            " do not divide ", C, " input and ", O, " output channels");
  BGN_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0, Code::Internal,
            "conv2d: stride and dilation must be positive");
  BGN_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0, Code::Internal,
            "conv2d: negative padding");
  const int64_t eh = cpu::conv_out_size(H, KH, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h);
  const int64_t ew = cpu::conv_out_size(W, KW, p.stride_w, p.pad_left, p.pad_right, p.dilation_w);
  BGN_CHECK(OH == eh && OW == ew && OH > 0 && OW > 0, Code::Internal, "conv2d: output ", OH, "x", OW,
            " does not match the window's ", eh, "x", ew);
}

}  // namespace

// x (N, C, H, W), w (O, C/g, KH, KW) → y (N, O, OH, OW). Group g of image n:
//   y[n, g·Og.., :] (Og, P) = w_g (Og, K) · col (K, P),  K = C/g·KH·KW, P = OH·OW,
// with col built chunk by chunk of output pixels (ldc = P places each chunk in its columns).
void conv2d(GemmEngine& g, Workspace& ws, cudaStream_t s, const float* x, int64_t N, int64_t C, int64_t H, int64_t W,
            const void* w, DType wdtype, int64_t O, int64_t KH, int64_t KW, const float* bias,
            const cpu::Conv2dParams& p, float* y, int64_t OH, int64_t OW) {
  check_conv_args(N, C, H, W, wdtype, O, KH, KW, p, OH, OW);
  if (N == 0) return;
  const int64_t G = p.groups, Cg = C / G, Og = O / G, K = Cg * KH * KW, P = OH * OW;
  // A 1×1 window with stride 1 and no padding reads the input planes as they are: the chunk is
  // a rounded copy of columns of x (Cg, H·W), no gather.
  const bool pointwise = KH == 1 && KW == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
                         p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
  const Window win{H, W, KH, KW, OW, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.dilation_h, p.dilation_w};
  if (Cg == 1 && Og == 1) {  // depthwise: a GEMM per channel would be (1, P) · (P, KH·KW), launch-bound
    depthwise(s, x, w, wdtype, win, N, C, OH, y);
    if (bias != nullptr || p.activation != cpu::Activation::None) bias_act(s, y, bias, N, O, P, p.activation);
    return;
  }
  int64_t chunk = std::min<int64_t>(P, std::max<int64_t>(1, knobs::cuda_im2col_bytes() / (K * 2)));
  if (chunk < P && chunk >= 64) chunk = chunk / 64 * 64;  // whole GEMM tiles except at the end
  void* col = ws.scratch((size_t)(K * chunk * 2));
  const size_t w_group_bytes = (size_t)(Og * K) * 2;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t gi = 0; gi < G; ++gi) {
      const float* xg = x + (n * C + gi * Cg) * H * W;
      const void* wg = static_cast<const char*>(w) + gi * w_group_bytes;
      float* yg = y + (n * O + gi * Og) * P;
      for (int64_t p0 = 0; p0 < P; p0 += chunk) {
        const int64_t pc = std::min(chunk, P - p0);
        if (pointwise) {
          detail::pack16(s, xg + p0, Cg, pc, H * W, col, wdtype);
        } else {
          im2col(s, xg, win, p0, pc, K, col, wdtype);
        }
        g.gemm(false, false, Og, pc, K, 1.0f, wg, K, col, pc, wdtype, 0.0f, yg + p0, P);
      }
    }
  }
  if (bias != nullptr || p.activation != cpu::Activation::None) bias_act(s, y, bias, N, O, P, p.activation);
}

}  // namespace bgn::cuda
