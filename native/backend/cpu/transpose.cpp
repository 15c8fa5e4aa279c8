#include "backend/cpu/transpose.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/gemm_kernels.h"

namespace bgn::cpu {

namespace {

// The permutation reduced to what it moves: output dims and the source stride (in elements) of
// each, after dropping size-1 axes and merging output axes whose source axes are neighbours.
struct Plan {
  std::vector<int64_t> dims, src_stride;
};

Plan reduce(const std::vector<int64_t>& dims, const std::vector<int64_t>& perm) {
  const size_t r = dims.size();
  std::vector<int64_t> in_stride(r, 1);
  for (size_t d = r; d-- > 1;) in_stride[d - 1] = in_stride[d] * dims[d];
  Plan q;
  for (size_t d = 0; d < r; ++d) {
    const size_t a = size_t(perm[d]);
    if (dims[a] == 1) continue;
    if (!q.dims.empty() && q.src_stride.back() == in_stride[a] * dims[a]) {
      // The previous output axis is the source axis just outside this one: one axis of the product's size.
      q.dims.back() *= dims[a];
      q.src_stride.back() = in_stride[a];
    } else {
      q.dims.push_back(dims[a]);
      q.src_stride.push_back(in_stride[a]);
    }
  }
  return q;
}

// Source offset of the outer index `o` over dims[0..n) (row-major), skipping axis `skip`.
inline int64_t outer_offset(int64_t o, const Plan& p, int n, int skip) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    if (d == skip) continue;
    const int64_t i = o % p.dims[size_t(d)];
    o /= p.dims[size_t(d)];
    off += i * p.src_stride[size_t(d)];
  }
  return off;
}

template <class T>
void tiled(ThreadPool& pool, const T* x, const Plan& p, T* y) {
  // The innermost source axis is output axis q; the innermost output axis reads with stride s.
  const int r = int(p.dims.size());
  int q = 0;
  for (int d = 0; d < r; ++d)
    if (p.src_stride[size_t(d)] == 1) q = d;
  const int64_t rows = p.dims[size_t(q)], cols = p.dims[size_t(r - 1)], s = p.src_stride[size_t(r - 1)];
  std::vector<int64_t> out_stride(size_t(r), 1);
  for (int d = r - 1; d > 0; --d) out_stride[size_t(d - 1)] = out_stride[size_t(d)] * p.dims[size_t(d)];
  const int64_t row_step = out_stride[size_t(q)];
  int64_t outer = 1;
  for (int d = 0; d < r - 1; ++d)
    if (d != q) outer *= p.dims[size_t(d)];
  constexpr int64_t B = 16;
  const int64_t row_blocks = (rows + B - 1) / B;
  // The output offset of outer index o: the output dims without q and r-1, in order.
  auto out_base = [&](int64_t o) {
    int64_t off = 0;
    for (int d = r - 2; d >= 0; --d) {
      if (d == q) continue;
      const int64_t i = o % p.dims[size_t(d)];
      o /= p.dims[size_t(d)];
      off += i * out_stride[size_t(d)];
    }
    return off;
  };
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, B * cols));
  // 4-byte elements on AVX-512: each block of rows transposed 16x16 at a time in registers.
  const bool wide = sizeof(T) == 4 && avx512_sgemm_supported();
  pool.parallel_for(outer * row_blocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t w = b; w < e; ++w) {
      const int64_t o = w / row_blocks, i0 = (w % row_blocks) * B, i1 = std::min(rows, i0 + B);
      const T* src = x + outer_offset(o, p, r - 1, q);
      T* dst = y + out_base(o);
      if (wide) {
        avx512_transpose_f32(reinterpret_cast<const float*>(src + i0), s, cols, i1 - i0,
                             reinterpret_cast<float*>(dst + i0 * row_step), row_step);
        continue;
      }
      for (int64_t j0 = 0; j0 < cols; j0 += B) {
        const int64_t j1 = std::min(cols, j0 + B);
        for (int64_t i = i0; i < i1; ++i) {
          T* drow = dst + i * row_step;
          const T* scol = src + i;
          for (int64_t j = j0; j < j1; ++j) drow[j] = scol[j * s];
        }
      }
    }
  });
}

// n elements in blocks of 64 bytes (fixed-size copies the compiler writes inline), then the rest.
template <class T>
inline void copy_short(const T* s, T* d, int64_t n) {
  constexpr int64_t kBlock = 64 / sizeof(T);
  int64_t j = 0;
  for (; j + kBlock <= n; j += kBlock) std::memcpy(d + j, s + j, 64);
  for (; j < n; ++j) d[j] = s[j];
}

template <class T>
void run(ThreadPool& pool, const T* x, const Plan& p, T* y) {
  const int r = int(p.dims.size());
  if (r == 0) {
    y[0] = x[0];
    return;
  }
  if (p.src_stride[size_t(r - 1)] != 1) {
    tiled(pool, x, p, y);
    return;
  }
  // Whole rows: the innermost axis keeps its place.
  const int64_t row = p.dims[size_t(r - 1)];
  int64_t rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= p.dims[size_t(d)];
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / row);
  pool.parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    // Walk the outer index incrementally from b.
    std::vector<int64_t> idx(size_t(std::max(r - 1, 1)), 0);
    int64_t rem = b, off = 0;
    for (int d = r - 2; d >= 0; --d) {
      idx[size_t(d)] = rem % p.dims[size_t(d)];
      rem /= p.dims[size_t(d)];
      off += idx[size_t(d)] * p.src_stride[size_t(d)];
    }
    for (int64_t o = b; o < e; ++o) {
      // Short rows (attention heads of 32 or 64 values) copied inline: a call per row costs as
      // much as the copy.
      if (row <= 64)
        copy_short(x + off, y + o * row, row);
      else
        std::memcpy(y + o * row, x + off, size_t(row) * sizeof(T));
      for (int d = r - 2; d >= 0; --d) {
        off += p.src_stride[size_t(d)];
        if (++idx[size_t(d)] < p.dims[size_t(d)]) break;
        off -= p.src_stride[size_t(d)] * p.dims[size_t(d)];
        idx[size_t(d)] = 0;
      }
    }
  });
}

}  // namespace

void transpose(ThreadPool& pool, const void* x, const std::vector<int64_t>& dims, const std::vector<int64_t>& perm,
               size_t elem, void* y) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  if (n == 0) return;
  const Plan p = reduce(dims, perm);
  switch (elem) {
    case 1:
      run(pool, static_cast<const uint8_t*>(x), p, static_cast<uint8_t*>(y));
      return;
    case 2:
      run(pool, static_cast<const uint16_t*>(x), p, static_cast<uint16_t*>(y));
      return;
    case 4:
      run(pool, static_cast<const uint32_t*>(x), p, static_cast<uint32_t*>(y));
      return;
    case 8:
      run(pool, static_cast<const uint64_t*>(x), p, static_cast<uint64_t*>(y));
      return;
    default: {
      // Other sizes: rows of bytes, the element as the innermost axis.
      std::vector<int64_t> d2 = dims, p2 = perm;
      d2.push_back(int64_t(elem));
      p2.push_back(int64_t(dims.size()));
      run(pool, static_cast<const uint8_t*>(x), reduce(d2, p2), static_cast<uint8_t*>(y));
    }
  }
}

}  // namespace bgn::cpu
