// The library's own GEMM: wmma m16n16k16 tensor-core tiles with f16 or bf16 operands and f32
// accumulators, any M, N, K, either transposition, leading dimensions, alpha and beta.
//
// A block computes a BM×BN tile of C. K advances in BK slices that the block stages through
// shared memory (zero-filled past the matrix edge, so edge tiles need no special compute path),
// the next slice travelling from global memory into registers while the tensor cores multiply
// the current one; its 4 warps each own a 32×32 quarter of the tile as 2×2 accumulator
// fragments. The finished
// tile goes through shared memory once more so the epilogue (alpha, beta, bounds) is plain
// per-element code.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "backend/cuda/kernels.h"
#include "backend/cuda/gemm_own.h"

namespace bgn::cuda::detail {
namespace {

constexpr int BM = 64, BN = 64, BK = 32;
constexpr int THREADS = 128;  // 4 warps in a 2×2 grid of 32×32 warp tiles
// Row pitches in shared memory, padded so consecutive rows start in different banks; each stays
// a multiple of 8 elements (16-bit) / 4 (f32) as wmma's ldm requires, and every fragment pointer
// lands on the 32-byte boundary wmma needs.
constexpr int LDA_S = BK + 8;  // As (BM, BK)
constexpr int LDB_S = BN + 8;  // Bs (BK, BN)
constexpr int LDC_S = BN + 4;  // Cs (BM, BN) f32

struct alignas(32) Tile {
  uint16_t a[BM * LDA_S];
  uint16_t b[BK * LDB_S];
  float c[BM * LDC_S];
};

// bf16 wmma needs sm_80; older targets compute the tile with scalar FMAs instead (same staging).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr bool kBf16Wmma = false;
#else
constexpr bool kBf16Wmma = true;
#endif

// One GEMM's operands as the kernel sees them (row-major, leading dimensions in elements).
// vec_a / vec_b: the matrix and its ld are 8-element aligned, so runs of 8 load as 128 bits.
struct Args {
  int64_t M, N, K;
  const uint16_t* A;
  int64_t lda;
  const uint16_t* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
  float alpha, beta;
  bool trans_a, trans_b, vec_a, vec_b;
  int64_t tiles_n;  // column tiles of C: block b computes tile (b / tiles_n, b % tiles_n)
};

// Eight 16-bit values moved as one 128-bit access.
struct alignas(16) Pack8 {
  uint32_t w[4];
};

// A thread's share of one R×CC operand tile in registers: RUNS runs of 8 values. Slices are
// fetched into registers while the tensor cores work on the previous one, then stored to shared
// memory, so global latency overlaps the MMAs.
template <int R, int CC>
struct Staged {
  static constexpr int RUNS = R * CC / 8 / THREADS;
  static_assert(RUNS * 8 * THREADS == R * CC, "a tile must split into whole runs per thread");
  uint16_t v[RUNS][8];
};

// Where run q of this thread lies: `o` along the stored rows, `in` the first of its 8 values along
// them. The logical matrix L is X (rows, cols) with ld, or Xᵀ (X stored (cols, rows)) when trans,
// so the stored rows are L's rows, or its columns when trans. Neighbouring threads take
// neighbouring runs of a stored row, so they read neighbouring memory.
template <int R, int CC>
__device__ __forceinline__ void run_at(int q, bool trans, int& o, int& in) {
  const int inner_runs = (trans ? R : CC) / 8;
  const int i = threadIdx.x + q * THREADS;
  o = i / inner_runs, in = (i % inner_runs) * 8;
}

// st ← L[r0.., c0..] (R, CC), zero outside (rows, cols); a run wholly inside the matrix is one
// 128-bit load when `vec` (X and ld 8-aligned).
template <int R, int CC>
__device__ void fetch_tile(Staged<R, CC>& st, const uint16_t* X, int64_t ld, bool trans, bool vec, int64_t rows,
                           int64_t cols, int64_t r0, int64_t c0) {
  const int64_t inner_size = trans ? rows : cols, outer_size = trans ? cols : rows;
  const int64_t inner0 = trans ? r0 : c0, outer0 = trans ? c0 : r0;
  for (int q = 0; q < Staged<R, CC>::RUNS; ++q) {
    int o, in;
    run_at<R, CC>(q, trans, o, in);
    const int64_t go = outer0 + o, gi = inner0 + in;
    const uint16_t* src = X + go * ld + gi;
    uint16_t* v = st.v[q];
    if (vec && go < outer_size && gi + 8 <= inner_size) {
      const Pack8 p = *reinterpret_cast<const Pack8*>(src);
      for (int j = 0; j < 8; ++j) v[j] = (uint16_t)(p.w[j / 2] >> (16 * (j % 2)));
    } else {
      for (int j = 0; j < 8; ++j) v[j] = go < outer_size && gi + j < inner_size ? src[j] : uint16_t(0);
    }
  }
}

// S (R, CC) with row pitch LDS ← st, in L's orientation.
template <int R, int CC, int LDS>
__device__ void store_tile(uint16_t* S, const Staged<R, CC>& st, bool trans) {
  for (int q = 0; q < Staged<R, CC>::RUNS; ++q) {
    int o, in;
    run_at<R, CC>(q, trans, o, in);
    for (int j = 0; j < 8; ++j) {
      const int r = trans ? in + j : o, c = trans ? o : in + j;
      S[r * LDS + c] = st.v[q][j];
    }
  }
}

// One BK slice on tensor cores: the warp at (wm, wn) adds As[wm·32.., :] · Bs[:, wn·32..] to acc.
template <class T>
__device__ void mma_slice(const Tile& t, int wm, int wn,
                          nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> (&acc)[2][2]) {
  using namespace nvcuda;
  const T* As = reinterpret_cast<const T*>(t.a);
  const T* Bs = reinterpret_cast<const T*>(t.b);
  for (int kk = 0; kk < BK; kk += 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[2];
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b[2];
    for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], As + (wm * 32 + i * 16) * LDA_S + kk, LDA_S);
    for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs + kk * LDB_S + wn * 32 + j * 16, LDB_S);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
  }
}

