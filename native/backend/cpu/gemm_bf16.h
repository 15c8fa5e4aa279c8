// bf16 GEMM with f32 accumulation for CPUs with AVX512-BF16 (vdpbf16ps): the UNet's linear and
// convolution layers at precision 'bf16'. Operands are rounded to bf16 (nearest even) when they
// are packed — weights once at load, activations per call — and every product of two bf16 values
// is summed in f32. Each output element is one lane's sum over k in a fixed order, whatever the
// thread count or the tiling around it, so results do not depend on the number of threads.
//
// Packed layout: panels of P rows of a row-major (R, K) matrix; inside a panel, for each pair of
// consecutive k (zero-padded when K is odd), one 32-bit word per row holding (w[r][2p], w[r][2p+1]).
// The kernel computes kBf16Rows × kBf16Cols tiles: a left operand's word is broadcast, a right
// operand's kBf16Cols words are one pair of ZMM registers.
//
// Where the CPU has AMX (and the OS grants the tile state), the weight GEMMs and the per-call ones
// run on AMX tiles instead (backend/cpu/gemm_amx.h): the right panels are the same words, a left
// operand is packed in tile layout. Each weight keeps the kernel it was packed for.
//
// Only call the GEMMs when bf16_gemm_supported(); the kernels are compiled for AVX512-BF16 (and
// the tile instructions) with function-level target attributes, so the rest of the addon runs on
// any x86-64 CPU.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/gemm_kernels.h"
#include "backend/cpu/threads.h"

namespace bgn::cpu {

// AVX512-BF16 on this CPU with the OS saving the ZMM state (cpu_features()).
bool bf16_gemm_supported();

// bf16 bits of x rounded to nearest even (a NaN stays a quiet NaN), and back.
uint16_t bf16_bits(float x);
float bf16_value(uint16_t bits);

// The kernel of the bf16 GEMMs: AMX where amx_usable(), else AVX512-BF16; BGN_BF16_KERNEL forces
// one (amx-emulated runs the AMX kernel on a software model of the tiles, for tests on any CPU
// with AVX512-BF16). Forcing amx where the tiles are not usable is E_DEVICE_UNAVAILABLE, an
// unknown name E_CONFIG.
enum class Bf16Kernel { Avx512, Amx, AmxEmulated };
Bf16Kernel bf16_kernel();
const char* bf16_kernel_name(Bf16Kernel k);

constexpr int64_t kBf16Rows = 12;  // rows of a left panel (and of the tile)
constexpr int64_t kBf16Cols = 32;  // rows of a right panel (columns of the tile)
constexpr int64_t kAmxRows = 16;   // rows of a left panel of the AMX kernel (one tile; gemm_amx.h)

// A weight matrix W (R, K) rounded to bf16 and packed for one side of the product:
//   Left  — C (R, N) = W @ X        (convolutions: R output channels, K = C·kh·kw)
//   Right — C (M, R) = X @ W^T      (linear layers: R output features, K input features)
class Bf16Weights {
 public:
  enum class Side { Left, Right };
  // w (R, K) row-major f32; packed on the pool's threads for bf16_kernel(). Needs bf16_gemm_supported().
  Bf16Weights(ThreadPool& pool, Side side, const float* w, int64_t R, int64_t K);

  Side side() const { return side_; }
  Bf16Kernel kernel() const { return kernel_; }
  int64_t rows() const { return R_; }
  int64_t depth() const { return K_; }
  int64_t pairs() const { return (K_ + 1) / 2; }
  int64_t panel_rows() const {
    return side_ == Side::Right ? kBf16Cols : kernel_ == Bf16Kernel::Avx512 ? kBf16Rows : kAmxRows;
  }
  int64_t panels() const { return (R_ + panel_rows() - 1) / panel_rows(); }
  // Right panel i (both kernels), or left panel i of the AVX512-BF16 layout.
  const uint32_t* panel(int64_t i) const { return words_.data() + i * pairs() * panel_rows(); }
  const uint32_t* words() const { return words_.data(); }
  size_t bytes() const { return words_.size() * sizeof(uint32_t); }

 private:
  Side side_;
  Bf16Kernel kernel_;
  int64_t R_, K_;
  std::vector<uint32_t> words_;
};

// C (R, N) = W @ X for a Left weight: X (K, N) f32 row-major with leading dimension ldx, C (R, N)
// row-major with leading dimension ldc, overwritten. Runs on the calling thread.
void gemm_bf16_left(const Bf16Weights& w, const float* x, int64_t ldx, int64_t N, float* c, int64_t ldc);

// C (M, R) = X @ W^T (+ C when accumulate) for a Right weight: X (M, K) f32 row-major with leading
// dimension ldx, C row-major with leading dimension ldc. Split over the pool.
void gemm_bf16_right(ThreadPool& pool, const float* x, int64_t ldx, int64_t M, const Bf16Weights& w, float* c,
                     int64_t ldc, bool accumulate);

// gemm_bf16_right (C overwritten) with an epilogue (gemm_kernels.h): the sums start from the bias,
// then the map and the residual (rows ep.ldr apart, at C's place) go over each finished block of C
// while it is in cache, as sgemm_ex does in f32.
void gemm_bf16_right_ex(ThreadPool& pool, const float* x, int64_t ldx, int64_t M, const Bf16Weights& w, float* c,
                        int64_t ldc, const GemmEpilogue& ep);

// Both operands f32 and rounded to bf16 as they are packed for this one product (attention's
// Q·K^T and P·V). On the calling thread; C row-major with leading dimension ldc, added to when
// accumulate, else overwritten.
// C (M, N) = A (M, K) @ B^T, B (N, K) row-major.
void gemm_bf16_nt(const float* a, int64_t lda, int64_t M, const float* b, int64_t ldb, int64_t N, int64_t K, float* c,
                  int64_t ldc, bool accumulate);
// C (M, N) = A (M, K) @ B, B (K, N) row-major.
void gemm_bf16_nn(const float* a, int64_t lda, int64_t M, const float* b, int64_t ldb, int64_t K, int64_t N, float* c,
                  int64_t ldc, bool accumulate);

// Panel level, for kernels that keep packed operands across products (the bf16 attention packs
// each head's K and V once for all its query blocks). AVX512-BF16 whatever bf16_kernel() says.
// Needs bf16_gemm_supported().
// Rows [0, rows) of src (row-major, leading dimension ld, K columns) → panels of P rows (P is
// kBf16Rows for a left operand, kBf16Cols for a right one), zero-padded to whole panels and pairs.
void bf16_pack_rows(const float* src, int64_t ld, int64_t rows, int64_t K, int64_t P, uint32_t* out);
// C (M, N) (+)= A @ B^T over packed panels: A's panel i at a + i·kp·kBf16Rows, B's panel j at
// b + j·kp·kBf16Cols, kp pairs of k; C row-major with leading dimension ldc. Calling thread.
void bf16_run_panels(const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c, int64_t ldc,
                     bool accumulate);

}  // namespace bgn::cpu
