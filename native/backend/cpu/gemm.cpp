// Single-precision GEMM: a system BLAS when the build found one, else a packed, cache-blocked
// kernel of our own. Threading is always ours: the output is split into panels and each panel
// is one single-threaded GEMM, so BLAS never spawns threads of its own under our pool.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/ops.h"

#if defined(BGN_HAVE_CBLAS)
#include <cblas.h>
#if defined(BGN_OPENBLAS)
extern "C" void openblas_set_num_threads(int);
#endif
#endif

namespace bgn::cpu {

const char* gemm_backend() {
#if defined(BGN_OPENBLAS)
  return "openblas";
#elif defined(BGN_ACCELERATE)
  return "accelerate";
#elif defined(BGN_HAVE_CBLAS)
  return "cblas";
#else
  return "builtin";
#endif
}

namespace {

// ---- built-in kernel ----------------------------------------------------------------------------
// C tile of MR x NR kept in registers; A packed as MR-row panels, B as NR-column panels.
constexpr int64_t MR = 6;
constexpr int64_t NR = 16;
constexpr int64_t KC = 256;
constexpr int64_t MC = 72;    // multiple of MR
constexpr int64_t NC = 1024;  // multiple of NR

typedef float v8f __attribute__((vector_size(32), aligned(4)));

inline float a_at(const float* A, int64_t lda, bool ta, int64_t i, int64_t k) {
  return ta ? A[k * lda + i] : A[i * lda + k];
}
inline float b_at(const float* B, int64_t ldb, bool tb, int64_t k, int64_t j) {
  return tb ? B[j * ldb + k] : B[k * ldb + j];
}

void pack_a(const float* A, int64_t lda, bool ta, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* out) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t r = 0; r < MR; ++r) {
        int64_t i = ir + r;
        *out++ = i < mc ? a_at(A, lda, ta, i0 + i, k0 + k) : 0.f;
      }
    }
  }
}

void pack_b(const float* B, int64_t ldb, bool tb, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* out) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    int64_t nr = std::min(NR, nc - jr);
    for (int64_t k = 0; k < kc; ++k) {
      if (!tb && nr == NR) {
        std::memcpy(out, B + (k0 + k) * ldb + j0 + jr, NR * sizeof(float));
        out += NR;
      } else {
        for (int64_t c = 0; c < NR; ++c) *out++ = c < nr ? b_at(B, ldb, tb, k0 + k, j0 + jr + c) : 0.f;
      }
    }
  }
}

// acc (MR x NR) = Apanel (kc x MR) ^T @ Bpanel (kc x NR)
inline void micro_kernel(int64_t kc, const float* a, const float* b, float* acc) {
  v8f c[MR][2] = {};
  for (int64_t k = 0; k < kc; ++k) {
    v8f b0, b1;
    std::memcpy(&b0, b, 32);
    std::memcpy(&b1, b + 8, 32);
    for (int r = 0; r < MR; ++r) {
      v8f av = {a[r], a[r], a[r], a[r], a[r], a[r], a[r], a[r]};
      c[r][0] += av * b0;
      c[r][1] += av * b1;
    }
    a += MR;
    b += NR;
  }
  for (int r = 0; r < MR; ++r) {
    std::memcpy(acc + r * NR, &c[r][0], 32);
    std::memcpy(acc + r * NR + 8, &c[r][1], 32);
  }
}

void builtin_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Scale C by beta once; the blocked loop then accumulates alpha * A @ B.
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.f) std::fill(row, row + N, 0.f);
    else if (beta != 1.f) for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
  if (K == 0 || alpha == 0.f) return;
  thread_local std::vector<float> pa, pb;
  pa.resize(static_cast<size_t>(MC * KC));
  pb.resize(static_cast<size_t>(KC * NC));
  alignas(64) float acc[MR * NR];
  for (int64_t j0 = 0; j0 < N; j0 += NC) {
    int64_t nc = std::min(NC, N - j0);
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      int64_t kc = std::min(KC, K - k0);
      pack_b(B, ldb, tb, k0, kc, j0, nc, pb.data());
      for (int64_t i0 = 0; i0 < M; i0 += MC) {
        int64_t mc = std::min(MC, M - i0);
        pack_a(A, lda, ta, i0, mc, k0, kc, pa.data());
        for (int64_t jr = 0; jr < nc; jr += NR) {
          int64_t nr = std::min(NR, nc - jr);
          for (int64_t ir = 0; ir < mc; ir += MR) {
            int64_t mr = std::min(MR, mc - ir);
            micro_kernel(kc, pa.data() + ir * kc, pb.data() + jr * kc, acc);
            for (int64_t r = 0; r < mr; ++r) {
              float* crow = C + (i0 + ir + r) * ldc + j0 + jr;
              const float* arow = acc + r * NR;
              for (int64_t c = 0; c < nr; ++c) crow[c] += alpha * arow[c];
            }
          }
        }
      }
    }
  }
}

}  // namespace

void sgemm_serial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
#if defined(BGN_HAVE_CBLAS)
  static const bool single = [] {
#if defined(BGN_OPENBLAS)
    openblas_set_num_threads(1);
#endif
    return true;
  }();
  (void)single;
  if (K == 0) {
    builtin_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
              beta, C, static_cast<int>(ldc));
#else
  builtin_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}

void sgemm(ThreadPool& pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  int threads = pool.size();
  double work = double(M) * double(N) * double(K);
  if (threads <= 1 || work < 2e6) {
    sgemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the larger output dimension into about 2 pieces per thread, in multiples of 16.
  if (N >= M) {
    int64_t pieces = std::min<int64_t>(threads * 2, (N + 15) / 16);
    int64_t step = ((N + pieces - 1) / pieces + 15) / 16 * 16;
    pool.parallel_for((N + step - 1) / step, 1, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        int64_t j0 = p * step, n = std::min(step, N - j0);
        const float* Bp = tb ? B + j0 * ldb : B + j0;
        sgemm_serial(ta, tb, M, n, K, alpha, A, lda, Bp, ldb, beta, C + j0, ldc);
      }
    });
  } else {
    int64_t pieces = std::min<int64_t>(threads * 2, (M + 5) / 6);
    int64_t step = (M + pieces - 1) / pieces;
    pool.parallel_for((M + step - 1) / step, 1, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        int64_t i0 = p * step, m = std::min(step, M - i0);
        const float* Ap = ta ? A + i0 : A + i0 * lda;
        sgemm_serial(ta, tb, m, N, K, alpha, Ap, lda, B, ldb, beta, C + i0 * ldc, ldc);
      }
    });
  }
}

}  // namespace bgn::cpu
