// The AVX512-BF16 kernels behind backend/cpu/gemm_bf16.h.
#include "backend/cpu/gemm_bf16.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/gemm_amx.h"
#include "tensor/allocator.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define BGN_BF16_KERNELS 1
#define BGN_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#endif

namespace bgn::cpu {

bool bf16_gemm_supported() {
#if defined(BGN_BF16_KERNELS)
  return cpu_features().avx512_bf16 && !knobs::no_bf16();
#else
  return false;
#endif
}

Bf16Kernel bf16_kernel() {
  const std::string want = knobs::bf16_kernel();
  if (want.empty()) return amx_usable() ? Bf16Kernel::Amx : Bf16Kernel::Avx512;
  if (want == "avx512") return Bf16Kernel::Avx512;
  if (want == "amx-emulated") return Bf16Kernel::AmxEmulated;
  if (want == "amx") {
    BGN_CHECK(amx_usable(), Code::DeviceUnavailable, "BGN_BF16_KERNEL=amx, but this CPU has no AMX-BF16 tiles (",
              bf16_compute_name(), ") or the OS did not grant them; unset it to use ", bf16_compute_name());
    return Bf16Kernel::Amx;
  }
  fail(Code::Config, "BGN_BF16_KERNEL=", want, " is not one of avx512, amx, amx-emulated");
}

const char* bf16_kernel_name(Bf16Kernel k) {
  switch (k) {
    case Bf16Kernel::Avx512:
      return "avx512-bf16";
    case Bf16Kernel::Amx:
      return "amx-bf16";
    case Bf16Kernel::AmxEmulated:
      return "amx-bf16 (emulated)";
  }
  return "?";
}

uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);  // NaN: keep it quiet
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float bf16_value(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

#if defined(BGN_BF16_KERNELS)
namespace {

constexpr int64_t MR = kBf16Rows, NR = kBf16Cols;
constexpr int64_t kDepthBlock = 128;  // pairs of k per pass: a right panel's block is 16 KiB (L1)

inline __mmask16 low_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// Rows [0, rows) of src (row-major, leading dimension ld, K columns) → panels of P rows (see the header).
BGN_BF16_TARGET void pack_row_pairs(const float* src, int64_t ld, int64_t rows, int64_t K, int64_t P, uint32_t* out) {
  const int64_t kp = (K + 1) / 2;
  alignas(64) uint32_t tmp[16];
  for (int64_t i0 = 0; i0 < rows; i0 += P) {
    uint32_t* pan = out + (i0 / P) * kp * P;
    for (int64_t r = 0; r < P; ++r) {
      if (i0 + r >= rows) {
        for (int64_t p = 0; p < kp; ++p) pan[p * P + r] = 0;
        continue;
      }
      const float* s = src + (i0 + r) * ld;
      for (int64_t k = 0; k < K; k += 32) {
        const int64_t n = std::min<int64_t>(32, K - k);
        const __m512 lo = _mm512_maskz_loadu_ps(low_mask(n), s + k);
        const __m512 hi = _mm512_maskz_loadu_ps(low_mask(n - 16), s + k + 16);
        _mm512_store_si512(tmp, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        const int64_t words = (n + 1) / 2;
        uint32_t* o = pan + (k / 2) * P + r;
        for (int64_t j = 0; j < words; ++j) o[j * P] = tmp[j];
      }
    }
  }
}

// Columns [0, N) of src (K rows, row-major, leading dimension ld) → panels of NR columns: for each
// pair of rows, NR words (src[2p][j], src[2p+1][j]).
BGN_BF16_TARGET void pack_column_pairs(const float* src, int64_t ld, int64_t K, int64_t N, uint32_t* out) {
  const int64_t kp = (K + 1) / 2;
  alignas(64) static const uint16_t kZip[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i zip = _mm512_load_si512(kZip);
  for (int64_t j0 = 0; j0 < N; j0 += NR) {
    const int64_t nr = std::min(NR, N - j0);
    const __mmask16 m0 = low_mask(nr), m1 = low_mask(nr - 16);
    uint32_t* pan = out + (j0 / NR) * kp * NR;
    for (int64_t p = 0; p < kp; ++p) {
      const float* r0 = src + 2 * p * ld + j0;
      const __m512 a0 = _mm512_maskz_loadu_ps(m0, r0), a1 = _mm512_maskz_loadu_ps(m1, r0 + 16);
      __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
      if (2 * p + 1 < K) {
        b0 = _mm512_maskz_loadu_ps(m0, r0 + ld);
        b1 = _mm512_maskz_loadu_ps(m1, r0 + ld + 16);
      }
      // words [row 2p cols 0..15 | row 2p+1 cols 0..15] → interleaved per column
      const __m512i lo = (__m512i)_mm512_cvtne2ps_pbh(b0, a0), hi = (__m512i)_mm512_cvtne2ps_pbh(b1, a1);
      _mm512_storeu_si512(pan + p * NR, _mm512_permutexvar_epi16(zip, lo));
      _mm512_storeu_si512(pan + p * NR + 16, _mm512_permutexvar_epi16(zip, hi));
    }
  }
}

// C tile (mr ≤ MR rows, nr ≤ NR columns) = (add ? C : 0) + Σ_p a[p] · b[p] over np pairs.
BGN_BF16_TARGET void tile(int64_t np, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, int64_t mr,
                          int64_t nr, bool add) {
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < np; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[r]));
      acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
      acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
    }
    a += MR;
    b += NR;
  }
  const __mmask16 m0 = low_mask(nr), m1 = low_mask(nr - 16);
  for (int64_t r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    __m512 v0 = acc0[r], v1 = acc1[r];
    if (add) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
  }
}

