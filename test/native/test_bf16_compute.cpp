// The CPU's 16-bit compute: bf16 rounding, the bf16 GEMMs and convolution against an exact
// reference over the same bf16-rounded operands — with each kernel this CPU can run: AVX512-BF16,
// the AMX kernel on the software model of the tiles, and the AMX instructions where the CPU and OS
// offer them — thread-count independence, the tile model against the instruction's definition,
// the vectorised softmax exponent against std::exp, and the precision option. GEMM cases say they
// skipped on a CPU without AVX512-BF16.
#include <cmath>
#include <cstring>
#include <limits>

#include "backend/cpu/amx_tiles.h"
#include "backend/cpu/conv_bf16.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/gemm_amx.h"
#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/nn_ops.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/vexp.h"
#include "nn/precision.h"
#include "tensor/knobs.h"
#include "testing.h"

using namespace bgn;
using namespace bgn::cpu;

namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
float round_bf16(float x) { return bf16_value(bf16_bits(x)); }

bool skip_without_bf16(const char* what) {
  if (bf16_gemm_supported()) return false;
  std::printf("    skipped (%s): this CPU has no AVX512-BF16\n", what);
  return true;
}

// The bf16 kernels this CPU runs: AVX512-BF16 and the AMX kernel on the tile model always, the AMX
// instructions where the CPU and the OS offer them.
std::vector<const char*> bf16_kernels() {
  std::vector<const char*> k = {"avx512", "amx-emulated"};
  if (amx_usable()) k.push_back("amx");
  return k;
}

// BGN_BF16_KERNEL for one scope.
struct KernelScope {
  explicit KernelScope(const char* k) { knobs::set_for_test("BGN_BF16_KERNEL", k); }
  ~KernelScope() { knobs::reset_for_test("BGN_BF16_KERNEL"); }
};

// C (R, N) = round(W) @ round(X) in double, with Σ|terms| per element for the error bound.
void reference(const std::vector<float>& w, const std::vector<float>& x, int64_t R, int64_t K, int64_t N,
               std::vector<double>& c, std::vector<double>& mag) {
  c.assign(size_t(R * N), 0.0);
  mag.assign(size_t(R * N), 0.0);
  for (int64_t i = 0; i < R; ++i)
    for (int64_t k = 0; k < K; ++k) {
      const double a = round_bf16(w[size_t(i * K + k)]);
      for (int64_t j = 0; j < N; ++j) {
        const double t = a * round_bf16(x[size_t(k * N + j)]);
        c[size_t(i * N + j)] += t;
        mag[size_t(i * N + j)] += std::fabs(t);
      }
    }
}

// Every element within f32 accumulation error of the exact sum: |got - exact| ≤ K·2^-23·Σ|terms|.
bool close_to(const float* got, int64_t ldg, const std::vector<double>& c, const std::vector<double>& mag, int64_t R,
              int64_t N, int64_t K, double* worst) {
  *worst = 0;
  for (int64_t i = 0; i < R; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const double bound = double(K) * std::ldexp(1.0, -23) * mag[size_t(i * N + j)] + 1e-30;
      *worst = std::max(*worst, std::fabs(got[i * ldg + j] - c[size_t(i * N + j)]) / bound);
    }
  return *worst <= 1.0;
}

}  // namespace

