#include "backend/cpu/qconv.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BGN_QCONV_X86 1
#endif

namespace bgn::cpu {

namespace {
constexpr int64_t MR = 8;   // output pixels per micro-tile (broadcast)
constexpr int64_t NR = 32;  // output channels per micro-tile (two 16-lane vectors)
}  // namespace

bool qconv_available() {
#if defined(BGN_QCONV_X86)
  static const bool ok =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
  return ok;
#else
  return false;
#endif
}

QConvWeights qconv_prepare(const std::vector<int64_t>& w, int64_t O, int64_t C, int64_t KH, int64_t KW,
                           const std::vector<int64_t>& zw, bool weights_signed) {
  QConvWeights q;
  q.O = O;
  q.C = C;
  q.KH = KH;
  q.KW = KW;
  q.C4 = (C + 3) / 4;
  q.OB = (O + NR - 1) / NR;
  const int64_t cw = weights_signed ? 0 : 128;
  const int64_t K = C * KH * KW;
  q.packed.assign(static_cast<size_t>(q.OB * KH * KW * q.C4 * NR), 0);
  q.corr.resize(O);
  q.wsum.resize(O);
  for (int64_t o = 0; o < O; ++o) {
    const int64_t z = zw[zw.size() == 1 ? 0 : o];
    int64_t sum = 0;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t kh = 0; kh < KH; ++kh)
        for (int64_t kw = 0; kw < KW; ++kw) {
          const int64_t v = w[o * K + (c * KH + kh) * KW + kw];
          sum += v - z;
          const size_t slot = static_cast<size_t>((((o / NR) * KH + kh) * KW + kw) * q.C4 + c / 4) * NR + o % NR;
          reinterpret_cast<int8_t*>(&q.packed[slot])[c % 4] = static_cast<int8_t>(v - cw);
        }
    q.corr[o] = static_cast<int32_t>(cw - z);
    q.wsum[o] = static_cast<int32_t>(sum);
  }
  return q;
}

