// The CUDA GEMM engine, linear, sgemm and conv2d against their CPU twins (cpu::sgemm_serial,
// cpu::conv2d) on random data.
//
// Tolerance: every operand is rounded to its 16-bit type before the CPU reference sees it, so
// both sides multiply the same values exactly (a 16-bit product is exact in f32) and differ only
// in the order of the f32 sums. That error is below K·2⁻²⁴·Σ|a·b| (≈ 1.2e-5·Σ|a·b| at K = 200),
// so |Δ| ≤ 1e-4·(|alpha|·Σ|a·b| + |beta·c|) + 1e-6 per element holds for a correct kernel, while
// a wrong index, stride, edge fill or a missing barrier moves results by O(Σ|a·b|).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/threads.h"
#include "backend/cuda/kernels.h"
#include "cuda_testing.h"
#include "tensor/knobs.h"
#include "testing.h"

using bgn::Code;
using bgn::DType;
using bgn::cpu::Activation;
using bgn::cpu::Conv2dParams;
using bgn::testing::DevVec;
namespace cuda = bgn::cuda;

namespace {

constexpr float kRel = 1e-4f;
constexpr float kAbs = 1e-6f;
constexpr float kSentinel = 777.25f;  // memory a call must not write keeps it

using bgn_test::uniform;

uint16_t to16(float v, DType t) { return t == DType::F16 ? bgn::f32_to_f16(v) : bgn::f32_to_bf16(v); }
float from16(uint16_t v, DType t) { return t == DType::F16 ? bgn::f16_to_f32(v) : bgn::bf16_to_f32(v); }

std::vector<uint16_t> bits16(const std::vector<float>& x, DType t) {
  std::vector<uint16_t> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = to16(x[i], t);
  return y;
}
std::vector<float> widen(const std::vector<uint16_t>& x, DType t) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = from16(x[i], t);
  return y;
}
std::vector<float> rounded(const std::vector<float>& x, DType t) { return widen(bits16(x, t), t); }
std::vector<float> absolute(std::vector<float> x) {
  for (auto& e : x) e = std::fabs(e);
  return x;
}

// Workspace on cudaMalloc that remembers the largest block asked for.
class TestWorkspace : public cuda::Workspace {
 public:
  ~TestWorkspace() override { cudaFree(p_); }
  void* scratch(size_t bytes) override {
    largest = std::max(largest, bytes);
    if (bytes > cap_) {
      cudaFree(p_);
      p_ = nullptr;
      if (cudaMalloc(&p_, bytes) != cudaSuccess) bgn::fail(Code::OutOfMemory, "test workspace of ", bytes, " bytes");
      cap_ = bytes;
    }
    return p_;
  }
  size_t largest = 0;

 private:
  void* p_ = nullptr;
  size_t cap_ = 0;
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { cudaStreamCreate(&s); }
  ~Stream() { cudaStreamDestroy(s); }
};

// Largest |got − want| over the tolerance bound, over `rows` rows of `cols` values at stride ld
// (≤ 1 passes); counts entries outside the written columns that lost the sentinel as failures.
float worst_ratio(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& bound,
                  int64_t rows, int64_t cols, int64_t ld, float* max_abs = nullptr) {
  float worst = 0.f, abs_err = 0.f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < ld; ++c) {
      const size_t i = size_t(r * ld + c);
      if (c >= cols) {
        if (got[i] != kSentinel) worst = std::numeric_limits<float>::infinity();
        continue;
      }
      const float d = std::fabs(got[i] - want[i]);
      if (!(d <= std::numeric_limits<float>::max())) return std::numeric_limits<float>::infinity();  // NaN too
      abs_err = std::max(abs_err, d);
      worst = std::max(worst, d / (kRel * bound[i] + kAbs));
    }
  if (max_abs) *max_abs = abs_err;
  return worst;
}

// ---- gemm -------------------------------------------------------------------------------------------

