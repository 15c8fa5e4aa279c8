// Fused multi-head attention, flash-attention style: one block per (query tile, head × output
// slice, batch). Key/value tiles are staged through shared memory as f16, QKᵀ and PV run on
// tensor cores (wmma 16×16×16, f32 accumulation), and an online softmax (running max and sum in
// f32) rescales the output accumulator, which lives in shared memory as f32 and is written to
// global memory once. Nothing of size (Tq, Tk) ever exists.
//
// The head dimension D is padded with zeros to a multiple of 16 (DP). Large heads are split two
// ways so shared memory stays O(tile) whatever D (up to kMaxHeadDim):
//   - QKᵀ runs over the head dimension in chunks of DC ≤ kMaxChunk columns (Q stays resident in
//     shared memory when one chunk covers it, else each chunk of Q is restaged with its K chunk);
//   - the output columns are split into slices of DV ≤ kMaxChunk, one slice per block (grid.y), each
//     block recomputing the full scores for its slice. Only the VAE mid-block (D = 512) and
//     SD 1.x's D = 160 take more than one slice.
#include <cstdint>
#include <limits>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

constexpr int kBQ = 64;  // query rows per block
constexpr int kBK = 64;  // keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kMaxHeadDim = 1024;
constexpr int kMaxChunk = 128;  // widest head-dimension chunk / output slice
constexpr int kSkewH = 8;       // f16 row padding (elements): spreads rows over smem banks
constexpr int kSkewF = 4;       // f32 row padding (elements)
constexpr int kScoreTiles = (kBQ / 16) * (kBK / 16);
constexpr int kScoreTilesPerWarp = kScoreTiles / kWarps;
static_assert(kScoreTiles % kWarps == 0, "score tiles must split evenly over warps");
static_assert(kThreads == 2 * kBQ, "the softmax gives each query row two threads");
static_assert(kBK % 2 == 0, "each softmax thread takes half a row of scores");

struct Params {
  const float* q;
  const float* k;
  const float* v;
  float* o;
  int64_t Tq, Tk, ldq, ldk, ldv, ldo;
  int heads, D;
  int DC, chunks;  // QKᵀ head-dimension chunk width (multiple of 16) and count
  int DV;          // output slice width (multiple of 16); grid.y = heads × slices
  float scale;
  bool causal;
};

// Shared memory layout (byte offsets, each region 128-byte aligned for wmma's 256-bit rule):
//   Qs (kBQ, DC+kSkewH) f16 | KVs (kBK, max(DC,DV)+kSkewH) f16 | Os (kBQ, DV+kSkewF) f32 |
//   Ss (kBQ, kBK+kSkewF) f32 | Ps (kBQ, kBK+kSkewH) f16 | m, l, corr (kBQ each) f32
struct Layout {
  int ldq, ldkv, ldo, lds, ldp;
  size_t q, kv, o, s, p, m, l, corr, bytes;
};

__host__ __device__ inline size_t align128(size_t n) { return (n + 127) / 128 * 128; }

__host__ __device__ inline Layout layout_for(int DC, int DV) {
  Layout L;
  L.ldq = DC + kSkewH;
  L.ldkv = (DC > DV ? DC : DV) + kSkewH;
  L.ldo = DV + kSkewF;
  L.lds = kBK + kSkewF;
  L.ldp = kBK + kSkewH;
  L.q = 0;
  L.kv = L.q + align128(size_t(kBQ) * L.ldq * 2);
  L.o = L.kv + align128(size_t(kBK) * L.ldkv * 2);
  L.s = L.o + align128(size_t(kBQ) * L.ldo * 4);
  L.p = L.s + align128(size_t(kBQ) * L.lds * 4);
  L.m = L.p + align128(size_t(kBQ) * L.ldp * 2);
  L.l = L.m + align128(size_t(kBQ) * 4);
  L.corr = L.l + align128(size_t(kBQ) * 4);
  L.bytes = L.corr + align128(size_t(kBQ) * 4);
  return L;
}

