// Linear layers and f32 sgemm on the GEMM engine: the f32 operands are rounded to 16 bits in the
// workspace first, since every GEMM path multiplies 16-bit operands with f32 accumulation.
#include <algorithm>
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "backend/cuda/gemm_own.h"

namespace bgn::cuda {
namespace {

// y (M, out) += bias (out) on every row.
__global__ void add_bias_cols_kernel(float* y, const float* bias, int64_t M, int64_t out) {
  const int64_t n = M * out;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) y[i] += bias[i % out];
}

void add_bias_cols(cudaStream_t s, float* y, const float* bias, int64_t M, int64_t out) {
  const unsigned threads = 256;
  BGN_LAUNCH(add_bias_cols_kernel, dim3(grid_for(M * out, threads)), dim3(threads), 0, s)(y, bias, M, out);
  check_launch("linear bias");
}

// Bytes of n 16-bit values, rounded up so a second operand after it starts 256-byte aligned.
size_t aligned16(int64_t n) { return ((size_t)n * 2 + 255) / 256 * 256; }

}  // namespace

// x (M, in) f32 → xh (M, in) wdtype in scratch; y (M, out) = xh · wᵀ (w is (out, in)) + bias.
void linear(GemmEngine& g, Workspace& ws, cudaStream_t s, const float* x, int64_t M, int64_t in, const void* w,
            DType wdtype, const float* bias, int64_t out, float* y) {
  BGN_CHECK(wdtype == DType::F16 || wdtype == DType::BF16, Code::Internal,
            "linear: weights must be F16 or BF16 on the GPU, not ", dtype_name(wdtype));
  BGN_CHECK(M >= 0 && in >= 0 && out >= 0, Code::Internal, "linear: negative size M=", M, " in=", in, " out=", out);
  if (M == 0 || out == 0) return;
  void* xh = ws.scratch(aligned16(M * in));
  detail::pack16(s, x, M, in, std::max<int64_t>(in, 1), xh, wdtype);
  const int64_t ld = std::max<int64_t>(in, 1);
  g.gemm(false, true, M, out, in, 1.0f, xh, ld, w, ld, wdtype, 0.0f, y, out);
  if (bias != nullptr) add_bias_cols(s, y, bias, M, out);
}

// A is (M, K) or, transposed, (K, M) with lda; B is (K, N) or (N, K) with ldb. Both are packed
// densely as f16 into one scratch block (the workspace holds one block at a time).
void sgemm(GemmEngine& g, Workspace& ws, cudaStream_t s, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
           float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  BGN_CHECK(M >= 0 && N >= 0 && K >= 0, Code::Internal, "sgemm: negative size M=", M, " N=", N, " K=", K);
  const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
  const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
  BGN_CHECK(
      lda >= std::max<int64_t>(a_cols, 1) && ldb >= std::max<int64_t>(b_cols, 1) && ldc >= std::max<int64_t>(N, 1),
      Code::Internal, "sgemm: leading dimensions lda=", lda, " ldb=", ldb, " ldc=", ldc, " are below the row widths ",
      a_cols, ", ", b_cols, ", ", N);
  if (M == 0 || N == 0) return;
  const size_t a_bytes = aligned16(a_rows * a_cols);
  char* scratch = static_cast<char*>(ws.scratch(a_bytes + aligned16(b_rows * b_cols)));
  void* ah = scratch;
  void* bh = scratch + a_bytes;
  detail::pack16(s, A, a_rows, a_cols, lda, ah, DType::F16);
  detail::pack16(s, B, b_rows, b_cols, ldb, bh, DType::F16);
  g.gemm(trans_a, trans_b, M, N, K, alpha, ah, std::max<int64_t>(a_cols, 1), bh, std::max<int64_t>(b_cols, 1),
         DType::F16, beta, C, ldc);
}

}  // namespace bgn::cuda