TEST("bf16 rounding is to nearest even, keeps infinities and NaN") {
  CHECK(bf16_bits(1.f) == 0x3F80);
  CHECK(bf16_bits(-2.f) == 0xC000);
  CHECK(bf16_bits(from_bits(0x3F808000u)) == 0x3F80);  // tie, even below
  CHECK(bf16_bits(from_bits(0x3F818000u)) == 0x3F82);  // tie, even above
  CHECK(bf16_bits(from_bits(0x3F808001u)) == 0x3F81);  // just above the tie
  CHECK(bf16_bits(from_bits(0x3F807FFFu)) == 0x3F80);  // just below
  CHECK(bf16_bits(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(bf16_bits(from_bits(0x7F7FFFFFu)) == 0x7F80);  // FLT_MAX rounds up to infinity
  CHECK(std::isnan(bf16_value(bf16_bits(std::nanf("")))));
  CHECK(std::isnan(bf16_value(bf16_bits(from_bits(0x7F800001u)))));  // a NaN whose top half alone is infinity
  CHECK(bf16_value(0x3F80) == 1.f);
}

TEST("left GEMM (convolution side) equals the exact product of the bf16-rounded operands") {
  if (skip_without_bf16("left GEMM")) return;
  for (const char* kernel : bf16_kernels()) {
    const KernelScope scope(kernel);
    std::printf("    kernel %s\n", kernel);
    ThreadPool pool(2);
    const int64_t shapes[][3] = {{1, 1, 1},      {12, 2, 32}, {13, 7, 33},  {40, 300, 100},
                                 {320, 577, 70}, {5, 1, 31},  {64, 64, 64}, {48, 31, 96}};
    uint32_t seed = 1;
    for (const auto& s : shapes) {
      const int64_t R = s[0], K = s[1], N = s[2];
      std::vector<float> w = bgn_test::randn(size_t(R * K), seed++), x = bgn_test::randn(size_t(K * N), seed++);
      Bf16Weights wb(pool, Bf16Weights::Side::Left, w.data(), R, K);
      CHECK(wb.rows() == R && wb.depth() == K);
      // C with a wider leading dimension: the columns beyond N must stay untouched.
      const int64_t ldc = N + 5;
      std::vector<float> c(size_t(R * ldc), 7.f);
      gemm_bf16_left(wb, x.data(), N, N, c.data(), ldc);
      std::vector<double> ref, mag;
      reference(w, x, R, K, N, ref, mag);
      double worst = 0;
      CHECK_MSG(close_to(c.data(), ldc, ref, mag, R, N, K, &worst), "R=%lld K=%lld N=%lld: error/bound %.3g",
                (long long)R, (long long)K, (long long)N, worst);
      bool untouched = true;
      for (int64_t i = 0; i < R; ++i)
        for (int64_t j = N; j < ldc; ++j) untouched = untouched && c[size_t(i * ldc + j)] == 7.f;
      CHECK(untouched);
    }
  }
}

TEST("right GEMM (linear side) equals the exact product, accumulates, and does not depend on the thread count") {
  if (skip_without_bf16("right GEMM")) return;
  for (const char* kernel : bf16_kernels()) {
    const KernelScope scope(kernel);
    std::printf("    kernel %s\n", kernel);
    ThreadPool one(1), two(2);
    const int64_t shapes[][3] = {{1, 3, 1},     {2, 320, 1280}, {154, 768, 320}, {37, 33, 65},
                                 {400, 64, 40}, {64, 96, 64},   {96, 33, 32}};
    uint32_t seed = 100;
    for (const auto& s : shapes) {
      const int64_t M = s[0], K = s[1], R = s[2];
      std::vector<float> x = bgn_test::randn(size_t(M * K), seed++), w = bgn_test::randn(size_t(R * K), seed++);
      std::vector<float> bias = bgn_test::randn(size_t(R), seed++);
      Bf16Weights wb(two, Bf16Weights::Side::Right, w.data(), R, K);
      std::vector<float> c1(size_t(M * R)), c2(size_t(M * R));
      for (int64_t m = 0; m < M; ++m) {
        std::memcpy(c1.data() + m * R, bias.data(), size_t(R) * 4);
        std::memcpy(c2.data() + m * R, bias.data(), size_t(R) * 4);
      }
      gemm_bf16_right(one, x.data(), K, M, wb, c1.data(), R, true);
      gemm_bf16_right(two, x.data(), K, M, wb, c2.data(), R, true);
      CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * 4) == 0);
      // reference: C^T (R, M) = W (R, K) @ X^T (K, M)
      std::vector<float> xt(size_t(K * M));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) xt[size_t(k * M + m)] = x[size_t(m * K + k)];
      std::vector<double> ref, mag;
      reference(w, xt, R, K, M, ref, mag);
      std::vector<float> got_t(size_t(R * M));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t r = 0; r < R; ++r) got_t[size_t(r * M + m)] = c2[size_t(m * R + r)] - bias[size_t(r)];
      double worst = 0;
      // the bias subtraction adds one rounding of |bias + dot|
      for (int64_t r = 0; r < R; ++r)
        for (int64_t m = 0; m < M; ++m) mag[size_t(r * M + m)] += 4 * std::fabs(bias[size_t(r)]) / double(K);
      CHECK_MSG(close_to(got_t.data(), M, ref, mag, R, M, K, &worst), "M=%lld K=%lld R=%lld: error/bound %.3g",
                (long long)M, (long long)K, (long long)R, worst);
      // overwrite (accumulate = false)
      std::vector<float> c3(size_t(M * R), 1e30f);
      gemm_bf16_right(two, x.data(), K, M, wb, c3.data(), R, false);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t m = 0; m < M; ++m) got_t[size_t(r * M + m)] = c3[size_t(m * R + r)];
      mag.clear();
      reference(w, xt, R, K, M, ref, mag);
      CHECK(close_to(got_t.data(), M, ref, mag, R, M, K, &worst));
    }
  }
}

