// The error function and the exact GELU over arrays, vectorised (backend/cpu/vmath.h), on the pool.
#pragma once
#include <cstdint>

#include "backend/cpu/threads.h"

namespace bgn::cpu {

// y[i] = erf(x[i]); absolute error below 2e-7.
void erf(ThreadPool& pool, const float* x, float* y, int64_t n);
// y[i] = x[i] · (1 + erf(x[i] / √2)) / 2, the exact GELU (and torch's export of it).
void gelu(ThreadPool& pool, const float* x, float* y, int64_t n);
// The same GELU in place on a block of rows (ldc apart), on the calling thread: a GEMM epilogue
// (GemmEpilogue::map) gives the values gelu gives, bit for bit.
void gelu_block(float* c, int64_t rows, int64_t cols, int64_t ldc);

}  // namespace bgn::cpu
