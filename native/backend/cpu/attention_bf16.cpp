// Attention with bf16 products (vdpbf16ps) and f32 sums, computed transposed so that every pass
// over the scores is a vertical vector operation:
//   S^T = K · Q^T        (keys × queries: K is the left operand, a block of queries the right one)
//   softmax over keys    (a column's max and sum are lane-wise over rows; the exponentials of two
//                         key rows are packed at once as the right operand's bf16 pairs)
//   O^T += V^T · P^T     (V^T the left operand: head_dim rows, so a head of 40 pads to 48, not 64)
// with the online-softmax recurrence over blocks of keys (the flash-attention one). Each head's K
// and V are rounded and packed once for all its query blocks; a block of queries once for all its
// key blocks. The scores never leave a task's buffers.
#include "backend/cpu/attention_bf16.h"

#include <algorithm>
#include <limits>

#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/vexp512.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes the AVX-512 intrinsics' own "undefined" pass-through operands for uninitialised reads.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace bgn::cpu {

#if defined(__x86_64__)
#define BGN_ATTENTION_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace {

constexpr int64_t MR = kBf16Rows, NR = kBf16Cols;
constexpr int64_t kLanes = 16;
constexpr int64_t kQueries = 128;  // queries per task: 8 vectors of lanes, 4 right panels
constexpr int64_t kGroups = kQueries / kLanes;
constexpr int64_t kKeys = 512;  // keys per block; even, so a pair of keys never straddles two blocks

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