TEST("per-call bf16 GEMMs (A·B^T and A·B) equal the exact product and accumulate") {
  if (skip_without_bf16("per-call GEMMs")) return;
  for (const char* kernel : bf16_kernels()) {
    const KernelScope scope(kernel);
    std::printf("    kernel %s\n", kernel);
    const int64_t shapes[][3] = {{64, 40, 512}, {13, 7, 33}, {1, 1, 1}, {64, 511, 40}};
    uint32_t seed = 900;
    for (const auto& sh : shapes) {
      const int64_t M = sh[0], K = sh[1], N = sh[2];
      std::vector<float> a = bgn_test::randn(size_t(M * K), seed++), b = bgn_test::randn(size_t(K * N), seed++);
      std::vector<float> bt(size_t(N * K));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) bt[size_t(j * K + k)] = b[size_t(k * N + j)];
      std::vector<double> ref, mag;
      reference(a, b, M, K, N, ref, mag);
      std::vector<float> c1(size_t(M * N)), c2(size_t(M * N), 1.f);
      gemm_bf16_nt(a.data(), K, M, bt.data(), K, N, K, c1.data(), N, false);
      gemm_bf16_nn(a.data(), K, M, b.data(), N, K, N, c2.data(), N, true);
      double worst = 0;
      CHECK_MSG(close_to(c1.data(), N, ref, mag, M, N, K, &worst), "nt M=%lld K=%lld N=%lld: %.3g", (long long)M,
                (long long)K, (long long)N, worst);
      for (float& v : c2) v -= 1.f;
      for (double& m : mag) m += 2.0 / double(K);
      CHECK_MSG(close_to(c2.data(), N, ref, mag, M, N, K, &worst), "nn M=%lld K=%lld N=%lld: %.3g", (long long)M,
                (long long)K, (long long)N, worst);
    }
  }
}