// C (M, N) (+)= A @ B^T over packed panels: A's panel i at a + i·kp·MR (M rows in all), B's panel
// j at b + j·kp·NR (N columns in all); C row-major with leading dimension ldc.
void run_panels(const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c, int64_t ldc,
                bool accumulate) {
  const int64_t ap = (M + MR - 1) / MR, bp = (N + NR - 1) / NR;
  for (int64_t p0 = 0; p0 < kp; p0 += kDepthBlock) {
    const int64_t np = std::min(kDepthBlock, kp - p0);
    for (int64_t j = 0; j < bp; ++j) {
      const uint32_t* bj = b + j * kp * NR + p0 * NR;
      for (int64_t i = 0; i < ap; ++i)
        tile(np, a + i * kp * MR + p0 * MR, bj, c + i * MR * ldc + j * NR, ldc, std::min(MR, M - i * MR),
             std::min(NR, N - j * NR), accumulate || p0 > 0);
    }
  }
  if (kp == 0 && !accumulate)
    for (int64_t i = 0; i < M; ++i) std::fill(c + i * ldc, c + i * ldc + N, 0.f);
}

// A left operand's packing and the product, for either kernel: the AVX512-BF16 one takes left
// panels of MR rows (pair-major), the AMX one panels of 16 rows in tile layout; both take the
// same right panels.
struct LeftOperand {
  Bf16Kernel kernel;
  int64_t panel_rows() const { return kernel == Bf16Kernel::Avx512 ? MR : kAmxRows; }
  int64_t words(int64_t rows, int64_t kp) const {
    return kernel == Bf16Kernel::Avx512 ? (rows + MR - 1) / MR * MR * kp : amx_tile_layout_words(rows, kp);
  }
  void pack(const float* src, int64_t ld, int64_t rows, int64_t K, uint32_t* out) const {
    if (kernel == Bf16Kernel::Avx512)
      pack_row_pairs(src, ld, rows, K, MR, out);
    else
      amx_pack_rows(src, ld, rows, K, out);
  }
  void run(const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c, int64_t ldc,
           bool accumulate) const {
    if (kernel == Bf16Kernel::Avx512)
      run_panels(a, M, b, N, kp, c, ldc, accumulate);
    else
      amx_run(kernel == Bf16Kernel::AmxEmulated, a, M, b, N, kp, c, ldc, accumulate);
  }
};

}  // namespace

Bf16Weights::Bf16Weights(ThreadPool& pool, Side side, const float* w, int64_t R, int64_t K)
    : side_(side), kernel_(bf16_kernel()), R_(R), K_(K) {
  BGN_CHECK(bf16_gemm_supported(), Code::Internal, "bf16 weights packed on a CPU without AVX512-BF16");
  BGN_CHECK(R > 0 && K > 0, Code::Internal, "bf16 weights of shape (", R, ", ", K, ")");
  // Panels of panel_rows() rows, packed on the pool: a left weight in its kernel's left layout, a
  // right one in right panels (the same words for both kernels).
  const LeftOperand left{kernel_};
  const int64_t P = panel_rows(), kp = pairs();
  const int64_t panel_words = side == Side::Left ? left.words(P, kp) : P * kp;
  words_.assign(size_t(panels() * panel_words), 0u);
  pool.parallel_for(panels(), 1, [&](int64_t i0, int64_t i1) {
    const int64_t r0 = i0 * P, r1 = std::min(R, i1 * P);
    uint32_t* out = words_.data() + i0 * panel_words;
    if (side == Side::Left)
      left.pack(w + r0 * K, K, r1 - r0, K, out);
    else
      pack_row_pairs(w + r0 * K, K, r1 - r0, K, P, out);
  });
}

