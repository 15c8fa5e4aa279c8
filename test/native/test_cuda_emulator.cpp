// The CPU emulation of the CUDA execution model (test/native/support/cuda_emu): barriers, shared memory, warp
// shuffles, wmma, the runtime's memory and error behaviour, and the checks that turn GPU hangs and
// host accesses to device memory into immediate, explained failures. Emulator-only: on a real
// device (the *_gpu twin) these properties are the hardware's, so that build skips.
#include "testing.h"
#include "cuda_testing.h"

#if defined(BGN_CUDA_EMULATE)

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using bgn::testing::DevVec;

namespace {

std::vector<float> random_floats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  return bgn_test::uniform(n, seed, lo, hi);
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Runs `fn` in a forked child with stderr captured; returns the signal that ended it (0 if it
// exited) and its stderr in `err`.
template <class Fn>
int run_in_child(Fn fn, std::string& err) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    fn();
    _exit(0);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t got;
  err.clear();
  while ((got = read(fds[0], buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(got));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// ---- kernels -------------------------------------------------------------------------------

// out[blockIdx.x] = sum of x[blockIdx.x*256 .. +256) (missing elements count 0); block 256.
// Tree reduction in shared memory, one __syncthreads per level.
__global__ void block_sum_kernel(const float* x, float* out, int n) {
  __shared__ float buf[256];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  buf[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = buf[0];
}

// Per block: out[b] = sum of x over the block's threads, via __shfl_down_sync per warp and a
// shared array of warp sums (any block size up to 1024, last warp possibly partial).
__global__ void warp_sum_kernel(const int* x, int* out, int n) {
  __shared__ int warp_sums[32];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  int v = i < n ? x[i] : 0;
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const unsigned live = min(32u, blockDim.x - warp * 32);
  // Tree over the live lanes only: lanes past the end of a partial warp hold no value.
  for (unsigned d = 16; d > 0; d >>= 1) {
    const int other = __shfl_down_sync(0xffffffffu, v, d);
    if (lane + d < live) v += other;
  }
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    int total = 0;
    for (unsigned w = 0; w < (blockDim.x + 31) / 32; ++w) total += warp_sums[w];
    out[blockIdx.x] = total;
  }
}

// out[t*4 + k] for thread t: k=0 xor-butterfly sum over 16-lane segments, k=1 value of lane
// (lane/8)*8 + 3 (broadcast within 8-lane segments), k=2 shfl_down by 5 in full width,
// k=3 shfl_up by 2 within 16-lane segments. Inputs are the lane numbers times 10 plus the warp.
__global__ void shuffle_variants_kernel(int* out) {
  const int t = threadIdx.x;
  const int v = (t % 32) * 10 + t / 32;
  int s = v;
  for (int m = 8; m > 0; m >>= 1) s += __shfl_xor_sync(0xffffffffu, s, m, 16);
  out[t * 4 + 0] = s;
  out[t * 4 + 1] = __shfl_sync(0xffffffffu, v, 3, 8);
  out[t * 4 + 2] = __shfl_down_sync(0xffffffffu, v, 5);
  out[t * 4 + 3] = __shfl_up_sync(0xffffffffu, v, 2, 16);
}

__global__ void float_shuffle_kernel(const float* x, float* out) {
  const float v = x[threadIdx.x];
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, v, 1) + __shfl_sync(0xffffffffu, v, 31);
}

// Every thread of a 3-D grid of 3-D blocks writes its coordinates at its own global index.
__global__ void coords_kernel(int* out, int nx, int ny) {
  const int gx = blockIdx.x * blockDim.x + threadIdx.x;
  const int gy = blockIdx.y * blockDim.y + threadIdx.y;
  const int gz = blockIdx.z * blockDim.z + threadIdx.z;
  const int i = (gz * ny + gy) * nx + gx;
  out[i * 3 + 0] = blockIdx.x * 100 + threadIdx.x;
  out[i * 3 + 1] = blockIdx.y * 100 + threadIdx.y;
  out[i * 3 + 2] = (blockIdx.z * 100 + threadIdx.z) + 10000 * (gridDim.x * 100 + blockDim.y);
}

// One 16x16 tile per warp: d[w] = a[w] * b[w] + c[w]; operand layouts by template parameter,
// accumulator loaded and stored in `layout`. Tiles are 16x16 with ld 16 (a: MxK, b: KxN).
template <class T, class LA, class LB>
__global__ void wmma_kernel(const T* a, const T* b, const float* c, float* d, int c_col_major) {
  using namespace nvcuda;
  const int w = threadIdx.x / 32;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LA> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LB> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  const wmma::layout_t layout = c_col_major ? wmma::mem_col_major : wmma::mem_row_major;
  wmma::load_matrix_sync(fa, a + w * 256, 16);
  wmma::load_matrix_sync(fb, b + w * 256, 16);
  wmma::load_matrix_sync(acc, c + w * 256, 16, layout);
  wmma::mma_sync(acc, fa, fb, acc);
  for (int i = 0; i < acc.num_elements; ++i) acc.x[i] *= 2.0f;
  wmma::store_matrix_sync(d + w * 256, acc, 16, layout);
}

__global__ void dynamic_smem_kernel(float* out, int n) {
  BGN_DYNAMIC_SHARED(float, buf);
  // Read before anything is written: the poison must show, in every block.
  out[blockIdx.x * n + threadIdx.x] = buf[threadIdx.x];
  __syncthreads();
  buf[threadIdx.x] = 1.0f;
}

__global__ void fill_kernel(float* out, float v) { out[threadIdx.x] = v; }

__global__ void atomics_kernel(int* count, float* sum, int* mx) {
  atomicAdd(count, 1);
  atomicAdd(sum, 0.5f);
  atomicMax(mx, static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x));
}

__global__ void half_kernel(const __half* h, const __nv_bfloat16* b, float* out) {
  const int i = threadIdx.x;
  out[i] = __half2float(h[i]) + __bfloat162float(b[i]);
}

__global__ void divergent_sync_kernel(float* out) {
  if (threadIdx.x >= 40) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void divergent_shuffle_kernel(float* out) {
  if (threadIdx.x % 32 >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void mixed_barrier_kernel(float* out) {
  if (threadIdx.x < 16)
    __syncwarp();
  else
    __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void partial_warp_wmma_kernel(float* out) {
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> acc;
  nvcuda::wmma::fill_fragment(acc, 0.0f);
  out[threadIdx.x] = acc.x[0];
}

__global__ void throwing_kernel(float* out) {
  if (threadIdx.x == 3) throw std::runtime_error("bad thing in thread 3");
  out[threadIdx.x] = 0.0f;
}

// Reads the other warp's value, then overwrites its own without the __syncthreads that must come
// between (a __syncwarp does not order warps): with that barrier out[t] = (t + 32) % 64.
__global__ void missing_barrier_kernel(int* out) {
  __shared__ int buf[64];
  const int t = static_cast<int>(threadIdx.x);
  buf[t] = t;
  __syncthreads();
  const int v = buf[(t + 32) % 64];
  __syncwarp();
  buf[t] = -1;
  out[blockIdx.x * 64 + t] = v;
}

__global__ void many_syncs_kernel(float* out) {
  __shared__ float buf[256];
  float v = static_cast<float>(threadIdx.x);
  for (int r = 0; r < 4; ++r) {
    buf[threadIdx.x] = v;
    __syncthreads();
    v = buf[(threadIdx.x + 1) % blockDim.x];
    __syncthreads();
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}

}  // namespace

// ---- tests ---------------------------------------------------------------------------------

TEST("shared-memory block reduction matches the CPU sum (n not a multiple of the block)") {
  for (int n : {1, 255, 256, 1000}) {
    const auto x = random_floats(static_cast<size_t>(n), 7u + static_cast<unsigned>(n));
    const int blocks = (n + 255) / 256;
    DevVec<float> dx(x), dout(static_cast<size_t>(blocks));
    BGN_LAUNCH(block_sum_kernel, blocks, 256, 0, nullptr)(dx.p, dout.p, n);
    CHECK(cudaGetLastError() == cudaSuccess);
    const auto out = dout.get();
    double max_err = 0;
    for (int b = 0; b < blocks; ++b) {
      double ref = 0;
      for (int i = b * 256; i < std::min(n, b * 256 + 256); ++i) ref += x[static_cast<size_t>(i)];
      max_err = std::max(max_err, std::fabs(ref - out[static_cast<size_t>(b)]));
    }
    CHECK_MSG(max_err < 1e-4, "n=%d max error %g", n, max_err);
  }
}

TEST("warp-shuffle reduction: full and partial warps, exact integer sums") {
  for (int block : {32, 96, 100, 1024}) {
    const int n = 3 * block - 7;
    std::vector<int> x(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) x[static_cast<size_t>(i)] = (i * 37) % 101 - 50;
    DevVec<int> dx(x), dout(3);
    BGN_LAUNCH(warp_sum_kernel, 3, block, 0, nullptr)(dx.p, dout.p, n);
    const auto out = dout.get();
    for (int b = 0; b < 3; ++b) {
      int ref = 0;
      for (int i = b * block; i < std::min(n, (b + 1) * block); ++i) ref += x[static_cast<size_t>(i)];
      CHECK_MSG(out[static_cast<size_t>(b)] == ref, "block %d: block sum %d, expected %d", block,
                out[static_cast<size_t>(b)], ref);
    }
  }
}

TEST("shuffle variants: xor/idx/down/up with widths, out-of-segment lanes keep their value") {
  const int threads = 64;
  DevVec<int> dout(threads * 4);
  BGN_LAUNCH(shuffle_variants_kernel, 1, threads, 0, nullptr)(dout.p);
  const auto out = dout.get();
  int bad = 0;
  for (int t = 0; t < threads; ++t) {
    const int lane = t % 32, warp = t / 32;
    auto val = [&](int l) { return l * 10 + warp; };
    int seg_sum = 0;
    for (int l = lane / 16 * 16; l < lane / 16 * 16 + 16; ++l) seg_sum += val(l);
    const int bcast = val(lane / 8 * 8 + 3);
    const int down = lane + 5 < 32 ? val(lane + 5) : val(lane);
    const int up = lane % 16 >= 2 ? val(lane - 2) : val(lane);
    const int* o = &out[static_cast<size_t>(t) * 4];
    if (o[0] != seg_sum || o[1] != bcast || o[2] != down || o[3] != up) ++bad;
  }
  CHECK_MSG(bad == 0, "%d threads got wrong shuffle results", bad);

  const auto x = random_floats(32, 3);
  DevVec<float> dx(x), dy(32);
  BGN_LAUNCH(float_shuffle_kernel, 1, 32, 0, nullptr)(dx.p, dy.p);
  const auto y = dy.get();
  float max_err = 0;
  for (int l = 0; l < 32; ++l)
    max_err = std::max(max_err, std::fabs(y[static_cast<size_t>(l)] - (x[static_cast<size_t>(l ^ 1)] + x[31])));
  CHECK_MSG(max_err == 0.0f, "float shuffle error %g", max_err);
}

TEST("3-D grid of 3-D blocks: every thread sees its blockIdx/threadIdx/blockDim/gridDim") {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const int nx = 12, ny = 6, nz = 4;
  DevVec<int> dout(static_cast<size_t>(nx * ny * nz * 3));
  BGN_LAUNCH(coords_kernel, grid, block, 0, nullptr)(dout.p, nx, ny);
  const auto out = dout.get();
  int bad = 0;
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        const size_t i = static_cast<size_t>((z * ny + y) * nx + x) * 3;
        if (out[i] != (x / 4) * 100 + x % 4 || out[i + 1] != (y / 3) * 100 + y % 3 ||
            out[i + 2] != (z / 2) * 100 + z % 2 + 10000 * (300 + 3))
          ++bad;
      }
  CHECK_MSG(bad == 0, "%d threads wrote wrong coordinates", bad);
}

template <class T, class LA, class LB>
static void check_wmma(unsigned seed, bool c_col_major) {
  const int warps = 2;
  const bool a_row = std::is_same<LA, nvcuda::wmma::row_major>::value;
  const bool b_row = std::is_same<LB, nvcuda::wmma::row_major>::value;
  const auto af = random_floats(warps * 256, seed), bf = random_floats(warps * 256, seed + 1),
             cf = random_floats(warps * 256, seed + 2);
  std::vector<T> a(af.begin(), af.end()), b(bf.begin(), bf.end());
  DevVec<T> da(a), db(b);
  DevVec<float> dc(cf), dd(warps * 256);
  auto k = wmma_kernel<T, LA, LB>;
  BGN_LAUNCH(k, 1, warps * 32, 0, nullptr)(da.p, db.p, dc.p, dd.p, c_col_major ? 1 : 0);
  CHECK(cudaGetLastError() == cudaSuccess);
  const auto d = dd.get();
  double max_err = 0;
  for (int w = 0; w < warps; ++w) {
    const size_t o = static_cast<size_t>(w) * 256;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        const size_t cij = o + (c_col_major ? j * 16 + i : i * 16 + j);
        double ref = cf[cij];
        for (int kk = 0; kk < 16; ++kk) {
          const float av = static_cast<float>(a[o + (a_row ? i * 16 + kk : kk * 16 + i)]);
          const float bv = static_cast<float>(b[o + (b_row ? kk * 16 + j : j * 16 + kk)]);
          ref += static_cast<double>(av) * bv;
        }
        max_err = std::max(max_err, std::fabs(2.0 * ref - d[cij]));
      }
  }
  // Products of 16-bit values are exact in float; 16 float additions of |x| < 4 lose < 1e-5.
  CHECK_MSG(max_err < 1e-4, "wmma max error %g (c %s)", max_err, c_col_major ? "col" : "row");
}

TEST("wmma 16x16x16 f16 and bf16, all operand and accumulator layouts, against a naive loop") {
  using nvcuda::wmma::col_major;
  using nvcuda::wmma::row_major;
  check_wmma<__half, row_major, row_major>(11, false);
  check_wmma<__half, row_major, col_major>(12, true);
  check_wmma<__half, col_major, row_major>(13, false);
  check_wmma<__half, col_major, col_major>(14, true);
  check_wmma<__nv_bfloat16, row_major, row_major>(15, true);
  check_wmma<__nv_bfloat16, col_major, row_major>(16, false);
  check_wmma<__nv_bfloat16, row_major, col_major>(17, false);
}

TEST("half and bfloat16 round to nearest even, convert implicitly, and travel to kernels") {
  CHECK(__half_as_ushort(__float2half(1.0f / 3.0f)) == 0x3555);
  CHECK(__half_as_ushort(__float2half(1.0f + std::ldexp(1.0f, -11))) == 0x3C00);         // tie → even
  CHECK(__half_as_ushort(__float2half_rn(1.0f + 3 * std::ldexp(1.0f, -11))) == 0x3C02);  // tie → even (up)
  CHECK(__half_as_ushort(__float2half(65520.0f)) == 0x7C00);                             // overflow → inf
  CHECK(__bfloat16_as_ushort(__float2bfloat16(1.0f + std::ldexp(1.0f, -8))) == 0x3F80);
  CHECK(__bfloat16_as_ushort(__float2bfloat16_rn(1.0f + 3 * std::ldexp(1.0f, -8))) == 0x3F82);
  CHECK(__half2float(__ushort_as_half(0xC000)) == -2.0f);
  CHECK(__bfloat162float(__ushort_as_bfloat16(0x4040)) == 3.0f);
  const __half h = 0.5f;
  const float f = h;
  CHECK(f == 0.5f && sizeof(__half) == 2 && sizeof(__nv_bfloat16) == 2);

  std::vector<__half> hv;
  std::vector<__nv_bfloat16> bv;
  for (int i = 0; i < 40; ++i) {
    hv.push_back(__float2half(0.25f * i));
    bv.push_back(__float2bfloat16(-0.5f * i));
  }
  DevVec<__half> dh(hv);
  DevVec<__nv_bfloat16> db(bv);
  DevVec<float> dout(40);
  BGN_LAUNCH(half_kernel, 1, 40, 0, nullptr)(dh.p, db.p, dout.p);
  const auto out = dout.get();
  int bad = 0;
  for (int i = 0; i < 40; ++i) bad += out[static_cast<size_t>(i)] != -0.25f * i;
  CHECK(bad == 0);
}

TEST("atomics are atomic across the block's threads and blocks") {
  DevVec<int> count(std::vector<int>{0}), mx(std::vector<int>{-5});
  DevVec<float> sum(std::vector<float>{0.0f});
  BGN_LAUNCH(atomics_kernel, 7, 130, 0, nullptr)(count.p, sum.p, mx.p);
  CHECK(count.get()[0] == 7 * 130);
  CHECK(sum.get()[0] == 0.5f * 7 * 130);
  CHECK(mx.get()[0] == 7 * 130 - 1);
}

TEST("cudaMalloc beyond the capacity is cudaErrorMemoryAllocation, reported once by cudaGetLastError") {
  size_t free0 = 0, total = 0;
  CHECK(cudaMemGetInfo(&free0, &total) == cudaSuccess);
  CHECK(total == bgn::emu::memory_capacity());
  void* p = reinterpret_cast<void*>(1);
  CHECK(cudaMalloc(&p, total + 1) == cudaErrorMemoryAllocation);
  CHECK(p == nullptr);
  CHECK(cudaPeekAtLastError() == cudaErrorMemoryAllocation);  // peek does not clear
  CHECK(cudaGetLastError() == cudaErrorMemoryAllocation);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(std::string(cudaGetErrorName(cudaErrorMemoryAllocation)) == "cudaErrorMemoryAllocation");
  CHECK(std::string(cudaGetErrorString(cudaErrorMemoryAllocation)) == "out of memory");

  void* q = nullptr;
  CHECK(cudaMalloc(&q, 1 << 20) == cudaSuccess);
  size_t free1 = 0;
  cudaMemGetInfo(&free1, &total);
  CHECK(free0 - free1 == (1u << 20));
  CHECK(cudaFree(q) == cudaSuccess);
  cudaMemGetInfo(&free1, &total);
  CHECK(free1 == free0);
  int host = 0;
  CHECK(cudaFree(&host) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaFree(nullptr) == cudaSuccess);

  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0) == cudaSuccess);
  CHECK(std::string(prop.name) == "CUDA emulator (CPU)");
  CHECK(prop.totalGlobalMem == total && prop.warpSize == 32 && prop.maxThreadsPerBlock == 1024);
  CHECK(prop.sharedMemPerBlock == 48 * 1024 && prop.sharedMemPerBlockOptin == 227 * 1024);
  CHECK(prop.major == 8 && prop.minor == 0 && prop.multiProcessorCount == 4 && prop.maxGridSize[1] == 65535);
  CHECK(cudaGetDeviceProperties(&prop, 1) == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
}

TEST("invalid launch configurations are reported as CUDA does and the kernel does not run") {
  DevVec<float> out(std::vector<float>(64, 7.0f));
  BGN_LAUNCH(fill_kernel, 1, 1025, 0, nullptr)(out.p, 1.0f);
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidConfiguration);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  BGN_LAUNCH(fill_kernel, 0, 64, 0, nullptr)(out.p, 1.0f);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  BGN_LAUNCH(fill_kernel, dim3(1, 1, 1), dim3(64, 0, 1), 0, nullptr)(out.p, 1.0f);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  BGN_LAUNCH(fill_kernel, dim3(1, 65536, 1), 64, 0, nullptr)(out.p, 1.0f);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  // Dynamic shared memory above 48 KiB needs the attribute; above 227 KiB is never possible.
  BGN_LAUNCH(fill_kernel, 1, 64, 64 * 1024, nullptr)(out.p, 1.0f);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  const auto unchanged = out.get();
  CHECK(unchanged[0] == 7.0f && unchanged[63] == 7.0f);

  CHECK(cudaFuncSetAttribute(fill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024) ==
        cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaFuncSetAttribute(fill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024) == cudaSuccess);
  BGN_LAUNCH(fill_kernel, 1, 64, 64 * 1024, nullptr)(out.p, 2.0f);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(out.get()[63] == 2.0f);
  BGN_LAUNCH(fill_kernel, 1, 64, 64 * 1024 + 4, nullptr)(out.p, 3.0f);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(out.get()[63] == 2.0f);
  // The maximum block size runs.
  DevVec<float> big(1024);
  BGN_LAUNCH(fill_kernel, 1, 1024, 0, nullptr)(big.p, 5.0f);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK(big.get()[1023] == 5.0f);
}

TEST("cudaMemcpy/cudaMemset check that the device side lies inside one allocation") {
  DevVec<float> a(10), b(10);
  std::vector<float> h(11, 1.0f);
  CHECK(cudaMemcpy(a.p, h.data(), 10 * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(a.p, h.data(), 11 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(a.p + 9, h.data(), sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(a.p + 9, h.data(), 2 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(h.data(), a.p + 1, 10 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(h.data(), h.data() + 1, sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(a.p, b.p, sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);  // src is device
  CHECK(cudaMemcpy(b.p, a.p, 10 * sizeof(float), cudaMemcpyDeviceToDevice) == cudaSuccess);
  CHECK(cudaMemcpy(b.p, a.p, 11 * sizeof(float), cudaMemcpyDeviceToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemset(b.p + 5, 0, 5 * sizeof(float)) == cudaSuccess);
  CHECK(cudaMemset(b.p + 5, 0, 6 * sizeof(float)) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(h.data(), b.p, 10 * sizeof(float), cudaMemcpyDefault) == cudaSuccess);
  CHECK(h[4] == 1.0f && h[5] == 0.0f && h[9] == 0.0f);
  cudaGetLastError();
}

TEST("dynamic shared memory and fresh device memory are poisoned (NaN) until written") {
  const int n = 48, blocks = 3;
  DevVec<float> out(static_cast<size_t>(n * blocks));
  BGN_LAUNCH(dynamic_smem_kernel, blocks, n, n * sizeof(float), nullptr)(out.p, n);
  const auto o = out.get();
  int poisoned = 0;
  for (float v : o) poisoned += float_bits(v) == 0xFFFFFFFFu;
  CHECK_MSG(poisoned == n * blocks, "%d of %d reads saw the poison", poisoned, n * blocks);

  DevVec<float> fresh(5);
  const auto f = fresh.get();
  CHECK(std::isnan(f[0]) && std::isnan(f[4]));
}

TEST("is_device_pointer knows live allocations only") {
  float* p = nullptr;
  CHECK(cudaMalloc(&p, 100 * sizeof(float)) == cudaSuccess);
  std::vector<float> host(4);
  int stack = 0;
  CHECK(bgn::emu::is_device_pointer(p));
  CHECK(bgn::emu::is_device_pointer(p + 99));
  CHECK(!bgn::emu::is_device_pointer(p + 100));
  CHECK(!bgn::emu::is_device_pointer(host.data()));
  CHECK(!bgn::emu::is_device_pointer(&stack));
  CHECK(reinterpret_cast<uintptr_t>(p) % 256 == 0);
  cudaFree(p);
  CHECK(!bgn::emu::is_device_pointer(p));
}

TEST("host code dereferencing a device pointer crashes at once") {
  DevVec<float> d(std::vector<float>(16, 1.0f));
  std::string err;
  const int sig = run_in_child(
      [&] {
        volatile float* p = d.p;
        std::printf("%f\n", static_cast<double>(p[0]));
      },
      err);
  CHECK_MSG(sig == SIGSEGV, "child ended by signal %d", sig);
  // The parent's view is unchanged: the memory is still usable through the runtime.
  CHECK(d.get()[15] == 1.0f);
}

TEST("divergent barriers, mixed barriers, partial-warp wmma and kernel exceptions abort with a reason") {
  DevVec<float> d(64);
  std::string err;
  int sig = run_in_child([&] { BGN_LAUNCH(divergent_sync_kernel, 2, 64, 0, nullptr)(d.p); }, err);
  CHECK_MSG(sig == SIGABRT && contains(err, "divergent __syncthreads") && contains(err, "test_cuda_emulator.cpp"),
            "signal %d, stderr: %s", sig, err.c_str());
  sig = run_in_child([&] { BGN_LAUNCH(divergent_shuffle_kernel, 1, 64, 0, nullptr)(d.p); }, err);
  CHECK_MSG(sig == SIGABRT && contains(err, "__shfl_xor_sync"), "signal %d, stderr: %s", sig, err.c_str());
  sig = run_in_child([&] { BGN_LAUNCH(mixed_barrier_kernel, 1, 32, 0, nullptr)(d.p); }, err);
  CHECK_MSG(sig == SIGABRT && contains(err, "deadlock"), "signal %d, stderr: %s", sig, err.c_str());
  sig = run_in_child([&] { BGN_LAUNCH(partial_warp_wmma_kernel, 1, 48, 0, nullptr)(d.p); }, err);
  CHECK_MSG(sig == SIGABRT && contains(err, "needs a full warp"), "signal %d, stderr: %s", sig, err.c_str());
  sig = run_in_child([&] { BGN_LAUNCH(throwing_kernel, 1, 8, 0, nullptr)(d.p); }, err);
  CHECK_MSG(sig == SIGABRT && contains(err, "bad thing in thread 3"), "signal %d, stderr: %s", sig, err.c_str());
  // The parent's team is unaffected.
  BGN_LAUNCH(fill_kernel, 1, 64, 0, nullptr)(d.p, 4.0f);
  CHECK(d.get()[0] == 4.0f);
}

TEST("a missing __syncthreads between warps shows as a wrong result in every block (a warp runs ahead)") {
  DevVec<int> out(2 * 64);
  BGN_LAUNCH(missing_barrier_kernel, 2, 64, 0, nullptr)(out.p);
  const auto o = out.get();
  for (int b = 0; b < 2; ++b) {
    int wrong = 0;
    for (int t = 0; t < 64; ++t) wrong += o[static_cast<size_t>(b * 64 + t)] != (t + 32) % 64;
    CHECK_MSG(wrong > 0, "block %d read every value as if the barrier were there", b);
  }
}

TEST("barriers are cheap enough: 200 blocks x 256 threads x 8 __syncthreads") {
  DevVec<float> out(200 * 256);
  const auto t0 = std::chrono::steady_clock::now();
  BGN_LAUNCH(many_syncs_kernel, 200, 256, 0, nullptr)(out.p);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto o = out.get();
  CHECK(o[0] == 4.0f && o[255] == 3.0f && o[256 + 10] == 14.0f);
  std::printf("    200 blocks of 256 threads with 8 barriers each: %.3f s\n", s);
  CHECK_MSG(s < 30.0, "took %.1f s", s);
}

int main() {
  bgn::testing::require_cuda_device("test_cuda_emulator");
  return bgn_test::run_all();
}

#else

#include <cstdio>
int main() {
  std::printf("test_cuda_emulator: skipped, it tests the CPU emulation of CUDA\n");
  return 0;
}

#endif
