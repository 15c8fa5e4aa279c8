// Single-precision GEMM: our packed, cache-blocked AVX-512 kernel where the CPU has AVX-512, else a
// system BLAS when the build found one, else our portable kernel (backend/cpu/gemm_kernels.h;
// BGN_GEMM_KERNEL=avx512|blas|portable chooses).
// Threading is always ours: the output is split into panels and each panel is one
// single-threaded GEMM, so BLAS never spawns threads of its own under our pool.
#include <algorithm>
#include <string>

#include "backend/cpu/gemm_kernels.h"
#include "backend/cpu/ops.h"
#include "tensor/knobs.h"

#if defined(BGN_HAVE_CBLAS)
#include <cblas.h>
#if defined(BGN_OPENBLAS)
extern "C" void openblas_set_num_threads(int);
#endif
#endif

namespace bgn::cpu {

namespace {

#if defined(BGN_HAVE_CBLAS)
constexpr bool kBlasLinked = true;
#else
constexpr bool kBlasLinked = false;
#endif

const char* blas_name() {
#if defined(BGN_OPENBLAS)
  return "openblas";
#elif defined(BGN_ACCELERATE)
  return "accelerate";
#else
  return "cblas";
#endif
}

}  // namespace

GemmKernel gemm_kernel() {
  static const GemmKernel k = [] {
    const std::string want = knobs::gemm_kernel();  // read once per process: sgemm_serial runs per block
    if (want == "portable") return GemmKernel::Portable;
    if (want == "blas" && kBlasLinked) return GemmKernel::Blas;
    // Our AVX-512 kernel first: on the segmentation and diffusion shapes it runs about twice as
    // fast as OpenBLAS 0.3.21 (README, Measuring); the system BLAS where the CPU lacks AVX-512.
    if (avx512_sgemm_supported()) return GemmKernel::Avx512;
    return kBlasLinked ? GemmKernel::Blas : GemmKernel::Portable;
  }();
  return k;
}

const char* gemm_backend() { return gemm_kernel() == GemmKernel::Blas ? blas_name() : "builtin"; }

void sgemm_serial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  const GemmKernel kernel = gemm_kernel();
#if defined(BGN_HAVE_CBLAS)
  if (kernel == GemmKernel::Blas && K > 0) {
    static const bool single = [] {
#if defined(BGN_OPENBLAS)
      openblas_set_num_threads(1);
#endif
      return true;
    }();
    (void)single;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
                beta, C, static_cast<int>(ldc));
    return;
  }
#endif
  if (kernel == GemmKernel::Avx512)
    sgemm_avx512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    sgemm_portable(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
  // Split the larger output dimension into about 2 pieces per thread, in multiples of 32 (the
  // width of the AVX-512 kernel's tile).
  if (N >= M) {
    int64_t pieces = std::min<int64_t>(threads * 2, (N + 31) / 32);
    int64_t step = ((N + pieces - 1) / pieces + 31) / 32 * 32;
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
