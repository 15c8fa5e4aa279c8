// nvcuda::wmma of the emulator, m16n16k16 only: f16/bf16 operand fragments, float accumulators.
// Every lane holds the whole 16x16 tile (num_elements = 256), so kernels that touch fragment
// elements uniformly (scale, fill) behave as on a GPU. All 32 lanes must make each call; loads
// are made by every lane, a product is computed once for the lanes with the same operands (the
// warp's memo), a store is written by lane 0 only. Pointer alignment
// (32 bytes) and ldm (a multiple of 16 bytes) are checked as the CUDA documentation requires.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_emu/half.h"
#include "cuda_emu/warp.h"

namespace bgn::emu {
// Aborts with the launch named when a wmma pointer or leading dimension breaks CUDA's rules.
void check_wmma_memory(const void* p, unsigned ldm, size_t elem_size, const char* op);

// The last product d = a·b + c computed in a warp, kept with its operands' bytes: the lanes of a
// warp that hold the same tiles (kernels treat fragments uniformly) take it instead of computing
// it again. A pure cache: lanes with other operands compute their own.
struct MmaMemo {
  bool valid = false;
  bool bf16 = false;  // the operands' type: the same bytes mean other numbers
  unsigned char a[512], b[512];
  float c[256], d[256];
};
// The running warp's memo.
MmaMemo& mma_memo();
}  // namespace bgn::emu

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulator implements wmma m16n16k16 only");
  static_assert(std::is_same<Use, accumulator>::value
                    ? std::is_same<T, float>::value
                    : (std::is_same<T, __half>::value || std::is_same<T, __nv_bfloat16>::value),
                "wmma operands are __half/__nv_bfloat16, accumulators float");
  static_assert(std::is_same<Use, accumulator>::value == std::is_same<Layout, void>::value,
                "operand fragments need row_major/col_major, accumulators no layout");
  enum { num_elements = 256 };
  T x[num_elements];  // tile element (r, c) at x[r * 16 + c], logical layout (a: MxK, b: KxN)
};

template <class Use, class T, class Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm) {
  static_assert(!std::is_same<Use, accumulator>::value, "accumulator loads take a layout_t");
  bgn::emu::require_full_warp("wmma::load_matrix_sync");
  bgn::emu::check_wmma_memory(p, ldm, sizeof(T), "wmma::load_matrix_sync");
  bgn::emu::warp_sync("wmma::load_matrix_sync");
  // matrix_a is rows x k (r = m index), matrix_b is k x cols (r = k index).
  const bool row = std::is_same<Layout, row_major>::value;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) f.x[r * 16 + c] = row ? p[r * ldm + c] : p[c * ldm + r];
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float>& f, const float* p, unsigned ldm,
                             layout_t layout) {
  bgn::emu::require_full_warp("wmma::load_matrix_sync");
  bgn::emu::check_wmma_memory(p, ldm, sizeof(float), "wmma::load_matrix_sync");
  bgn::emu::warp_sync("wmma::load_matrix_sync");
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) f.x[r * 16 + c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
}

inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, float>& f, unsigned ldm,
                              layout_t layout) {
  bgn::emu::require_full_warp("wmma::store_matrix_sync");
  bgn::emu::check_wmma_memory(p, ldm, sizeof(float), "wmma::store_matrix_sync");
  bgn::emu::warp_sync("wmma::store_matrix_sync");
  if (bgn::emu::tl_ctx.lane == 0) {
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c) {
        float& dst = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
        dst = f.x[r * 16 + c];
      }
  }
  // The tile is complete for every lane once the call returns, as after a GPU's warp-wide store.
  bgn::emu::warp_sync("wmma::store_matrix_sync");
}

// d = a * b + c with float accumulation of the 16-bit products; d may be c.
template <class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                     const fragment<matrix_b, 16, 16, 16, T, LB>& b,
                     const fragment<accumulator, 16, 16, 16, float>& c) {
  static_assert(sizeof a.x == sizeof(bgn::emu::MmaMemo::a) && sizeof c.x == sizeof(bgn::emu::MmaMemo::c));
  bgn::emu::require_full_warp("wmma::mma_sync");
  bgn::emu::warp_sync("wmma::mma_sync");
  bgn::emu::MmaMemo& memo = bgn::emu::mma_memo();
  constexpr bool bf16 = std::is_same<T, __nv_bfloat16>::value;
  if (memo.valid && memo.bf16 == bf16 && std::memcmp(memo.a, a.x, sizeof a.x) == 0 &&
      std::memcmp(memo.b, b.x, sizeof b.x) == 0 && std::memcmp(memo.c, c.x, sizeof c.x) == 0) {
    std::memcpy(d.x, memo.d, sizeof d.x);
    return;
  }
  std::memcpy(memo.a, a.x, sizeof a.x);
  std::memcpy(memo.b, b.x, sizeof b.x);
  std::memcpy(memo.c, c.x, sizeof c.x);  // before d is written: d may be c
  float af[256], bf[256];
  for (int i = 0; i < 256; ++i) {
    af[i] = static_cast<float>(a.x[i]);
    bf[i] = static_cast<float>(b.x[i]);
  }
  float out[256];
  for (int r = 0; r < 16; ++r)
    for (int col = 0; col < 16; ++col) {
      float acc = c.x[r * 16 + col];
      for (int k = 0; k < 16; ++k) acc += af[r * 16 + k] * bf[k * 16 + col];
      out[r * 16 + col] = acc;
    }
  for (int i = 0; i < 256; ++i) d.x[i] = out[i];
  std::memcpy(memo.d, out, sizeof out);
  memo.bf16 = bf16;
  memo.valid = true;
}

template <class Use, class T, class Layout, class V>
inline void fill_fragment(fragment<Use, 16, 16, 16, T, Layout>& f, const V& v) {
  bgn::emu::require_full_warp("wmma::fill_fragment");
  const T value = static_cast<T>(v);
  for (int i = 0; i < 256; ++i) f.x[i] = value;
}

}  // namespace nvcuda::wmma
