// Chunked multi-head attention with an online softmax (the flash-attention recurrence): for each
// (batch, head, chunk of queries) the scores of one key block at a time are computed with a small
// GEMM, folded into a running max / running sum, and P·V accumulated. Memory per task is
// chunk × block scores + chunk × head_dim accumulators.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/attention_bf16.h"
#include "backend/cpu/nn_ops.h"
#include "backend/cpu/ops.h"

namespace bgn::cpu {

namespace {
constexpr int64_t kQueryChunk = 64;
constexpr int64_t kKeyBlock = 512;
}  // namespace

void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* o, const AttentionShape& s) {
  if (s.bf16) return attention_bf16(pool, q, k, v, o, s);
  const int64_t D = s.head_dim;
  const int64_t qchunk = kQueryChunk;
  const int64_t chunks = (s.Tq + qchunk - 1) / qchunk;
  const int64_t tasks = s.B * s.heads * chunks;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  pool.parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores(size_t(qchunk * kKeyBlock));
    std::vector<float> acc(size_t(qchunk * D));
    std::vector<float> mx(qchunk), sum(qchunk);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t chunk = t % chunks, h = (t / chunks) % s.heads, b = t / (chunks * s.heads);
      const int64_t i0 = chunk * qchunk, rows = std::min(qchunk, s.Tq - i0);
      const float* qp = q + (b * s.Tq + i0) * s.ldq + h * D;
      const float* kb = k + b * s.Tk * s.ldk + h * D;
      const float* vb = v + b * s.Tk * s.ldv + h * D;
      std::fill(acc.begin(), acc.begin() + rows * D, 0.f);
      std::fill(mx.begin(), mx.end(), neg_inf);
      std::fill(sum.begin(), sum.end(), 0.f);
      // With a causal mask keys past the chunk's last query are never seen.
      const int64_t tk_end = s.causal ? std::min(s.Tk, i0 + rows) : s.Tk;
      for (int64_t j0 = 0; j0 < tk_end; j0 += kKeyBlock) {
        const int64_t cols = std::min(kKeyBlock, tk_end - j0);
        float* S = scores.data();
        sgemm_serial(false, true, rows, cols, D, s.scale, qp, s.ldq, kb + j0 * s.ldk, s.ldk, 0.f, S, kKeyBlock);
        for (int64_t r = 0; r < rows; ++r) {
          float* sr = S + r * kKeyBlock;
          if (s.causal) {
            const int64_t limit = i0 + r;  // last visible key
            for (int64_t c = 0; c < cols; ++c)
              if (j0 + c > limit) sr[c] = neg_inf;
          }
          float m = mx[r];
          for (int64_t c = 0; c < cols; ++c) m = std::max(m, sr[c]);
          if (m == neg_inf) {  // the whole block is masked for this row
            for (int64_t c = 0; c < cols; ++c) sr[c] = 0.f;
            continue;
          }
          const float corr = mx[r] == neg_inf ? 0.f : std::exp(mx[r] - m);
          float l = 0.f;
          for (int64_t c = 0; c < cols; ++c) {
            float e = std::exp(sr[c] - m);
            sr[c] = e;
            l += e;
          }
          sum[r] = sum[r] * corr + l;
          mx[r] = m;
          if (corr != 1.f) {
            float* ar = acc.data() + r * D;
            for (int64_t d = 0; d < D; ++d) ar[d] *= corr;
          }
        }
        sgemm_serial(false, false, rows, D, cols, 1.f, S, kKeyBlock, vb + j0 * s.ldv, s.ldv, 1.f, acc.data(), D);
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* orow = o + (b * s.Tq + i0 + r) * s.ldo + h * D;
        const float inv = sum[r] > 0.f ? 1.f / sum[r] : 0.f;
        const float* ar = acc.data() + r * D;
        for (int64_t d = 0; d < D; ++d) orow[d] = ar[d] * inv;
      }
    }
  });
}

}  // namespace bgn::cpu