void gemm_bf16_left(const Bf16Weights& w, const float* x, int64_t ldx, int64_t N, float* c, int64_t ldc) {
  BGN_CHECK(w.side() == Bf16Weights::Side::Left, Code::Internal, "gemm_bf16_left on a right-side weight");
  if (N <= 0) return;
  const int64_t kp = w.pairs();
  const CachedBlock xb(size_t(kp * ((N + NR - 1) / NR) * NR) * sizeof(uint32_t), "bf16 packed activations");
  pack_column_pairs(x, ldx, w.depth(), N, xb.as<uint32_t>());
  LeftOperand{w.kernel()}.run(w.words(), w.rows(), xb.as<uint32_t>(), N, kp, c, ldc, false);
}

namespace {

// C's rows in chunks of up to 16 left panels (and, where those are too few to busy every thread,
// its column panels in chunks too) as tasks on the pool; each task packs its rows of x once for the
// weight's kernel and hands them to body(left, xa, i0, rows, j0, j1): rows [i0, i0 + rows) of C
// against right panels [j0, j1).
template <class Body>
void over_row_tasks(ThreadPool& pool, const float* x, int64_t ldx, int64_t M, const Bf16Weights& w, const Body& body) {
  const int64_t kp = w.pairs(), K = w.depth();
  const LeftOperand left{w.kernel()};
  const int64_t P = left.panel_rows();
  const int64_t a_panels = (M + P - 1) / P, b_panels = w.panels();
  const int64_t chunk = std::min<int64_t>(16, a_panels), row_tasks = (a_panels + chunk - 1) / chunk;
  const int64_t want = 2 * int64_t(pool.size());
  const int64_t col_tasks = row_tasks >= want ? 1 : std::min(b_panels, (want + row_tasks - 1) / row_tasks);
  const int64_t col_chunk = (b_panels + col_tasks - 1) / col_tasks;
  pool.parallel_for(row_tasks * col_tasks, 1, [&](int64_t t0, int64_t t1) {
    // Packed rows from the tensor allocator's cache (the calling thread changes between calls).
    const CachedBlock xb(size_t(left.words(chunk * P, kp)) * sizeof(uint32_t), "bf16 packed activations");
    uint32_t* const xa = xb.as<uint32_t>();
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t rt = t / col_tasks, ct = t % col_tasks;
      const int64_t i0 = rt * chunk * P, rows = std::min(chunk * P, M - i0);
      const int64_t j0 = ct * col_chunk, j1 = std::min(b_panels, j0 + col_chunk);
      if (rows <= 0 || j1 <= j0) continue;
      left.pack(x + i0 * ldx, ldx, rows, K, xa);
      body(left, xa, i0, rows, j0, j1);
    }
  });
}

}  // namespace

void gemm_bf16_right(ThreadPool& pool, const float* x, int64_t ldx, int64_t M, const Bf16Weights& w, float* c,
                     int64_t ldc, bool accumulate) {
  BGN_CHECK(w.side() == Bf16Weights::Side::Right, Code::Internal, "gemm_bf16_right on a left-side weight");
  if (M <= 0) return;
  const int64_t kp = w.pairs(), R = w.rows();
  over_row_tasks(pool, x, ldx, M, w,
                 [&](const LeftOperand& left, const uint32_t* xa, int64_t i0, int64_t rows, int64_t j0, int64_t j1) {
                   const int64_t cols = std::min(R, j1 * NR) - j0 * NR;
                   left.run(xa, rows, w.panel(j0), cols, kp, c + i0 * ldc + j0 * NR, ldc, accumulate);
                 });
}

void gemm_bf16_right_ex(ThreadPool& pool, const float* x, int64_t ldx, int64_t M, const Bf16Weights& w, float* c,
                        int64_t ldc, const GemmEpilogue& ep) {
  BGN_CHECK(w.side() == Bf16Weights::Side::Right, Code::Internal, "gemm_bf16_right_ex on a left-side weight");
  if (M <= 0) return;
  const int64_t kp = w.pairs(), R = w.rows();
  // Tasks as gemm_bf16_right's; inside one, blocks of kBlockPanels right panels (a 192 × 256 block
  // of C at most) so that the epilogue finds each block in cache.
  constexpr int64_t kBlockPanels = 8;
  over_row_tasks(pool, x, ldx, M, w,
                 [&](const LeftOperand& left, const uint32_t* xa, int64_t i0, int64_t rows, int64_t j0, int64_t j1) {
                   for (int64_t jb = j0; jb < j1; jb += kBlockPanels) {
                     const int64_t je = std::min(j1, jb + kBlockPanels), col0 = jb * NR,
                                   cols = std::min(R, je * NR) - col0;
                     float* cb = c + i0 * ldc + col0;
                     if (ep.bias)
                       for (int64_t r = 0; r < rows; ++r)
                         std::memcpy(cb + r * ldc, ep.bias + col0, size_t(cols) * sizeof(float));
                     left.run(xa, rows, w.panel(jb), cols, kp, cb, ldc, ep.bias != nullptr);
                     finish_block(ep, cb, rows, cols, ldc, ep.residual ? ep.residual + i0 * ep.ldr + col0 : nullptr);
                   }
                 });
}

