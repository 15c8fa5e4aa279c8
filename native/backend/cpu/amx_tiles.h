// The AMX tile operations the bf16 GEMM uses (backend/cpu/gemm_amx.cpp), in two interchangeable
// forms with one interface:
//   HardwareTiles  — the instructions themselves (ldtilecfg, tilezero, tileloadd, tilestored,
//                    tdpbf16ps, tilerelease), for a CPU with AMX-TILE and AMX-BF16 whose OS has
//                    granted this process the tile state (gemm_amx.h, amx_usable()).
//   EmulatedTiles  — a software model of the same eight tile registers and of TDPBF16PS as Intel's
//                    Software Developer's Manual defines it (f32 sums rounded to nearest even,
//                    inputs and results denormal-flushed; see tdpbf16ps below),
//                    so the kernel's packing, blocking and edges run and are tested on any CPU.
// One tile configuration serves the whole kernel: all eight tiles are 16 rows of 64 bytes —
// accumulators 16 × 16 f32, left operands 16 rows × 16 bf16 pairs, right operands 16 pairs × 16
// columns (each 32-bit element a pair of bf16 along k). dot<C>() is C += (4 + C/2) · (6 + C%2):
// tiles 0–3 accumulate, 4–5 hold left operands and 6–7 right ones.
#pragma once
#include <cstdint>
#include <cstring>

namespace bgn::cpu {

constexpr int kTileRows = 16;      // rows of every tile
constexpr int kTileRowBytes = 64;  // bytes of a tile's row: 16 f32 or 16 bf16 pairs
constexpr int kTileWords = kTileRows * kTileRowBytes / 4;

#if defined(__x86_64__)
struct HardwareTiles {
  static void configure() {
    alignas(64) uint8_t cfg[64] = {};
    cfg[0] = 1;  // palette 1
    for (int t = 0; t < 8; ++t) {
      const uint16_t colsb = kTileRowBytes;
      std::memcpy(cfg + 16 + 2 * t, &colsb, 2);
      cfg[48 + t] = kTileRows;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(*reinterpret_cast<const uint8_t(*)[64]>(cfg)));
  }
  static void release() { __asm__ volatile("tilerelease" ::: "memory"); }

#define BGN_TILES_0_TO_7(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
  template <int T>
  static void zero() {
#define BGN_TILE_ZERO(n) \
  if constexpr (T == n) __asm__ volatile("tilezero %%tmm" #n ::);
    BGN_TILES_0_TO_7(BGN_TILE_ZERO)
#undef BGN_TILE_ZERO
  }
  template <int T>
  static void load(const void* p, int64_t stride) {
#define BGN_TILE_LOAD(n) \
  if constexpr (T == n) __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #n ::"r"(p), "r"(stride) : "memory");
    BGN_TILES_0_TO_7(BGN_TILE_LOAD)
#undef BGN_TILE_LOAD
  }
  template <int T>
  static void store(void* p, int64_t stride) {
#define BGN_TILE_STORE(n) \
  if constexpr (T == n) __asm__ volatile("tilestored %%tmm" #n ", (%0,%1,1)" ::"r"(p), "r"(stride) : "memory");
    BGN_TILES_0_TO_7(BGN_TILE_STORE)
#undef BGN_TILE_STORE
  }
#undef BGN_TILES_0_TO_7
  // AT&T operand order: right operand, left operand, accumulator.
  template <int C>
  static void dot() {
    static_assert(C >= 0 && C < 4, "accumulators are tiles 0-3");
    if constexpr (C == 0) __asm__ volatile("tdpbf16ps %%tmm6, %%tmm4, %%tmm0" ::);
    if constexpr (C == 1) __asm__ volatile("tdpbf16ps %%tmm7, %%tmm4, %%tmm1" ::);
    if constexpr (C == 2) __asm__ volatile("tdpbf16ps %%tmm6, %%tmm5, %%tmm2" ::);
    if constexpr (C == 3) __asm__ volatile("tdpbf16ps %%tmm7, %%tmm5, %%tmm3" ::);
  }
};
#endif

struct EmulatedTiles {
  struct alignas(64) Tile {
    uint8_t bytes[kTileRows * kTileRowBytes];
  };
  static Tile* regs() {
    static thread_local Tile t[8];
    return t;
  }
  static void configure() { std::memset(regs(), 0, sizeof(Tile) * 8); }  // ldtilecfg zeroes the tiles
  static void release() { std::memset(regs(), 0, sizeof(Tile) * 8); }
  template <int T>
  static void zero() {
    std::memset(regs()[T].bytes, 0, sizeof(Tile));
  }
  template <int T>
  static void load(const void* p, int64_t stride) {
    for (int r = 0; r < kTileRows; ++r)
      std::memcpy(regs()[T].bytes + r * kTileRowBytes, static_cast<const uint8_t*>(p) + r * stride, kTileRowBytes);
  }
  template <int T>
  static void store(void* p, int64_t stride) {
    for (int r = 0; r < kTileRows; ++r)
      std::memcpy(static_cast<uint8_t*>(p) + r * stride, regs()[T].bytes + r * kTileRowBytes, kTileRowBytes);
  }
  template <int C>
  static void dot() {
    static_assert(C >= 0 && C < 4, "accumulators are tiles 0-3");
    tdpbf16ps(regs()[C], regs()[4 + C / 2], regs()[6 + C % 2]);
  }

  // TDPBF16PS as the Software Developer's Manual's pseudo-code gives it: per row m, the even and
  // the odd products of the 16 pairs are summed in two f32 lanes per column n (each an FMA into
  // its lane: exact product, one rounding to nearest even),
  //   t[2n] += a[m].bf16[2k] · b[k].bf16[2n],   t[2n+1] += a[m].bf16[2k+1] · b[k].bf16[2n+1]
  // and then c[m][n] += (t[2n] + t[2n+1]); denormal inputs read as zero, denormal results flushed.
  static void tdpbf16ps(Tile& c, const Tile& a, const Tile& b) {
    constexpr int K = kTileRowBytes / 4, N = kTileRowBytes / 4;
    for (int m = 0; m < kTileRows; ++m) {
      float acc[N], even[N] = {}, odd[N] = {};
      std::memcpy(acc, c.bytes + m * kTileRowBytes, sizeof acc);
      const uint16_t* am = reinterpret_cast<const uint16_t*>(a.bytes + m * kTileRowBytes);
      for (int k = 0; k < K; ++k) {
        const uint16_t* bk = reinterpret_cast<const uint16_t*>(b.bytes + k * kTileRowBytes);
        const float a0 = bf16_daz(am[2 * k]), a1 = bf16_daz(am[2 * k + 1]);
        for (int n = 0; n < N; ++n) {
          even[n] = ftz(even[n] + a0 * bf16_daz(bk[2 * n]));
          odd[n] = ftz(odd[n] + a1 * bf16_daz(bk[2 * n + 1]));
        }
      }
      for (int n = 0; n < N; ++n) acc[n] = ftz(acc[n] + ftz(even[n] + odd[n]));
      std::memcpy(c.bytes + m * kTileRowBytes, acc, sizeof acc);
    }
  }
  // A bf16 input's value, a denormal read as zero of its sign.
  static float bf16_daz(uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  // A denormal result flushed to zero of its sign.
  static float ftz(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
    std::memcpy(&x, &u, 4);
    return x;
  }
};

}  // namespace bgn::cpu