TEST("bf16 convolution equals the f32 convolution of the bf16-rounded input and kernel") {
  if (skip_without_bf16("bf16 convolution")) return;
  for (const char* kernel : bf16_kernels()) {
    const KernelScope scope(kernel);
    std::printf("    kernel %s\n", kernel);
    ThreadPool pool(2);
    struct Case {
      int64_t N, C, H, W, O, k, stride, pad;
    } cases[] = {
        {2, 8, 9, 11, 16, 3, 1, 1}, {1, 5, 8, 8, 7, 3, 2, 1}, {1, 16, 6, 10, 24, 1, 1, 0}, {1, 3, 70, 66, 13, 3, 1, 1}};
    uint32_t seed = 500;
    for (const Case& cs : cases) {
      const int64_t K = cs.C * cs.k * cs.k;
      std::vector<float> x = bgn_test::randn(size_t(cs.N * cs.C * cs.H * cs.W), seed++);
      std::vector<float> w = bgn_test::randn(size_t(cs.O * K), seed++, 0.3f), b = bgn_test::randn(size_t(cs.O), seed++);
      Conv2dParams p;
      p.stride_h = p.stride_w = cs.stride;
      p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = cs.pad;
      p.activation = Activation::Relu;
      const int64_t OH = conv_out_size(cs.H, cs.k, cs.stride, cs.pad, cs.pad, 1),
                    OW = conv_out_size(cs.W, cs.k, cs.stride, cs.pad, cs.pad, 1);
      Bf16Weights wb(pool, Bf16Weights::Side::Left, w.data(), cs.O, K);
      std::vector<float> y(size_t(cs.N * cs.O * OH * OW)), ref(y.size());
      conv2d_bf16(pool, ConvInput(x.data(), cs.C), cs.N, cs.C, cs.H, cs.W, wb, cs.O, cs.k, cs.k, b.data(), p, y.data(),
                  OH, OW);
      std::vector<float> xr(x), wr(w);
      for (float& v : xr) v = round_bf16(v);
      for (float& v : wr) v = round_bf16(v);
      p.exact = true;  // direct sums, no Winograd
      conv2d(pool, ConvInput(xr.data(), cs.C), cs.N, cs.C, cs.H, cs.W, wr.data(), cs.O, cs.k, cs.k, b.data(), p,
             ref.data(), OH, OW);
      double worst = 0;
      for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, double(std::fabs(y[i] - ref[i])));
      // |terms| ≤ ~4.5·0.3·4.5 each: K terms summed in f32 two ways
      CHECK_MSG(worst <= double(K) * 6.1 * 2.4e-7 * 2, "N=%lld C=%lld k=%lld: max |Δ| %.3g", (long long)cs.N,
                (long long)cs.C, (long long)cs.k, worst);
    }
  }
}

TEST("the tile model computes TDPBF16PS as defined: even and odd lanes, one rounding each, denormals flushed") {
  EmulatedTiles::configure();
  alignas(64) uint32_t a[kTileWords] = {}, b[kTileWords] = {};
  alignas(64) float c[kTileWords] = {};
  const auto pair = [](float lo, float hi) { return uint32_t(bf16_bits(lo)) | uint32_t(bf16_bits(hi)) << 16; };
  // Row 0, column 0: the even lane gets 2^12·2^12 then 1·1 (2^24 + 1 rounds to 2^24), the odd lane
  // 1·1 twice (2): the sum is 2^24 + 2, where one running sum would have stayed at 2^24.
  a[0] = pair(4096.f, 0.f);
  b[0] = pair(4096.f, 0.f);
  a[1] = pair(1.f, 1.f);
  b[16] = pair(1.f, 1.f);
  a[2] = pair(0.f, 1.f);
  b[32] = pair(0.f, 1.f);
  // Row 1, column 1: a denormal input reads as zero; row 2: a denormal result is flushed.
  a[16] = uint32_t(0x0001u) | uint32_t(bf16_bits(0.f)) << 16;
  b[1] = pair(0x1p100f, 0.f);
  a[32] = pair(0x1p-100f, 0.f);
  b[2] = pair(0x1p-30f, 0.f);
  c[16 + 1] = 0.f;
  c[32 + 2] = 0.f;
  c[48 + 3] = 1.5f;  // untouched products leave c as it was
  EmulatedTiles::load<0>(c, 64);
  EmulatedTiles::load<4>(a, 64);
  EmulatedTiles::load<6>(b, 64);
  EmulatedTiles::dot<0>();
  EmulatedTiles::store<0>(c, 64);
  CHECK(c[0] == 16777218.f);
  CHECK(c[16 + 1] == 0.f);
  CHECK(c[32 + 2] == 0.f && !std::signbit(c[32 + 2]));
  CHECK(c[48 + 3] == 1.5f);
  EmulatedTiles::release();
}

