// Internal to the GEMM files of the CUDA backend (gemm.cu, cublas.cu, linear.cu, conv.cu): the
// tensor-core kernel's launcher, the f32 → 16-bit operand packing and the element conversions
// they share.
#pragma once
#include <cstdint>
#include <type_traits>

#include "tensor/tensor.h"
#include "backend/cuda/cuda_kernel.h"

namespace bgn::cuda::detail {

// The 16-bit operand types (__half, __nv_bfloat16) to and from f32, round to nearest even.
template <class T>
__device__ __forceinline__ float to_float(T v) {
  if constexpr (std::is_same<T, __half>::value)
    return __half2float(v);
  else
    return __bfloat162float(v);
}
template <class T>
__device__ __forceinline__ T from_float(float v) {
  if constexpr (std::is_same<T, __half>::value)
    return __float2half(v);
  else
    return __float2bfloat16(v);
}

// Row-major C (M, N) = alpha · op(A) · op(B) + beta · C on the wmma kernel; A and B F16 or BF16.
// beta == 0 never reads C. Sizes and leading dimensions are checked.
void gemm_tensor_core(cudaStream_t s, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const void* A, int64_t lda, const void* B, int64_t ldb, DType ab, float beta, float* C,
                      int64_t ldc);

// Checks what every GEMM path needs: 16-bit operands, non-negative sizes, leading dimensions at
// least the stored row width. `what` names the caller in the message.
void check_gemm_args(const char* what, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                     int64_t ldb, DType ab, int64_t ldc);

// x (rows, cols) f32 with leading dimension ld → y (rows, cols) dense, rounded to `to` (F16 or BF16).
void pack16(cudaStream_t s, const float* x, int64_t rows, int64_t cols, int64_t ld, void* y, DType to);

}  // namespace bgn::cuda::detail
