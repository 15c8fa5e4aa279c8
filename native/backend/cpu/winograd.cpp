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
#include "tensor/allocator.h"

namespace bgn::cpu {

namespace {

// Distance between the 36 planes of U, V and M. Each transform writes or reads all 36 planes at
// once; with power-of-two plane sizes those streams would share cache sets (and 4 KiB aliasing),
// so every plane is padded by one cache line.
inline int64_t plane_stride(int64_t plane) { return plane + 16; }

// The four linear maps of F(4x4,3x3), each applied elementwise along arrays (one lane per tile or
// per channel). They take __restrict parameters rather than locals: GCC 12 only vectorises these
// many-stream loops when the no-alias promise comes from the parameters.

// B^T: six input samples -> six transformed (rows pass and columns pass of the input).
void apply_bt(const float* __restrict d0, const float* __restrict d1, const float* __restrict d2,
              const float* __restrict d3, const float* __restrict d4, const float* __restrict d5, float* __restrict t0,
              float* __restrict t1, float* __restrict t2, float* __restrict t3, float* __restrict t4,
              float* __restrict t5, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    t0[k] = 4.f * d0[k] - 5.f * d2[k] + d4[k];
    t1[k] = -4.f * d1[k] - 4.f * d2[k] + d3[k] + d4[k];
    t2[k] = 4.f * d1[k] - 4.f * d2[k] - d3[k] + d4[k];
    t3[k] = -2.f * d1[k] - d2[k] + 2.f * d3[k] + d4[k];
    t4[k] = 2.f * d1[k] - d2[k] - 2.f * d3[k] + d4[k];
    t5[k] = 4.f * d1[k] - 5.f * d3[k] + d5[k];
  }
}

// G: three filter taps -> six.
void apply_g(const float* __restrict g0, const float* __restrict g1, const float* __restrict g2, float* __restrict t0,
             float* __restrict t1, float* __restrict t2, float* __restrict t3, float* __restrict t4,
             float* __restrict t5, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    t0[k] = g0[k] * (1.f / 4.f);
    t1[k] = -(g0[k] + g1[k] + g2[k]) * (1.f / 6.f);
    t2[k] = -(g0[k] - g1[k] + g2[k]) * (1.f / 6.f);
    t3[k] = g0[k] * (1.f / 24.f) + g1[k] * (1.f / 12.f) + g2[k] * (1.f / 6.f);
    t4[k] = g0[k] * (1.f / 24.f) - g1[k] * (1.f / 12.f) + g2[k] * (1.f / 6.f);
    t5[k] = g2[k];
  }
}

// A^T: six products -> four outputs, plus a bias.
void apply_at(const float* __restrict m0, const float* __restrict m1, const float* __restrict m2,
              const float* __restrict m3, const float* __restrict m4, const float* __restrict m5, float* __restrict y0,
              float* __restrict y1, float* __restrict y2, float* __restrict y3, float bias, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    y0[k] = m0[k] + m1[k] + m2[k] + m3[k] + m4[k] + bias;
    y1[k] = m1[k] - m2[k] + 2.f * (m3[k] - m4[k]) + bias;
    y2[k] = m1[k] + m2[k] + 4.f * (m3[k] + m4[k]) + bias;
    y3[k] = m1[k] - m2[k] + 8.f * (m3[k] - m4[k]) + m5[k] + bias;
  }
}

