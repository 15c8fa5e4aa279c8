// 3x3 stride-1 convolution by Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, 2016):
// each 6x6 input tile and each 3x3 filter are transformed so that a 4x4 output tile costs
// 36 multiplies per channel pair instead of 144. The 36 element-wise products over channels
// become 36 GEMMs per block of tiles: M[xi] (O,T) = U[xi] (O,C) @ V[xi] (C,T).
//
//   U = G g G^T  (filter transform)     V = B^T d B  (input transform)
//   Y = A^T M A  (output transform)
//
// Dilation d is handled by splitting the output into d*d phases: outputs (py + d*a, px + d*b)
// of one phase form an ordinary 3x3 convolution over input samples d apart.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

namespace {

// Filter transform of output channel o for all input channels, vectorised across channels:
// U[xi][o][c] = (G g_{o,c} G^T)[xi]. `work` holds 9 + 18 rows of C floats.
void filter_transform_row(const float* w, int64_t C, int64_t O, int64_t o, float* U, float* work) {
  float* g = work;            // g[k][c], k = 3*row + col
  float* t = work + 9 * C;    // t[i][j][c] = (G g)[i][j], i < 6, j < 3
  const float* wo = w + o * C * 9;
  for (int64_t c = 0; c < C; ++c)
    for (int k = 0; k < 9; ++k) g[k * C + c] = wo[c * 9 + k];
  for (int j = 0; j < 3; ++j) {
    const float *__restrict g0 = g + (0 * 3 + j) * C, *__restrict g1 = g + (1 * 3 + j) * C, *__restrict g2 = g + (2 * 3 + j) * C;
    float *__restrict t0 = t + (0 * 3 + j) * C, *__restrict t1 = t + (1 * 3 + j) * C, *__restrict t2 = t + (2 * 3 + j) * C,
          *__restrict t3 = t + (3 * 3 + j) * C, *__restrict t4 = t + (4 * 3 + j) * C, *__restrict t5 = t + (5 * 3 + j) * C;
    for (int64_t c = 0; c < C; ++c) {
      t0[c] = g0[c] * (1.f / 4.f);
      t1[c] = -(g0[c] + g1[c] + g2[c]) * (1.f / 6.f);
      t2[c] = -(g0[c] - g1[c] + g2[c]) * (1.f / 6.f);
      t3[c] = g0[c] * (1.f / 24.f) + g1[c] * (1.f / 12.f) + g2[c] * (1.f / 6.f);
      t4[c] = g0[c] * (1.f / 24.f) - g1[c] * (1.f / 12.f) + g2[c] * (1.f / 6.f);
      t5[c] = g2[c];
    }
  }
  for (int i = 0; i < 6; ++i) {
    const float *__restrict a0 = t + (i * 3 + 0) * C, *__restrict a1 = t + (i * 3 + 1) * C, *__restrict a2 = t + (i * 3 + 2) * C;
    float *__restrict u0 = U + ((i * 6 + 0) * O + o) * C, *__restrict u1 = U + ((i * 6 + 1) * O + o) * C,
          *__restrict u2 = U + ((i * 6 + 2) * O + o) * C, *__restrict u3 = U + ((i * 6 + 3) * O + o) * C,
          *__restrict u4 = U + ((i * 6 + 4) * O + o) * C, *__restrict u5 = U + ((i * 6 + 5) * O + o) * C;
    for (int64_t c = 0; c < C; ++c) {
      u0[c] = a0[c] * (1.f / 4.f);
      u1[c] = -(a0[c] + a1[c] + a2[c]) * (1.f / 6.f);
      u2[c] = -(a0[c] - a1[c] + a2[c]) * (1.f / 6.f);
      u3[c] = a0[c] * (1.f / 24.f) + a1[c] * (1.f / 12.f) + a2[c] * (1.f / 6.f);
      u4[c] = a0[c] * (1.f / 24.f) - a1[c] * (1.f / 12.f) + a2[c] * (1.f / 6.f);
      u5[c] = a2[c];
    }
  }
}

inline float activate(float v, Activation a) {
  switch (a) {
    case Activation::Relu: return v > 0.f ? v : 0.f;
    case Activation::Sigmoid: return 1.f / (1.f + std::exp(-v));
    default: return v;
  }
}

// A run of horizontally adjacent tiles of one phase: tiles tx0 .. tx0+n-1 of tile row ty.
struct Segment {
  int64_t py, px, ty, tx0, n;
  int64_t slot;  // index of the first tile within its block
};

// The tiles of all phases, row by row; `rows[i]` = (py, px, ty, tiles in the row).
struct TileRow {
  int64_t py, px, ty, ntx;
};

// Input transform of one channel over a segment, vectorised across the segment's tiles:
// rows pass (B^T) on contiguous input rows, a 4-way de-interleave, then the columns pass (B),
// written straight into V[xi][c][slot + k].
void input_segment(const float* xc, int64_t H, int64_t W, int64_t d, int64_t pad_top, int64_t pad_left,
                   const Segment& sg, float* V, int64_t C, int64_t c, int64_t tb, float* work) {
  const int64_t n = sg.n, cols = 4 * n + 2;
  float* rows = work;               // 6 x cols
  float* t = rows + 6 * cols;       // 6 x cols
  float* P = t + 6 * cols;          // 6 x 4 x (n + 1)
  const int64_t np = n + 1;
  for (int i = 0; i < 6; ++i) {
    float* r = rows + i * cols;
    int64_t iy = sg.py + d * (4 * sg.ty + i) - pad_top;
    if (iy < 0 || iy >= H) {
      std::fill(r, r + cols, 0.f);
      continue;
    }
    const float* src = xc + iy * W;
    int64_t ix0 = sg.px + d * 4 * sg.tx0 - pad_left;  // input column of col 0
    // valid cols: 0 <= ix0 + d*col < W
    int64_t lo = ix0 >= 0 ? 0 : (-ix0 + d - 1) / d;
    int64_t hi = ix0 >= W ? 0 : std::min(cols, (W - ix0 + d - 1) / d);
    if (hi < lo) hi = lo;
    for (int64_t col = 0; col < lo; ++col) r[col] = 0.f;
    if (d == 1) {
      std::copy(src + ix0 + lo, src + ix0 + hi, r + lo);
    } else {
      for (int64_t col = lo; col < hi; ++col) r[col] = src[ix0 + d * col];
    }
    for (int64_t col = hi; col < cols; ++col) r[col] = 0.f;
  }
  {
    const float *__restrict d0 = rows, *__restrict d1 = rows + cols, *__restrict d2 = rows + 2 * cols,
                *__restrict d3 = rows + 3 * cols, *__restrict d4 = rows + 4 * cols, *__restrict d5 = rows + 5 * cols;
    float *__restrict t0 = t, *__restrict t1 = t + cols, *__restrict t2 = t + 2 * cols, *__restrict t3 = t + 3 * cols,
          *__restrict t4 = t + 4 * cols, *__restrict t5 = t + 5 * cols;
    for (int64_t k = 0; k < cols; ++k) {
      t0[k] = 4.f * d0[k] - 5.f * d2[k] + d4[k];
      t1[k] = -4.f * d1[k] - 4.f * d2[k] + d3[k] + d4[k];
      t2[k] = 4.f * d1[k] - 4.f * d2[k] - d3[k] + d4[k];
      t3[k] = -2.f * d1[k] - d2[k] + 2.f * d3[k] + d4[k];
      t4[k] = 2.f * d1[k] - d2[k] - 2.f * d3[k] + d4[k];
      t5[k] = 4.f * d1[k] - 5.f * d3[k] + d5[k];
    }
  }
  for (int r = 0; r < 6; ++r) {
    const float* tr = t + r * cols;
    float* pr = P + r * 4 * np;
    for (int64_t k = 0; k < n; ++k)
      for (int j = 0; j < 4; ++j) pr[j * np + k] = tr[4 * k + j];
    pr[0 * np + n] = tr[4 * n];
    pr[1 * np + n] = tr[4 * n + 1];
    pr[2 * np + n] = 0.f;
    pr[3 * np + n] = 0.f;
  }
  for (int r = 0; r < 6; ++r) {
    const float* pr = P + r * 4 * np;
    const float *__restrict c0 = pr, *__restrict c1 = pr + np, *__restrict c2 = pr + 2 * np,
                *__restrict c3 = pr + 3 * np;
    float* out[6];
    for (int s = 0; s < 6; ++s) out[s] = V + ((r * 6 + s) * C + c) * tb + sg.slot;
    float *__restrict v0 = out[0], *__restrict v1 = out[1], *__restrict v2 = out[2], *__restrict v3 = out[3],
          *__restrict v4 = out[4], *__restrict v5 = out[5];
    for (int64_t k = 0; k < n; ++k) {
      float e0 = c0[k], e1 = c1[k], e2 = c2[k], e3 = c3[k], e4 = c0[k + 1], e5 = c1[k + 1];
      v0[k] = 4.f * e0 - 5.f * e2 + e4;
      v1[k] = -4.f * e1 - 4.f * e2 + e3 + e4;
      v2[k] = 4.f * e1 - 4.f * e2 - e3 + e4;
      v3[k] = -2.f * e1 - e2 + 2.f * e3 + e4;
      v4[k] = 2.f * e1 - e2 - 2.f * e3 + e4;
      v5[k] = 4.f * e1 - 5.f * e3 + e5;
    }
  }
}

// Output transform of one output channel over a segment: y = A^T m A + bias, activation.
void output_segment(const float* M, int64_t O, int64_t o, int64_t tb, const Segment& sg, int64_t d, float bias,
                    Activation act, float* yo, int64_t OH, int64_t OW, float* work) {
  const int64_t n = sg.n;
  float* u = work;  // 6 x 4 x n
  for (int r = 0; r < 6; ++r) {
    const float *__restrict m0 = M + ((r * 6 + 0) * O + o) * tb + sg.slot, *__restrict m1 = M + ((r * 6 + 1) * O + o) * tb + sg.slot,
                *__restrict m2 = M + ((r * 6 + 2) * O + o) * tb + sg.slot, *__restrict m3 = M + ((r * 6 + 3) * O + o) * tb + sg.slot,
                *__restrict m4 = M + ((r * 6 + 4) * O + o) * tb + sg.slot, *__restrict m5 = M + ((r * 6 + 5) * O + o) * tb + sg.slot;
    float *__restrict u0 = u + (r * 4 + 0) * n, *__restrict u1 = u + (r * 4 + 1) * n, *__restrict u2 = u + (r * 4 + 2) * n,
          *__restrict u3 = u + (r * 4 + 3) * n;
    for (int64_t k = 0; k < n; ++k) {
      u0[k] = m0[k] + m1[k] + m2[k] + m3[k] + m4[k];
      u1[k] = m1[k] - m2[k] + 2.f * (m3[k] - m4[k]);
      u2[k] = m1[k] + m2[k] + 4.f * (m3[k] + m4[k]);
      u3[k] = m1[k] - m2[k] + 8.f * (m3[k] - m4[k]) + m5[k];
    }
  }
  float* yv = u + 24 * n;  // 4 (i) x 4 (j) x n
  for (int j = 0; j < 4; ++j) {
    const float *__restrict a0 = u + (0 * 4 + j) * n, *__restrict a1 = u + (1 * 4 + j) * n, *__restrict a2 = u + (2 * 4 + j) * n,
                *__restrict a3 = u + (3 * 4 + j) * n, *__restrict a4 = u + (4 * 4 + j) * n, *__restrict a5 = u + (5 * 4 + j) * n;
    float *__restrict y0 = yv + (0 * 4 + j) * n, *__restrict y1 = yv + (1 * 4 + j) * n, *__restrict y2 = yv + (2 * 4 + j) * n,
          *__restrict y3 = yv + (3 * 4 + j) * n;
    for (int64_t k = 0; k < n; ++k) {
      y0[k] = a0[k] + a1[k] + a2[k] + a3[k] + a4[k] + bias;
      y1[k] = a1[k] - a2[k] + 2.f * (a3[k] - a4[k]) + bias;
      y2[k] = a1[k] + a2[k] + 4.f * (a3[k] + a4[k]) + bias;
      y3[k] = a1[k] - a2[k] + 8.f * (a3[k] - a4[k]) + a5[k] + bias;
    }
  }
  for (int i = 0; i < 4; ++i) {
    int64_t oy = sg.py + d * (4 * sg.ty + i);
    if (oy >= OH) break;
    float* row = yo + oy * OW;
    const int64_t ox0 = sg.px + d * 4 * sg.tx0;
    for (int64_t k = 0; k < n; ++k) {
      for (int j = 0; j < 4; ++j) {
        int64_t ox = ox0 + d * (4 * k + j);
        if (ox >= OW) break;
        row[ox] = activate(yv[(i * 4 + j) * n + k], act);
      }
    }
  }
}

}  // namespace

