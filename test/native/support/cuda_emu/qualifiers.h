// CUDA qualifiers, dim3 and the built-in index variables of the emulator (see emulator.h).
#pragma once
#include <cstddef>
#include <cstdint>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// One block runs at a time, so a function-static variable is the running block's shared memory.
#define __shared__ static
#define __constant__ static

struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

constexpr int warpSize = 32;

namespace bgn::emu {

struct BlockState;

// What the built-in variables read in the running emulated thread; set by the thread team each time
// it resumes one. Trivial type, so the thread_local needs no per-access initialisation guard.
struct ThreadContext {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned linear;  // threadIdx flattened, x fastest
  unsigned warp;    // linear / 32
  unsigned lane;    // linear % 32
  BlockState* block;
};
extern thread_local ThreadContext tl_ctx;

}  // namespace bgn::emu

#define threadIdx (static_cast<const uint3&>(::bgn::emu::tl_ctx.thread_idx))
#define blockIdx (static_cast<const uint3&>(::bgn::emu::tl_ctx.block_idx))
#define blockDim (static_cast<const dim3&>(::bgn::emu::tl_ctx.block_dim))
#define gridDim (static_cast<const dim3&>(::bgn::emu::tl_ctx.grid_dim))