TEST("BGN_BF16_KERNEL picks the kernel; amx without the tiles and unknown names are refused") {
  if (skip_without_bf16("kernel choice")) return;
  ThreadPool pool(1);
  const std::vector<float> w(64, 0.5f);
  {
    const KernelScope scope("amx-emulated");
    CHECK(Bf16Weights(pool, Bf16Weights::Side::Left, w.data(), 8, 8).kernel() == Bf16Kernel::AmxEmulated);
  }
  {
    const KernelScope scope("avx512");
    CHECK(Bf16Weights(pool, Bf16Weights::Side::Left, w.data(), 8, 8).kernel() == Bf16Kernel::Avx512);
  }
  CHECK(bf16_kernel() == (amx_usable() ? Bf16Kernel::Amx : Bf16Kernel::Avx512));
  if (!amx_usable()) {
    const KernelScope scope("amx");
    CHECK_THROWS_CODE(bf16_kernel(), Code::DeviceUnavailable);
  }
  {
    const KernelScope scope("amx512");
    CHECK_THROWS_CODE(bf16_kernel(), Code::Config);
  }
  std::printf("    bf16 kernel here: %s\n", bf16_kernel_name(bf16_kernel()));
}

TEST("vectorised exponent: within 3e-7 relative of std::exp, 0 far below, NaN kept") {
  double worst = 0;
  std::vector<float> xs;
  for (float x = -87.3f; x <= 88.f; x += 0.0137f) xs.push_back(x);
  for (float x : {0.f, -0.f, 1e-8f, -1e-8f, 0.3465735f, -0.3465735f, 88.37f, -87.33f}) xs.push_back(x);
  for (float x : xs) {
    const double want = std::exp(double(x));
    worst = std::max(worst, std::fabs(exp_approx(x) - want) / want);
  }
  CHECK_MSG(worst < 3e-7, "scalar relative error %.3g", worst);
  // Every vector path computes the same approximation (the shift applied first), and its sum.
  for (int width : {512, 256, 0}) {
    std::vector<float> v(xs);
    for (float& x : v) x += 5.f;
    exp_shifted_sum_width(v.data(), int64_t(v.size()), 5.f, width);
    double vworst = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = std::exp(double((xs[i] + 5.f) - 5.f));
      vworst = std::max(vworst, std::fabs(v[i] - want) / want);
    }
    CHECK_MSG(vworst < 3e-7, "%d-bit relative error %.3g", width, vworst);
    // The returned sum, over the softmax's domain (x - max ≤ 0).
    std::vector<float> sm = bgn_test::uniform(1003, 9, -30.f, 0.f);
    double want_sum = 0;
    for (float x : sm) want_sum += std::exp(double(x));
    const float sum = exp_shifted_sum_width(sm.data(), int64_t(sm.size()), 0.f, width);
    CHECK_MSG(std::fabs(sum - want_sum) <= 1e-5 * want_sum, "%d-bit sum %.9g vs %.9g", width, sum, want_sum);
    std::vector<float> low = {-87.4f,  -100.f, -std::numeric_limits<float>::infinity(),
                              -1e30f,  -88.f,  -104.f,
                              -200.f,  -300.f, -1000.f,
                              -5000.f, -1e5f,  -1e6f,
                              -1e7f,   -1e8f,  -1e9f,
                              -3e38f,  -90.f};
    CHECK(exp_shifted_sum_width(low.data(), int64_t(low.size()), 0.f, width) == 0.f);
    for (float x : low) CHECK(x == 0.f);
    std::vector<float> nan(17, 0.f);
    nan[3] = std::nanf("");
    nan[16] = std::nanf("");
    exp_shifted_sum_width(nan.data(), 17, 0.f, width);
    CHECK(std::isnan(nan[3]) && std::isnan(nan[16]) && nan[0] == 1.f);
  }
  // Far below the normal range, -inf (masked scores) and huge negatives: exactly 0.
  std::vector<float> low = {-87.4f, -100.f,  -1e10f,  -std::numeric_limits<float>::infinity(),
                            -1e30f, -88.f,   -104.f,  -200.f,
                            -300.f, -1000.f, -5000.f, -1e5f,
                            -1e6f,  -1e7f,   -1e8f,   -1e9f,
                            -3e38f};
  CHECK(exp_shifted_sum(low.data(), int64_t(low.size()), 0.f) == 0.f);
  for (float x : low) CHECK(x == 0.f);
  CHECK(exp_approx(-1e30f) == 0.f);
  // The max-subtracted form: the largest value becomes exactly 1.
  std::vector<float> s = {3.5f, -2.f, 1.25f, 3.5f, 0.f};
  const float l = exp_shifted_sum(s.data(), int64_t(s.size()), 3.5f);
  CHECK(s[0] == 1.f && s[3] == 1.f);
  CHECK(std::fabs(l - (2.f + std::exp(-5.5f) + std::exp(-2.25f) + std::exp(-3.5f))) < 1e-6f);
  std::vector<float> nan = {std::nanf(""), 1.f};
  exp_shifted_sum(nan.data(), 2, 0.f);
  CHECK(std::isnan(nan[0]));
  CHECK(std::isnan(exp_approx(std::nanf(""))));
}