// Filter transform of output channel o for all input channels, vectorised across channels:
// U[xi][o][c] = (G g_{o,c} G^T)[xi]. `work` holds 9 + 18 rows of C floats.
void filter_transform_row(const float* w, int64_t C, int64_t O, int64_t o, float* U, float* work) {
  float* g = work;          // g[k][c], k = 3*row + col
  float* t = work + 9 * C;  // t[i][j][c] = (G g)[i][j], i < 6, j < 3
  const float* wo = w + o * C * 9;
  for (int64_t c = 0; c < C; ++c)
    for (int k = 0; k < 9; ++k) g[k * C + c] = wo[c * 9 + k];
  for (int j = 0; j < 3; ++j)
    apply_g(g + (0 * 3 + j) * C, g + (1 * 3 + j) * C, g + (2 * 3 + j) * C, t + (0 * 3 + j) * C, t + (1 * 3 + j) * C,
            t + (2 * 3 + j) * C, t + (3 * 3 + j) * C, t + (4 * 3 + j) * C, t + (5 * 3 + j) * C, C);
  for (int i = 0; i < 6; ++i) {
    float* u[6];
    for (int j = 0; j < 6; ++j) u[j] = U + (i * 6 + j) * plane_stride(O * C) + o * C;
    apply_g(t + (i * 3 + 0) * C, t + (i * 3 + 1) * C, t + (i * 3 + 2) * C, u[0], u[1], u[2], u[3], u[4], u[5], C);
  }
}

inline float activate(float v, Activation a) {
  switch (a) {
    case Activation::Relu:
      return v > 0.f ? v : 0.f;
    case Activation::Sigmoid:
      return 1.f / (1.f + std::exp(-v));
    default:
      return v;
  }
}

typedef float v16f __attribute__((vector_size(64), aligned(4)));
typedef int32_t v16i __attribute__((vector_size(64)));

// p_j[k] = src[4k + j] for k < n, j < 4: the four phases of a row of 4-wide tiles.
void deinterleave4(const float* src, int64_t n, float* p0, float* p1, float* p2, float* p3) {
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    v16f a, b, c, d;
    __builtin_memcpy(&a, src + 4 * k, 64);
    __builtin_memcpy(&b, src + 4 * k + 16, 64);
    __builtin_memcpy(&c, src + 4 * k + 32, 64);
    __builtin_memcpy(&d, src + 4 * k + 48, 64);
    float* out[4] = {p0, p1, p2, p3};
    for (int j = 0; j < 4; ++j) {
      const v16i lo = {j, j + 4, j + 8, j + 12, 16 + j, 20 + j, 24 + j, 28 + j, 0, 0, 0, 0, 0, 0, 0, 0};
      v16f ab = __builtin_shuffle(a, b, lo), cd = __builtin_shuffle(c, d, lo);
      const v16i join = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
      v16f r = __builtin_shuffle(ab, cd, join);
      __builtin_memcpy(out[j] + k, &r, 64);
    }
  }
  for (; k < n; ++k) {
    p0[k] = src[4 * k];
    p1[k] = src[4 * k + 1];
    p2[k] = src[4 * k + 2];
    p3[k] = src[4 * k + 3];
  }
}

