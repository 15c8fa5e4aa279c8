// The AVX-512 single-precision GEMM kernel (backend/cpu/gemm_kernels.h): 12x32 tiles of C held in
// 24 ZMM accumulators, one broadcast of A per row and two loads of B per step of k.
//
// Blocking: B is packed once per (column block, depth block) into strips of 32 columns that stay
// in L2; A is read in place when it is not transposed (a 12-row slice of one depth block stays in
// L1 across all the strips), transposed A is first copied to row-major. C is read and written
// once per depth block, with alpha and beta folded into that pass.
#include "backend/cpu/gemm_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define BGN_SGEMM_AVX512 1
#define BGN_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#endif

namespace bgn::cpu {

bool avx512_sgemm_supported() {
#if defined(BGN_SGEMM_AVX512)
  return cpu_features().avx512;
#else
  return false;
#endif
}

#if defined(BGN_SGEMM_AVX512)
namespace {

constexpr int64_t MR = 12;
constexpr int64_t NR = 32;
// Depth block: K is cut into equal blocks of at most this many (a 12-row slice of A is then at
// most 18 KiB of L1, a strip of B 48 KiB streamed from L2).
constexpr int64_t kMaxDepth = 384;
// Column block: a packed block of B (depth x columns) of at most 768 KiB stays in Zen 4's and
// Skylake-SP's 1 MiB L2.
constexpr int64_t kColumns = 512;
// Rows of A copied to a dense block at a time (transposed A always, plain A from kCopyRows rows).
constexpr int64_t kRowBlock = 48;
constexpr int64_t kCopyRows = 256;

// How C takes a tile's sum: the first depth block sets C (beta 0), adds to it (beta 1) or scales
// it (other beta); later depth blocks add.
enum class Store { Set, Add, Scale };

inline __mmask16 low_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols: 16x16 blocks in registers.
// The zero-masking forms of the shuffles keep every lane: GCC 12 warns about the plain forms'
// undefined pass-through operand.
BGN_AVX512_TARGET void transpose_16x16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_maskz_shuffle_ps(0xFFFF, t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_maskz_shuffle_ps(0xFFFF, t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_maskz_shuffle_ps(0xFFFF, t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_maskz_shuffle_ps(0xFFFF, t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // r[4q + p] now holds, in its 128-bit lane l, column 4l + p of rows 4q..4q+3: gather the lanes.
  for (int q = 0; q < 2; ++q)
    for (int p = 0; p < 4; ++p) {
      t[8 * q + p] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 * q + p], r[8 * q + 4 + p], 0x88);
      t[8 * q + 4 + p] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 * q + p], r[8 * q + 4 + p], 0xDD);
    }
  for (int p = 0; p < 8; ++p) {
    r[p] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[p], t[8 + p], 0x88);
    r[8 + p] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[p], t[8 + p], 0xDD);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}

BGN_AVX512_TARGET void transpose(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  const int64_t rf = rows / 16 * 16, cf = cols / 16 * 16;
  for (int64_t r0 = 0; r0 < rf; r0 += 16)
    for (int64_t c0 = 0; c0 < cf; c0 += 16) transpose_16x16(src + r0 * lds + c0, lds, dst + c0 * ldd + r0, ldd);
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;
    for (int64_t c = r < rf ? cf : 0; c < cols; ++c) dst[c * ldd + r] = s[c];
  }
}

