// Group norm (one block per (n, group), SiLU fused) and layer norm (one warp per row).
// Statistics are f32 and two-pass: the mean first, then the mean of squared deviations from it, so
// a large mean does not cancel the variance the way E[x²] − E[x]² would.
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

struct alignas(16) F4 {
  float a, b, c, d;
};

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread:
// warps reduce by shuffles, their partials meet in shared memory, and each warp reduces those.
__device__ float block_sum(float v, float* partial /* [32] */) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = warp_sum(lane < warps ? partial[lane] : 0.f);
  __syncthreads();  // partial is reused by the next call
  return v;
}

__device__ __forceinline__ float silu(float v) { return v / (1.f + expf(-v)); }

// ---- group norm -----------------------------------------------------------------------------------
// x (N, C, S) → y (N, C, S), y may alias x. Block t = n·groups + g normalises the cg·S contiguous
// values of its group (blocks stride over groups when the grid is capped); any multiple of 32
// threads up to kGroupThreads. With S % 4 == 0 every
// group and channel starts 16-byte aligned and four values share a channel.
constexpr unsigned kGroupThreads = 512;

__global__ void __launch_bounds__(kGroupThreads)
    group_norm_kernel(const float* x, int64_t groups_total, int64_t groups, int64_t cg, int64_t S,
                      const float* __restrict__ gamma, const float* __restrict__ beta, float eps, bool silu_on,
                      bool vec, float* y) {
  __shared__ float partial[32];
  const int64_t cnt = cg * S;
  const float inv_cnt = 1.f / static_cast<float>(cnt);
  for (int64_t t = blockIdx.x; t < groups_total; t += gridDim.x) {
    const int64_t g = t % groups;
    const float* xg = x + t * cnt;  // (n·C + g·cg)·S = t·cg·S
    float* yg = y + t * cnt;
    const F4* x4 = reinterpret_cast<const F4*>(xg);
    const int64_t cnt4 = vec ? cnt / 4 : 0;

    // Summing x − x[0] keeps the partial sums as small as the spread of the group, not its offset.
    const float shift = xg[0];
    float sum = 0.f;
    for (int64_t i = threadIdx.x; i < cnt4; i += blockDim.x) {
      const F4 v = x4[i];
      sum += ((v.a - shift) + (v.b - shift)) + ((v.c - shift) + (v.d - shift));
    }
    for (int64_t i = 4 * cnt4 + threadIdx.x; i < cnt; i += blockDim.x) sum += xg[i] - shift;
    const float mean = shift + block_sum(sum, partial) * inv_cnt;

    float sq = 0.f;
    for (int64_t i = threadIdx.x; i < cnt4; i += blockDim.x) {
      const F4 v = x4[i];
      const float da = v.a - mean, db = v.b - mean, dc = v.c - mean, dd = v.d - mean;
      sq += (da * da + db * db) + (dc * dc + dd * dd);
    }
    for (int64_t i = 4 * cnt4 + threadIdx.x; i < cnt; i += blockDim.x) {
      const float d = xg[i] - mean;
      sq += d * d;
    }
    const float rstd = 1.f / sqrtf(block_sum(sq, partial) * inv_cnt + eps);
    // Every read of this group happened before the last barrier in block_sum: writing y (which may
    // be x) from here on cannot change the statistics.

    const int64_t ch0 = g * cg;
    if (vec) {
      const int64_t S4 = S / 4;
      for (int64_t i = threadIdx.x; i < cnt4; i += blockDim.x) {
        const int64_t ch = ch0 + i / S4;
        const float a = rstd * (gamma ? gamma[ch] : 1.f);
        const float b = (beta ? beta[ch] : 0.f) - mean * a;
        F4 v = x4[i];
        v.a = v.a * a + b, v.b = v.b * a + b, v.c = v.c * a + b, v.d = v.d * a + b;
        if (silu_on) v.a = silu(v.a), v.b = silu(v.b), v.c = silu(v.c), v.d = silu(v.d);
        reinterpret_cast<F4*>(yg)[i] = v;
      }
    } else {
      for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) {
        const int64_t ch = ch0 + i / S;
        const float a = rstd * (gamma ? gamma[ch] : 1.f);
        const float b = (beta ? beta[ch] : 0.f) - mean * a;
        const float v = xg[i] * a + b;
        yg[i] = silu_on ? silu(v) : v;
      }
    }
    __syncthreads();  // partial is rewritten by the next group's first reduction
  }
}

// ---- layer norm -----------------------------------------------------------------------------------
// x (M, C) → y (M, C), y may alias x: one warp per row, kRowsPerBlock rows per block. Loops are
// block-uniform (an idle warp still takes part in every shuffle) so that warp collectives are
// reached by the whole block, as the emulator requires.
constexpr unsigned kRowsPerBlock = 8;