// dst[4k + j] = p_j[k] for k < n, j < 4.
void interleave4(const float* p0, const float* p1, const float* p2, const float* p3, int64_t n, float* dst) {
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    v16f a, b, c, d;
    __builtin_memcpy(&a, p0 + k, 64);
    __builtin_memcpy(&b, p1 + k, 64);
    __builtin_memcpy(&c, p2 + k, 64);
    __builtin_memcpy(&d, p3 + k, 64);
    // ab = a0 b0 a1 b1 ... (first 8 of each), cd likewise; then 4-way from the pairs.
    const v16i zip_lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    const v16i zip_hi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    v16f ab_lo = __builtin_shuffle(a, b, zip_lo), ab_hi = __builtin_shuffle(a, b, zip_hi);
    v16f cd_lo = __builtin_shuffle(c, d, zip_lo), cd_hi = __builtin_shuffle(c, d, zip_hi);
    const v16i pair_lo = {0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23};
    const v16i pair_hi = {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31};
    v16f r0 = __builtin_shuffle(ab_lo, cd_lo, pair_lo), r1 = __builtin_shuffle(ab_lo, cd_lo, pair_hi);
    v16f r2 = __builtin_shuffle(ab_hi, cd_hi, pair_lo), r3 = __builtin_shuffle(ab_hi, cd_hi, pair_hi);
    __builtin_memcpy(dst + 4 * k, &r0, 64);
    __builtin_memcpy(dst + 4 * k + 16, &r1, 64);
    __builtin_memcpy(dst + 4 * k + 32, &r2, 64);
    __builtin_memcpy(dst + 4 * k + 48, &r3, 64);
  }
  for (; k < n; ++k) {
    dst[4 * k] = p0[k];
    dst[4 * k + 1] = p1[k];
    dst[4 * k + 2] = p2[k];
    dst[4 * k + 3] = p3[k];
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
  float* rows = work;          // 6 x cols
  float* t = rows + 6 * cols;  // 6 x cols
  float* P = t + 6 * cols;     // 6 x 4 x (n + 1)
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
  apply_bt(rows, rows + cols, rows + 2 * cols, rows + 3 * cols, rows + 4 * cols, rows + 5 * cols, t, t + cols,
           t + 2 * cols, t + 3 * cols, t + 4 * cols, t + 5 * cols, cols);
  for (int r = 0; r < 6; ++r) {
    const float* tr = t + r * cols;
    float* pr = P + r * 4 * np;
    deinterleave4(tr, n, pr, pr + np, pr + 2 * np, pr + 3 * np);
    pr[0 * np + n] = tr[4 * n];
    pr[1 * np + n] = tr[4 * n + 1];
    pr[2 * np + n] = 0.f;
    pr[3 * np + n] = 0.f;
  }
  for (int r = 0; r < 6; ++r) {
    const float* pr = P + r * 4 * np;
    float* out[6];
    for (int j = 0; j < 6; ++j) out[j] = V + (r * 6 + j) * plane_stride(C * tb) + c * tb + sg.slot;
    // columns 4k .. 4k+5 of tile k are phases 0..3 at k and phases 0, 1 at k + 1
    apply_bt(pr, pr + np, pr + 2 * np, pr + 3 * np, pr + 1, pr + np + 1, out[0], out[1], out[2], out[3], out[4], out[5],
             n);
  }
}

// Output transform of one output channel over a segment: y = A^T m A + bias, activation.
void output_segment(const float* M, int64_t O, int64_t o, int64_t tb, const Segment& sg, int64_t d, float bias,
                    Activation act, float* yo, int64_t OH, int64_t OW, float* work) {
  const int64_t n = sg.n;
  float* u = work;  // 6 x 4 x n
  for (int r = 0; r < 6; ++r) {
    const float* m[6];
    for (int j = 0; j < 6; ++j) m[j] = M + (r * 6 + j) * plane_stride(O * tb) + o * tb + sg.slot;
    apply_at(m[0], m[1], m[2], m[3], m[4], m[5], u + (r * 4 + 0) * n, u + (r * 4 + 1) * n, u + (r * 4 + 2) * n,
             u + (r * 4 + 3) * n, 0.f, n);
  }
  float* yv = u + 24 * n;  // 4 (i) x 4 (j) x n
  for (int j = 0; j < 4; ++j)
    apply_at(u + (0 * 4 + j) * n, u + (1 * 4 + j) * n, u + (2 * 4 + j) * n, u + (3 * 4 + j) * n, u + (4 * 4 + j) * n,
             u + (5 * 4 + j) * n, yv + (0 * 4 + j) * n, yv + (1 * 4 + j) * n, yv + (2 * 4 + j) * n,
             yv + (3 * 4 + j) * n, bias, n);
  if (act == Activation::Relu) {
    for (int64_t k = 0; k < 16 * n; ++k) yv[k] = yv[k] > 0.f ? yv[k] : 0.f;
  } else if (act == Activation::Sigmoid) {
    for (int64_t k = 0; k < 16 * n; ++k) yv[k] = activate(yv[k], act);
  }
  const int64_t ox0 = sg.px + d * 4 * sg.tx0;
  const bool inside_cols = d == 1 && ox0 + 4 * n <= OW;
  for (int i = 0; i < 4; ++i) {
    int64_t oy = sg.py + d * (4 * sg.ty + i);
    if (oy >= OH) break;
    float* row = yo + oy * OW;
    const float* yi = yv + (i * 4) * n;
    if (inside_cols) {
      interleave4(yi, yi + n, yi + 2 * n, yi + 3 * n, n, row + ox0);
      continue;
    }
    for (int64_t k = 0; k < n; ++k) {
      for (int j = 0; j < 4; ++j) {
        int64_t ox = ox0 + d * (4 * k + j);
        if (ox >= OW) break;
        row[ox] = yi[j * n + k];
      }
    }
  }
}

}  // namespace