namespace {
int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Both operands' packings for one gemm_bf16_nt / _nn product, from the tensor allocator (the
// calling thread changes between calls, and thread-locals would stay with each).
struct PerCallPacking {
  PerCallPacking(const LeftOperand& op, int64_t M, int64_t N, int64_t kp)
      : block(size_t(op.words(M, kp) + kp * round_up(N, NR)) * sizeof(uint32_t), "bf16 packed operands"),
        left(block.as<uint32_t>()),
        right(left + op.words(M, kp)) {}
  CachedBlock block;
  uint32_t* left;
  uint32_t* right;
};
}  // namespace

void gemm_bf16_nt(const float* a, int64_t lda, int64_t M, const float* b, int64_t ldb, int64_t N, int64_t K, float* c,
                  int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  const int64_t kp = (K + 1) / 2;
  const LeftOperand op{bf16_kernel()};
  const PerCallPacking pk(op, M, N, kp);
  op.pack(a, lda, M, K, pk.left);
  pack_row_pairs(b, ldb, N, K, NR, pk.right);
  op.run(pk.left, M, pk.right, N, kp, c, ldc, accumulate);
}

void gemm_bf16_nn(const float* a, int64_t lda, int64_t M, const float* b, int64_t ldb, int64_t K, int64_t N, float* c,
                  int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  const int64_t kp = (K + 1) / 2;
  const LeftOperand op{bf16_kernel()};
  const PerCallPacking pk(op, M, N, kp);
  op.pack(a, lda, M, K, pk.left);
  pack_column_pairs(b, ldb, K, N, pk.right);
  op.run(pk.left, M, pk.right, N, kp, c, ldc, accumulate);
}

void bf16_pack_rows(const float* src, int64_t ld, int64_t rows, int64_t K, int64_t P, uint32_t* out) {
  pack_row_pairs(src, ld, rows, K, P, out);
}

void bf16_run_panels(const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c, int64_t ldc,
                     bool accumulate) {
  run_panels(a, M, b, N, kp, c, ldc, accumulate);
}

#else  // no x86-64: the bf16 path is never offered (bf16_gemm_supported() is false)

Bf16Weights::Bf16Weights(ThreadPool&, Side side, const float*, int64_t R, int64_t K)
    : side_(side), kernel_(Bf16Kernel::Avx512), R_(R), K_(K) {
  fail(Code::Internal, "bf16 weights on a CPU without AVX512-BF16");
}
void gemm_bf16_left(const Bf16Weights&, const float*, int64_t, int64_t, float*, int64_t) {
  fail(Code::Internal, "bf16 GEMM on a CPU without AVX512-BF16");
}
void gemm_bf16_right(ThreadPool&, const float*, int64_t, int64_t, const Bf16Weights&, float*, int64_t, bool) {
  fail(Code::Internal, "bf16 GEMM on a CPU without AVX512-BF16");
}
void gemm_bf16_right_ex(ThreadPool&, const float*, int64_t, int64_t, const Bf16Weights&, float*, int64_t,
                        const GemmEpilogue&) {
  fail(Code::Internal, "bf16 GEMM on a CPU without AVX512-BF16");
}
void gemm_bf16_nt(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t, bool) {
  fail(Code::Internal, "bf16 GEMM on a CPU without AVX512-BF16");
}
void gemm_bf16_nn(const float*, int64_t, int64_t, const float*, int64_t, int64_t, int64_t, float*, int64_t, bool) {
  fail(Code::Internal, "bf16 GEMM on a CPU without AVX512-BF16");
}
void bf16_pack_rows(const float*, int64_t, int64_t, int64_t, int64_t, uint32_t*) {
  fail(Code::Internal, "bf16 packing on a CPU without AVX512-BF16");
}
void bf16_run_panels(const uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, float*, int64_t, bool) {
  fail(Code::Internal, "bf16 GEMM on a CPU without AVX512-BF16");
}

#endif

}  // namespace bgn::cpu
