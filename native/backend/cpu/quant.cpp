#include "backend/cpu/quant.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/ops.h"
#include "tensor/quant.h"

namespace bgn::cpu {

namespace {
// Per-thread f32 buffer for one tile of dequantized rows.
constexpr size_t kTileBytes = size_t(1) << 20;
// Below this many activation rows a fused dot per output beats dequantize + GEMM.
constexpr int64_t kDotRows = 4;

float dot(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Rows [r0, r1) of W into dst (row-major, K floats each).
void decode_rows(DType t, const uint8_t* w, size_t rb, int64_t r0, int64_t r1, int64_t K, float* dst) {
  for (int64_t r = r0; r < r1; ++r) convert_to_f32(t, w + size_t(r) * rb, dst + (r - r0) * K, K);
}
}  // namespace

size_t row_bytes(DType t, int64_t K) { return dtype_bytes(t, K); }

float vec_dot(DType t, const void* row, const float* x, int64_t K) {
  if (t == DType::F32) return dot(static_cast<const float*>(row), x, K);
  const int64_t bs = dtype_is_block(t) ? dtype_block(t) : 256;
  const size_t bb = dtype_bytes(t, std::min(bs, K));
  const uint8_t* p = static_cast<const uint8_t*>(row);
  float buf[256];
  float s = 0;
  for (int64_t k = 0; k < K; k += bs, p += bb) {
    const int64_t n = std::min(bs, K - k);
    convert_to_f32(t, p, buf, n);
    s += dot(buf, x + k, n);
  }
  return s;
}

void matmul(ThreadPool& pool, DType t, const void* w, int64_t N, int64_t K, const float* x, int64_t M, float beta,
            float* y) {
  if (M <= 0 || N <= 0) return;
  if (dtype_is_block(t) && K % dtype_block(t) != 0)
    fail(Code::Internal, "matmul: rows of ", K, " values are not whole ", dtype_name(t), " blocks");
  const uint8_t* W = static_cast<const uint8_t*>(w);
  const size_t rb = row_bytes(t, K);
  if (t == DType::F32) {
    sgemm(pool, false, true, M, N, K, 1.f, x, K, static_cast<const float*>(w), K, beta, y, N);
    return;
  }
  if (M <= kDotRows) {
    pool.parallel_for(N, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, K)), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t m = 0; m < M; ++m) {
          const float v = vec_dot(t, W + size_t(n) * rb, x + m * K, K);
          float& out = y[m * N + n];
          out = beta == 0.f ? v : v + beta * out;
        }
    });
    return;
  }
  // Tiles of rows: as many as fit kTileBytes, at least 16 (a GEMM needs some width), at most N.
  int64_t rows = int64_t(kTileBytes / (size_t(K) * 4));
  rows = std::max<int64_t>(16, rows - rows % 16);
  // Enough tiles for every thread when N allows it.
  const int64_t per_thread = (N + pool.size() - 1) / pool.size();
  rows = std::max<int64_t>(1, std::min(rows, per_thread));
  const int64_t tiles = (N + rows - 1) / rows;
  pool.parallel_for(tiles, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> buf;
    if (buf.size() < size_t(rows * K)) {
      std::vector<float>().swap(buf);
      buf.resize(size_t(rows * K));
    }
    for (int64_t tile = b; tile < e; ++tile) {
      const int64_t n0 = tile * rows, n1 = std::min(N, n0 + rows);
      decode_rows(t, W, rb, n0, n1, K, buf.data());
      sgemm_serial(false, true, M, n1 - n0, K, 1.f, x, K, buf.data(), K, beta, y + n0, N);
    }
  });
}

}  // namespace bgn::cpu
