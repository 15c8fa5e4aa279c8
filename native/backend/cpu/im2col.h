// The pieces of the im2col convolution (conv.cpp) that its bf16 variant (conv_bf16.cpp) shares.
#pragma once
#include <cstdint>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

// y (rows, cols) with leading dimension ld: += bias[r] (when not null), then the activation.
void apply_bias_activation(float* y, int64_t rows, int64_t cols, int64_t ld, const float* bias, Activation act);

// Receptive fields of output rows [oy0, oy1) for channels [c0, c0+Cg) of image n:
// col (Cg*KH*KW, (oy1-oy0)*OW), row-major.
void im2col_band(const ConvInput& x, int64_t n, int64_t c0, int64_t Cg, int64_t H, int64_t W, int64_t KH, int64_t KW,
                 const Conv2dParams& p, int64_t OW, int64_t oy0, int64_t oy1, float* col);

// A 1×1, stride-1, unpadded kernel: the input planes are the column matrix.
bool is_pointwise(int64_t KH, int64_t KW, const Conv2dParams& p);

}  // namespace bgn::cpu