// The operand slices of one BK step in flight: As[r][c] = op(A)[m0 + r][k0 + c] (A is (M, K) with
// lda, or (K, M) when trans_a) and Bs[r][c] = op(B)[k0 + r][n0 + c] (B is (K, N), or (N, K)).
struct Slices {
  Staged<BM, BK> a;
  Staged<BK, BN> b;
  __device__ void fetch(const Args& g, int64_t m0, int64_t n0, int64_t k0) {
    fetch_tile<BM, BK>(a, g.A, g.lda, g.trans_a, g.vec_a, g.M, g.K, m0, k0);
    fetch_tile<BK, BN>(b, g.B, g.ldb, g.trans_b, g.vec_b, g.K, g.N, k0, n0);
  }
  // Into shared memory, then a barrier; the caller's previous barrier freed t.a and t.b.
  __device__ void store(Tile& t, const Args& g) const {
    store_tile<BM, BK, LDA_S>(t.a, a, g.trans_a);
    store_tile<BK, BN, LDB_S>(t.b, b, g.trans_b);
    __syncthreads();
  }
};

// The block's tile product into t.c on tensor cores.
template <class T>
__device__ void tile_product_wmma(Tile& t, const Args& g, int64_t m0, int64_t n0) {
  using namespace nvcuda;
  const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  Slices next;
  next.fetch(g, m0, n0, 0);
  for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
    next.store(t, g);
    if (k0 + BK < g.K) next.fetch(g, m0, n0, k0 + BK);  // in flight during the MMAs
    mma_slice<T>(t, wm, wn, acc);
    __syncthreads();  // the next slice overwrites a and b
  }
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(t.c + (wm * 32 + i * 16) * LDC_S + wn * 32 + j * 16, acc[i][j], LDC_S,
                              wmma::mem_row_major);
}

// The same product with scalar FMAs (bf16 before sm_80): thread → column tid % BN, 32 rows.
template <class T>
__device__ void tile_product_scalar(Tile& t, const Args& g, int64_t m0, int64_t n0) {
  constexpr int ROWS = BM * BN / THREADS;  // 32 outputs per thread
  const int c = threadIdx.x % BN, r0 = (threadIdx.x / BN) * ROWS;
  const T* As = reinterpret_cast<const T*>(t.a);
  const T* Bs = reinterpret_cast<const T*>(t.b);
  float acc[ROWS];
  for (int i = 0; i < ROWS; ++i) acc[i] = 0.0f;
  Slices next;
  next.fetch(g, m0, n0, 0);
  for (int64_t k0 = 0; k0 < g.K; k0 += BK) {
    next.store(t, g);
    if (k0 + BK < g.K) next.fetch(g, m0, n0, k0 + BK);
    for (int kk = 0; kk < BK; ++kk) {
      const float b = to_float(Bs[kk * LDB_S + c]);
      for (int i = 0; i < ROWS; ++i) acc[i] += to_float(As[(r0 + i) * LDA_S + kk]) * b;
    }
    __syncthreads();
  }
  for (int i = 0; i < ROWS; ++i) t.c[(r0 + i) * LDC_S + c] = acc[i];
}

