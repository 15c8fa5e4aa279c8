#include "backend/cpu/scored_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/vexp.h"

namespace bgn::cpu {

namespace {

// Query rows per task: about 2 MiB of scores. Each task packs all of K and V for its two
// products, so short blocks spend much of their time packing; much longer ones leave the
// caches.
int64_t rows_per_task(int64_t Nk) {
  return std::clamp<int64_t>((int64_t(1) << 19) / std::max<int64_t>(Nk, 1), 16, 128);
}

// row[j] += the term's values for query i of batch entry b.
void add_bias(float* row, const ScoreBias& t, const ScoredAttentionShape& s, int64_t b, int64_t i) {
  const float* base = t.data + t.batch_off[size_t(b)] + (i / s.q_cols) * t.s_qr + (i % s.q_cols) * t.s_qc;
  const int64_t k_rows = s.Nk / s.k_cols;
  for (int64_t r = 0; r < k_rows; ++r) {
    const float* p = base + r * t.s_kr;
    float* o = row + r * s.k_cols;
    if (t.s_kc == 1) {
      for (int64_t c = 0; c < s.k_cols; ++c) o[c] += p[c];
    } else if (t.s_kc == 0) {
      const float v = p[0];
      for (int64_t c = 0; c < s.k_cols; ++c) o[c] += v;
    } else {
      for (int64_t c = 0; c < s.k_cols; ++c) o[c] += p[c * t.s_kc];
    }
  }
}

}  // namespace

void scored_attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out,
                      const ScoredAttentionShape& s) {
  if (s.batch == 0 || s.Nq == 0 || s.Dv == 0) return;
  const int64_t R = rows_per_task(s.Nk);
  const int64_t blocks = (s.Nq + R - 1) / R;
  const int64_t Nk = s.Nk;
  // Several blocks of rows per entry (long sequences): each K and V is packed once for all of
  // them instead of once per block.
  std::vector<PackedB> packed_k, packed_v;
  std::vector<int64_t> k_pack(size_t(s.batch), 0), v_pack(size_t(s.batch), 0);  // entry → its packed K / V
  if (blocks > 1 && Nk > 0 && s.D > 0 && !s.bf16) {
    std::map<int64_t, int64_t> ks, vs;  // distinct offsets → pack
    for (int64_t b = 0; b < s.batch; ++b) {
      k_pack[size_t(b)] = ks.emplace(s.k_off[size_t(b)], int64_t(ks.size())).first->second;
      v_pack[size_t(b)] = vs.emplace(s.v_off[size_t(b)], int64_t(vs.size())).first->second;
    }
    packed_k.resize(ks.size());
    packed_v.resize(vs.size());
    std::vector<int64_t> k_at(ks.size()), v_at(vs.size());
    for (const auto& [off, i] : ks) k_at[size_t(i)] = off;
    for (const auto& [off, i] : vs) v_at[size_t(i)] = off;
    const int64_t nk = int64_t(ks.size()), nv = int64_t(vs.size());
    pool.parallel_for(nk + nv, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        if (i < nk)
          packed_k[size_t(i)] = PackedB(nullptr, s.k_rows, s.D, Nk, k + k_at[size_t(i)], s.ldk);
        else
          packed_v[size_t(i - nk)] = PackedB(nullptr, false, Nk, s.Dv, v + v_at[size_t(i - nk)], s.ldv);
      }
    });
  }
  pool.parallel_for(s.batch * blocks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores(size_t(R * std::max<int64_t>(Nk, 1)));
    std::vector<float> inv(static_cast<size_t>(R));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / blocks, i0 = (t % blocks) * R, rows = std::min(R, s.Nq - i0);
      const float* qb = q + s.q_off[size_t(b)] + i0 * s.ldq;
      const float* kb = k + s.k_off[size_t(b)];
      const float* vb = v + s.v_off[size_t(b)];
      float* ob = out + s.o_off[size_t(b)] + i0 * s.ldo;
      if (Nk == 0) {  // softmax over no keys: an empty sum, as MatMul gives it
        for (int64_t r = 0; r < rows; ++r) std::fill(ob + r * s.ldo, ob + r * s.ldo + s.Dv, 0.f);
        continue;
      }
      float* S = scores.data();
      const PackedB* pk = packed_k.empty() ? nullptr : &packed_k[size_t(k_pack[size_t(b)])];
      const PackedB* pv = packed_v.empty() ? nullptr : &packed_v[size_t(v_pack[size_t(b)])];
      if (s.D == 0)
        std::fill(S, S + rows * Nk, 0.f);
      else if (s.bf16 && s.k_rows)
        gemm_bf16_nt(qb, s.ldq, rows, kb, s.ldk, Nk, s.D, S, Nk, false);
      else if (s.bf16)
        gemm_bf16_nn(qb, s.ldq, rows, kb, s.ldk, s.D, Nk, S, Nk, false);
      else
        sgemm_ex_serial(false, s.k_rows, rows, 0, Nk, s.D, s.scale, qb, s.ldq, kb, s.ldk, pk, 0.f, S, Nk, {});
      // The bf16 products leave the scale out: applied before the bias terms, as in f32.
      const bool scaled_here = s.bf16 && s.D > 0 && s.scale != 1.f;
      for (int64_t r = 0; r < rows; ++r) {
        float* row = S + r * Nk;
        if (scaled_here && !s.bias.empty())
          for (int64_t j = 0; j < Nk; ++j) row[j] *= s.scale;
        for (const ScoreBias& term : s.bias) add_bias(row, term, s, b, i0 + r);
        const float m = scale_and_max(row, Nk, scaled_here && s.bias.empty() ? s.scale : 1.f);
        if (m == -std::numeric_limits<float>::infinity() || std::isnan(m)) {
          // Every score -inf (or NaN): the softmax is NaN, as the unfused graph computes it.
          std::fill(row, row + Nk, std::numeric_limits<float>::quiet_NaN());
          inv[size_t(r)] = 1.f;
          continue;
        }
        inv[size_t(r)] = 1.f / exp_shifted_sum(row, Nk, m);
      }
      if (s.bf16)
        gemm_bf16_nn(S, Nk, rows, vb, s.ldv, Nk, s.Dv, ob, s.ldo, false);
      else
        sgemm_ex_serial(false, false, rows, 0, s.Dv, Nk, 1.f, S, Nk, vb, s.ldv, pv, 0.f, ob, s.ldo, {});
      for (int64_t r = 0; r < rows; ++r) {
        float* orow = ob + r * s.ldo;
        const float f = inv[size_t(r)];
        for (int64_t d = 0; d < s.Dv; ++d) orow[d] *= f;
      }
    }
  });
}

}  // namespace bgn::cpu
