// softmax(scale · Q·Kᵀ + bias) · V computed a block of query rows at a time: each task holds the
// scores of its rows only (rows × keys), so the full query × key matrix of a long sequence (SAM's
// global attention: 12 × 4096 × 4096 floats) is never written to memory. The additive bias terms
// are read through broadcast strides, as a graph adds them (a relative-position table per head,
// a shifted-window mask per window, SAM's decomposed rel_h / rel_w over the scores viewed as
// (query rows, query columns, key rows, key columns)).
#pragma once
#include <cstdint>
#include <vector>

#include "backend/cpu/threads.h"

namespace bgn::cpu {

// One additive term of the scores. The scores of batch entry b are viewed as
// (q_rows, q_cols, k_rows, k_cols) (one query axis and one key axis: q_rows = k_rows = 1); the
// term's value at (i, j) there is data[batch_off[b] + i/q_cols·s_qr + i%q_cols·s_qc +
// j/k_cols·s_kr + j%k_cols·s_kc] (strides in elements, 0 along broadcast axes).
struct ScoreBias {
  const float* data = nullptr;
  std::vector<int64_t> batch_off;
  int64_t s_qr = 0, s_qc = 0, s_kr = 0, s_kc = 0;
};

struct ScoredAttentionShape {
  int64_t batch = 1;               // batch entries (the scores' leading axes flattened)
  int64_t Nq = 0, Nk = 0;          // queries, keys
  int64_t D = 0, Dv = 0;           // depth of Q·Kᵀ, width of V
  int64_t q_cols = 0, k_cols = 0;  // the view of the scores' query and key axes (Nq and Nk: none)
  bool k_rows = true;              // K stored as (Nk, D) per entry; false: (D, Nk)
  float scale = 1.f;
  // Where each batch entry's Q, K, V and output start (elements; broadcast entries repeat an
  // offset) and the distance between their rows: Q and K read out of one projection's output,
  // the output written in the layout a following Transpose asks for.
  std::vector<int64_t> q_off, k_off, v_off, o_off;
  int64_t ldq = 0, ldk = 0, ldv = 0, ldo = 0;
  std::vector<ScoreBias> bias;
  // Q·Kᵀ and P·V with operands rounded to bf16 as they are packed, sums in f32 (gemm_bf16_nt /
  // _nn); needs bf16_gemm_supported().
  bool bf16 = false;
};

// out (batch, Nq, Dv) = softmax over keys of (scale · Q Kᵀ + Σ bias) times V, each operand where
// its offsets and leading dimension say.
void scored_attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out,
                      const ScoredAttentionShape& s);

}  // namespace bgn::cpu
