// The one header every file of the CUDA backend includes. Compiled by nvcc it is the CUDA
// toolkit; compiled by the host C++ compiler with BGN_CUDA_EMULATE it is the CPU emulation of
// the CUDA execution model in test/native/support/cuda_emu (blocks run one after another, the threads of a
// block run concurrently, __syncthreads is a barrier, warp shuffles and wmma fragments are
// emulated, device memory is fenced off from host code between launches). The kernels are the
// same text either way, so the tests check their indexing and synchronisation on machines
// without a GPU, against the CPU backend.
//
// What a kernel file may use (the emulator provides exactly this):
//   __global__ __device__ __host__ __forceinline__ __restrict__ __launch_bounds__(n)
//   __shared__ arrays inside kernels (fixed size); BGN_DYNAMIC_SHARED(T, name) for dynamic ones
//   threadIdx blockIdx blockDim gridDim (x, y, z), warpSize, dim3
//   __syncthreads() __syncwarp() __shfl_sync __shfl_xor_sync __shfl_down_sync (block-uniform calls)
//   atomicAdd(float*/int*), atomicMax(int*)
//   __half __nv_bfloat16 __float2half __half2float __float2bfloat16 __bfloat162float
//   __expf expf logf sqrtf rsqrtf tanhf erff fmaxf fminf fabsf floorf ceilf isfinite
//   nvcuda::wmma::{fragment, load_matrix_sync, store_matrix_sync, mma_sync, fill_fragment,
//                  matrix_a, matrix_b, accumulator, row_major, col_major, mem_row_major, mem_col_major}
//     16x16x16 f16/bf16 operands with float accumulators; fragment elements only touched uniformly
//   BGN_LAUNCH(kernel, grid, block, smem_bytes, stream)(args...)
//   runtime: cudaMalloc cudaFree cudaMemcpy cudaMemcpyAsync cudaMemset cudaMemsetAsync cudaMemGetInfo
//            cudaStreamCreate(WithFlags) cudaStreamDestroy cudaStreamSynchronize cudaDeviceSynchronize
//            cudaGetDeviceCount cudaGetDeviceProperties cudaSetDevice cudaGetDevice
//            cudaDriverGetVersion cudaRuntimeGetVersion cudaGetLastError cudaPeekAtLastError
//            cudaGetErrorString cudaGetErrorName cudaFuncSetAttribute(MaxDynamicSharedMemorySize)
//            cudaMemcpyHostToDevice/DeviceToHost/DeviceToDevice, cudaStream_t, cudaError_t, cudaSuccess,
//            cudaErrorMemoryAllocation, cudaErrorNoDevice, cudaErrorInsufficientDriver, cudaDeviceProp
#pragma once

#if defined(BGN_CUDA_EMULATE)
#include "cuda_emu/emulator.h"  // test/native/support: on the include path of test builds only
#define BGN_LAUNCH(kernel, grid, block, smem, stream) ::bgn::emu::Launch(kernel, grid, block, smem, stream)
#define BGN_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::bgn::emu::dynamic_shared())
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>
#define BGN_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#define BGN_DYNAMIC_SHARED(T, name)                                  \
  extern __shared__ __align__(128) unsigned char bgn_dynamic_smem[]; \
  T* name = reinterpret_cast<T*>(bgn_dynamic_smem)
#endif
