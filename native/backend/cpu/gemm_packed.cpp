#include "backend/cpu/gemm_packed.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

PackedB::PackedB(ThreadPool* pool, bool tb_, int64_t K_, int64_t N_, const float* B_, int64_t ldb_)
    : tb(tb_), K(K_), N(N_), ldb(ldb_), B(B_) {
  if (gemm_kernel() != GemmKernel::Avx512 || K <= 0 || N <= 0) return;
  strips.resize(size_t(avx512_packed_b_floats(K, N)));
  // Column ranges of whole strips, one per task.
  const int64_t strip_count = (N + 31) / 32, per = std::max<int64_t>(1, strip_count / 8);
  auto pack = [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t j0 = t * per * 32, nc = std::min(per * 32, N - j0);
      avx512_pack_b(tb, K, N, B, ldb, j0, nc, strips.data());
    }
  };
  const int64_t tasks = (strip_count + per - 1) / per;
  if (pool)
    pool->parallel_for(tasks, 1, pack);
  else
    pack(0, tasks);
}

void sgemm_ex_serial(bool ta, bool tb, int64_t M, int64_t j0, int64_t n, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, const PackedB* packed, float beta, float* C, int64_t ldc,
                     const GemmEpilogue& ep) {
  if (M <= 0 || n <= 0) return;
  if (packed) {
    tb = packed->tb;
    B = packed->B;
    ldb = packed->ldb;
  }
  const float* Bj = B ? (tb ? B + j0 * ldb : B + j0) : nullptr;
  GemmEpilogue here = ep;
  if (here.bias) here.bias += j0;
  if (here.residual) here.residual += j0;
  if (gemm_kernel() == GemmKernel::Avx512) {
    Avx512PackedB view;
    const bool use = packed && !packed->strips.empty();
    if (use) view = {packed->strips.data(), (packed->N + 31) / 32 * 32, j0};
    sgemm_avx512_ex(ta, tb, M, n, K, alpha, A, lda, Bj, ldb, use ? &view : nullptr, beta, C + j0, ldc, &here);
    return;
  }
  // Other kernels: the bias written into C first (beta 1), the map over the finished block.
  if (here.bias) {
    for (int64_t i = 0; i < M; ++i) std::memcpy(C + i * ldc + j0, here.bias, size_t(n) * sizeof(float));
    beta = 1.f;
  }
  sgemm_serial(ta, tb, M, n, K, alpha, A, lda, Bj, ldb, beta, C + j0, ldc);
  finish_block(here, C + j0, M, n, ldc, here.residual);
}

void sgemm_ex(ThreadPool& pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, const PackedB* packed, float beta, float* C, int64_t ldc,
              const GemmEpilogue& ep) {
  if (M <= 0 || N <= 0) return;
  const int threads = pool.size();
  const double work = double(M) * double(N) * double(K);
  if (threads <= 1 || work < 2e6) {
    sgemm_ex_serial(ta, tb, M, 0, N, K, alpha, A, lda, B, ldb, packed, beta, C, ldc, ep);
    return;
  }
  // As sgemm: the larger output dimension in about 2 pieces per thread, columns in multiples of 32.
  if (N >= M) {
    const int64_t pieces = std::min<int64_t>(threads * 2, (N + 31) / 32);
    const int64_t step = ((N + pieces - 1) / pieces + 31) / 32 * 32;
    pool.parallel_for((N + step - 1) / step, 1, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t j0 = p * step;
        sgemm_ex_serial(ta, tb, M, j0, std::min(step, N - j0), K, alpha, A, lda, B, ldb, packed, beta, C, ldc, ep);
      }
    });
  } else {
    const int64_t pieces = std::min<int64_t>(threads * 2, (M + 5) / 6);
    const int64_t step = (M + pieces - 1) / pieces;
    pool.parallel_for((M + step - 1) / step, 1, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t i0 = p * step;
        const float* Ap = ta ? A + i0 : A + i0 * lda;
        GemmEpilogue rows = ep;
        if (rows.residual) rows.residual += i0 * rows.ldr;
        sgemm_ex_serial(ta, tb, std::min(step, M - i0), 0, N, K, alpha, Ap, lda, B, ldb, packed, beta, C + i0 * ldc,
                        ldc, rows);
      }
    });
  }
}

}  // namespace bgn::cpu
