// cuda::attention against its CPU twin cpu::attention on random q/k/v (~N(0,1), scale 1/sqrt(D)).
//
// Tolerance: the kernel rounds Q, K, V and the softmax weights P to f16 (relative error ≤ 2⁻¹¹ ≈
// 4.9e-4 each) and accumulates in f32. A logit s = scale·Σ q·k then carries an absolute error of
// about |s|·1e-3 (≲ 3e-3 for |s| ≲ 3), which moves a weight p by the same relative amount; the
// output is a convex combination of V rows (|v| ≲ 4), so its error stays near 1e-3 at worst and
// ~2e-4 typically. max |Δ| ≤ 3e-3 leaves that margin, while a missing rescale of the accumulator,
// a missing barrier or an off-by-one key/row/column gives errors of 1e-1 and more.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "backend/cpu/nn_ops.h"
#include "backend/cpu/threads.h"
#include "backend/cuda/kernels.h"
#include "cuda_testing.h"
#include "testing.h"

using bgn::Code;
using bgn::cpu::AttentionShape;
using bgn::testing::DevVec;

namespace {

constexpr float kTol = 3e-3f;
constexpr float kSentinel = 1234.5f;  // o's columns outside the heads must keep it

using bgn_test::randn;

struct Case {
  int64_t B, Tq, Tk, heads, D;
  bool causal;
  bool fused;     // q, k, v sliced out of one (B·T, 3·heads·D + 8) row, as a fused QKV projection
  int64_t o_pad;  // extra columns in each output row
};

// Runs one shape on both backends; returns max |Δ| over the written columns and checks that
// nothing else in o changed.
float run_case(const Case& c) {
  AttentionShape s;
  s.B = c.B, s.Tq = c.Tq, s.Tk = c.Tk, s.heads = c.heads, s.head_dim = c.D;
  s.scale = 1.f / std::sqrt(float(c.D));
  s.causal = c.causal;
  const int64_t W = c.heads * c.D;
  // Self-attention with a fused buffer needs Tq == Tk; cross-attention gets a fused K|V buffer.
  std::vector<float> qh, kvh;
  int64_t q_off = 0, k_off = 0, v_off = 0;
  if (c.fused && c.Tq == c.Tk) {
    s.ldq = s.ldk = s.ldv = 3 * W + 8;
    qh = randn(size_t(c.B * c.Tq * s.ldq), 11 + uint32_t(c.D));
    k_off = W + 3, v_off = 2 * W + 5;  // odd offsets: no alignment is assumed
  } else {
    s.ldq = W + (c.fused ? 5 : 0);
    s.ldk = s.ldv = 2 * W + (c.fused ? 7 : 0);
    qh = randn(size_t(c.B * c.Tq * s.ldq), 11 + uint32_t(c.D));
    kvh = randn(size_t(c.B * c.Tk * s.ldk), 23 + uint32_t(c.D));
    v_off = W + (c.fused ? 1 : 0);
  }
  s.ldo = W + c.o_pad;
  std::vector<float> want(size_t(c.B * c.Tq * s.ldo), kSentinel);

  const float* qc = qh.data() + q_off;
  const float* kc = (kvh.empty() ? qh.data() : kvh.data()) + k_off;
  const float* vc = (kvh.empty() ? qh.data() : kvh.data()) + v_off;
  bgn::ThreadPool pool(2);
  bgn::cpu::attention(pool, qc, kc, vc, want.data(), s);

  DevVec<float> dq(qh), dkv(kvh.empty() ? std::vector<float>(1) : kvh), dout(want.size());
  dout.put(std::vector<float>(want.size(), kSentinel));
  const float* kvbase = kvh.empty() ? dq.p : dkv.p;
  const auto t0 = std::chrono::steady_clock::now();
  bgn::cuda::attention(nullptr, dq.p + q_off, kvbase + k_off, kvbase + v_off, dout.p, s);
  const std::vector<float> got = dout.get();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  float max_err = 0.f;
  int64_t untouched_bad = 0;
  for (int64_t r = 0; r < c.B * c.Tq; ++r)
    for (int64_t col = 0; col < s.ldo; ++col) {
      const size_t i = size_t(r * s.ldo + col);
      if (col < W) {
        const float e = std::fabs(got[i] - want[i]);
        max_err = std::isfinite(got[i]) ? std::fmax(max_err, e) : INFINITY;
      } else if (got[i] != kSentinel) {
        ++untouched_bad;
      }
    }
  std::printf("    B %lld Tq %lld Tk %lld heads %lld D %lld%s%s: max |d| %.2e (%.0f ms)\n", (long long)c.B,
              (long long)c.Tq, (long long)c.Tk, (long long)c.heads, (long long)c.D, c.causal ? " causal" : "",
              c.fused ? " strided" : "", max_err, ms);
  CHECK(untouched_bad == 0);
  return max_err;
}

}  // namespace