struct GemmCase {
  int64_t M, N, K;
  bool ta, tb;
  float alpha, beta;
  int64_t pad;  // extra columns in every leading dimension
  DType dt;
  bool align8 = false;  // leading dimensions rounded up to 8 elements: the 128-bit load path
};

// Runs one case on the own kernel (own = true) or the engine's live path; returns the worst ratio.
float run_gemm(cuda::GemmEngine& g, const GemmCase& c, bool own, float* max_abs) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  auto ld = [&](int64_t width) { return c.align8 ? (width + c.pad + 7) / 8 * 8 : width + c.pad; };
  const int64_t lda = ld(a_cols), ldb = ld(b_cols), ldc = c.N + c.pad + 2;
  const auto a16 = bits16(uniform(size_t(a_rows * lda), 1 + uint32_t(c.M * 7 + c.K)), c.dt);
  const auto b16 = bits16(uniform(size_t(b_rows * ldb), 2 + uint32_t(c.N * 5 + c.K)), c.dt);
  std::vector<float> c0 = uniform(size_t(c.M * ldc), 3);
  for (int64_t r = 0; r < c.M; ++r)
    for (int64_t j = 0; j < ldc; ++j)
      if (j >= c.N)
        c0[size_t(r * ldc + j)] = kSentinel;
      else if (c.beta == 0.f)
        c0[size_t(r * ldc + j)] = std::numeric_limits<float>::quiet_NaN();
  const auto a = widen(a16, c.dt), b = widen(b16, c.dt);

  std::vector<float> want = c0, bound = c0;
  for (auto& e : bound) e = std::isnan(e) ? 0.f : std::fabs(c.beta * e);
  if (c.beta == 0.f)
    for (auto& e : want)
      if (std::isnan(e)) e = 0.f;  // beta = 0 must not read C, so NaN · 0 never happens
  bgn::cpu::sgemm_serial(c.ta, c.tb, c.M, c.N, c.K, c.alpha, a.data(), lda, b.data(), ldb, c.beta, want.data(), ldc);
  bgn::cpu::sgemm_serial(c.ta, c.tb, c.M, c.N, c.K, std::fabs(c.alpha), absolute(a).data(), lda, absolute(b).data(),
                         ldb, 1.f, bound.data(), ldc);

  DevVec<uint16_t> da(a16), db(b16);
  DevVec<float> dc(c0);
  if (own)
    g.gemm_own(c.ta, c.tb, c.M, c.N, c.K, c.alpha, da.p, lda, db.p, ldb, c.dt, c.beta, dc.p, ldc);
  else
    g.gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, da.p, lda, db.p, ldb, c.dt, c.beta, dc.p, ldc);
  return worst_ratio(dc.get(), want, bound, c.M, c.N, ldc, max_abs);
}

void check_gemm_shapes(DType dt, bool own) {
  Stream st;
  cuda::GemmEngine g(st.s);
  const int64_t shapes[][3] = {{1, 1, 1}, {17, 33, 65}, {64, 64, 64}, {130, 70, 200}};
  float worst = 0.f, max_abs = 0.f;
  for (const auto& sh : shapes)
    for (int t = 0; t < 4; ++t) {
      const GemmCase c{sh[0], sh[1], sh[2], (t & 1) != 0, (t & 2) != 0, 1.f, 0.f, 0, dt};
      float e = 0.f;
      const float r = run_gemm(g, c, own, &e);
      CHECK_MSG(r <= 1.f, "%s %lldx%lldx%lld ta=%d tb=%d: error %.3g of the bound", bgn::dtype_name(dt), (long long)c.M,
                (long long)c.N, (long long)c.K, c.ta, c.tb, r);
      worst = std::max(worst, r), max_abs = std::max(max_abs, e);
    }
  std::printf("    %s on %s: max |Δ| %.3g, worst %.3g of the bound\n", bgn::dtype_name(dt),
              own ? "the tensor-core kernel" : g.path(), max_abs, worst);
}

