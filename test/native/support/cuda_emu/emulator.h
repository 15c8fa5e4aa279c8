// CPU emulation of the CUDA execution model, included by backend/cuda/cuda_kernel.h instead of the
// CUDA headers when BGN_CUDA_EMULATE is defined, so the .cu files compile as plain C++17.
//
// Model: one launch at a time (a global launch mutex); the blocks of a grid run one after another;
// the threads of a block run as fibers on the launching thread, each until it waits at a barrier
// (team.cpp), so __syncthreads, warp shuffles and wmma are real barriers and a missing one shows
// up as a wrong result, while a divergent one aborts with the launch named. Because a single block is alive at any moment, a
// function-static array is that block's shared memory, hence `__shared__` is `static`.
// Device memory lives in the emulator's own mappings, inaccessible to host code between launches.
#pragma once

#include "cuda_emu/qualifiers.h"
#include "cuda_emu/runtime.h"
#include "cuda_emu/half.h"
#include "cuda_emu/device_math.h"
#include "cuda_emu/launch.h"
#include "cuda_emu/warp.h"
#include "cuda_emu/wmma.h"
