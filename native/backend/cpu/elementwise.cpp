// Elementwise operators: activations, broadcasting binary ops, batch-norm, concat.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

void relu(ThreadPool& pool, const float* x, float* y, int64_t n) {
  pool.parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::max(x[i], 0.f);
  });
}

void sigmoid(ThreadPool& pool, const float* x, float* y, int64_t n) {
  pool.parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = 1.f / (1.f + std::exp(-x[i]));
  });
}

namespace {

template <class F>
void binary_impl(ThreadPool& pool, F f, const float* a, const int64_t* as, int ar, const float* b, const int64_t* bs,
                 int br, float* y, const int64_t* ys, int yr) {
  int64_t n = 1;
  for (int i = 0; i < yr; ++i) n *= ys[i];
  // Fast paths: same shape, or one side a scalar.
  int64_t na = 1, nb = 1;
  for (int i = 0; i < ar; ++i) na *= as[i];
  for (int i = 0; i < br; ++i) nb *= bs[i];
  if (na == n && nb == n) {
    pool.parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] = f(a[i], b[i]); });
    return;
  }
  if (na == n && nb == 1) {
    float bv = b[0];
    pool.parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] = f(a[i], bv); });
    return;
  }
  if (nb == n && na == 1) {
    float av = a[0];
    pool.parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) { for (int64_t i = s; i < e; ++i) y[i] = f(av, b[i]); });
    return;
  }
  // General: strides of a and b in the output's index space (0 where broadcast).
  int64_t sa[8] = {0}, sb[8] = {0}, dims[8] = {0};
  int64_t stride_a = 1, stride_b = 1;
  for (int i = yr - 1; i >= 0; --i) {
    dims[i] = ys[i];
    int ia = i - (yr - ar), ib = i - (yr - br);
    int64_t da = ia >= 0 ? as[ia] : 1, db = ib >= 0 ? bs[ib] : 1;
    sa[i] = da == 1 ? 0 : stride_a;
    sb[i] = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
  }
  int64_t inner = dims[yr - 1];
  int64_t rows = n / std::max<int64_t>(inner, 1);
  pool.parallel_for(rows, 64, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int i = yr - 2; i >= 0; --i) {
        int64_t idx = rem % dims[i];
        rem /= dims[i];
        oa += idx * sa[i];
        ob += idx * sb[i];
      }
      float* out = y + r * inner;
      const int64_t ia = sa[yr - 1], ib = sb[yr - 1];
      for (int64_t j = 0; j < inner; ++j) out[j] = f(a[oa + j * ia], b[ob + j * ib]);
    }
  });
}

}  // namespace

void binary(ThreadPool& pool, BinaryOp op, const float* a, const int64_t* as, int ar, const float* b,
            const int64_t* bs, int br, float* y, const int64_t* ys, int yr) {
  if (yr == 0) {
    static const int64_t one = 1;
    as = bs = ys = &one;
    ar = br = yr = 1;
  }
  if (ar == 0) { static const int64_t one = 1; as = &one; ar = 1; }
  if (br == 0) { static const int64_t one = 1; bs = &one; br = 1; }
  switch (op) {
    case BinaryOp::Add: binary_impl(pool, [](float u, float v) { return u + v; }, a, as, ar, b, bs, br, y, ys, yr); break;
    case BinaryOp::Sub: binary_impl(pool, [](float u, float v) { return u - v; }, a, as, ar, b, bs, br, y, ys, yr); break;
    case BinaryOp::Mul: binary_impl(pool, [](float u, float v) { return u * v; }, a, as, ar, b, bs, br, y, ys, yr); break;
    case BinaryOp::Div: binary_impl(pool, [](float u, float v) { return u / v; }, a, as, ar, b, bs, br, y, ys, yr); break;
  }
}

void batchnorm(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t S, const float* scale,
               const float* bias, const float* mean, const float* var, float eps, float* y) {
  pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t c = t % C;
      float k = scale[c] / std::sqrt(var[c] + eps);
      float off = bias[c] - mean[c] * k;
      const float* xi = x + t * S;
      float* yi = y + t * S;
      for (int64_t i = 0; i < S; ++i) yi[i] = xi[i] * k + off;
    }
  });
}

void concat(ThreadPool& pool, const void* const* inputs, const int64_t* bytes, int count, int64_t outer, void* y) {
  int64_t row = 0;
  for (int i = 0; i < count; ++i) row += bytes[i];
  pool.parallel_for(outer, 1, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      uint8_t* dst = static_cast<uint8_t*>(y) + o * row;
      for (int i = 0; i < count; ++i) {
        std::memcpy(dst, static_cast<const uint8_t*>(inputs[i]) + o * bytes[i], bytes[i]);
        dst += bytes[i];
      }
    }
  });
}

}  // namespace bgn::cpu
