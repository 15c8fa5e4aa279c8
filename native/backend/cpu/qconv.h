// Exact integer 2-D convolution of uint8 activations with int8/uint8 weights (ONNX ConvInteger),
// on AVX512-VNNI dot products (u8 x s8 quads accumulated in int32): every result is the exact
// integer sum, as onnxruntime's int32 accumulation gives.
//
// With w' = w - cw in int8 (cw = 128 for uint8 weights, 0 for int8), the result is
//   sum_k (x_k - zx)(w_k - zw_o) = sum_k x_k w'_k + (cw - zw_o) * sum_k x_k - zx * sum_k (w_k - zw_o)
// where padding positions hold zx (so they contribute nothing), as onnxruntime pads.
//
// Layout: activations are transposed once to channels-last with the channels padded to a multiple
// of 4, so a quad of four channels at one pixel is one 32-bit load and no im2col is needed; the
// micro-kernel broadcasts such quads for 8 output pixels against 32 output channels of weights.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

struct QConvWeights {
  int64_t O = 0, C = 0, KH = 0, KW = 0, C4 = 0, OB = 0;  // C4 = ceil(C/4) quads; OB = blocks of 32 channels
  std::vector<int32_t> packed;                           // [OB][KH][KW][C4][32] quads of int8 w'
  std::vector<int32_t> corr;                             // [O] cw - zw_o
  std::vector<int32_t> wsum;                             // [O] sum_k (w_k - zw_o)
};

// This CPU (and build) can run qconv2d_u8.
bool qconv_available();

// w: (O, C, KH, KW) integer values in 0..255 (uint8) or -128..127 (int8); zw: 1 or O zero points.
QConvWeights qconv_prepare(const std::vector<int64_t>& w, int64_t O, int64_t C, int64_t KH, int64_t KW,
                           const std::vector<int64_t>& zw, bool weights_signed);

// x (N,C,H,W) uint8 with zero point zx -> y (N,O,OH,OW) int32. Groups 1.
void qconv2d_u8(ThreadPool& pool, const uint8_t* x, int64_t N, int64_t H, int64_t W, int32_t zx, const QConvWeights& w,
                const Conv2dParams& p, int32_t* y, int64_t OH, int64_t OW);

}  // namespace bgn::cpu