TEST("gemm_own matches sgemm on f16 operands for every shape and transposition") {
  check_gemm_shapes(DType::F16, true);
}

TEST("gemm_own matches sgemm on bf16 operands for every shape and transposition") {
  check_gemm_shapes(DType::BF16, true);
}

TEST("gemm on the live path (cuBLAS when loaded) matches sgemm") {
  check_gemm_shapes(DType::F16, false);
  check_gemm_shapes(DType::BF16, false);
}

TEST("gemm applies alpha and beta, never reads C when beta is 0, and keeps to ldc") {
  Stream st;
  cuda::GemmEngine g(st.s);
  const GemmCase cases[] = {
      {33, 47, 70, false, true, 1.f, 0.f, 5, DType::F16},     // NaN-filled C, padded lds
      {33, 47, 70, true, false, 0.5f, -1.5f, 3, DType::F16},  // C read and scaled
      {20, 65, 17, true, true, 2.f, 1.f, 9, DType::BF16},     // accumulate into C
      {65, 20, 33, false, false, -1.f, 0.25f, 1, DType::BF16},
      {5, 6, 0, false, false, 1.f, 2.f, 1, DType::F16},  // K = 0: C = beta·C
      {5, 6, 0, false, true, 1.f, 0.f, 1, DType::F16},   // K = 0, beta = 0: zeros, not NaN
  };
  for (bool own : {true, false})
    for (const auto& c : cases) {
      const float r = run_gemm(g, c, own, nullptr);
      CHECK_MSG(r <= 1.f, "%lldx%lldx%lld alpha %g beta %g pad %lld: error %.3g of the bound", (long long)c.M,
                (long long)c.N, (long long)c.K, c.alpha, c.beta, (long long)c.pad, r);
    }
}

TEST("gemm reads 8-aligned operands in 128-bit runs, edge runs included, in every transposition") {
  Stream st;
  cuda::GemmEngine g(st.s);
  float worst = 0.f;
  for (int t = 0; t < 4; ++t)
    for (DType dt : {DType::F16, DType::BF16}) {
      // K = 44 and M = 36 end inside a run of 8; the padded lds keep every row start aligned.
      const GemmCase c{36, 72, 44, (t & 1) != 0, (t & 2) != 0, 1.f, 0.5f, 3, dt, true};
      const float r = run_gemm(g, c, true, nullptr);
      CHECK_MSG(r <= 1.f, "%s ta=%d tb=%d: error %.3g of the bound", bgn::dtype_name(dt), c.ta, c.tb, r);
      worst = std::max(worst, r);
    }
  std::printf("    worst %.3g of the bound\n", worst);
}

TEST("gemm rejects leading dimensions narrower than the rows and non-16-bit operands") {
  Stream st;
  cuda::GemmEngine g(st.s);
  DevVec<uint16_t> a(64), b(64);
  DevVec<float> c(64);
  CHECK_THROWS_CODE(g.gemm_own(false, false, 4, 4, 4, 1.f, a.p, 3, b.p, 4, DType::F16, 0.f, c.p, 4), Code::Internal);
  CHECK_THROWS_CODE(g.gemm_own(true, false, 5, 4, 4, 1.f, a.p, 4, b.p, 4, DType::F16, 0.f, c.p, 4), Code::Internal);
  CHECK_THROWS_CODE(g.gemm(false, true, 4, 4, 5, 1.f, a.p, 5, b.p, 4, DType::F16, 0.f, c.p, 4), Code::Internal);
  CHECK_THROWS_CODE(g.gemm(false, false, 4, 5, 4, 1.f, a.p, 4, b.p, 5, DType::F16, 0.f, c.p, 4), Code::Internal);
  CHECK_THROWS_CODE(g.gemm(false, false, 4, 4, 4, 1.f, a.p, 4, b.p, 4, DType::F32, 0.f, c.p, 4), Code::Internal);
}