// dst (rows_cap, width) f16 with row stride ld ← src rows [0, rows) and columns [c0, c0+width) of
// one head (columns ≥ D and rows ≥ rows are zero: padding must be exactly zero, as stale shared
// memory may hold NaN bit patterns that 0 · NaN would spread).
__device__ inline void stage(__half* dst, int ld, const float* src, int64_t src_ld, int rows, int rows_cap, int c0,
                             int width, int D) {
  for (int idx = threadIdx.x; idx < rows_cap * width; idx += blockDim.x) {
    const int r = idx / width, c = idx % width;
    float x = 0.f;
    if (r < rows && c0 + c < D) x = src[int64_t(r) * src_ld + c0 + c];
    dst[r * ld + c] = __float2half(x);
  }
}

// Scores of one key tile for this warp's 16×16 tiles: acc[t] += Qs[rows, chunk] · Ks[keys, chunk]ᵀ.
__device__ inline void score_chunk(nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float>* acc,
                                   const __half* Qs, int ldq, const __half* Ks, int ldk, int DC, int warp) {
  using namespace nvcuda;
  for (int t = 0; t < kScoreTilesPerWarp; ++t) {
    const int tile = warp + t * kWarps, rb = tile / (kBK / 16), cb = tile % (kBK / 16);
    for (int kk = 0; kk < DC; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;  // Kᵀ: K rows are its columns
      wmma::load_matrix_sync(a, Qs + rb * 16 * ldq + kk, ldq);
      wmma::load_matrix_sync(b, Ks + cb * 16 * ldk + kk, ldk);
      wmma::mma_sync(acc[t], a, b, acc[t]);
    }
  }
}

// Online softmax over one (kBQ, kBK) score tile, two threads per query row: scaled and masked
// scores → P (f16), the row's running max m and sum l updated, corr = exp(m_old − m_new) kept
// for rescaling the output rows. The sum adds the f16-rounded p, so numerator and denominator
// weight each key identically.
__device__ inline void softmax_tile(const Params& p, const float* Ss, int lds, __half* Ps, int ldp, float* m, float* l,
                                    float* corr, int64_t q0, int64_t j0) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int r = threadIdx.x >> 1, half = threadIdx.x & 1, half_len = kBK / 2;
  const int64_t i = q0 + r;
  const float* srow = Ss + r * lds + half * half_len;
  __half* prow = Ps + r * ldp + half * half_len;
  float mt = neg_inf;
  for (int c = 0; c < half_len; ++c) {
    const int64_t j = j0 + half * half_len + c;
    if (j < p.Tk && (!p.causal || j <= i)) mt = fmaxf(mt, srow[c] * p.scale);
  }
  mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
  const float m_old = m[r], m_new = fmaxf(m_old, mt);
  float sum = 0.f;
  for (int c = 0; c < half_len; ++c) {
    const int64_t j = j0 + half * half_len + c;
    float e = 0.f;
    if (m_new != neg_inf && j < p.Tk && (!p.causal || j <= i)) e = __expf(srow[c] * p.scale - m_new);
    const __half eh = __float2half(e);
    prow[c] = eh;
    sum += __half2float(eh);
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);
  if (half == 0) {
    const float cr = m_old == neg_inf ? 0.f : __expf(m_old - m_new);  // no history yet: nothing to rescale
    corr[r] = cr;
    l[r] = l[r] * cr + sum;
    m[r] = m_new;
  }
}

// This warp's output tiles: O[rows, slice] = corr[row] · O + Ps · Vs. Each 16×16 tile belongs to
// one warp, so the rescale needs only a warp barrier before the accumulator is loaded.
__device__ inline void accumulate_pv(float* Os, int ldo, const __half* Ps, int ldp, const __half* Vs, int ldv,
                                     const float* corr, int DV, int warp, int lane) {
  using namespace nvcuda;
  const int tiles = (kBQ / 16) * (DV / 16);
  for (int tile = warp; tile < tiles; tile += kWarps) {
    const int rb = tile / (DV / 16), cb = tile % (DV / 16);
    float* ot = Os + rb * 16 * ldo + cb * 16;
    for (int e = lane; e < 256; e += 32) ot[(e / 16) * ldo + e % 16] *= corr[rb * 16 + e / 16];
    __syncwarp();
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::load_matrix_sync(acc, ot, ldo, wmma::mem_row_major);
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
      wmma::load_matrix_sync(a, Ps + rb * 16 * ldp + kk, ldp);
      wmma::load_matrix_sync(b, Vs + kk * ldv + cb * 16, ldv);
      wmma::mma_sync(acc, a, b, acc);
    }
    wmma::store_matrix_sync(ot, acc, ldo, wmma::mem_row_major);
    __syncwarp();
  }
}

