// Layers in llm.c style: a plain struct of weights, a loader that reads and checks them from a
// WeightSet, and one short forward function with the shapes in a comment above it. Weights keep
// their file dtype (f32/f16/bf16, usually views into the mmap) and are widened to f32 per call.
// Activations are f32, NCHW for images and (B, T, C) row-major for sequences. Every forward takes
// an Exec (nn/exec.h): on the CPU the pointers are host memory, with a Gpu they are device memory
// and the weights are the Gpu's cached 16-bit copies (f32 for biases and norm parameters).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/nn_ops.h"
#include "backend/cpu/threads.h"
#include "nn/exec.h"
#include "nn/ops.h"
#include "nn/weights.h"
#include "tensor/tensor.h"

namespace bgn::nn {

using Buf = std::vector<float>;

// An f32 copy of t, or t itself when it is already f32.
Tensor widen(const Tensor& t);
// The same, converted on the pool's threads (F16C / vectorised bf16 shifts): for large weights,
// which are widened on every call.
Tensor widen(ThreadPool& pool, const Tensor& t);
// t (F16, BF16 or a GGUF block type) converted into d (t.numel() floats) on the pool's threads.
void widen_into(ThreadPool& pool, const Tensor& t, float* d);

struct Linear {
  Tensor w, b;  // w (out, in), b (out) or undefined
  int64_t in = 0, out = 0;
  // w rounded to bf16 and packed for the CPU's bf16 GEMM (precision 'bf16', nn/bf16_weights.h),
  // which then leaves w empty; null: the f32 path.
  std::shared_ptr<const cpu::Bf16Weights> wb;
};
// `<prefix>.weight` (out, in) — also accepted as a 1×1 conv weight (out, in, 1, 1) —
// and `<prefix>.bias` (out) when `bias`. in/out of -1 are taken from the file.
Linear load_linear(WeightSet& ws, const std::string& prefix, bool bias, int64_t in = -1, int64_t out = -1);
// x is (M, in), y is (M, out)
void linear(Exec& e, const Linear& l, const float* x, int64_t M, float* y);

struct Conv2d {
  Tensor w, b;  // w (out, in, kh, kw), b (out) or undefined (no bias)
  int64_t in = 0, out = 0, kh = 1, kw = 1;
  int64_t stride = 1, pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool relu = false;                           // ReLU fused into the output
  std::shared_ptr<const cpu::Bf16Weights> wb;  // as Linear::wb
};
// `<prefix>.weight` (out, in, k, k) and `<prefix>.bias` (out) (absent when !bias); symmetric
// padding k/2 unless set after.
Conv2d load_conv(WeightSet& ws, const std::string& prefix, int64_t in = -1, int64_t out = -1, int64_t stride = 1,
                 bool bias = true);
void conv_out_size(const Conv2d& c, int64_t H, int64_t W, int64_t* OH, int64_t* OW);
// x is (N, in, H, W), y is (N, out, OH, OW)
void conv2d(Exec& e, const Conv2d& c, const float* x, int64_t N, int64_t H, int64_t W, float* y);

struct Norm {
  Tensor g, b;  // (C) each
  int64_t c = 0, groups = 1;
  float eps = 1e-5f;
};
Norm load_norm(WeightSet& ws, const std::string& prefix, int64_t channels, int64_t groups, float eps);
// x is (N, C, S), y is (N, C, S) (may alias x); SiLU fused when silu
void group_norm(Exec& e, const Norm& n, const float* x, int64_t N, int64_t S, bool silu, float* y);
// x is (M, C), y is (M, C) (may alias x)
void layer_norm(Exec& e, const Norm& n, const float* x, int64_t M, float* y);

// Multi-head attention with separate q/k/v projections (diffusers/transformers layout).
struct Attention {
  Linear q, k, v, out;
  int64_t heads = 1;
};
// `<prefix>.{to_q,to_k,to_v,to_out.0}` (diffusers) — biases optional on q/k/v.
Attention load_attention_diffusers(WeightSet& ws, const std::string& prefix, int64_t dim, int64_t context_dim,
                                   int64_t heads);
// x is (B, T, C), ctx is (B, S, Cc) or null for self-attention (S = T), y is (B, T, C).
// Memory is O(T·C + chunk·block), never (T, S) scores.
void attention(Exec& e, const Attention& a, const float* x, int64_t B, int64_t T, const float* ctx, int64_t S,
               bool causal, float* y);

}  // namespace bgn::nn
