// f32 ↔ 16-bit conversions (the GEMM operands) and the launch helpers every kernel file shares.
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  if (e == cudaErrorMemoryAllocation)
    fail(Code::OutOfMemory, "CUDA device out of memory in ", what, ": ", cudaGetErrorString(e));
  fail(Code::Internal, "CUDA error ", cudaGetErrorName(e), " in ", what, ": ", cudaGetErrorString(e));
}

unsigned grid_for(int64_t n, unsigned threads) {
  // 2^31 - 1 blocks is the x-dimension limit; kernels launched with a capped grid stride over the rest.
  const int64_t max_blocks = 0x7fffffff;
  if (threads == 0) fail(Code::Internal, "grid_for: zero threads per block");
  if (n <= 0) return 1;
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < max_blocks ? blocks : max_blocks);
}

namespace {

constexpr unsigned kThreads = 256;

// Four floats in one 16-byte load; x, y must be 16-byte aligned.
struct alignas(16) F4 {
  float a, b, c, d;
};

// x (n) f32 → y (n) 16-bit. Each thread converts four values from one aligned 16-byte load
// (n4 = n / 4 of them), then the first threads finish the scalar tail.
template <bool BF16>
__device__ __forceinline__ void store16(uint16_t* y, int64_t i, float v) {
  if (BF16)
    reinterpret_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16(v);
  else
    reinterpret_cast<__half*>(y)[i] = __float2half(v);
}

template <bool BF16>
__global__ void narrow_kernel(const float* __restrict__ x, uint16_t* __restrict__ y, int64_t n, bool vec) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n4 = vec ? n / 4 : 0;
  const F4* x4 = reinterpret_cast<const F4*>(x);
  for (int64_t i = start; i < n4; i += stride) {
    const F4 v = x4[i];
    store16<BF16>(y, 4 * i + 0, v.a);
    store16<BF16>(y, 4 * i + 1, v.b);
    store16<BF16>(y, 4 * i + 2, v.c);
    store16<BF16>(y, 4 * i + 3, v.d);
  }
  for (int64_t i = 4 * n4 + start; i < n; i += stride) store16<BF16>(y, i, x[i]);
}

// x (n) 16-bit → y (n) f32, four outputs per 16-byte store when aligned.
template <bool BF16>
__device__ __forceinline__ float load16(const uint16_t* x, int64_t i) {
  if (BF16) return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(x)[i]);
  return __half2float(reinterpret_cast<const __half*>(x)[i]);
}

template <bool BF16>
__global__ void widen_kernel(const uint16_t* __restrict__ x, float* __restrict__ y, int64_t n, bool vec) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t n4 = vec ? n / 4 : 0;
  F4* y4 = reinterpret_cast<F4*>(y);
  for (int64_t i = start; i < n4; i += stride) {
    F4 v;
    v.a = load16<BF16>(x, 4 * i + 0);
    v.b = load16<BF16>(x, 4 * i + 1);
    v.c = load16<BF16>(x, 4 * i + 2);
    v.d = load16<BF16>(x, 4 * i + 3);
    y4[i] = v;
  }
  for (int64_t i = 4 * n4 + start; i < n; i += stride) y[i] = load16<BF16>(x, i);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool BF16>
void narrow(cudaStream_t s, const float* x, uint16_t* y, int64_t n, const char* what) {
  if (n < 0) fail(Code::Internal, what, ": negative size ", n);
  if (n == 0) return;
  const bool vec = aligned16(x) && reinterpret_cast<uintptr_t>(y) % 8 == 0;
  auto k = narrow_kernel<BF16>;
  BGN_LAUNCH(k, grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, s)(x, y, n, vec);
  check_launch(what);
}

template <bool BF16>
void widen(cudaStream_t s, const uint16_t* x, float* y, int64_t n, const char* what) {
  if (n < 0) fail(Code::Internal, what, ": negative size ", n);
  if (n == 0) return;
  const bool vec = aligned16(y) && reinterpret_cast<uintptr_t>(x) % 8 == 0;
  auto k = widen_kernel<BF16>;
  BGN_LAUNCH(k, grid_for(vec ? (n + 3) / 4 : n, kThreads), kThreads, 0, s)(x, y, n, vec);
  check_launch(what);
}

}  // namespace

void to_f16(cudaStream_t s, const float* x, uint16_t* y, int64_t n) { narrow<false>(s, x, y, n, "to_f16"); }
void to_bf16(cudaStream_t s, const float* x, uint16_t* y, int64_t n) { narrow<true>(s, x, y, n, "to_bf16"); }
void f16_to_f32(cudaStream_t s, const uint16_t* x, float* y, int64_t n) { widen<false>(s, x, y, n, "f16_to_f32"); }
void bf16_to_f32(cudaStream_t s, const uint16_t* x, float* y, int64_t n) { widen<true>(s, x, y, n, "bf16_to_f32"); }

}  // namespace bgn::cuda
