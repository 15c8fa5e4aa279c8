// CUDA kernels behind the Gpu interface (backend/gpu.h): one launcher per op, with the name and
// argument order of its CPU twin in backend/cpu (the test oracle), a stream first, device
// pointers throughout. Launchers check their launch (cudaGetLastError) and report failures as
// bgn::Error; they never synchronise. Included by the backend's .cu files and
// the kernel tests.
#pragma once
#include <cstddef>
#include <cstdint>

#include "backend/cpu/nn_ops.h"
#include "backend/cpu/ops.h"
#include "backend/cuda/cuda_kernel.h"
#include "tensor/tensor.h"

namespace bgn::cuda {

// A launch or runtime failure → bgn::Error (E_OUT_OF_MEMORY for cudaErrorMemoryAllocation,
// E_INTERNAL otherwise), naming `what`.
void check(cudaError_t e, const char* what);
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }
// Blocks for n items at `threads` per block, capped at what one grid dimension takes.
unsigned grid_for(int64_t n, unsigned threads);

// ---- conversions (convert.cu) ---------------------------------------------------------------------
// f32 → 16-bit operands (round to nearest even) and back.
void to_f16(cudaStream_t s, const float* x, uint16_t* y, int64_t n);
void to_bf16(cudaStream_t s, const float* x, uint16_t* y, int64_t n);
void f16_to_f32(cudaStream_t s, const uint16_t* x, float* y, int64_t n);
void bf16_to_f32(cudaStream_t s, const uint16_t* x, float* y, int64_t n);

// ---- elementwise (elementwise.cu) ------------------------------------------------------------------
void activation(cudaStream_t s, cpu::Act act, const float* x, float* y, int64_t n);  // y may alias x
void relu(cudaStream_t s, const float* x, float* y, int64_t n);
void sigmoid(cudaStream_t s, const float* x, float* y, int64_t n);
void geglu(cudaStream_t s, const float* x, int64_t M, int64_t F, float* y);  // x (M, 2F) → y (M, F)
void add(cudaStream_t s, const float* a, const float* b, float* y, int64_t n);
void add_rows(cudaStream_t s, float* x, const float* v, int64_t R, int64_t S);  // x (R, S) += v[r]
// Numpy broadcasting, up to 8 dims, right-aligned shapes (host arrays).
void binary(cudaStream_t s, cpu::BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
            const int64_t* b_shape, int b_rank, float* y, const int64_t* y_shape, int y_rank);
void batchnorm(cudaStream_t s, const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias,
               const float* mean, const float* var, float eps, float* y);
// Bias per output channel and an activation, in place: y (N, C, S).
void bias_act(cudaStream_t s, float* y, const float* bias, int64_t N, int64_t C, int64_t S, cpu::Activation act);

// ---- layout (layout.cu) -----------------------------------------------------------------------------
void transpose(cudaStream_t s, const float* x, int64_t B, int64_t R, int64_t C, float* y);  // (B,R,C)→(B,C,R)
// As cpu::concat; `inputs` and `bytes` are host arrays of device pointers / sizes.
void concat(cudaStream_t s, const void* const* inputs, const int64_t* bytes, int count, int64_t outer, void* y);

// ---- norms (norm.cu) ----------------------------------------------------------------------------------
void group_norm(cudaStream_t s, const float* x, int64_t N, int64_t C, int64_t S, int64_t groups, const float* gamma,
                const float* beta, float eps, bool silu, float* y);
void layer_norm(cudaStream_t s, const float* x, int64_t M, int64_t C, const float* gamma, const float* beta, float eps,
                float* y);

// ---- resize and pooling (resize.cu, pool.cu) ---------------------------------------------------------
void upsample_nearest(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH,
                      int64_t OW);
void resize2d(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, const cpu::ResizeParams& p, float* y,
              int64_t OH, int64_t OW);
void maxpool2d(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p, float* y,
               int64_t OH, int64_t OW);
void avgpool2d(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p,
               bool count_include_pad, float* y, int64_t OH, int64_t OW);

// ---- attention (attention.cu) --------------------------------------------------------------------------
// Fused flash-style attention over f32 q/k/v/o laid out as cpu::attention describes; 16-bit
// operands and f32 accumulation inside, online softmax, memory O(tile) whatever Tq and Tk.
void attention(cudaStream_t s, const float* q, const float* k, const float* v, float* o,
               const cpu::AttentionShape& shape);

// ---- GEMM and convolution (gemm.cu, conv.cu, cublas.cu) ---------------------------------------------
// Scratch device memory a GEMM or convolution may use during one call (grows on demand; E_OUT_OF_MEMORY
// when the pool cannot give it). Implemented by the runtime.
class Workspace {
 public:
  virtual ~Workspace() = default;
  virtual void* scratch(size_t bytes) = 0;  // valid until the next scratch() call
};

// Row-major C (M, N) f32 = alpha · op(A) · op(B) + beta · C, A and B 16-bit of one dtype (F16 or
// BF16), f32 accumulation. Runs on cuBLASLt / cuBLAS when they were loaded at run time, else on
// this library's tensor-core kernel (wmma, sm_70+ for f16, sm_80+ for bf16) — BGN_CUDA_GEMM=own|cublas
// forces one path.
class GemmEngine {
 public:
  // Loads cuBLAS(Lt) with dlopen when present; never fails (falls back to the own kernel).
  explicit GemmEngine(cudaStream_t s);
  ~GemmEngine();
  GemmEngine(const GemmEngine&) = delete;
  GemmEngine& operator=(const GemmEngine&) = delete;
  const char* path() const;  // "cublasLt", "cublas" or "tensor-core kernel"
  void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
            const void* B, int64_t ldb, DType ab, float beta, float* C, int64_t ldc);
  // The own kernel only (tests compare both paths).
  void gemm_own(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const void* A, int64_t lda,
                const void* B, int64_t ldb, DType ab, float beta, float* C, int64_t ldc);

 private:
  struct Impl;
  Impl* impl_;
};

// y (M, out) = x (M, in) f32 · w (out, in)ᵀ (16-bit) + bias; x is rounded to wdtype in scratch.
void linear(GemmEngine& g, Workspace& ws, cudaStream_t s, const float* x, int64_t M, int64_t in, const void* w,
            DType wdtype, const float* bias, int64_t out, float* y);
// f32 sgemm on 16-bit operands: A and B rounded to f16 in scratch.
void sgemm(GemmEngine& g, Workspace& ws, cudaStream_t s, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
           float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// Convolution as GEMM over im2col tiles of the input (in chunks of output pixels that fit the
// scratch budget): x (N, C, H, W) f32, w (O, C/groups, KH, KW) 16-bit, bias f32 or null, the
// activation in p fused into the epilogue.
void conv2d(GemmEngine& g, Workspace& ws, cudaStream_t s, const float* x, int64_t N, int64_t C, int64_t H, int64_t W,
            const void* w, DType wdtype, int64_t O, int64_t KH, int64_t KW, const float* bias,
            const cpu::Conv2dParams& p, float* y, int64_t OH, int64_t OW);

}  // namespace bgn::cuda
