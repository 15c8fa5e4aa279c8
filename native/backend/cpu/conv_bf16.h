// 2-D convolution with bf16 weights and activations, f32 accumulation (AVX512-BF16).
#pragma once
#include <cstdint>

#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/ops.h"

namespace bgn::cpu {

// As conv2d (backend/cpu/ops.h) with groups 1 and w packed Left from the (O, C·KH·KW) kernel.
void conv2d_bf16(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const Bf16Weights& w,
                 int64_t O, int64_t KH, int64_t KW, const float* bias, const Conv2dParams& p, float* y, int64_t OH,
                 int64_t OW);

}  // namespace bgn::cpu