TEST("BGN_CUDA_GEMM picks the path and rejects unknown values") {
  Stream st;
  bgn::knobs::set_for_test("BGN_CUDA_GEMM", "own");
  CHECK(std::string(cuda::GemmEngine(st.s).path()) == "tensor-core kernel");
  bgn::knobs::set_for_test("BGN_CUDA_GEMM", "blas");
  CHECK_THROWS_CODE(cuda::GemmEngine(st.s), Code::Config);
  bgn::knobs::set_for_test("BGN_CUDA_GEMM", "cublas");
  const std::string forced = cuda::GemmEngine(st.s).path();
  CHECK(forced == "cublas" || forced == "tensor-core kernel");
  if (bgn::cuda_emulated()) CHECK(forced == "tensor-core kernel");  // no device for cuBLAS to run on
  bgn::knobs::reset_for_test("BGN_CUDA_GEMM");
  std::printf("    BGN_CUDA_GEMM=cublas runs on: %s\n", forced.c_str());
}

// ---- linear and sgemm ---------------------------------------------------------------------------------

TEST("linear matches x·wᵀ + bias with x rounded to the weight dtype, with and without bias") {
  Stream st;
  cuda::GemmEngine g(st.s);
  TestWorkspace ws;
  struct Case {
    int64_t M, in, out;
    bool bias;
    DType dt;
  };
  const Case cases[] = {{1, 8, 3, true, DType::F16},
                        {7, 77, 33, true, DType::BF16},
                        {70, 40, 65, false, DType::F16},
                        {3, 130, 10, false, DType::BF16}};
  float worst = 0.f;
  for (const auto& c : cases) {
    const auto x = uniform(size_t(c.M * c.in), 5 + uint32_t(c.in));
    const auto w16 = bits16(uniform(size_t(c.out * c.in), 6 + uint32_t(c.out)), c.dt);
    const auto bias = uniform(size_t(c.out), 7);
    const auto xr = rounded(x, c.dt), w = widen(w16, c.dt);
    std::vector<float> want(size_t(c.M * c.out), 0.f), bound(size_t(c.M * c.out), 0.f);
    bgn::cpu::sgemm_serial(false, true, c.M, c.out, c.in, 1.f, xr.data(), c.in, w.data(), c.in, 0.f, want.data(),
                           c.out);
    bgn::cpu::sgemm_serial(false, true, c.M, c.out, c.in, 1.f, absolute(xr).data(), c.in, absolute(w).data(), c.in, 0.f,
                           bound.data(), c.out);
    if (c.bias)
      for (int64_t r = 0; r < c.M; ++r)
        for (int64_t j = 0; j < c.out; ++j)
          want[size_t(r * c.out + j)] += bias[size_t(j)], bound[size_t(r * c.out + j)] += 1.f;
    DevVec<float> dx(x), db(bias), dy(size_t(c.M * c.out));
    DevVec<uint16_t> dw(w16);
    cuda::linear(g, ws, st.s, dx.p, c.M, c.in, dw.p, c.dt, c.bias ? db.p : nullptr, c.out, dy.p);
    const float r = worst_ratio(dy.get(), want, bound, c.M, c.out, c.out);
    CHECK_MSG(r <= 1.f, "linear %lldx%lld→%lld bias %d: error %.3g of the bound", (long long)c.M, (long long)c.in,
              (long long)c.out, c.bias, r);
    worst = std::max(worst, r);
  }
  std::printf("    worst %.3g of the bound\n", worst);
}

