// The AMX bf16 GEMM behind backend/cpu/gemm_amx.h: a 32 × 32 block of C is four accumulator tiles
// fed by two left tiles (two 16-row panels of A) and two right tiles (the two halves of one
// 32-column right panel), 16 pairs of k per step. Whole blocks of C are loaded into and stored from
// the accumulators in place; blocks at C's edges go through a small buffer.
#include "backend/cpu/gemm_amx.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/amx_tiles.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/gemm_bf16.h"
#include "tensor/error.h"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#define BGN_AMX_KERNELS 1
#define BGN_AVX512_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#endif

namespace bgn::cpu {

bool amx_usable() {
  static const bool ok = [] {
#if defined(BGN_AMX_KERNELS) && defined(__linux__) && defined(SYS_arch_prctl)
    if (!cpu_features().amx_bf16 || !cpu_features().avx512_bf16) return false;
    // Linux 5.16+: a process must ask for the tile data state before its first tile instruction.
    constexpr long kGetPermission = 0x1022, kRequestPermission = 0x1023, kTileData = 18;
    if (syscall(SYS_arch_prctl, kRequestPermission, kTileData) != 0) return false;
    unsigned long granted = 0;
    if (syscall(SYS_arch_prctl, kGetPermission, &granted) != 0) return false;
    return ((granted >> kTileData) & 1) != 0;
#else
    return false;
#endif
  }();
  return ok;
}

namespace {
constexpr int64_t kPanelRows = kTileRows;  // rows of a left panel (one tile)
static_assert(kPanelRows == kAmxRows, "gemm_bf16.h sizes the AMX kernel's left panels as one tile");
constexpr int64_t kBlockPairs = kTileRowBytes / 4;  // pairs of k per tile step
constexpr int64_t kRightCols = kBf16Cols;           // columns of a right panel: two right tiles
static_assert(kRightCols == 2 * (kTileRowBytes / 4), "a right panel is two right-operand tiles wide");
int64_t tile_blocks(int64_t kp) { return (kp + kBlockPairs - 1) / kBlockPairs; }
}  // namespace

int64_t amx_tile_layout_words(int64_t rows, int64_t kp) {
  return (rows + kPanelRows - 1) / kPanelRows * tile_blocks(kp) * kTileWords;
}

#if defined(BGN_AMX_KERNELS)
namespace {

inline __mmask16 low_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// An AP × 2 block of tiles (AP = 1 or 2 left panels): C (AP·16 rows, 32 columns, rows ldc_bytes
// apart) = (load_c ? C : 0) + Σ over the blocks of k. a: the first left panel, the second a_next
// words further; b: the right panel (rows of 32 words), its first `full` tile blocks read in place
// and the rest (a partial one) from tail.
template <class T, int AP>
void tile_block(const uint32_t* a, int64_t a_next, int64_t blocks, int64_t full, const uint32_t* b,
                const uint32_t* tail, float* c, int64_t ldc_bytes, bool load_c) {
  constexpr int64_t kRightRowBytes = kRightCols * 4;
  char* const cb = reinterpret_cast<char*>(c);
  if (load_c) {
    T::template load<0>(cb, ldc_bytes);
    T::template load<1>(cb + kTileRowBytes, ldc_bytes);
    if constexpr (AP == 2) {
      T::template load<2>(cb + kTileRows * ldc_bytes, ldc_bytes);
      T::template load<3>(cb + kTileRows * ldc_bytes + kTileRowBytes, ldc_bytes);
    }
  } else {
    T::template zero<0>();
    T::template zero<1>();
    if constexpr (AP == 2) {
      T::template zero<2>();
      T::template zero<3>();
    }
  }
  for (int64_t kb = 0; kb < blocks; ++kb) {
    const uint32_t* bk = kb < full ? b + kb * kBlockPairs * kRightCols : tail;
    T::template load<6>(bk, kRightRowBytes);
    T::template load<7>(bk + kRightCols / 2, kRightRowBytes);
    T::template load<4>(a + kb * kTileWords, kTileRowBytes);
    T::template dot<0>();
    T::template dot<1>();
    if constexpr (AP == 2) {
      T::template load<5>(a + a_next + kb * kTileWords, kTileRowBytes);
      T::template dot<2>();
      T::template dot<3>();
    }
  }
  T::template store<0>(cb, ldc_bytes);
  T::template store<1>(cb + kTileRowBytes, ldc_bytes);
  if constexpr (AP == 2) {
    T::template store<2>(cb + kTileRows * ldc_bytes, ldc_bytes);
    T::template store<3>(cb + kTileRows * ldc_bytes + kTileRowBytes, ldc_bytes);
  }
}

// rows × cols of a block computed into buf (32 columns a row) → C, added to it when accumulate.
BGN_AVX512_BF16_TARGET void copy_out(const float* buf, int64_t rows, int64_t cols, float* c, int64_t ldc,
                                     bool accumulate) {
  const __mmask16 m0 = low_mask(cols), m1 = low_mask(cols - 16);
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = buf + r * kRightCols;
    float* d = c + r * ldc;
    __m512 v0 = _mm512_load_ps(s), v1 = _mm512_load_ps(s + 16);
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, d));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, d + 16));
    }
    _mm512_mask_storeu_ps(d, m0, v0);
    _mm512_mask_storeu_ps(d + 16, m1, v1);
  }
}