TEST("bf16 attention (bf16 Q·K^T and P·V, vectorised exponent) stays near the f32 attention") {
  if (skip_without_bf16("bf16 attention")) return;
  ThreadPool pool(2);
  struct Case {
    int64_t B, Tq, Tk, heads, head_dim;
  };
  // Partial blocks of queries and keys, an odd number of keys (a text context), head sizes that
  // are not multiples of the kernel's panels, more than one block of each.
  for (const Case c :
       {Case{2, 70, 600, 2, 40}, Case{1, 300, 77, 3, 64}, Case{2, 77, 77, 2, 80}, Case{1, 130, 1025, 1, 20}}) {
    AttentionShape s;
    s.B = c.B;
    s.Tq = c.Tq;
    s.Tk = c.Tk;
    s.heads = c.heads;
    s.head_dim = c.head_dim;
    s.ldq = s.ldk = s.ldv = s.ldo = c.heads * c.head_dim;
    s.scale = float(1 / std::sqrt(double(c.head_dim)));
    std::vector<float> q = bgn_test::randn(size_t(c.B * c.Tq * s.ldq), 1),
                       k = bgn_test::randn(size_t(c.B * c.Tk * s.ldk), 2),
                       v = bgn_test::randn(size_t(c.B * c.Tk * s.ldv), 3);
    for (bool causal : {false, true}) {
      if (causal && c.Tq > c.Tk) continue;
      s.causal = causal;
      std::vector<float> exact(q.size()), fast(q.size());
      s.bf16 = false;
      attention(pool, q.data(), k.data(), v.data(), exact.data(), s);
      s.bf16 = true;
      attention(pool, q.data(), k.data(), v.data(), fast.data(), s);
      double worst = 0, mean = 0;
      for (size_t i = 0; i < exact.size(); ++i) {
        worst = std::max(worst, double(std::fabs(exact[i] - fast[i])));
        mean += std::fabs(exact[i] - fast[i]) / double(exact.size());
      }
      std::printf("    Tq=%lld Tk=%lld D=%lld causal=%d: max |Δ| %.3g, mean |Δ| %.3g\n", (long long)c.Tq,
                  (long long)c.Tk, (long long)c.head_dim, int(causal), worst, mean);
      CHECK_MSG(worst < 1.5e-2 && mean < 1.5e-3, "Tq=%lld causal=%d max |Δ| %.3g mean %.3g", (long long)c.Tq,
                int(causal), worst, mean);
      // the same with one thread: bit for bit
      ThreadPool one(1);
      std::vector<float> single(q.size());
      attention(one, q.data(), k.data(), v.data(), single.data(), s);
      CHECK(std::memcmp(single.data(), fast.data(), single.size() * 4) == 0);
    }
  }
}