TEST("sgemm rounds strided f32 operands to f16 and matches cpu::sgemm") {
  Stream st;
  cuda::GemmEngine g(st.s);
  TestWorkspace ws;
  struct Case {
    int64_t M, N, K;
    bool ta, tb;
    float alpha, beta;
  };
  const Case cases[] = {{9, 70, 33, false, false, 1.f, 0.f},
                        {9, 70, 33, true, true, 0.5f, 1.f},
                        {66, 5, 17, true, false, 1.f, -1.f},
                        {66, 5, 17, false, true, -2.f, 0.f}};
  for (const auto& c : cases) {
    const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
    const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
    const int64_t lda = a_cols + 3, ldb = b_cols + 2, ldc = c.N + 1;
    const auto A = uniform(size_t(a_rows * lda), 8), B = uniform(size_t(b_rows * ldb), 9);
    std::vector<float> c0 = uniform(size_t(c.M * ldc), 10);
    for (int64_t r = 0; r < c.M; ++r) c0[size_t(r * ldc + c.N)] = kSentinel;
    if (c.beta == 0.f)
      for (int64_t r = 0; r < c.M; ++r)
        for (int64_t j = 0; j < c.N; ++j) c0[size_t(r * ldc + j)] = std::numeric_limits<float>::quiet_NaN();
    const auto Ar = rounded(A, DType::F16), Br = rounded(B, DType::F16);
    std::vector<float> want = c0, bound = c0;
    for (auto& e : want)
      if (std::isnan(e)) e = 0.f;
    for (auto& e : bound) e = std::isnan(e) ? 0.f : std::fabs(c.beta * e);
    bgn::cpu::sgemm_serial(c.ta, c.tb, c.M, c.N, c.K, c.alpha, Ar.data(), lda, Br.data(), ldb, c.beta, want.data(),
                           ldc);
    bgn::cpu::sgemm_serial(c.ta, c.tb, c.M, c.N, c.K, std::fabs(c.alpha), absolute(Ar).data(), lda, absolute(Br).data(),
                           ldb, 1.f, bound.data(), ldc);
    DevVec<float> dA(A), dB(B), dC(c0);
    cuda::sgemm(g, ws, st.s, c.ta, c.tb, c.M, c.N, c.K, c.alpha, dA.p, lda, dB.p, ldb, c.beta, dC.p, ldc);
    const float r = worst_ratio(dC.get(), want, bound, c.M, c.N, ldc);
    CHECK_MSG(r <= 1.f, "sgemm %lldx%lldx%lld ta=%d tb=%d: error %.3g of the bound", (long long)c.M, (long long)c.N,
              (long long)c.K, c.ta, c.tb, r);
  }
}

// ---- conv2d ---------------------------------------------------------------------------------------------

struct ConvCase {
  const char* name;
  int64_t N, C, H, W, O, KH, KW;
  Conv2dParams p;
  bool bias;
  DType dt;
};

Conv2dParams params(int64_t stride, int64_t pt, int64_t pl, int64_t pb, int64_t pr, int64_t dil, int64_t groups,
                    Activation act = Activation::None) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_top = pt, p.pad_left = pl, p.pad_bottom = pb, p.pad_right = pr;
  p.dilation_h = p.dilation_w = dil;
  p.groups = groups;
  p.activation = act;
  return p;
}