__global__ void __launch_bounds__(kRowsPerBlock * 32)
    layer_norm_kernel(const float* x, int64_t M, int64_t C, const float* __restrict__ gamma,
                      const float* __restrict__ beta, float eps, bool vec, float* y) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const float inv_c = 1.f / static_cast<float>(C);
  const int64_t C4 = vec ? C / 4 : 0;
  for (int64_t base = int64_t(blockIdx.x) * kRowsPerBlock; base < M; base += int64_t(gridDim.x) * kRowsPerBlock) {
    const int64_t m = base + warp;
    const bool live = m < M;
    const float* xr = x + (live ? m : 0) * C;
    float* yr = y + (live ? m : 0) * C;
    const F4* x4 = reinterpret_cast<const F4*>(xr);

    const float shift = live ? xr[0] : 0.f;  // as in group norm: sums of the spread, not the offset
    float sum = 0.f;
    if (live) {
      for (int64_t i = lane; i < C4; i += 32) {
        const F4 v = x4[i];
        sum += ((v.a - shift) + (v.b - shift)) + ((v.c - shift) + (v.d - shift));
      }
      for (int64_t i = 4 * C4 + lane; i < C; i += 32) sum += xr[i] - shift;
    }
    const float mean = shift + warp_sum(sum) * inv_c;

    float sq = 0.f;
    if (live) {
      for (int64_t i = lane; i < C4; i += 32) {
        const F4 v = x4[i];
        const float da = v.a - mean, db = v.b - mean, dc = v.c - mean, dd = v.d - mean;
        sq += (da * da + db * db) + (dc * dc + dd * dd);
      }
      for (int64_t i = 4 * C4 + lane; i < C; i += 32) {
        const float d = xr[i] - mean;
        sq += d * d;
      }
    }
    const float rstd = 1.f / sqrtf(warp_sum(sq) * inv_c + eps);
    __syncwarp();  // all lanes have read the row before any writes it (y may alias x)
    if (!live) continue;

    for (int64_t i = lane; i < C4; i += 32) {
      F4 v = x4[i];
      const int64_t c = 4 * i;
      v.a = (v.a - mean) * rstd * (gamma ? gamma[c + 0] : 1.f) + (beta ? beta[c + 0] : 0.f);
      v.b = (v.b - mean) * rstd * (gamma ? gamma[c + 1] : 1.f) + (beta ? beta[c + 1] : 0.f);
      v.c = (v.c - mean) * rstd * (gamma ? gamma[c + 2] : 1.f) + (beta ? beta[c + 2] : 0.f);
      v.d = (v.d - mean) * rstd * (gamma ? gamma[c + 3] : 1.f) + (beta ? beta[c + 3] : 0.f);
      reinterpret_cast<F4*>(yr)[i] = v;
    }
    for (int64_t i = 4 * C4 + lane; i < C; i += 32)
      yr[i] = (xr[i] - mean) * rstd * (gamma ? gamma[i] : 1.f) + (beta ? beta[i] : 0.f);
  }
}

}  // namespace

void group_norm(cudaStream_t s, const float* x, int64_t N, int64_t C, int64_t S, int64_t groups, const float* gamma,
                const float* beta, float eps, bool silu, float* y) {
  if (N < 0 || C <= 0 || S < 0 || groups <= 0 || C % groups != 0)
    fail(Code::Internal, "group_norm: bad shape (N ", N, ", C ", C, ", S ", S, ", groups ", groups, ")");
  if (N == 0 || S == 0) return;
  const bool vec = S % 4 == 0 && aligned16(x) && aligned16(y);
  // At least ~8 values per thread: small groups get a warp or a few, SD-sized ones (tens of
  // thousands of values) the full kGroupThreads to keep enough loads in flight.
  const int64_t cnt = C / groups * S;
  const int64_t want = ((cnt + 8 * 32 - 1) / (8 * 32)) * 32;
  const unsigned threads = static_cast<unsigned>(want < kGroupThreads ? want : kGroupThreads);
  BGN_LAUNCH(group_norm_kernel, grid_for(N * groups, 1), threads, 0, s)
  (x, N * groups, groups, C / groups, S, gamma, beta, eps, silu, vec, y);
  check_launch("group_norm");
}

void layer_norm(cudaStream_t s, const float* x, int64_t M, int64_t C, const float* gamma, const float* beta, float eps,
                float* y) {
  if (M < 0 || C <= 0) fail(Code::Internal, "layer_norm: bad shape (", M, ", ", C, ")");
  if (M == 0) return;
  const bool vec = C % 4 == 0 && aligned16(x) && aligned16(y);
  BGN_LAUNCH(layer_norm_kernel, grid_for(M, kRowsPerBlock), kRowsPerBlock * 32, 0, s)
  (x, M, C, gamma, beta, eps, vec, y);
  check_launch("layer_norm");
}

}  // namespace bgn::cuda
