// Layout kernels: batched transpose through a shared-memory tile, and concatenation of any element
// type as strided byte copies. Both move data without touching values, so results are exact.
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

// ---- transpose ------------------------------------------------------------------------------------
// x (B, R, C) → y (B, C, R). A block of 32×8 threads moves one 32×32 tile: coalesced reads along C
// into shared memory, coalesced writes along R out of it. The tile row has 33 entries so the
// column reads of the write phase fall in 32 different banks. Blocks stride over tiles and batches
// when the grid is capped (gridDim.y/z ≤ 65535).
constexpr int kTile = 32, kRows = 8;

__global__ void transpose_kernel(const float* __restrict__ x, int64_t B, int64_t R, int64_t C, float* __restrict__ y) {
  __shared__ float tile[kTile][kTile + 1];
  const int64_t tiles_r = (R + kTile - 1) / kTile, tiles_c = (C + kTile - 1) / kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t b = blockIdx.z; b < B; b += gridDim.z) {
    const float* xb = x + b * R * C;
    float* yb = y + b * R * C;
    for (int64_t tr = blockIdx.y; tr < tiles_r; tr += gridDim.y) {
      for (int64_t tc = blockIdx.x; tc < tiles_c; tc += gridDim.x) {
        const int64_t r0 = tr * kTile, c0 = tc * kTile;
        for (int j = ty; j < kTile; j += kRows) {
          const int64_t r = r0 + j, c = c0 + tx;
          if (r < R && c < C) tile[j][tx] = xb[r * C + c];
        }
        __syncthreads();
        for (int j = ty; j < kTile; j += kRows) {
          const int64_t c = c0 + j, r = r0 + tx;
          if (r < R && c < C) yb[c * R + r] = tile[tx][j];
        }
        __syncthreads();  // the tile is reloaded by the next iteration
      }
    }
  }
}

unsigned capped(int64_t n, int64_t cap) { return static_cast<unsigned>(n < cap ? (n > 0 ? n : 1) : cap); }

// ---- concat ---------------------------------------------------------------------------------------
// One input's share of a concatenation: `outer` rows of `row` units from src (rows packed) into dst,
// whose rows are `dst_row` units apart. T is the copy unit (16, 4 or 1 bytes), chosen by alignment.
template <class T>
__global__ void copy_rows_kernel(const T* __restrict__ src, int64_t outer, int64_t row, T* __restrict__ dst,
                                 int64_t dst_row) {
  const int64_t n = outer * row;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t o = i / row, j = i - o * row;
    dst[o * dst_row + j] = src[i];
  }
}

struct alignas(16) U16 {
  uint32_t w[4];
};

template <class T>
void copy_rows(cudaStream_t s, const void* src, int64_t outer, int64_t row_bytes, void* dst, int64_t dst_row_bytes) {
  constexpr int64_t u = sizeof(T);
  constexpr unsigned threads = 256;
  auto k = copy_rows_kernel<T>;
  BGN_LAUNCH(k, grid_for(outer * (row_bytes / u), threads), threads, 0, s)
  (static_cast<const T*>(src), outer, row_bytes / u, static_cast<T*>(dst), dst_row_bytes / u);
  check_launch("concat");
}

// The widest unit that divides every size and address of this copy.
int64_t copy_unit(const void* src, int64_t row_bytes, const void* dst, int64_t dst_row_bytes) {
  const uint64_t all = reinterpret_cast<uintptr_t>(src) | reinterpret_cast<uintptr_t>(dst) |
                       static_cast<uint64_t>(row_bytes) | static_cast<uint64_t>(dst_row_bytes);
  if (all % 16 == 0) return 16;
  if (all % 4 == 0) return 4;
  return 1;
}

}  // namespace

void transpose(cudaStream_t s, const float* x, int64_t B, int64_t R, int64_t C, float* y) {
  if (B < 0 || R < 0 || C < 0) fail(Code::Internal, "transpose: bad shape (", B, ", ", R, ", ", C, ")");
  if (B == 0 || R == 0 || C == 0) return;
  const dim3 grid(capped((C + kTile - 1) / kTile, 0x7fffffff), capped((R + kTile - 1) / kTile, 65535),
                  capped(B, 65535));
  BGN_LAUNCH(transpose_kernel, grid, dim3(kTile, kRows), 0, s)(x, B, R, C, y);
  check_launch("transpose");
}

void concat(cudaStream_t s, const void* const* inputs, const int64_t* bytes, int count, int64_t outer, void* y) {
  if (count < 0 || outer < 0) fail(Code::Internal, "concat: bad count ", count, " or outer size ", outer);
  int64_t row = 0;
  for (int i = 0; i < count; ++i) {
    if (bytes[i] < 0) fail(Code::Internal, "concat: input ", i, " has negative size ", bytes[i]);
    row += bytes[i];
  }
  if (outer == 0 || row == 0) return;
  int64_t offset = 0;
  for (int i = 0; i < count; ++i) {
    if (bytes[i] == 0) continue;
    if (!inputs[i]) fail(Code::Internal, "concat: input ", i, " is null");
    void* dst = static_cast<uint8_t*>(y) + offset;
    switch (copy_unit(inputs[i], bytes[i], dst, row)) {
      case 16:
        copy_rows<U16>(s, inputs[i], outer, bytes[i], dst, row);
        break;
      case 4:
        copy_rows<uint32_t>(s, inputs[i], outer, bytes[i], dst, row);
        break;
      default:
        copy_rows<uint8_t>(s, inputs[i], outer, bytes[i], dst, row);
        break;
    }
    offset += bytes[i];
  }
}

}  // namespace bgn::cuda