// One conv on both backends (x rounded to the weight dtype for the reference, as im2col does);
// returns the worst ratio and, through `scratch`, the largest workspace block used.
float run_conv(const ConvCase& c, size_t* scratch = nullptr, float* max_abs = nullptr) {
  static bgn::ThreadPool pool(1);
  const int64_t OH = bgn::cpu::conv_out_size(c.H, c.KH, c.p.stride_h, c.p.pad_top, c.p.pad_bottom, c.p.dilation_h);
  const int64_t OW = bgn::cpu::conv_out_size(c.W, c.KW, c.p.stride_w, c.p.pad_left, c.p.pad_right, c.p.dilation_w);
  const int64_t Cg = c.C / c.p.groups;
  const auto x = uniform(size_t(c.N * c.C * c.H * c.W), 11 + uint32_t(c.C * c.H));
  const auto w16 = bits16(uniform(size_t(c.O * Cg * c.KH * c.KW), 12 + uint32_t(c.O)), c.dt);
  const auto bias = uniform(size_t(c.O), 13);
  const auto xr = rounded(x, c.dt), w = widen(w16, c.dt);
  const size_t ny = size_t(c.N * c.O * OH * OW);
  std::vector<float> want(ny), bound(ny);
  bgn::cpu::conv2d(pool, bgn::cpu::ConvInput(xr.data(), c.C), c.N, c.C, c.H, c.W, w.data(), c.O, c.KH, c.KW,
                   c.bias ? bias.data() : nullptr, c.p, want.data(), OH, OW);
  Conv2dParams plain = c.p;
  plain.activation = Activation::None;
  bgn::cpu::conv2d(pool, bgn::cpu::ConvInput(absolute(xr).data(), c.C), c.N, c.C, c.H, c.W, absolute(w).data(), c.O,
                   c.KH, c.KW, nullptr, plain, bound.data(), OH, OW);
  if (c.bias)
    for (auto& e : bound) e += 1.f;  // |bias| ≤ 1

  Stream st;
  cuda::GemmEngine g(st.s);
  TestWorkspace ws;
  DevVec<float> dx(x), db(bias), dy(ny);
  DevVec<uint16_t> dw(w16);
  cuda::conv2d(g, ws, st.s, dx.p, c.N, c.C, c.H, c.W, dw.p, c.dt, c.O, c.KH, c.KW, c.bias ? db.p : nullptr, c.p, dy.p,
               OH, OW);
  if (scratch) *scratch = ws.largest;
  const int64_t rows = c.N * c.O;
  return worst_ratio(dy.get(), want, bound, rows, OH * OW, OH * OW, max_abs);
}

void check_convs(const std::vector<ConvCase>& cases) {
  bgn::knobs::set_for_test("BGN_NO_WINOGRAD", "1");  // the reference sums directly, as the GEMM does
  for (const auto& c : cases) {
    float e = 0.f;
    const float r = run_conv(c, nullptr, &e);
    CHECK_MSG(r <= 1.f, "%s: error %.3g of the bound", c.name, r);
    std::printf("    %-34s max |Δ| %.3g, %.3g of the bound\n", c.name, e, r);
  }
}

TEST("conv2d matches cpu::conv2d for padding, stride, asymmetric padding and dilation") {
  check_convs({
      {"3x3 pad 1", 2, 5, 9, 11, 7, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, DType::F16},
      {"3x3 stride 2 pad 1 (bf16)", 1, 6, 10, 9, 9, 3, 3, params(2, 1, 1, 1, 1, 1, 1), true, DType::BF16},
      {"3x2 asymmetric pad 0,2,1,0", 1, 3, 7, 8, 4, 3, 2, params(1, 0, 2, 1, 0, 1, 1), false, DType::F16},
      {"3x3 dilation 2 pad 2", 1, 4, 9, 9, 5, 3, 3, params(1, 2, 2, 2, 2, 2, 1), true, DType::F16},
      {"5x5 stride 3 no pad", 1, 2, 13, 12, 3, 5, 5, params(3, 0, 0, 0, 0, 1, 1), false, DType::BF16},
  });
}

TEST("conv2d matches cpu::conv2d for groups, depthwise and 1x1 windows") {
  check_convs({
      {"groups 2", 2, 6, 7, 7, 4, 3, 3, params(1, 1, 1, 1, 1, 1, 2), true, DType::F16},
      {"depthwise 3x3 stride 2", 1, 5, 9, 8, 5, 3, 3, params(2, 1, 1, 1, 1, 1, 5), true, DType::BF16},
      {"depthwise dilation 2, asym pad, relu", 2, 4, 7, 9, 4, 3, 3, params(1, 2, 1, 0, 2, 2, 4, Activation::Relu), true,
       DType::F16},
      {"depthwise multiplier 2", 1, 3, 6, 6, 6, 3, 3, params(1, 1, 1, 1, 1, 1, 3), false, DType::F16},
      {"1x1", 2, 19, 5, 7, 70, 1, 1, params(1, 0, 0, 0, 0, 1, 1), true, DType::F16},
      {"1x1 groups 2 (bf16)", 1, 8, 6, 5, 6, 1, 1, params(1, 0, 0, 0, 0, 1, 2), false, DType::BF16},
      {"1x1 stride 2 (gathered)", 1, 4, 7, 7, 3, 1, 1, params(2, 0, 0, 0, 0, 1, 1), true, DType::F16},
  });
}