bool winograd_applies(int64_t C, int64_t O, int64_t KH, int64_t KW, const Conv2dParams& p, int64_t OH, int64_t OW) {
  // Below 64x64 outputs the filter transform (36*O*C values written per call) outweighs the saved
  // multiplies: deep low-resolution layers (C, O = 512) go to im2col + GEMM.
  return KH == 3 && KW == 3 && p.stride_h == 1 && p.stride_w == 1 && p.groups == 1 && p.dilation_h == p.dilation_w &&
         p.dilation_h >= 1 && C >= 8 && O >= 8 && !p.exact && OH * OW >= 4096;
}

void conv2d_winograd(ThreadPool& pool, const ConvInput& x, int64_t N, int64_t C, int64_t H, int64_t W, const float* w,
                     int64_t O, const float* bias, const Conv2dParams& p, float* y, int64_t OH, int64_t OW) {
  const int64_t d = p.dilation_h;
  // U[xi][o][c]: tens of MiB for deep layers, taken from the tensor allocator's cache rather than
  // fresh (zeroed, faulted-in) pages on every call. The transform writes every value read.
  const CachedBlock u_block(size_t(36 * plane_stride(O * C)) * sizeof(float), "a Winograd filter transform");
  float* const U = u_block.as<float>();
  pool.parallel_for(O, 4, [&](int64_t b, int64_t e) {
    std::vector<float> work(static_cast<size_t>(27 * C));
    for (int64_t o = b; o < e; ++o) filter_transform_row(w, C, O, o, U, work.data());
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
  // Tiles per block: V and M of a block stay in L2 (measured best at 64 tiles for C, O = 64).
  int64_t tb = (1 << 19) / (36 * (C + O) / 4);
  tb = std::clamp<int64_t>(tb, 16, 64);
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
    // From the tensor allocator's cache, not thread-local: the caller's thread changes from call to
    // call (a libuv worker each time), and each would keep its own copies for good.
    const CachedBlock vb(size_t(36 * plane_stride(C * tb)) * sizeof(float), "Winograd's input transforms");
    const CachedBlock mb(size_t(36 * plane_stride(O * tb)) * sizeof(float), "Winograd's products");
    const CachedBlock wb(size_t(36 * (4 * tb + 8)) * sizeof(float), "Winograd's work space");
    float *const V = vb.as<float>(), *const M = mb.as<float>(), *const work = wb.as<float>();
    for (int64_t job = b0; job < b1; ++job) {
      const int64_t n = job / blocks, blk = job % blocks;
      const auto& segs = block_segments[blk];
      int64_t nt = 0;
      for (const auto& sg : segs) nt = std::max(nt, sg.slot + sg.n);
      float* yn = y + n * O * OH * OW;
      for (int64_t c = 0; c < C; ++c)
        for (const auto& sg : segs)
          input_segment(x.plane(n, c, H * W), H, W, d, p.pad_top, p.pad_left, sg, V, C, c, tb, work);
      // 36 GEMMs: M[xi] (O, nt) = U[xi] (O, C) @ V[xi] (C, nt)
      for (int xi = 0; xi < 36; ++xi)
        sgemm_serial(false, false, O, nt, C, 1.f, U + xi * plane_stride(O * C), C, V + xi * plane_stride(C * tb), tb,
                     0.f, M + xi * plane_stride(O * tb), tb);
      for (int64_t o = 0; o < O; ++o)
        for (const auto& sg : segs)
          output_segment(M, O, o, tb, sg, d, bias ? bias[o] : 0.f, p.activation, yn + o * OH * OW, OH, OW, work);
    }
  });
}

}  // namespace bgn::cpu
