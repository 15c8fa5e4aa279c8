// Neural-network operators on f32 data used by the diffusion models (CLIP, UNet, VAE): norms,
// activations, nearest upsampling and chunked (flash-style) multi-head attention.
// Like ops.h: callers own all memory, shapes are in the comment above each function, nothing
// throws from inside worker threads.
#pragma once
#include <cstdint>

#include "backend/cpu/threads.h"

namespace bgn::cpu {

// x (N, C, S) -> y (N, C, S): normalise over each of `groups` channel groups (C % groups == 0),
// then y = x̂ * gamma[c] + beta[c] (gamma/beta may be null), then SiLU when `silu`.
// y may alias x.
void group_norm(ThreadPool& pool, const float* x, int64_t N, int64_t C, int64_t S, int64_t groups, const float* gamma,
                const float* beta, float eps, bool silu, float* y);

// x (M, C) -> y (M, C): per-row layer norm with affine gamma/beta (C). y may alias x.
void layer_norm(ThreadPool& pool, const float* x, int64_t M, int64_t C, const float* gamma, const float* beta,
                float eps, float* y);

enum class Act { SiLU, GELU, QuickGELU };
// y = act(x), n elements; y may alias x. GELU is the exact (erf) form.
void activation(ThreadPool& pool, Act act, const float* x, float* y, int64_t n);

// GEGLU gate: x (M, 2F) -> y (M, F), y[m, f] = x[m, f] * gelu(x[m, F + f]).
void geglu(ThreadPool& pool, const float* x, int64_t M, int64_t F, float* y);
// The same with GELU's erf approximated on vectors (backend/cpu/vexp.h; the bf16 path).
void geglu_approx(ThreadPool& pool, const float* x, int64_t M, int64_t F, float* y);

// Nearest-neighbour resize as torch.nn.functional.interpolate(mode='nearest'):
// source index = floor(dst * in / out). x (NC, H, W) -> y (NC, OH, OW).
void upsample_nearest(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH,
                      int64_t OW);

// Multi-head scaled dot-product attention, softmax(scale * Q K^T [+ causal mask]) V, computed in
// query chunks with an online softmax over key blocks, so memory is O(threads * chunk * block)
// whatever the sequence lengths.
//   q: (B, Tq) rows with row stride ldq; head h occupies columns [h*D, (h+1)*D)
//   k, v: (B, Tk) rows with row strides ldk, ldv; same head layout
//   o: (B, Tq) rows with row stride ldo, columns [h*D, (h+1)*D) written
// Batch b starts at row b*Tq (q, o) / b*Tk (k, v). causal: key j is hidden from query i when j > i.
struct AttentionShape {
  int64_t B = 1, Tq = 0, Tk = 0, heads = 1, head_dim = 0;
  int64_t ldq = 0, ldk = 0, ldv = 0, ldo = 0;
  float scale = 1.f;
  bool causal = false;
  // CPU, the bf16 path (needs cpu::bf16_gemm_supported(); backend/cpu/attention_bf16.cpp): Q·K^T
  // and P·V as bf16 GEMMs with f32 accumulation, the softmax's exponent vectorised. Off: f32 GEMMs
  // and std::exp, bit for bit as before.
  bool bf16 = false;
};
void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* o, const AttentionShape& s);

}  // namespace bgn::cpu
