// The built-in f32 GEMM kernels (backend/cpu/gemm_kernels.h), the AVX-512 one and its portable
// fallback, against a naive double-precision product: sizes that are not multiples of any tile,
// every transposition, alpha and beta in all their forms, strided operands; and the threaded
// sgemm gives the very bits of one serial call.
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "backend/cpu/gemm_kernels.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/threads.h"
#include "testing.h"

using namespace bgn;

namespace {

struct Case {
  int64_t M, N, K;
  bool ta, tb;
  float alpha, beta;
};

using Kernel = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);

// Runs the kernel on strided operands (leading dimensions past the logical width) and compares
// every element with the naive sum, relative to Σ|a·b| + |beta·c|; the padding of C is untouched.
void check_case(Kernel kernel, const char* name, const Case& c, uint32_t seed) {
  const int64_t ar = c.ta ? c.K : c.M, acn = c.ta ? c.M : c.K;
  const int64_t br = c.tb ? c.N : c.K, bcn = c.tb ? c.K : c.N;
  const int64_t lda = acn + 3, ldb = bcn + 5, ldc = c.N + 7;
  const std::vector<float> a = bgn_test::uniform(size_t(ar * lda), seed);
  const std::vector<float> b = bgn_test::uniform(size_t(br * ldb), seed + 1);
  std::vector<float> y = bgn_test::uniform(size_t(c.M * ldc), seed + 2);
  if (c.beta == 0.f)  // beta 0: C is never read, even a NaN in it stays out of the result
    for (int64_t i = 0; i < c.M; ++i) y[size_t(i * ldc)] = NAN;
  const std::vector<float> y0 = y;
  kernel(c.ta, c.tb, c.M, c.N, c.K, c.alpha, a.data(), lda, b.data(), ldb, c.beta, y.data(), ldc);
  double worst = 0;
  bool pad_kept = true;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double s = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double av = c.ta ? a[size_t(k * lda + i)] : a[size_t(i * lda + k)];
        const double bv = c.tb ? b[size_t(j * ldb + k)] : b[size_t(k * ldb + j)];
        s += av * bv;
        mag += std::fabs(av * bv);
      }
      const double prior = c.beta == 0.f ? 0.0 : double(c.beta) * y0[size_t(i * ldc + j)];
      const double want = double(c.alpha) * s + prior;
      const double scale = std::fabs(double(c.alpha)) * mag + std::fabs(prior) + 1e-30;
      const double err = std::fabs(double(y[size_t(i * ldc + j)]) - want) / scale;
      worst = std::isnan(err) ? INFINITY : std::max(worst, err);
    }
    for (int64_t j = c.N; j < ldc && i * ldc + j < int64_t(y.size()); ++j)
      pad_kept = pad_kept && y[size_t(i * ldc + j)] == y0[size_t(i * ldc + j)];
  }
  CHECK_MSG(worst < 1e-5 && pad_kept, "%s M=%ld N=%ld K=%ld ta=%d tb=%d alpha=%g beta=%g: error %.3g%s", name,
            long(c.M), long(c.N), long(c.K), int(c.ta), int(c.tb), double(c.alpha), double(c.beta), worst,
            pad_kept ? "" : ", wrote past N");
}

// Odd sizes around the tiles (AVX-512 12x32, portable 6x16), the 16x16 transposes, a depth past
// one block (384) cut into unequal pieces, and A tall enough to be copied before the tiles read it.
const int64_t kSizes[][3] = {{1, 1, 1},     {5, 7, 3},     {12, 32, 16},  {13, 33, 17}, {11, 31, 40}, {25, 47, 9},
                             {37, 70, 401}, {100, 17, 64}, {3, 129, 200}, {97, 96, 33}, {261, 45, 70}};
const float kScales[][2] = {{1.f, 0.f}, {1.f, 1.f}, {0.5f, 0.f}, {-1.5f, 1.f}, {2.f, -0.75f}};

void check_kernel(Kernel kernel, const char* name) {
  uint32_t seed = 1;
  for (const auto& s : kSizes)
    for (int t = 0; t < 4; ++t)
      for (const auto& ab : kScales)
        check_case(kernel, name, {s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, ab[0], ab[1]}, seed++);
}

}  // namespace

TEST("the portable kernel matches the naive product on odd sizes, transposes, alpha and beta") {
  check_kernel(cpu::sgemm_portable, "portable");
}

TEST("the AVX-512 kernel matches the naive product on odd sizes, transposes, alpha and beta") {
  if (!cpu::avx512_sgemm_supported()) {
    std::printf("    (skipped: this CPU has no AVX-512)\n");
    return;
  }
  check_kernel(cpu::sgemm_avx512, "avx512");
}

TEST("an empty depth or alpha 0 leaves beta times C, for both kernels") {
  const Kernel avx512 = cpu::avx512_sgemm_supported() ? cpu::sgemm_avx512 : cpu::sgemm_portable;
  for (Kernel kernel : {Kernel(cpu::sgemm_portable), avx512}) {
    std::vector<float> y(6, 2.f);
    const float one = 1.f;
    kernel(false, false, 2, 3, 0, 1.f, &one, 1, &one, 3, 0.5f, y.data(), 3);
    CHECK(y == std::vector<float>(6, 1.f));
    kernel(false, false, 2, 3, 1, 0.f, &one, 1, std::vector<float>(3, 1.f).data(), 3, 0.f, y.data(), 3);
    CHECK(y == std::vector<float>(6, 0.f));
  }
}

TEST("the threaded sgemm gives the same bits as one serial call, whichever dimension it splits") {
  if (cpu::gemm_kernel() == cpu::GemmKernel::Blas) return;  // a BLAS's sums may depend on the width
  ThreadPool pool(3);
  for (const auto& s : {std::array<int64_t, 3>{300, 70, 500}, std::array<int64_t, 3>{50, 1000, 130}}) {
    const int64_t M = s[0], N = s[1], K = s[2];
    const std::vector<float> a = bgn_test::uniform(size_t(M * K), 7), b = bgn_test::uniform(size_t(K * N), 8);
    std::vector<float> serial(size_t(M * N)), threaded(size_t(M * N));
    cpu::sgemm_serial(false, false, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, serial.data(), N);
    cpu::sgemm(pool, false, false, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, threaded.data(), N);
    CHECK(serial == threaded);
  }
}

int main() {
  const cpu::GemmKernel k = cpu::gemm_kernel();
  const char* name = k == cpu::GemmKernel::Avx512 ? "avx512" : k == cpu::GemmKernel::Blas ? "blas" : "portable";
  std::printf("sgemm runs: %s\n", name);
  return bgn_test::run_all();
}