// C (M, N) = alpha · op(A) · op(B) + beta · C, one BM×BN tile per block; beta == 0 never reads C
// (it may hold NaN).
template <class T>
__global__ void __launch_bounds__(THREADS) gemm_kernel(Args g) {
  __shared__ Tile tile[1];
  Tile& t = tile[0];
  const int64_t m0 = (int64_t)(blockIdx.x / g.tiles_n) * BM;
  const int64_t n0 = (int64_t)(blockIdx.x % g.tiles_n) * BN;
  constexpr bool wmma_ok = !std::is_same<T, __nv_bfloat16>::value || kBf16Wmma;
  if constexpr (wmma_ok) {
    tile_product_wmma<T>(t, g, m0, n0);
  } else {
    tile_product_scalar<T>(t, g, m0, n0);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < BM * BN; i += THREADS) {
    const int r = i / BN, c = i % BN;
    const int64_t m = m0 + r, n = n0 + c;
    if (m >= g.M || n >= g.N) continue;
    float v = g.alpha * t.c[r * LDC_S + c];
    if (g.beta != 0.0f) v += g.beta * g.C[m * g.ldc + n];
    g.C[m * g.ldc + n] = v;
  }
}

// x (rows, cols) with ld → y (rows, cols) dense 16-bit.
template <class T>
__global__ void pack16_kernel(const float* x, int64_t rows, int64_t cols, int64_t ld, T* y) {
  const int64_t n = rows * cols;
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    const int64_t r = i / cols, c = i % cols;
    y[i] = from_float<T>(x[r * ld + c]);
  }
}

}  // namespace

void check_gemm_args(const char* what, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                     int64_t ldb, DType ab, int64_t ldc) {
  BGN_CHECK(ab == DType::F16 || ab == DType::BF16, Code::Internal, what, ": GEMM operands must be F16 or BF16, not ",
            dtype_name(ab));
  BGN_CHECK(M >= 0 && N >= 0 && K >= 0, Code::Internal, what, ": negative GEMM size M=", M, " N=", N, " K=", K);
  const int64_t a_width = trans_a ? M : K, b_width = trans_b ? K : N;
  BGN_CHECK(lda >= std::max<int64_t>(1, a_width), Code::Internal, what, ": lda ", lda, " is below the row width ",
            a_width, " of A");
  BGN_CHECK(ldb >= std::max<int64_t>(1, b_width), Code::Internal, what, ": ldb ", ldb, " is below the row width ",
            b_width, " of B");
  BGN_CHECK(ldc >= std::max<int64_t>(1, N), Code::Internal, what, ": ldc ", ldc, " is below the row width ", N,
            " of C");
}

void gemm_tensor_core(cudaStream_t s, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                      const void* A, int64_t lda, const void* B, int64_t ldb, DType ab, float beta, float* C,
                      int64_t ldc) {
  check_gemm_args("gemm (tensor-core kernel)", trans_a, trans_b, M, N, K, lda, ldb, ab, ldc);
  if (M == 0 || N == 0) return;
  const int64_t tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN;
  BGN_CHECK(tiles_m <= INT32_MAX / tiles_n, Code::Internal, "gemm (tensor-core kernel): ", M, "x", N,
            " needs more blocks than one launch takes");
  const auto* a = static_cast<const uint16_t*>(A);
  const auto* b = static_cast<const uint16_t*>(B);
  const bool vec_a = lda % 8 == 0 && reinterpret_cast<uintptr_t>(A) % 16 == 0;
  const bool vec_b = ldb % 8 == 0 && reinterpret_cast<uintptr_t>(B) % 16 == 0;
  const Args args{M, N, K, a, lda, b, ldb, C, ldc, alpha, beta, trans_a, trans_b, vec_a, vec_b, tiles_n};
  const dim3 grid((unsigned)(tiles_m * tiles_n)), block(THREADS);
  if (ab == DType::F16) {
    auto k = gemm_kernel<__half>;
    BGN_LAUNCH(k, grid, block, 0, s)(args);
  } else {
    auto k = gemm_kernel<__nv_bfloat16>;
    BGN_LAUNCH(k, grid, block, 0, s)(args);
  }
  check_launch("gemm (tensor-core kernel)");
}

void pack16(cudaStream_t s, const float* x, int64_t rows, int64_t cols, int64_t ld, void* y, DType to) {
  BGN_CHECK(to == DType::F16 || to == DType::BF16, Code::Internal, "pack16: target must be F16 or BF16, not ",
            dtype_name(to));
  BGN_CHECK(rows >= 0 && cols >= 0 && ld >= cols, Code::Internal, "pack16: bad shape ", rows, "x", cols, " ld ", ld);
  const int64_t n = rows * cols;
  if (n == 0) return;
  const unsigned threads = 256, blocks = grid_for(n, threads);
  if (to == DType::F16) {
    auto k = pack16_kernel<__half>;
    BGN_LAUNCH(k, dim3(blocks), dim3(threads), 0, s)(x, rows, cols, ld, static_cast<__half*>(y));
  } else {
    auto k = pack16_kernel<__nv_bfloat16>;
    BGN_LAUNCH(k, dim3(blocks), dim3(threads), 0, s)(x, rows, cols, ld, static_cast<__nv_bfloat16*>(y));
  }
  check_launch("pack16");
}

}  // namespace bgn::cuda::detail
