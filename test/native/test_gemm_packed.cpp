// Products with a packed right operand and an epilogue (backend/cpu/gemm_packed.h) give the bits
// of the unfused sequence they replace — C filled with the bias, sgemm with beta 1, GELU over the
// whole result, then the residual added — on odd sizes, both layouts of B, transposed A, strided C, one thread or
// several, and a depth past one block.
#include <array>
#include <cstdio>
#include <cstring>
#include <vector>

#include "backend/cpu/gelu.h"
#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/threads.h"
#include "testing.h"

using namespace bgn;

namespace {

struct Shape3 {
  int64_t M, N, K;
};
const Shape3 kShapes[] = {{1, 1, 1}, {13, 33, 17}, {100, 70, 401}, {300, 45, 96}, {40, 1000, 130}, {7, 64, 800}};

// The unfused reference: bias rows, then the product added (beta 1), then GELU, then the residual.
std::vector<float> reference(ThreadPool& pool, bool ta, bool tb, const Shape3& s, const std::vector<float>& a,
                             const std::vector<float>& b, const std::vector<float>* bias, bool gelu,
                             const std::vector<float>* residual, int64_t ldc) {
  std::vector<float> y(size_t(s.M * ldc), 0.f);
  for (int64_t i = 0; i < s.M; ++i)
    if (bias) std::memcpy(y.data() + i * ldc, bias->data(), size_t(s.N) * sizeof(float));
  cpu::sgemm(pool, ta, tb, s.M, s.N, s.K, 1.f, a.data(), ta ? s.M : s.K, b.data(), tb ? s.K : s.N, bias ? 1.f : 0.f,
             y.data(), ldc);
  if (gelu)
    for (int64_t i = 0; i < s.M; ++i) cpu::gelu(pool, y.data() + i * ldc, y.data() + i * ldc, s.N);
  if (residual)
    for (int64_t i = 0; i < s.M; ++i)
      for (int64_t j = 0; j < s.N; ++j) y[size_t(i * ldc + j)] += (*residual)[size_t(i * s.N + j)];
  return y;
}

}  // namespace

TEST("bias, GELU and residual epilogues, packed or not, give the unfused bits on any thread count") {
  uint32_t seed = 11;
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    for (const Shape3& s : kShapes)
      for (int t = 0; t < 4; ++t) {
        const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
        const std::vector<float> a = bgn_test::uniform(size_t(s.M * s.K), seed++, -2.f, 2.f);
        const std::vector<float> b = bgn_test::uniform(size_t(s.K * s.N), seed++);
        const std::vector<float> bias = bgn_test::uniform(size_t(s.N), seed++);
        const std::vector<float> residual = bgn_test::uniform(size_t(s.M * s.N), seed++);
        const int64_t ldc = s.N + 3;
        const cpu::PackedB packed(&pool, tb, s.K, s.N, b.data(), tb ? s.K : s.N);
        for (int form = 0; form < 8; ++form) {
          const bool with_bias = (form & 1) != 0, gelu = (form & 2) != 0, skip = (form & 4) != 0;
          const std::vector<float> want =
              reference(pool, ta, tb, s, a, b, with_bias ? &bias : nullptr, gelu, skip ? &residual : nullptr, ldc);
          cpu::GemmEpilogue ep;
          if (with_bias) ep.bias = bias.data();
          if (gelu) ep.map = cpu::gelu_block;
          if (skip) {
            ep.residual = residual.data();
            ep.ldr = s.N;
          }
          for (const cpu::PackedB* p : {static_cast<const cpu::PackedB*>(nullptr), &packed}) {
            std::vector<float> y(size_t(s.M * ldc), 0.f);
            cpu::sgemm_ex(pool, ta, tb, s.M, s.N, s.K, 1.f, a.data(), ta ? s.M : s.K, b.data(), tb ? s.K : s.N, p, 0.f,
                          y.data(), ldc, ep);
            CHECK_MSG(y == want, "M=%ld N=%ld K=%ld ta=%d tb=%d bias=%d gelu=%d residual=%d packed=%d threads=%d",
                      long(s.M), long(s.N), long(s.K), int(ta), int(tb), int(with_bias), int(gelu), int(skip),
                      int(p != nullptr), threads);
          }
        }
      }
  }
}

TEST("a packed operand read from a column past 0 gives the columns of the whole product") {
  ThreadPool pool(1);
  const int64_t M = 20, N = 100, K = 50;
  const std::vector<float> a = bgn_test::uniform(size_t(M * K), 3), b = bgn_test::uniform(size_t(K * N), 4);
  const cpu::PackedB packed(&pool, false, K, N, b.data(), N);
  std::vector<float> whole(size_t(M * N)), part(size_t(M * N), 0.f);
  cpu::sgemm_serial(false, false, M, N, K, 1.f, a.data(), K, b.data(), N, 0.f, whole.data(), N);
  cpu::sgemm_ex_serial(false, false, M, 0, 32, K, 1.f, a.data(), K, nullptr, 0, &packed, 0.f, part.data(), N, {});
  cpu::sgemm_ex_serial(false, false, M, 32, N - 32, K, 1.f, a.data(), K, nullptr, 0, &packed, 0.f, part.data(), N, {});
  CHECK(part == whole);
}

int main() { return bgn_test::run_all(); }
