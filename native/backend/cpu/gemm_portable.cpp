// The portable single-precision GEMM kernel (backend/cpu/gemm_kernels.h): 6x16 tiles of C built
// from two 8-wide GCC vectors (AVX2 width on x86-64), A and B packed per cache block.
#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm_kernels.h"

namespace bgn::cpu {

namespace {

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

}  // namespace

void sgemm_portable(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Scale C by beta once; the blocked loop then accumulates alpha * A @ B.
  scale_c(M, N, beta, C, ldc);
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

}  // namespace bgn::cpu
