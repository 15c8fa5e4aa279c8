// Matrix products on weights that stay in their file encoding (f32, f16, bf16 or a GGUF block
// type, tensor/quant.h). A weight matrix W is N rows of K values; each row is K / block values
// of consecutive blocks. Nothing here dequantizes a whole matrix: the product dequantizes one
// tile of rows at a time into a per-thread buffer (at most kTileBytes) and runs the f32 GEMM
// kernel on it, so the extra memory is O(threads · tile), whatever the size of W.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend/cpu/threads.h"
#include "tensor/tensor.h"

namespace bgn::cpu {

// Bytes of one row of K values of type t (K a multiple of the block size).
size_t row_bytes(DType t, int64_t K);

// Σ_k W[row][k] · x[k] for one encoded row of K values, accumulated in f32 block by block.
float vec_dot(DType t, const void* row, const float* x, int64_t K);

// y (M,N) = x (M,K) · Wᵀ + beta · y, with W (N,K) encoded as `t`, rows contiguous.
// Multi-threaded over tiles of W's rows; small M uses vec_dot directly.
void matmul(ThreadPool& pool, DType t, const void* w, int64_t N, int64_t K, const float* x, int64_t M, float beta,
            float* y);

}  // namespace bgn::cpu