TEST("conv2d fuses bias with relu and sigmoid, and without bias") {
  check_convs({
      {"relu with bias", 1, 4, 6, 6, 5, 3, 3, params(1, 1, 1, 1, 1, 1, 1, Activation::Relu), true, DType::F16},
      {"sigmoid with bias", 1, 4, 6, 6, 5, 3, 3, params(1, 1, 1, 1, 1, 1, 1, Activation::Sigmoid), true, DType::BF16},
      {"relu without bias", 1, 4, 6, 6, 5, 3, 3, params(1, 1, 1, 1, 1, 1, 1, Activation::Relu), false, DType::F16},
  });
}

TEST("conv2d splits im2col into chunks that fit BGN_CUDA_IM2COL_BYTES") {
  bgn::knobs::set_for_test("BGN_NO_WINOGRAD", "1");
  // K = 3·3·3 = 27 rows of 2 bytes: 54 bytes per output pixel.
  const ConvCase c3{"3x3 in 5-pixel chunks", 2, 3, 10, 12, 4, 3, 3, params(1, 1, 1, 1, 1, 1, 1), true, DType::F16};
  const struct {
    int64_t budget;
    size_t want;
  } runs[] = {{54 * 5 + 7, 54 * 5}, {54 * 100, 54 * 64}, {1, 54}};
  for (const auto& run : runs) {
    bgn::knobs::set_for_test("BGN_CUDA_IM2COL_BYTES", std::to_string(run.budget).c_str());
    size_t used = 0;
    const float r = run_conv(c3, &used);
    CHECK_MSG(r <= 1.f, "budget %lld: error %.3g of the bound", (long long)run.budget, r);
    CHECK_MSG(used == run.want, "budget %lld: scratch %zu bytes, expected %zu", (long long)run.budget, used, run.want);
  }
  // The 1×1 path chunks the same way: K = 6 → 12 bytes a pixel, 7-pixel chunks of a 6×6 plane.
  bgn::knobs::set_for_test("BGN_CUDA_IM2COL_BYTES", "84");
  const ConvCase c1{"1x1 in 7-pixel chunks", 2, 6, 6, 6, 5, 1, 1, params(1, 0, 0, 0, 0, 1, 1), true, DType::BF16};
  size_t used = 0;
  const float r = run_conv(c1, &used);
  CHECK_MSG(r <= 1.f, "1x1 chunked: error %.3g of the bound", r);
  CHECK(used == 84);
  bgn::knobs::set_for_test("BGN_CUDA_IM2COL_BYTES", "lots");
  CHECK_THROWS_CODE(run_conv(c1), Code::Config);
  bgn::knobs::reset_for_test("BGN_CUDA_IM2COL_BYTES");
}

TEST("conv2d rejects groups that do not divide the channels and a wrong output size") {
  Stream st;
  cuda::GemmEngine g(st.s);
  TestWorkspace ws;
  DevVec<float> x(64), y(64);
  DevVec<uint16_t> w(64);
  CHECK_THROWS_CODE(cuda::conv2d(g, ws, st.s, x.p, 1, 3, 4, 4, w.p, DType::F16, 2, 1, 1, nullptr,
                                 params(1, 0, 0, 0, 0, 1, 2), y.p, 4, 4),
                    Code::Internal);
  CHECK_THROWS_CODE(cuda::conv2d(g, ws, st.s, x.p, 1, 2, 4, 4, w.p, DType::F16, 2, 3, 3, nullptr,
                                 params(1, 1, 1, 1, 1, 1, 1), y.p, 3, 4),
                    Code::Internal);
}

}  // namespace

int main() {
  bgn::testing::require_cuda_device("test_cuda_gemm");
  return bgn_test::run_all();
}