// B rows [k0, k0 + kc), columns [j0, j0 + nc) → strips of NR columns, kc rows each, zero-padded.
BGN_AVX512_TARGET void pack_b(const float* B, int64_t ldb, bool tb, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                              float* out) {
  for (int64_t jr = 0; jr < nc; jr += NR, out += kc * NR) {
    const int64_t nr = std::min(NR, nc - jr);
    if (!tb) {
      const __mmask16 m0 = low_mask(nr), m1 = low_mask(nr - 16);
      const float* src = B + k0 * ldb + j0 + jr;
      for (int64_t k = 0; k < kc; ++k) {
        _mm512_storeu_ps(out + k * NR, _mm512_maskz_loadu_ps(m0, src + k * ldb));
        _mm512_storeu_ps(out + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + k * ldb + 16));
      }
    } else {
      // Column j of op(B) is row j of B: nr rows of kc values, transposed into the strip.
      if (nr < NR)
        for (int64_t k = 0; k < kc; ++k) std::fill(out + k * NR + nr, out + (k + 1) * NR, 0.f);
      transpose(B + (j0 + jr) * ldb + k0, ldb, nr, kc, out, NR);
    }
  }
}

// The tile's rows (ROWS ≤ MR) x 32 columns of C take the sum over kc of a[r][k] * b[k][0..32).
// A bias row (the first depth block of a product with a bias) stands where C would be read: the
// same arithmetic as C holding the bias with beta 1.
template <int ROWS>
BGN_AVX512_TARGET void tile(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t ldc, int64_t nr,
                            float alpha, float beta, Store how, const float* bias) {
  __m512 acc0[ROWS], acc1[ROWS];
  for (int r = 0; r < ROWS; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    for (int r = 0; r < ROWS; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + k]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
    b += NR;
  }
  const __mmask16 m0 = low_mask(nr), m1 = low_mask(nr - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int r = 0; r < ROWS; ++r) {
    float* cr = c + r * ldc;
    __m512 v0, v1;
    if (bias) {
      v0 = _mm512_fmadd_ps(va, acc0[r], _mm512_maskz_loadu_ps(m0, bias));
      v1 = _mm512_fmadd_ps(va, acc1[r], _mm512_maskz_loadu_ps(m1, bias + 16));
    } else if (how == Store::Set) {
      v0 = _mm512_mul_ps(va, acc0[r]);
      v1 = _mm512_mul_ps(va, acc1[r]);
    } else {
      __m512 c0 = _mm512_maskz_loadu_ps(m0, cr), c1 = _mm512_maskz_loadu_ps(m1, cr + 16);
      if (how == Store::Scale) {
        c0 = _mm512_mul_ps(vb, c0);
        c1 = _mm512_mul_ps(vb, c1);
      }
      v0 = _mm512_fmadd_ps(va, acc0[r], c0);
      v1 = _mm512_fmadd_ps(va, acc1[r], c1);
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t, float, float, Store,
                        const float*);
constexpr TileFn kTiles[MR + 1] = {nullptr, tile<1>, tile<2>, tile<3>,  tile<4>,  tile<5>, tile<6>,
                                   tile<7>, tile<8>, tile<9>, tile<10>, tile<11>, tile<12>};

// Equal depth blocks, a multiple of 8 deep, cut from K alone (see the header).
int64_t depth_of(int64_t K) {
  const int64_t blocks = (K + kMaxDepth - 1) / kMaxDepth;
  return ((K + blocks - 1) / blocks + 7) / 8 * 8;
}

}  // namespace

void avx512_transpose_f32(const float* src, int64_t lds, int64_t rows, int64_t cols, float* dst, int64_t ldd) {
  transpose(src, lds, rows, cols, dst, ldd);
}

int64_t avx512_packed_b_floats(int64_t K, int64_t N) { return std::max<int64_t>(K, 0) * ((N + NR - 1) / NR * NR); }

void avx512_pack_b(bool tb, int64_t K, int64_t N, const float* B, int64_t ldb, int64_t j0, int64_t nc, float* out) {
  if (K <= 0 || nc <= 0) return;
  const int64_t depth = depth_of(K), npad = (N + NR - 1) / NR * NR;
  for (int64_t k0 = 0; k0 < K; k0 += depth) {
    const int64_t kc = std::min(depth, K - k0);
    pack_b(B, ldb, tb, k0, kc, j0, nc, out + k0 * npad + j0 / NR * kc * NR);
  }
}

void sgemm_avx512_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const float* B, int64_t ldb, const Avx512PackedB* packed, float beta, float* C, int64_t ldc,
                     const GemmEpilogue* ep) {
  if (M <= 0 || N <= 0) return;
  const float* bias = ep ? ep->bias : nullptr;
  if (K <= 0 || alpha == 0.f) {
    if (bias)
      for (int64_t i = 0; i < M; ++i) std::memcpy(C + i * ldc, bias, size_t(N) * sizeof(float));
    else
      scale_c(M, N, beta, C, ldc);
    if (ep) finish_block(*ep, C, M, N, ldc, ep->residual);
    return;
  }
  const int64_t depth = depth_of(K);
  const int64_t ncap = std::min(kColumns, (N + NR - 1) / NR * NR);
  thread_local std::vector<float> pb, pa;
  if (!packed) pb.resize(size_t(std::min(depth, K) * ncap));
  pa.resize(size_t(kRowBlock * depth));
  for (int64_t j0 = 0; j0 < N; j0 += kColumns) {
    const int64_t nc = std::min(kColumns, N - j0);
    for (int64_t k0 = 0; k0 < K; k0 += depth) {
      const int64_t kc = std::min(depth, K - k0);
      const bool last = k0 + kc == K;
      const Store how = k0 > 0 || beta == 1.f ? Store::Add : beta == 0.f ? Store::Set : Store::Scale;
      const float* strips = pb.data();
      if (packed)
        strips = packed->data + k0 * packed->npad + (packed->col0 + j0) / NR * kc * NR;
      else
        pack_b(B, ldb, tb, k0, kc, j0, nc, pb.data());
      for (int64_t i0 = 0; i0 < M; i0 += kRowBlock) {
        const int64_t mc = std::min(kRowBlock, M - i0);
        // A tall A comes from memory: its rows [i0, i0 + mc) of this depth block are copied to a
        // dense block first (read row after row they stream at full speed, where the tile's 12
        // interleaved rows would wait on each cache line). A short one is read in place.
        const float* a = A + i0 * lda + k0;
        int64_t la = lda;
        if (ta) {
          transpose(A + k0 * lda + i0, lda, kc, mc, pa.data(), kc);
        } else if (M >= kCopyRows) {
          for (int64_t r = 0; r < mc; ++r) std::memcpy(pa.data() + r * kc, a + r * lda, size_t(kc) * sizeof(float));
        }
        if (ta || M >= kCopyRows) {
          a = pa.data();
          la = kc;
        }
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int64_t mr = std::min(MR, mc - ir);
          const TileFn fn = kTiles[mr];
          for (int64_t jr = 0; jr < nc; jr += NR) {
            float* c = C + (i0 + ir) * ldc + j0 + jr;
            const int64_t nr = std::min(NR, nc - jr);
            fn(kc, a + ir * la, la, strips + jr * kc, c, ldc, nr, alpha, beta, how,
               bias && k0 == 0 ? bias + j0 + jr : nullptr);
            // The finished tile is mapped and takes the residual while it is in L1.
            if (last && ep && (ep->map || ep->residual))
              finish_block(*ep, c, mr, nr, ldc, ep->residual ? ep->residual + (i0 + ir) * ep->ldr + j0 + jr : nullptr);
          }
        }
      }
    }
  }
}

void sgemm_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_avx512_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, nullptr, beta, C, ldc, nullptr);
}

#else

void sgemm_avx512(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                  float*, int64_t) {}
void avx512_transpose_f32(const float*, int64_t, int64_t, int64_t, float*, int64_t) {}
int64_t avx512_packed_b_floats(int64_t, int64_t) { return 0; }
void avx512_pack_b(bool, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float*) {}
void sgemm_avx512_ex(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                     const Avx512PackedB*, float, float*, int64_t, const GemmEpilogue*) {}

#endif

}  // namespace bgn::cpu
