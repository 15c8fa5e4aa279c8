// The bf16 path of cpu::attention (AttentionShape::bf16), see attention_bf16.cpp.
#pragma once
#include "backend/cpu/nn_ops.h"

namespace bgn::cpu {

// softmax(scale · Q K^T [+ causal mask]) V with bf16 products and f32 sums. Needs bf16_gemm_supported().
void attention_bf16(ThreadPool& pool, const float* q, const float* k, const float* v, float* o,
                    const AttentionShape& s);

}  // namespace bgn::cpu