// grid (ceil(Tq/kBQ), heads × slices, B), block kThreads, dynamic smem layout_for(DC, DV).bytes.
// q/o rows (B·Tq, ·) and k/v rows (B·Tk, ·) with their row strides; head h at columns [h·D, h·D+D).
__global__ void __launch_bounds__(kThreads) attention_kernel(Params p) {
  using namespace nvcuda;
  BGN_DYNAMIC_SHARED(unsigned char, smem);
  const Layout L = layout_for(p.DC, p.DV);
  __half* Qs = reinterpret_cast<__half*>(smem + L.q);
  __half* KVs = reinterpret_cast<__half*>(smem + L.kv);
  float* Os = reinterpret_cast<float*>(smem + L.o);
  float* Ss = reinterpret_cast<float*>(smem + L.s);
  __half* Ps = reinterpret_cast<__half*>(smem + L.p);
  float* m = reinterpret_cast<float*>(smem + L.m);
  float* l = reinterpret_cast<float*>(smem + L.l);
  float* corr = reinterpret_cast<float*>(smem + L.corr);

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int slices = (p.D + p.DV - 1) / p.DV;
  const int h = blockIdx.y / slices, v0 = (blockIdx.y % slices) * p.DV;  // output columns [v0, v0+DV)
  const int64_t b = blockIdx.z, q0 = int64_t(blockIdx.x) * kBQ;
  const int rows = int(p.Tq - q0 < kBQ ? p.Tq - q0 : kBQ);
  const float* qb = p.q + (b * p.Tq + q0) * p.ldq + int64_t(h) * p.D;
  const float* kb = p.k + b * p.Tk * p.ldk + int64_t(h) * p.D;
  const float* vb = p.v + b * p.Tk * p.ldv + int64_t(h) * p.D;

  for (int idx = threadIdx.x; idx < kBQ * p.DV; idx += blockDim.x) Os[(idx / p.DV) * L.ldo + idx % p.DV] = 0.f;
  for (int r = threadIdx.x; r < kBQ; r += blockDim.x) {
    m[r] = -std::numeric_limits<float>::infinity();
    l[r] = 0.f;
  }
  const bool q_resident = p.chunks == 1;
  if (q_resident) stage(Qs, L.ldq, qb, p.ldq, rows, kBQ, 0, p.DC, p.D);

  // With a causal mask, keys past the tile's last query are hidden from every row of it.
  const int64_t tk_end = p.causal ? (p.Tk < q0 + rows ? p.Tk : q0 + rows) : p.Tk;
  for (int64_t j0 = 0; j0 < tk_end; j0 += kBK) {
    const int keys = int(tk_end - j0 < kBK ? tk_end - j0 : kBK);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kScoreTilesPerWarp];
    for (int t = 0; t < kScoreTilesPerWarp; ++t) wmma::fill_fragment(acc[t], 0.f);
    for (int c = 0; c < p.chunks; ++c) {
      if (!q_resident) stage(Qs, L.ldq, qb, p.ldq, rows, kBQ, c * p.DC, p.DC, p.D);
      stage(KVs, L.ldkv, kb + j0 * p.ldk, p.ldk, keys, kBK, c * p.DC, p.DC, p.D);
      __syncthreads();
      score_chunk(acc, Qs, L.ldq, KVs, L.ldkv, p.DC, warp);
      __syncthreads();  // the next chunk (or V) overwrites Qs/KVs
    }
    for (int t = 0; t < kScoreTilesPerWarp; ++t) {
      const int tile = warp + t * kWarps, rb = tile / (kBK / 16), cb = tile % (kBK / 16);
      wmma::store_matrix_sync(Ss + rb * 16 * L.lds + cb * 16, acc[t], L.lds, wmma::mem_row_major);
    }
    // V's slice goes into the K buffer while the scores are read (KVs is free after the last barrier).
    stage(KVs, L.ldkv, vb + j0 * p.ldv, p.ldv, keys, kBK, v0, p.DV, p.D);
    __syncthreads();
    softmax_tile(p, Ss, L.lds, Ps, L.ldp, m, l, corr, q0, j0);
    __syncthreads();
    accumulate_pv(Os, L.ldo, Ps, L.ldp, KVs, L.ldkv, corr, p.DV, warp, lane);
    __syncthreads();  // the next tile restages KVs and Ps
  }

  __syncthreads();  // Tk == 0 runs no tile: the initialisation must still be visible
  float* ob = p.o + (b * p.Tq + q0) * p.ldo + int64_t(h) * p.D + v0;
  const int width = p.D - v0 < p.DV ? p.D - v0 : p.DV;
  for (int idx = threadIdx.x; idx < rows * width; idx += blockDim.x) {
    const int r = idx / width, c = idx % width;
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;  // Tk == 0: zeros, as the CPU twin writes
    ob[int64_t(r) * p.ldo + c] = Os[r * L.ldo + c] * inv;
  }
}

