#include "nn/ops.h"

#include <cstring>

#include "backend/cpu/ops.h"
#include "backend/cpu/transpose.h"

namespace bgn::nn {

void act(Exec& e, cpu::Act a, const float* x, float* y, int64_t n) {
  if (e.gpu) return e.gpu->activation(a, x, y, n);
  cpu::activation(e.pool, a, x, y, n);
}

void relu(Exec& e, const float* x, float* y, int64_t n) {
  if (e.gpu) return e.gpu->relu(x, y, n);
  e.pool.parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
  });
}

void add(Exec& e, const float* x, const float* r, float* y, int64_t n) {
  if (e.gpu) return e.gpu->add(x, r, y, n);
  e.pool.parallel_for(n, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) y[i] = x[i] + r[i];
  });
}

void add_rows(Exec& e, float* x, const float* v, int64_t R, int64_t S) {
  if (e.gpu) return e.gpu->add_rows(x, v, R, S);
  for (int64_t r = 0; r < R; ++r) {
    float* p = x + r * S;
    const float a = v[r];
    for (int64_t i = 0; i < S; ++i) p[i] += a;
  }
}

void transpose(Exec& e, const float* x, int64_t B, int64_t R, int64_t C, float* y) {
  if (e.gpu) return e.gpu->transpose(x, B, R, C, y);
  cpu::transpose(e.pool, x, {B, R, C}, {0, 2, 1}, sizeof(float), y);  // tiles in registers, on the pool
}

void concat_channels(Exec& e, const float* a, int64_t Ca, const float* b, int64_t Cb, int64_t N, int64_t S, float* y) {
  const void* in[2] = {a, b};
  const int64_t bytes[2] = {Ca * S * int64_t(sizeof(float)), Cb * S * int64_t(sizeof(float))};
  if (e.gpu) return e.gpu->concat(in, bytes, 2, N, y);
  cpu::concat(e.pool, in, bytes, 2, N, y);
}

void copy(Exec& e, const float* x, float* y, int64_t n) {
  if (n <= 0) return;
  if (e.gpu) return e.gpu->copy(y, x, size_t(n) * sizeof(float));
  std::memcpy(y, x, size_t(n) * sizeof(float));
}

void geglu(Exec& e, const float* x, int64_t M, int64_t F, float* y, bool approx) {
  if (e.gpu) return e.gpu->geglu(x, M, F, y);
  if (approx) return cpu::geglu_approx(e.pool, x, M, F, y);
  cpu::geglu(e.pool, x, M, F, y);
}

void upsample_nearest(Exec& e, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW) {
  if (e.gpu) return e.gpu->upsample_nearest(x, NC, H, W, y, OH, OW);
  cpu::upsample_nearest(e.pool, x, NC, H, W, y, OH, OW);
}

}  // namespace bgn::nn
