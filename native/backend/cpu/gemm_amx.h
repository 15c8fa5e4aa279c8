// The AMX form of the bf16 GEMM (backend/cpu/gemm_bf16.h picks it where the CPU and the OS allow):
// C (M, N) (+)= A @ B^T with A in tile layout and B in the right-panel layout of gemm_bf16.h (panels
// of kBf16Cols = 32 columns, for each pair of k one 32-bit word per column — two AMX right-operand
// tiles side by side, 128 bytes a row). Sums in f32 as TDPBF16PS makes them, in a fixed order per
// element whatever the thread count.
//
// Tile layout of a left operand (R, K): panels of 16 rows; a panel holds ceil(kp / 16) tiles of
// 16 rows × 16 pairs of k (1 KiB each, zero-padded past R and past K), one after another.
#pragma once
#include <cstdint>

namespace bgn::cpu {

// The CPU has AMX-TILE and AMX-BF16, the OS saves the tile state, and it granted this process the
// tile data (Linux's arch_prctl(ARCH_REQ_XCOMP_PERM), asked once). Without it, tile instructions
// would fault.
bool amx_usable();

// Words of the tile layout of a (rows, K) operand with kp = ceil(K / 2) pairs.
int64_t amx_tile_layout_words(int64_t rows, int64_t kp);

// Rows [0, rows) of src (row-major f32, leading dimension ld, K columns) rounded to bf16 (nearest
// even) into the tile layout. Needs AVX512-BF16.
void amx_pack_rows(const float* src, int64_t ld, int64_t rows, int64_t K, uint32_t* out);

// C (M, N) (+)= A @ B^T: A in tile layout (M rows), B's right panels with kp pairs each (N columns),
// C row-major with leading dimension ldc, overwritten unless accumulate. On the calling thread,
// with the tile instructions (emulated: on the software model of them, on any AVX-512 CPU).
void amx_run(bool emulated, const uint32_t* a, int64_t M, const uint32_t* b, int64_t N, int64_t kp, float* c,
             int64_t ldc, bool accumulate);

}  // namespace bgn::cpu
