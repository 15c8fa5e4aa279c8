// Products whose right operand is prepared once and used many times — a Linear's constant weight
// across runs, attention's K and V across blocks of query rows — and products with an epilogue
// (a bias the sums start from, GELU on each finished tile: gemm_kernels.h, GemmEpilogue), so that
// neither the packing nor the bias and activation passes cost a trip through memory per call.
// The sums are those of sgemm, bit for bit, whichever kernel runs.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/gemm_kernels.h"
#include "backend/cpu/threads.h"

namespace bgn::cpu {

// op(B) (K, N) ready for sgemm_ex. B must outlive it: kernels other than the AVX-512 one (and
// products the packing does not pay for) read B in place.
class PackedB {
 public:
  PackedB() = default;
  // Packs on the pool's threads (pool null: on the calling thread).
  PackedB(ThreadPool* pool, bool tb, int64_t K, int64_t N, const float* B, int64_t ldb);

  bool tb = false;
  int64_t K = 0, N = 0, ldb = 0;
  const float* B = nullptr;
  // The AVX-512 kernel's strips (empty when another kernel runs).
  std::vector<float> strips;
};

// C (M, N) = alpha · op(A) · op(B) + beta · C, then the epilogue; B either as a matrix (packed
// null) or packed (B, ldb and tb then come from it). Split over the pool as sgemm splits.
void sgemm_ex(ThreadPool& pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, const PackedB* packed, float beta, float* C, int64_t ldc,
              const GemmEpilogue& ep);
// The same on the calling thread, for columns [j0, j0 + n) of op(B) (C and the bias start at
// column j0; j0 a multiple of 32 when B is packed).
void sgemm_ex_serial(bool ta, bool tb, int64_t M, int64_t j0, int64_t n, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, const PackedB* packed, float beta, float* C, int64_t ldc,
                     const GemmEpilogue& ep);

}  // namespace bgn::cpu
