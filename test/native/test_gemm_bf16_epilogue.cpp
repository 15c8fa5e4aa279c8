// gemm_bf16_right_ex (the bf16 Linear of segmentation graphs): the bias the sums start from, GELU
// and the skip connection applied block by block give the same bits as gemm_bf16_right into C
// holding the bias followed by the same passes over the whole result, whatever the thread count.
// With each kernel this CPU runs (AVX512-BF16, the AMX kernel on the tile model, AMX itself where
// the CPU and OS offer it). Skipped on a CPU without AVX512-BF16.
#include <cstdio>
#include <cstring>
#include <vector>

#include "backend/cpu/gelu.h"
#include "backend/cpu/gemm_amx.h"
#include "backend/cpu/gemm_bf16.h"
#include "tensor/knobs.h"
#include "testing.h"

using namespace bgn;
using namespace bgn::cpu;

namespace {

std::vector<float> noise(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = float(seed >> 8) / float(1u << 24) * 2.f - 1.f;
  }
  return v;
}

}  // namespace

TEST("gemm_bf16_right_ex: bias, GELU and residual epilogues as the separate passes, bit for bit") {
  if (!bf16_gemm_supported()) {
    std::printf("    skipped: this CPU has no AVX512-BF16\n");
    return;
  }
  struct Case {
    int64_t M, K, N;
  };
  std::vector<const char*> kernels = {"avx512", "amx-emulated"};
  if (amx_usable()) kernels.push_back("amx");
  // Several row chunks, column blocks past 8 panels, odd depth, a partial last panel.
  for (const char* kernel : kernels)
    for (const Case c : {Case{5, 3, 7}, Case{200, 41, 300}, Case{450, 72, 37}, Case{13, 300, 520}}) {
      knobs::set_for_test("BGN_BF16_KERNEL", kernel);
      const std::vector<float> x = noise(size_t(c.M * c.K), 1), w = noise(size_t(c.N * c.K), 2);
      const std::vector<float> bias = noise(size_t(c.N), 3), res = noise(size_t(c.M * c.N), 4);
      for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        const Bf16Weights wb(pool, Bf16Weights::Side::Right, w.data(), c.N, c.K);
        for (int form = 0; form < 4; ++form) {
          GemmEpilogue ep;
          if (form & 1) ep.bias = bias.data();
          if (form & 2) ep.map = gelu_block;
          if (form == 3) {
            ep.residual = res.data();
            ep.ldr = c.N;
          }
          std::vector<float> want(size_t(c.M * c.N), 0.f), got(size_t(c.M * c.N), -7.f);
          if (ep.bias)
            for (int64_t i = 0; i < c.M; ++i) std::memcpy(&want[size_t(i * c.N)], bias.data(), size_t(c.N) * 4);
          gemm_bf16_right(pool, x.data(), c.K, c.M, wb, want.data(), c.N, ep.bias != nullptr);
          finish_block(ep, want.data(), c.M, c.N, c.N, ep.residual);
          gemm_bf16_right_ex(pool, x.data(), c.K, c.M, wb, got.data(), c.N, ep);
          CHECK_MSG(std::memcmp(want.data(), got.data(), want.size() * 4) == 0,
                    "%s: M %ld K %ld N %ld threads %d form %d", kernel, long(c.M), long(c.K), long(c.N), threads, form);
        }
      }
      knobs::reset_for_test("BGN_BF16_KERNEL");
    }
}

int main() { return bgn_test::run_all(); }
