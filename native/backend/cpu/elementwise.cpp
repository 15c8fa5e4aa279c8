// Elementwise operators: activations, broadcasting binary ops, batch-norm, concat.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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
    pool.parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) y[i] = f(a[i], b[i]);
    });
    return;
  }
  if (na == n && nb == 1) {
    float bv = b[0];
    pool.parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) y[i] = f(a[i], bv);
    });
    return;
  }
  if (nb == n && na == 1) {
    float av = a[0];
    pool.parallel_for(n, 1 << 15, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) y[i] = f(av, b[i]);
    });
    return;
  }
  // General: strides of a and b in the output's index space (0 where broadcast), with size-1
  // axes dropped and neighbouring axes merged where both operands walk them alike.
  std::vector<int64_t> sa(size_t(yr) + 1, 0), sb(size_t(yr) + 1, 0), dims(size_t(yr) + 1, 0);
  int r = 0;
  {
    int64_t stride_a = 1, stride_b = 1;
    const size_t ny = size_t(yr);
    std::vector<int64_t> ra(ny), rb(ny), rd(ny);
    int k = 0;
    for (int i = yr - 1; i >= 0; --i) {
      int ia = i - (yr - ar), ib = i - (yr - br);
      int64_t da = ia >= 0 ? as[ia] : 1, db = ib >= 0 ? bs[ib] : 1;
      if (ys[i] != 1) {
        rd[k] = ys[i];
        ra[k] = da == 1 ? 0 : stride_a;
        rb[k] = db == 1 ? 0 : stride_b;
        ++k;
      }
      stride_a *= da;
      stride_b *= db;
    }
    // rd/ra/rb run from the innermost axis outwards; merge an outer axis into the one inside it
    // when each operand's stride continues (or stays 0 on both).
    for (int i = 0; i < k; ++i) {
      if (r > 0) {
        const int j = r - 1;
        const bool a_ok = ra[i] == ra[j] * rd[j] && (ra[j] != 0 || ra[i] == 0);
        const bool b_ok = rb[i] == rb[j] * rd[j] && (rb[j] != 0 || rb[i] == 0);
        if (a_ok && b_ok) {
          rd[j] *= rd[i];
          continue;
        }
      }
      rd[r] = rd[i];
      ra[r] = ra[i];
      rb[r] = rb[i];
      ++r;
    }
    for (int i = 0; i < r; ++i) {
      dims[r - 1 - i] = rd[i];
      sa[r - 1 - i] = ra[i];
      sb[r - 1 - i] = rb[i];
    }
    if (r == 0) {
      dims[0] = 1;
      r = 1;
    }
  }
  const int64_t inner = dims[r - 1];
  const int64_t rows = n / std::max<int64_t>(inner, 1);
  const int64_t ia = sa[r - 1], ib = sb[r - 1];
  pool.parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(inner, 1)), [&](int64_t s, int64_t e) {
    std::vector<int64_t> idx(size_t(r), 0);
    int64_t oa = 0, ob = 0, rem = s;
    for (int i = r - 2; i >= 0; --i) {
      idx[i] = rem % dims[i];
      rem /= dims[i];
      oa += idx[i] * sa[i];
      ob += idx[i] * sb[i];
    }
    for (int64_t row = s; row < e; ++row) {
      float* out = y + row * inner;
      const float* pa = a + oa;
      const float* pb = b + ob;
      if (ia == 1 && ib == 1) {
        for (int64_t j = 0; j < inner; ++j) out[j] = f(pa[j], pb[j]);
      } else if (ia == 1 && ib == 0) {
        const float v = pb[0];
        for (int64_t j = 0; j < inner; ++j) out[j] = f(pa[j], v);
      } else if (ia == 0 && ib == 1) {
        const float v = pa[0];
        for (int64_t j = 0; j < inner; ++j) out[j] = f(v, pb[j]);
      } else {
        for (int64_t j = 0; j < inner; ++j) out[j] = f(pa[j * ia], pb[j * ib]);
      }
      for (int i = r - 2; i >= 0; --i) {
        oa += sa[i];
        ob += sb[i];
        if (++idx[i] < dims[i]) break;
        oa -= sa[i] * dims[i];
        ob -= sb[i] * dims[i];
        idx[i] = 0;
      }
    }
  });
}

}  // namespace

void binary(ThreadPool& pool, BinaryOp op, const float* a, const int64_t* as, int ar, const float* b, const int64_t* bs,
            int br, float* y, const int64_t* ys, int yr) {
  if (yr == 0) {
    static const int64_t one = 1;
    as = bs = ys = &one;
    ar = br = yr = 1;
  }
  if (ar == 0) {
    static const int64_t one = 1;
    as = &one;
    ar = 1;
  }
  if (br == 0) {
    static const int64_t one = 1;
    bs = &one;
    br = 1;
  }
  switch (op) {
    case BinaryOp::Add:
      binary_impl(
          pool, [](float u, float v) { return u + v; }, a, as, ar, b, bs, br, y, ys, yr);
      break;
    case BinaryOp::Sub:
      binary_impl(
          pool, [](float u, float v) { return u - v; }, a, as, ar, b, bs, br, y, ys, yr);
      break;
    case BinaryOp::Mul:
      binary_impl(
          pool, [](float u, float v) { return u * v; }, a, as, ar, b, bs, br, y, ys, yr);
      break;
    case BinaryOp::Div:
      binary_impl(
          pool, [](float u, float v) { return u / v; }, a, as, ar, b, bs, br, y, ys, yr);
      break;
  }
}

void batchnorm(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias,
               const float* mean, const float* var, float eps, float* y) {
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
