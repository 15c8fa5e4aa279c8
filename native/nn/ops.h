// Element-wise and layout ops on activations, run where the Exec says (CPU pool or Gpu). The
// models use these instead of host loops so a whole forward pass stays on the device. On the
// CPU each computes exactly what the loops it replaced computed (bit-identical outputs).
#pragma once
#include <cstdint>

#include "backend/cpu/nn_ops.h"
#include "nn/exec.h"

namespace bgn::nn {

// x and y are n floats (may alias)
void act(Exec& e, cpu::Act a, const float* x, float* y, int64_t n);
// y = max(x, 0), n floats (may alias)
void relu(Exec& e, const float* x, float* y, int64_t n);
// y = x + r elementwise, n floats (y may alias either)
void add(Exec& e, const float* x, const float* r, float* y, int64_t n);
// x (R, S) += v[r] along each row, in place (a per-channel bias over NCHW planes: R = N·C)
void add_rows(Exec& e, float* x, const float* v, int64_t R, int64_t S);
// x (B, R, C) -> y (B, C, R)
void transpose(Exec& e, const float* x, int64_t B, int64_t R, int64_t C, float* y);
// Channel concatenation of a (N, Ca, S) and b (N, Cb, S) -> y (N, Ca + Cb, S)
void concat_channels(Exec& e, const float* a, int64_t Ca, const float* b, int64_t Cb, int64_t N, int64_t S, float* y);
// y = x, n floats
void copy(Exec& e, const float* x, float* y, int64_t n);
// GEGLU: x (M, 2F) -> y (M, F); approx: on the CPU, GELU's erf approximated on vectors (bf16 layers)
void geglu(Exec& e, const float* x, int64_t M, int64_t F, float* y, bool approx = false);
// Nearest-neighbour resize x (NC, H, W) -> y (NC, OH, OW)
void upsample_nearest(Exec& e, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW);

}  // namespace bgn::nn