inline __mmask16 first_lanes(int64_t n) {
  return n >= kLanes ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

alignas(64) const uint16_t kZip[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};

// V (keys, D) → left panels of V^T: panel of MR columns d, for each pair of keys p one word per d
// holding (v[2p][d], v[2p+1][d]); padding rows and an odd last key are zero.
BGN_ATTENTION_TARGET void pack_value_columns(const float* v, int64_t ldv, int64_t keys, int64_t D, uint32_t* out) {
  const int64_t kp = (keys + 1) / 2;
  const __m512i zip = _mm512_load_si512(kZip);
  for (int64_t d0 = 0; d0 < D; d0 += MR) {
    const __mmask16 m = first_lanes(std::min(MR, D - d0));
    uint32_t* pan = out + (d0 / MR) * kp * MR;
    for (int64_t p = 0; p < kp; ++p) {
      const float* r0 = v + 2 * p * ldv + d0;
      const __m512 a = _mm512_maskz_loadu_ps(m, r0);
      const __m512 b = 2 * p + 1 < keys ? _mm512_maskz_loadu_ps(m, r0 + ldv) : _mm512_setzero_ps();
      const __m512i w = _mm512_permutexvar_epi16(zip, (__m512i)_mm512_cvtne2ps_pbh(b, a));
      _mm512_mask_storeu_epi32(pan + p * MR, first_lanes(MR), w);
    }
  }
}

// Lanes of a group of queries (absolute indices q) that key `key` may be seen by.
BGN_ATTENTION_TARGET inline __mmask16 seen_by(__mmask16 valid, bool causal, __m512i q, int64_t key) {
  if (!causal) return valid;
  return valid & _mm512_cmp_epi32_mask(q, _mm512_set1_epi32(int(key)), _MM_CMPINT_NLT);
}

// Running softmax state of one block of queries, lane per query.
struct Running {
  float max[kQueries], sum[kQueries], corr[kQueries];
};

// One block of scores st (cols keys × nq queries, rows kQueries apart) → the block's exponentials
// as the right operand of V^T · P^T (panels of NR queries, pairs of keys), the running max and sum
// updated and each query's correction of its earlier sums in run.corr. Causal: key j0 + c is
// hidden from query q0 + q when j0 + c > q0 + q.
BGN_ATTENTION_TARGET void softmax_block(const float* st, int64_t cols, int64_t nq, float scale, bool causal, int64_t j0,
                                        int64_t q0, Running& run, uint32_t* pt) {
  const int64_t groups = (nq + kLanes - 1) / kLanes, kp = (cols + 1) / 2;
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512 sc = _mm512_set1_ps(scale);
  __mmask16 valid[kGroups];
  __m512i qidx[kGroups];
  for (int64_t g = 0; g < groups; ++g) {
    valid[g] = first_lanes(nq - g * kLanes);
    qidx[g] = _mm512_add_epi32(iota, _mm512_set1_epi32(int(q0 + g * kLanes)));
  }
  __m512 shift[kGroups];
  for (int64_t g = 0; g < groups; ++g) {
    __m512 m = neg_inf;
    for (int64_t c = 0; c < cols; ++c) {
      const __mmask16 k = seen_by(valid[g], causal, qidx[g], j0 + c);
      m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, st + c * kQueries + g * kLanes));
    }
    m = _mm512_mul_ps(m, sc);  // scale > 0: the largest scaled score
    const __m512 old = _mm512_loadu_ps(run.max + g * kLanes);
    const __m512 now = _mm512_max_ps(old, m);
    const __mmask16 none = _mm512_cmp_ps_mask(now, neg_inf, _CMP_EQ_OQ);  // nothing seen yet
    const __m512 corr = _mm512_mask_mov_ps(vexp::exp512(_mm512_sub_ps(old, now)), none, _mm512_set1_ps(1.f));
    _mm512_storeu_ps(run.max + g * kLanes, now);
    _mm512_storeu_ps(run.corr + g * kLanes, corr);
    _mm512_storeu_ps(run.sum + g * kLanes, _mm512_mul_ps(_mm512_loadu_ps(run.sum + g * kLanes), corr));
    shift[g] = _mm512_mask_mov_ps(now, none, _mm512_setzero_ps());
  }
  const __m512i zip = _mm512_load_si512(kZip);
  for (int64_t g = 0; g < groups; ++g) {
    __m512 sum = _mm512_setzero_ps();
    uint32_t* pan = pt + (g / 2) * kp * NR + (g % 2) * kLanes;
    for (int64_t p = 0; p < kp; ++p) {
      const int64_t c = 2 * p;
      const __mmask16 k0 = seen_by(valid[g], causal, qidx[g], j0 + c);
      const __mmask16 k1 = c + 1 < cols ? seen_by(valid[g], causal, qidx[g], j0 + c + 1) : __mmask16(0);
      const float* r = st + c * kQueries + g * kLanes;
      const __m512 e0 =
          _mm512_maskz_mov_ps(k0, vexp::exp512(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(k0, r), sc, shift[g])));
      const __m512 e1 =
          _mm512_maskz_mov_ps(k1, vexp::exp512(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(k1, r + kQueries), sc, shift[g])));
      sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
      const __m512i w = _mm512_permutexvar_epi16(zip, (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
      _mm512_storeu_si512(pan + p * NR, w);
    }
    _mm512_storeu_ps(run.sum + g * kLanes, _mm512_add_ps(_mm512_loadu_ps(run.sum + g * kLanes), sum));
  }
}

// acc^T (rows d, kQueries apart) *= corr per query.
BGN_ATTENTION_TARGET void rescale(float* acc, int64_t D, int64_t nq, const float* corr) {
  const int64_t groups = (nq + kLanes - 1) / kLanes;
  for (int64_t d = 0; d < D; ++d)
    for (int64_t g = 0; g < groups; ++g) {
      float* a = acc + d * kQueries + g * kLanes;
      _mm512_storeu_ps(a, _mm512_mul_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(corr + g * kLanes)));
    }
}

}  // namespace