TEST("approximate GELU: within 1e-6·max(1, |v|) of the erf form; the vector GEGLU matches it") {
  double worst = 0;
  std::vector<float> vs;
  for (float v = -12.f; v <= 12.f; v += 0.00731f) vs.push_back(v);
  for (float v : {0.f, -0.f, 1e-20f, -1e-20f, 30.f, -30.f, 1e4f, -1e4f}) vs.push_back(v);
  for (float v : vs) {
    const double want = 0.5 * double(v) * (1.0 + std::erf(double(v) / std::sqrt(2.0)));
    worst = std::max(worst, std::fabs(gelu_approx(v) - want) / std::max(1.0, std::fabs(double(v))));
  }
  CHECK_MSG(worst < 1e-6, "GELU error %.3g", worst);
  // GEGLU rows: the vector path (any tail length) against the scalar function.
  for (int64_t n : {1, 15, 16, 17, 1280}) {
    const std::vector<float> h = bgn_test::randn(size_t(n), 7), g = bgn_test::randn(size_t(n), 8, 3.f);
    std::vector<float> o(h.size());
    geglu_approx(h.data(), g.data(), o.data(), n);
    double w = 0;
    for (size_t i = 0; i < o.size(); ++i)
      w = std::max(w, double(std::fabs(o[i] - h[i] * gelu_approx(g[i]))) / (1.0 + std::fabs(h[i])));
    CHECK_MSG(w < 1e-6, "n=%lld: %.3g", (long long)n, w);
  }
  std::vector<float> nan = {std::nanf("")}, one = {1.f}, out(1);
  geglu_approx(one.data(), nan.data(), out.data(), 1);
  CHECK(std::isnan(out[0]));
}

TEST("scale_and_max scales in place and returns the maximum, skipping NaN") {
  std::vector<float> x = bgn_test::randn(37, 4);
  std::vector<float> y(x);
  float want = -INFINITY;
  for (float& v : y) want = std::max(want, v * 0.5f);
  CHECK(scale_and_max(x.data(), 37, 0.5f) == want);
  for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == y[i] * 0.5f);
  std::vector<float> n = {1.f, std::nanf(""), 3.f};
  CHECK(scale_and_max(n.data(), 3, 2.f) == 6.f);
  CHECK(scale_and_max(n.data(), 0, 2.f) == -INFINITY);
}

TEST("precision option: f32 by default, auto follows the CPU, bf16 needs it, anything else is refused") {
  CHECK(nn::resolve_precision("") == nn::Precision::F32);
  CHECK(nn::resolve_precision("f32") == nn::Precision::F32);
  CHECK(nn::resolve_precision("auto") == (bf16_gemm_supported() ? nn::Precision::BF16 : nn::Precision::F32));
  if (bf16_gemm_supported())
    CHECK(nn::resolve_precision("bf16") == nn::Precision::BF16);
  else
    CHECK_THROWS_CODE(nn::resolve_precision("bf16"), Code::DeviceUnavailable);
  CHECK_THROWS_CODE(nn::resolve_precision("fp16"), Code::BadInput);
  CHECK_THROWS_CODE(nn::resolve_precision("BF16"), Code::BadInput);
  // On a GPU the setting is the CPU's: checked, then f32 whatever the CPU has.
  CHECK(nn::resolve_precision("bf16", false) == nn::Precision::F32);
  CHECK(nn::resolve_precision("auto", false) == nn::Precision::F32);
  CHECK_THROWS_CODE(nn::resolve_precision("fp16", false), Code::BadInput);
  std::printf("    bf16 compute on this CPU: %s\n", bf16_compute_name());
}

int main() { return bgn_test::run_all(); }