#if defined(BGN_QCONV_X86)
namespace {

// acc (8 pixels x 32 channels) += sum over quads: src[r][q] (u8 x4) . w[q][32] (s8 x4)
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void micro_kernel(const uint8_t* const* src, int64_t C4,
                                                                         const int32_t* w, __m512i* acc) {
  __m512i c00 = acc[0], c01 = acc[1], c10 = acc[2], c11 = acc[3], c20 = acc[4], c21 = acc[5], c30 = acc[6],
          c31 = acc[7], c40 = acc[8], c41 = acc[9], c50 = acc[10], c51 = acc[11], c60 = acc[12], c61 = acc[13],
          c70 = acc[14], c71 = acc[15];
  const uint8_t *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3], *s4 = src[4], *s5 = src[5], *s6 = src[6],
                *s7 = src[7];
  for (int64_t q = 0; q < C4; ++q) {
    const __m512i w0 = _mm512_loadu_si512(w + q * NR), w1 = _mm512_loadu_si512(w + q * NR + 16);
    int32_t v;
    __m512i a;
#define BGN_STEP(s, x0, x1)            \
  std::memcpy(&v, s + 4 * q, 4);       \
  a = _mm512_set1_epi32(v);            \
  x0 = _mm512_dpbusd_epi32(x0, a, w0); \
  x1 = _mm512_dpbusd_epi32(x1, a, w1)
    BGN_STEP(s0, c00, c01);
    BGN_STEP(s1, c10, c11);
    BGN_STEP(s2, c20, c21);
    BGN_STEP(s3, c30, c31);
    BGN_STEP(s4, c40, c41);
    BGN_STEP(s5, c50, c51);
    BGN_STEP(s6, c60, c61);
    BGN_STEP(s7, c70, c71);
#undef BGN_STEP
  }
  acc[0] = c00;
  acc[1] = c01;
  acc[2] = c10;
  acc[3] = c11;
  acc[4] = c20;
  acc[5] = c21;
  acc[6] = c30;
  acc[7] = c31;
  acc[8] = c40;
  acc[9] = c41;
  acc[10] = c50;
  acc[11] = c51;
  acc[12] = c60;
  acc[13] = c61;
  acc[14] = c70;
  acc[15] = c71;
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void zero_acc(__m512i* acc) {
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_si512();
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void store_acc(const __m512i* acc, int32_t* out) {
  for (int i = 0; i < 16; ++i) _mm512_storeu_si512(out + 16 * i, acc[i]);
}

}  // namespace
#endif

void qconv2d_u8(ThreadPool& pool, const uint8_t* x, int64_t N, int64_t H, int64_t W, int32_t zx, const QConvWeights& q,
                const Conv2dParams& p, int32_t* y, int64_t OH, int64_t OW) {
#if defined(BGN_QCONV_X86)
  const int64_t C = q.C, C4 = q.C4, Cp = 4 * C4, OHW = OH * OW;
  std::vector<uint8_t> nhwc(static_cast<size_t>(H * W * Cp));
  std::vector<int32_t> pixsum(static_cast<size_t>(H * W));  // sum over channels per input pixel
  std::vector<uint8_t> zrow(static_cast<size_t>(Cp), static_cast<uint8_t>(zx));
  const int32_t zsum = zx * static_cast<int32_t>(C);
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* xn = x + n * C * H * W;
    // Channels-last copy (padding channels hold 0 and have zero weights).
    pool.parallel_for(H, 4, [&](int64_t b, int64_t e) {
      for (int64_t iy = b; iy < e; ++iy) {
        uint8_t* dst = nhwc.data() + iy * W * Cp;
        int32_t* ps = pixsum.data() + iy * W;
        std::memset(dst, 0, static_cast<size_t>(W * Cp));
        std::fill(ps, ps + W, 0);
        for (int64_t c = 0; c < C; ++c) {
          const uint8_t* src = xn + (c * H + iy) * W;
          for (int64_t ix = 0; ix < W; ++ix) {
            dst[ix * Cp + c] = src[ix];
            ps[ix] += src[ix];
          }
        }
      }
    });
    const int64_t tiles = (OHW + MR - 1) / MR;
    pool.parallel_for(tiles * q.OB, 4, [&](int64_t t0, int64_t t1) {
      alignas(64) int32_t out[MR * NR];
      __m512i acc[16];
      const uint8_t* src[MR];
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t ob = t % q.OB, tile = t / q.OB;
        const int64_t p0 = tile * MR, np = std::min(MR, OHW - p0);
        int32_t colsum[MR] = {0};
        zero_acc(acc);
        for (int64_t kh = 0; kh < q.KH; ++kh) {
          for (int64_t kw = 0; kw < q.KW; ++kw) {
            for (int64_t r = 0; r < MR; ++r) {
              const int64_t pix = p0 + std::min(r, np - 1);
              const int64_t oy = pix / OW, ox = pix % OW;
              const int64_t iy = oy * p.stride_h - p.pad_top + kh * p.dilation_h;
              const int64_t ix = ox * p.stride_w - p.pad_left + kw * p.dilation_w;
              const bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
              src[r] = inside ? nhwc.data() + (iy * W + ix) * Cp : zrow.data();
              colsum[r] += inside ? pixsum[iy * W + ix] : zsum;
            }
            micro_kernel(src, C4, q.packed.data() + ((ob * q.KH + kh) * q.KW + kw) * C4 * NR, acc);
          }
        }
        store_acc(acc, out);
        // acc layout: pixel r -> out[r*32 + lane], lanes = output channels ob*32 + lane.
        for (int64_t lane = 0; lane < NR; ++lane) {
          const int64_t o = ob * NR + lane;
          if (o >= q.O) break;
          int32_t* yo = y + (n * q.O + o) * OHW + p0;
          const int32_t corr = q.corr[o], base = -zx * q.wsum[o];
          for (int64_t r = 0; r < np; ++r) yo[r] = out[r * NR + lane] + corr * colsum[r] + base;
        }
      }
    });
  }
#else
  (void)pool;
  (void)x;
  (void)N;
  (void)H;
  (void)W;
  (void)zx;
  (void)q;
  (void)p;
  (void)y;
  (void)OH;
  (void)OW;
#endif
}

}  // namespace bgn::cpu