template <class T>
void run_tiles(const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c, int64_t ldc,
               bool accumulate) {
  const int64_t blocks = tile_blocks(kp), full = kp / kBlockPairs, rest = kp - full * kBlockPairs;
  const int64_t panel_words = blocks * kTileWords;
  const int64_t a_panels = (M + kPanelRows - 1) / kPanelRows, b_panels = (N + kRightCols - 1) / kRightCols;
  alignas(64) uint32_t tail[kBlockPairs * kRightCols];
  alignas(64) float buf[2 * kPanelRows * kRightCols];
  T::configure();
  for (int64_t j = 0; j < b_panels; ++j) {
    const uint32_t* bj = b + j * kp * kRightCols;
    if (rest > 0) {  // the last, partial block of k: its pairs, then zeros (A's padding is zero too)
      std::memcpy(tail, bj + full * kBlockPairs * kRightCols, size_t(rest * kRightCols) * 4);
      std::memset(tail + rest * kRightCols, 0, size_t((kBlockPairs - rest) * kRightCols) * 4);
    }
    const int64_t cols = std::min(kRightCols, N - j * kRightCols);
    for (int64_t i = 0; i < a_panels; i += 2) {
      const int64_t rows = std::min(2 * kPanelRows, M - i * kPanelRows);
      const uint32_t* ai = a + i * panel_words;
      float* ci = c + i * kPanelRows * ldc + j * kRightCols;
      const bool two = rows > kPanelRows;
      if (cols == kRightCols && (rows == 2 * kPanelRows || rows == kPanelRows)) {
        const int64_t ldc_bytes = ldc * int64_t(sizeof(float));
        if (two)
          tile_block<T, 2>(ai, panel_words, blocks, full, bj, tail, ci, ldc_bytes, accumulate);
        else
          tile_block<T, 1>(ai, panel_words, blocks, full, bj, tail, ci, ldc_bytes, accumulate);
      } else {
        constexpr int64_t buf_bytes = kRightCols * int64_t(sizeof(float));
        if (two)
          tile_block<T, 2>(ai, panel_words, blocks, full, bj, tail, buf, buf_bytes, false);
        else
          tile_block<T, 1>(ai, panel_words, blocks, full, bj, tail, buf, buf_bytes, false);
        copy_out(buf, rows, cols, ci, ldc, accumulate);
      }
    }
  }
  T::release();
}

}  // namespace

BGN_AVX512_BF16_TARGET void amx_pack_rows(const float* src, int64_t ld, int64_t rows, int64_t K, uint32_t* out) {
  const int64_t kp = (K + 1) / 2, blocks = tile_blocks(kp), panels = (rows + kPanelRows - 1) / kPanelRows;
  for (int64_t p = 0; p < panels; ++p) {
    uint32_t* pan = out + p * blocks * kTileWords;
    for (int64_t r = 0; r < kPanelRows; ++r) {
      const int64_t row = p * kPanelRows + r;
      if (row >= rows) {
        for (int64_t kb = 0; kb < blocks; ++kb) std::memset(pan + kb * kTileWords + r * 16, 0, kTileRowBytes);
        continue;
      }
      const float* s = src + row * ld;
      for (int64_t kb = 0; kb < blocks; ++kb) {
        const int64_t k = kb * 2 * kBlockPairs, n = K - k;
        const __m512 lo = _mm512_maskz_loadu_ps(low_mask(n), s + k);
        const __m512 hi = _mm512_maskz_loadu_ps(low_mask(n - 16), s + k + 16);
        _mm512_storeu_si512(pan + kb * kTileWords + r * 16, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
      }
    }
  }
}

void amx_run(bool emulated, const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c,
             int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (emulated) return run_tiles<EmulatedTiles>(a, M, b, N, kp, c, ldc, accumulate);
  BGN_CHECK(amx_usable(), Code::Internal, "AMX GEMM on a CPU or OS without the tile state");
  run_tiles<HardwareTiles>(a, M, b, N, kp, c, ldc, accumulate);
}

#else  // no x86-64: never offered (amx_usable() is false)

void amx_pack_rows(const float*, int64_t, int64_t, int64_t, uint32_t*) {
  fail(Code::Internal, "AMX packing on a CPU without AMX");
}
void amx_run(bool, const uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, float*, int64_t, bool) {
  fail(Code::Internal, "AMX GEMM on a CPU without AMX");
}

#endif

}  // namespace bgn::cpu
