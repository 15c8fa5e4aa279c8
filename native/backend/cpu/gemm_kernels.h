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

// What a product does besides alpha·op(A)·op(B): its sum may start from a bias row (bias[j] for
// every row; the same arithmetic as C holding the bias with beta 1, beta is then unused), each
// finished part of C may be mapped in place (map(c, rows, cols, ldc): GELU after a Linear), and
// then have a matrix of C's shape added (residual, rows ldr apart: a transformer's skip
// connection), while it is still in cache.
struct GemmEpilogue {
  const float* bias = nullptr;
  void (*map)(float* c, int64_t rows, int64_t cols, int64_t ldc) = nullptr;
  const float* residual = nullptr;
  int64_t ldr = 0;
};

// The epilogue's last two steps on a finished block of C (rows x cols; the residual at the same place).
inline void finish_block(const GemmEpilogue& ep, float* c, int64_t rows, int64_t cols, int64_t ldc,
                         const float* residual) {
  if (ep.map) ep.map(c, rows, cols, ldc);
  if (residual)
    for (int64_t i = 0; i < rows; ++i) {
      float* ci = c + i * ldc;
      const float* ri = residual + i * ep.ldr;
      for (int64_t j = 0; j < cols; ++j) ci[j] += ri[j];
    }
}

// A right operand packed once for the AVX-512 kernel (avx512_pack_b), read from column col0 (a
// multiple of 32) on: npad is the packed width (N rounded up to 32).
struct Avx512PackedB {
  const float* data = nullptr;
  int64_t npad = 0, col0 = 0;
};
// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols, 16x16 blocks in registers (the
// packing's transpose, also Transpose's for 4-byte elements). Needs avx512_sgemm_supported().
void avx512_transpose_f32(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd);

// Floats an op(B) of (K, N) takes packed.
int64_t avx512_packed_b_floats(int64_t K, int64_t N);
// Packs columns [j0, j0 + nc) of op(B) (K, N) into `out` (avx512_packed_b_floats of them; j0 a
// multiple of 32), in the depth blocks and strips the kernel reads: column ranges can be packed
// by different threads.
void avx512_pack_b(bool tb, int64_t K, int64_t N, const float* B, int64_t ldb, int64_t j0, int64_t nc, float* out);

void sgemm_portable(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// Needs avx512_sgemm_supported().
void sgemm_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// sgemm_avx512 with B already packed (packed non-null: B, ldb and tb are not read) and an
// epilogue (ep may be null). The sums are the same as sgemm_avx512's, bit for bit.
void sgemm_avx512_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const float* B, int64_t ldb, const Avx512PackedB* packed, float beta, float* C, int64_t ldc,
                     const GemmEpilogue* ep);

}  // namespace bgn::cpu