TEST("SD 1.x head sizes 40 and 80 match the CPU on a fused QKV buffer (T not a multiple of the tile)") {
  CHECK(run_case({2, 70, 70, 2, 40, false, true, 3}) <= kTol);
  CHECK(run_case({2, 65, 65, 1, 80, false, true, 0}) <= kTol);
}

TEST("head size 64 with 8 heads matches the CPU (SD 2.x / SDXL / CLIP)") {
  CHECK(run_case({2, 20, 20, 8, 64, false, true, 4}) <= kTol);
}

TEST("the causal mask matches the CPU (CLIP text encoder, 77 tokens)") {
  CHECK(run_case({2, 77, 77, 2, 64, true, true, 0}) <= kTol);
  CHECK(run_case({1, 130, 130, 1, 40, true, false, 2}) <= kTol);  // three query tiles, skipped key tiles
}

TEST("cross-attention with Tk != Tq matches the CPU") {
  CHECK(run_case({2, 70, 77, 2, 80, false, true, 2}) <= kTol);
  CHECK(run_case({2, 100, 33, 2, 40, false, false, 0}) <= kTol);
}

TEST("causal masking with Tq != Tk hides key j from query i when j > i, as the CPU does") {
  CHECK(run_case({2, 100, 33, 1, 64, true, true, 0}) <= kTol);
  CHECK(run_case({1, 33, 100, 2, 40, true, false, 1}) <= kTol);
}

TEST("head size 160 (two output slices, two QK chunks) matches the CPU, causal or not") {
  CHECK(run_case({1, 100, 33, 2, 160, false, true, 1}) <= kTol);
  CHECK(run_case({1, 70, 70, 1, 160, true, true, 0}) <= kTol);
}

TEST("head size 512 with one head (VAE mid-block) matches the CPU") {
  CHECK(run_case({1, 70, 70, 1, 512, false, true, 0}) <= kTol);
}

TEST("head sizes that are not multiples of 16, up to 1024, match the CPU") {
  CHECK(run_case({1, 19, 21, 3, 1, false, false, 0}) <= kTol);
  CHECK(run_case({1, 19, 21, 2, 24, true, true, 0}) <= kTol);
  CHECK(run_case({1, 17, 66, 1, 200, false, true, 2}) <= kTol);
  CHECK(run_case({1, 17, 20, 1, 1000, true, false, 0}) <= kTol);
}

TEST("no keys gives zeros, as the CPU does") { CHECK(run_case({2, 5, 0, 2, 40, false, false, 1}) == 0.f); }

TEST("bad shapes are refused with E_BAD_INPUT") {
  DevVec<float> buf(64);
  AttentionShape s;
  s.B = 1, s.Tq = 2, s.Tk = 2, s.heads = 2, s.head_dim = 8, s.ldq = s.ldk = s.ldv = s.ldo = 16;
  auto code_of = [&](AttentionShape t) {
    try {
      bgn::cuda::attention(nullptr, buf.p, buf.p, buf.p, buf.p, t);
    } catch (const bgn::Error& e) {
      return int(e.code());
    }
    return -1;
  };
  CHECK(code_of(s) == -1);
  AttentionShape t = s;
  t.ldk = 15;  // narrower than heads × head_dim
  CHECK(code_of(t) == int(Code::BadInput));
  t = s;
  t.head_dim = 1025, t.heads = 1, t.ldq = t.ldk = t.ldv = t.ldo = 1025;
  CHECK(code_of(t) == int(Code::BadInput));
  t = s;
  t.heads = 0;
  CHECK(code_of(t) == int(Code::BadInput));
  t = s;
  t.Tq = -1;
  CHECK(code_of(t) == int(Code::BadInput));
  cudaDeviceSynchronize();
}

int main() {
  bgn::testing::require_cuda_device("test_cuda_attention");
  return bgn_test::run_all();
}