bool winograd_applies(int64_t C, int64_t O, int64_t KH, int64_t KW, const Conv2dParams& p, int64_t OH, int64_t OW) {
  // Below 16x16 outputs the filter transform (36*O*C per call) outweighs the saved multiplies.
  return KH == 3 && KW == 3 && p.stride_h == 1 && p.stride_w == 1 && p.groups == 1 &&
         p.dilation_h == p.dilation_w && p.dilation_h >= 1 && C >= 8 && O >= 8 && !p.exact && OH * OW >= 256;
}

void conv2d_winograd(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w,
                     int64_t O, const float* bias, const Conv2dParams& p, float* y, int64_t OH, int64_t OW) {
  const int64_t d = p.dilation_h;
  // U[xi][o][c]
  std::vector<float> U(static_cast<size_t>(36 * O * C));
  pool.parallel_for(O, 4, [&](int64_t b, int64_t e) {
    std::vector<float> work(static_cast<size_t>(27 * C));
    for (int64_t o = b; o < e; ++o) filter_transform_row(w, C, O, o, U.data(), work.data());
  });

  std::vector<TileRow> rows;
  int64_t T = 0;
  for (int64_t py = 0; py < std::min(d, OH); ++py)
    for (int64_t px = 0; px < std::min(d, OW); ++px) {
      int64_t ph = (OH - py + d - 1) / d, pw = (OW - px + d - 1) / d;
      for (int64_t ty = 0; ty < (ph + 3) / 4; ++ty) {
        rows.push_back({py, px, ty, (pw + 3) / 4});
        T += (pw + 3) / 4;
      }
    }
  // Tiles per block: keep V and M of a block within about 1-2 MiB.
  int64_t tb = (1 << 19) / (36 * (C + O) / 4);
  tb = std::clamp<int64_t>(tb, 16, 256);
  const int64_t blocks = (T + tb - 1) / tb;
  // Segments of each block: pieces of tile rows.
  std::vector<std::vector<Segment>> block_segments(blocks);
  {
    int64_t t = 0;
    for (const TileRow& r : rows) {
      for (int64_t tx = 0; tx < r.ntx;) {
        int64_t blk = t / tb, slot = t % tb;
        int64_t n = std::min(r.ntx - tx, tb - slot);
        block_segments[blk].push_back({r.py, r.px, r.ty, tx, n, slot});
        tx += n;
        t += n;
      }
    }
  }

  pool.parallel_for(N * blocks, 1, [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> V, M, work;
    V.resize(static_cast<size_t>(36 * C * tb));
    M.resize(static_cast<size_t>(36 * O * tb));
    work.resize(static_cast<size_t>(36 * (4 * tb + 8)));
    for (int64_t job = b0; job < b1; ++job) {
      const int64_t n = job / blocks, blk = job % blocks;
      const auto& segs = block_segments[blk];
      int64_t nt = 0;
      for (const auto& sg : segs) nt = std::max(nt, sg.slot + sg.n);
      float* yn = y + n * O * OH * OW;
      for (int64_t c = 0; c < C; ++c)
        for (const auto& sg : segs)
          input_segment(x.plane(n, c, H * W), H, W, d, p.pad_top, p.pad_left, sg, V.data(), C, c, tb, work.data());
      // 36 GEMMs: M[xi] (O, nt) = U[xi] (O, C) @ V[xi] (C, nt)
      for (int xi = 0; xi < 36; ++xi)
        sgemm_serial(false, false, O, nt, C, 1.f, U.data() + xi * O * C, C, V.data() + xi * C * tb, tb, 0.f,
                     M.data() + xi * O * tb, tb);
      for (int64_t o = 0; o < O; ++o)
        for (const auto& sg : segs)
          output_segment(M.data(), O, o, tb, sg, d, bias ? bias[o] : 0.f, p.activation, yn + o * OH * OW, OH, OW,
                         work.data());
    }
  });
}

}  // namespace bgn::cpu
