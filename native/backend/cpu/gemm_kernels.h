// The single-precision GEMM kernels behind sgemm_serial (gemm.cpp). The built-in ones compute
// C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C on the calling thread, row-major with
// leading dimensions (beta == 0: C is only written, never read).
//
// Each output element is one sum over k in a fixed order that depends on K alone (the depth
// blocks are cut from K only), never on M, N or where the element falls in a tile, so splitting
// the output across threads does not change a single bit of the result.
#pragma once
#include <algorithm>
#include <cstdint>

namespace bgn::cpu {

enum class GemmKernel {
  Portable,  // 6x16 tiles of 8-wide vectors: any CPU (AVX2 width on x86-64)
  Avx512,    // 12x32 tiles of ZMM registers: only where avx512_sgemm_supported()
  Blas,      // the system BLAS the build linked (cblas_sgemm)
};

// AVX-512F on this CPU with the OS saving the ZMM state (cpu_features()); the AVX-512 kernel is
// compiled with function-level target attributes, so a portable build carries it too.
bool avx512_sgemm_supported();

// C (M x N, row stride ldc) *= beta, with beta == 0 writing zeros (C may hold NaN then).
inline void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.f)
      std::fill(row, row + N, 0.f);
    else if (beta != 1.f)
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

// What sgemm_serial runs, chosen once per process: Avx512 where supported, else Blas when linked,
// else Portable. BGN_GEMM_KERNEL=portable, =blas (when linked) or =avx512 (when supported) forces one.
GemmKernel gemm_kernel();

void sgemm_portable(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// Needs avx512_sgemm_supported().
void sgemm_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace bgn::cpu