// Splits n (a multiple of 16) into the fewest pieces of at most cap, each a multiple of 16.
void split16(int n, int cap, int* width, int* count) {
  *count = (n + cap - 1) / cap;
  *width = ((n + *count - 1) / *count + 15) / 16 * 16;
  *count = (n + *width - 1) / *width;
}

void check_shape(const float* q, const float* k, const float* v, const float* o, const cpu::AttentionShape& s) {
  BGN_CHECK(s.B >= 0 && s.Tq >= 0 && s.Tk >= 0, Code::BadInput, "attention: negative size (B ", s.B, ", Tq ", s.Tq,
            ", Tk ", s.Tk, ")");
  BGN_CHECK(s.heads >= 1 && s.head_dim >= 1 && s.head_dim <= kMaxHeadDim, Code::BadInput, "attention: heads ", s.heads,
            " × head_dim ", s.head_dim, " unsupported (head_dim 1…", kMaxHeadDim, ")");
  const int64_t width = s.heads * s.head_dim;
  BGN_CHECK(s.ldq >= width && s.ldk >= width && s.ldv >= width && s.ldo >= width, Code::BadInput,
            "attention: row strides (q ", s.ldq, ", k ", s.ldk, ", v ", s.ldv, ", o ", s.ldo,
            ") must cover heads × head_dim = ", width);
  BGN_CHECK(s.B <= 65535 && s.heads * ((s.head_dim + kMaxChunk - 1) / kMaxChunk) <= 65535 &&
                (s.Tq + kBQ - 1) / kBQ <= int64_t(0x7fffffff),
            Code::BadInput, "attention: B ", s.B, ", heads ", s.heads, ", Tq ", s.Tq, " exceed the launch grid");
  BGN_CHECK(q && o && (s.Tk == 0 || (k && v)), Code::BadInput, "attention: null tensor pointer");
}

}  // namespace

void attention(cudaStream_t stream, const float* q, const float* k, const float* v, float* o,
               const cpu::AttentionShape& s) {
  check_shape(q, k, v, o, s);
  if (s.B == 0 || s.Tq == 0) return;
  Params p{q, k, v, o,       s.Tq,    s.Tk, s.ldq, s.ldk, s.ldv, s.ldo, int(s.heads), int(s.head_dim),
           0, 0, 0, s.scale, s.causal};
  const int DP = (p.D + 15) / 16 * 16;
  // Widest chunks first; a device whose shared memory per block cannot take them (64 KiB on
  // sm_75) gets half-width chunks.
  for (int cap = kMaxChunk;; cap /= 2) {
    int slices = 0;
    split16(DP, cap, &p.DC, &p.chunks);
    split16(DP, cap, &p.DV, &slices);
    const size_t bytes = layout_for(p.DC, p.DV).bytes;
    const cudaError_t e =
        cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
    if (e != cudaSuccess && cap > 32) {
      (void)cudaGetLastError();  // clear it: the smaller configuration is tried next
      continue;
    }
    check(e, "attention: shared memory per block");
    const dim3 grid(unsigned((s.Tq + kBQ - 1) / kBQ), unsigned(s.heads * slices), unsigned(s.B));
    BGN_LAUNCH(attention_kernel, grid, dim3(kThreads), bytes, stream)(p);
    check_launch("attention kernel");
    return;
  }
}

}  // namespace bgn::cuda
