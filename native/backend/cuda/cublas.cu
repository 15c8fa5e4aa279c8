// GemmEngine: cuBLAS loaded at run time (dlopen, so the library needs no cuBLAS to build or to
// load), else the own tensor-core kernel. BGN_CUDA_GEMM=own|cublas|auto (default auto) picks.
//
// The toolkit need not ship cuBLAS headers, so the few prototypes, handle and enum values used
// here are declared from NVIDIA's published cuBLAS API reference (v2 API, cublasGemmEx).
#include <climits>
#include <cstdlib>
#include <string>

#include "backend/cuda/kernels.h"
#include "backend/cuda/gemm_own.h"
#include "tensor/knobs.h"

#if !defined(BGN_CUDA_EMULATE)
#include <dlfcn.h>
#endif

namespace bgn::cuda {
namespace {

#if !defined(BGN_CUDA_EMULATE)
// ---- cuBLAS v2, as documented ---------------------------------------------------------------------
struct cublasContext;
using cublasHandle_t = cublasContext*;
using cublasStatus_t = int;
constexpr int CUBLAS_STATUS_SUCCESS = 0;
constexpr int CUBLAS_STATUS_ALLOC_FAILED = 3;
constexpr int CUBLAS_OP_N = 0, CUBLAS_OP_T = 1;
constexpr int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14;
constexpr int CUBLAS_COMPUTE_32F = 68;
constexpr int CUBLAS_GEMM_DEFAULT = -1;

using CreateFn = cublasStatus_t (*)(cublasHandle_t*);
using DestroyFn = cublasStatus_t (*)(cublasHandle_t);
using SetStreamFn = cublasStatus_t (*)(cublasHandle_t, cudaStream_t);
// cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype,
//              ldc, computeType, algo); the enum parameters are C enums, passed as int.
using GemmExFn = cublasStatus_t (*)(cublasHandle_t, int, int, int, int, int, const void*, const void*, int, int,
                                    const void*, int, int, const void*, void*, int, int, int, int);

const char* status_name(cublasStatus_t st) {
  switch (st) {
    case 0:
      return "CUBLAS_STATUS_SUCCESS";
    case 1:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case 3:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case 7:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case 8:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case 11:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case 13:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case 14:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case 15:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case 16:
      return "CUBLAS_STATUS_LICENSE_ERROR";
    default:
      return "an unknown cuBLAS status";
  }
}

void check_cublas(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  fail(st == CUBLAS_STATUS_ALLOC_FAILED ? Code::OutOfMemory : Code::Internal, what, " failed: ", status_name(st), " (",
       st, ")");
}

// cuBLAS from the newest soname present; the library stays loaded for the process (unloading it
// while another engine or the driver still holds its state is not safe).
struct Cublas {
  DestroyFn destroy = nullptr;
  GemmExFn gemm_ex = nullptr;
  cublasHandle_t handle = nullptr;

  bool open(cudaStream_t s) {
    void* lib = nullptr;
    for (const char* name : {"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib != nullptr) break;
    }
    if (lib == nullptr) return false;
    auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
    auto set_stream = reinterpret_cast<SetStreamFn>(dlsym(lib, "cublasSetStream_v2"));
    destroy = reinterpret_cast<DestroyFn>(dlsym(lib, "cublasDestroy_v2"));
    gemm_ex = reinterpret_cast<GemmExFn>(dlsym(lib, "cublasGemmEx"));
    if (!create || !set_stream || !destroy || !gemm_ex) return false;
    if (create(&handle) != CUBLAS_STATUS_SUCCESS) return (handle = nullptr), false;
    if (set_stream(handle, s) != CUBLAS_STATUS_SUCCESS) {
      destroy(handle);
      handle = nullptr;
      return false;
    }
    return true;
  }
  void close() {
    if (handle != nullptr) destroy(handle);
    handle = nullptr;
  }

  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, and a row-major matrix read
  // column-major is its transpose, so cuBLAS gets B first with the same op flags and m = N, n = M.
  void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const void* A, int lda, const void* B,
            int ldb, DType ab, float beta, float* C, int ldc) const {
    const int t = ab == DType::F16 ? CUDA_R_16F : CUDA_R_16BF;
    check_cublas(
        gemm_ex(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, t,
                ldb, A, t, lda, &beta, C, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
  }
};
#endif

bool fits_int(int64_t v) { return v <= INT_MAX; }

}  // namespace

struct GemmEngine::Impl {
  cudaStream_t stream;
#if !defined(BGN_CUDA_EMULATE)
  Cublas cublas;
#endif
  bool use_cublas = false;
};

// The emulator has no device for cuBLAS to run on, so it never tries to load it.
GemmEngine::GemmEngine(cudaStream_t s) : impl_(new Impl{s}) {
  // BGN_CUDA_GEMM (tensor/knobs.h): auto → cuBLAS when it loads; own → never cuBLAS; cublas →
  // cuBLAS when it loads (the own kernel otherwise, as path() then says).
  knobs::CudaGemm mode;
  try {
    mode = knobs::cuda_gemm();
  } catch (...) {
    delete impl_;
    throw;
  }
#if !defined(BGN_CUDA_EMULATE)
  if (mode != knobs::CudaGemm::Own) impl_->use_cublas = impl_->cublas.open(s);
#else
  (void)mode;
#endif
}

GemmEngine::~GemmEngine() {
#if !defined(BGN_CUDA_EMULATE)
  impl_->cublas.close();
#endif
  delete impl_;
}

const char* GemmEngine::path() const { return impl_->use_cublas ? "cublas" : "tensor-core kernel"; }

void GemmEngine::gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
                      int64_t lda, const void* B, int64_t ldb, DType ab, float beta, float* C, int64_t ldc) {
#if !defined(BGN_CUDA_EMULATE)
  // cuBLAS takes 32-bit sizes; anything larger runs on the own kernel, which indexes in 64 bits.
  const bool small = fits_int(M) && fits_int(N) && fits_int(K) && fits_int(lda) && fits_int(ldb) && fits_int(ldc);
  if (impl_->use_cublas && small) {
    detail::check_gemm_args("gemm (cublas)", trans_a, trans_b, M, N, K, lda, ldb, ab, ldc);
    if (M == 0 || N == 0) return;
    impl_->cublas.gemm(trans_a, trans_b, (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, ab, beta, C,
                       (int)ldc);
    return;
  }
#else
  (void)fits_int;
#endif
  gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, ab, beta, C, ldc);
}

void GemmEngine::gemm_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const void* A,
                          int64_t lda, const void* B, int64_t ldb, DType ab, float beta, float* C, int64_t ldc) {
  detail::gemm_tensor_core(impl_->stream, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, ab, beta, C, ldc);
}

}  // namespace bgn::cuda