void attention_bf16(ThreadPool& pool, const float* q, const float* k, const float* v, float* o,
                    const AttentionShape& s) {
  BGN_CHECK(bf16_gemm_supported(), Code::Internal, "bf16 attention on a CPU without AVX512-BF16");
  BGN_CHECK(s.scale > 0.f, Code::Internal, "attention's scale must be positive, not ", s.scale);
  const int64_t D = s.head_dim, kpD = (D + 1) / 2, heads = s.B * s.heads;
  const int64_t blocks = (s.Tk + kKeys - 1) / kKeys;
  // Per head: every block's K (left panels of MR keys) then every block's V^T (left panels of MR
  // columns), each in a slot of a whole block's size.
  const int64_t k_slot = round_up(kKeys, MR) * kpD, v_slot = round_up(D, MR) * (kKeys / 2);
  const int64_t head_words = blocks * (k_slot + v_slot);
  CachedBlock packed(size_t(std::max<int64_t>(1, heads * head_words)) * sizeof(uint32_t),
                     "attention's packed keys and values");
  uint32_t* const words = packed.as<uint32_t>();
  pool.parallel_for(heads * blocks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bh = t / blocks, jb = t % blocks, b = bh / s.heads, h = bh % s.heads;
      const int64_t j0 = jb * kKeys, cols = std::min(kKeys, s.Tk - j0);
      uint32_t* head = words + bh * head_words;
      bf16_pack_rows(k + (b * s.Tk + j0) * s.ldk + h * D, s.ldk, cols, D, MR, head + jb * k_slot);
      pack_value_columns(v + (b * s.Tk + j0) * s.ldv + h * D, s.ldv, cols, D, head + blocks * k_slot + jb * v_slot);
    }
  });
  const int64_t chunks = (s.Tq + kQueries - 1) / kQueries;
  pool.parallel_for(heads * chunks, 1, [&](int64_t t0, int64_t t1) {
    // A task's buffers (from the tensor allocator, not thread-local: the calling thread changes
    // from call to call and each would keep its own): packed queries, the block's exponentials
    // packed, the block's scores, the output's running sums.
    const int64_t q_words = kQueries * kpD, p_words = kQueries * (kKeys / 2);
    const int64_t s_floats = round_up(kKeys, MR) * kQueries, a_floats = round_up(D, MR) * kQueries;
    const CachedBlock scratch(size_t(q_words + p_words + s_floats + a_floats) * 4, "attention's work space");
    uint32_t* const qw = scratch.as<uint32_t>();
    uint32_t* const pw = qw + q_words;
    float* const st = reinterpret_cast<float*>(pw + p_words);
    float* const acc = st + s_floats;
    Running run;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t bh = t / chunks, chunk = t % chunks, b = bh / s.heads, h = bh % s.heads;
      const int64_t i0 = chunk * kQueries, nq = std::min(kQueries, s.Tq - i0);
      const uint32_t* head = words + bh * head_words;
      bf16_pack_rows(q + (b * s.Tq + i0) * s.ldq + h * D, s.ldq, nq, D, NR, qw);
      std::fill(run.max, run.max + kQueries, -std::numeric_limits<float>::infinity());
      std::fill(run.sum, run.sum + kQueries, 0.f);
      // With a causal mask, blocks of keys past the last query are never seen.
      const int64_t tk_end = s.causal ? std::min(s.Tk, i0 + nq) : s.Tk;
      for (int64_t jb = 0; jb * kKeys < tk_end; ++jb) {
        const int64_t j0 = jb * kKeys, cols = std::min(kKeys, s.Tk - j0), kp = (cols + 1) / 2;
        bf16_run_panels(head + jb * k_slot, cols, qw, nq, kpD, st, kQueries, false);
        softmax_block(st, cols, nq, s.scale, s.causal, j0, i0, run, pw);
        if (jb > 0) rescale(acc, D, nq, run.corr);
        bf16_run_panels(head + blocks * k_slot + jb * v_slot, D, pw, nq, kp, acc, kQueries, jb > 0);
      }
      if (tk_end <= 0) std::fill(acc, acc + a_floats, 0.f);
      for (int64_t r = 0; r < nq; ++r) {
        float* orow = o + (b * s.Tq + i0 + r) * s.ldo + h * D;
        const float inv = run.sum[r] > 0.f ? 1.f / run.sum[r] : 0.f;
        for (int64_t d = 0; d < D; ++d) orow[d] = acc[d * kQueries + r] * inv;
      }
    }
  });
}

#else

void attention_bf16(ThreadPool&, const float*, const float*, const float*, float*, const AttentionShape&) {
  fail(Code::Internal, "bf16 attention on a CPU without AVX512-BF16");
}

#endif

}  // namespace bgn::cpu
