#include "nn/layers.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "backend/cpu/conv_bf16.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/quant.h"

namespace bgn::nn {

Tensor widen(const Tensor& t) { return t.dtype() == DType::F32 ? t : t.to(DType::F32); }

namespace {
// f16 → f32 for [0, n): exact in both paths (every half is a float).
void f16_run(const uint16_t* s, float* d, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
#endif
  if (i < n) convert_to_f32(DType::F16, s + i, d + i, n - i);
}
void bf16_run(const uint16_t* s, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t(s[i]) << 16;
    std::memcpy(d + i, &bits, 4);
  }
}
}  // namespace

// Converts t (f16 or bf16, or a GGUF block type) into d on the pool's threads.
void widen_into(ThreadPool& pool, const Tensor& t, float* d) {
  if (dtype_is_block(t.dtype())) {
    const int64_t bs = dtype_block(t.dtype()), blocks = t.numel() / bs;
    const uint8_t* p = static_cast<const uint8_t*>(t.raw());
    const size_t bb = dtype_block_bytes(t.dtype());
    pool.parallel_for(blocks, std::max<int64_t>(1, 16384 / bs), [&](int64_t b0, int64_t b1) {
      convert_to_f32(t.dtype(), p + size_t(b0) * bb, d + b0 * bs, (b1 - b0) * bs);
    });
    return;
  }
  const uint16_t* s = static_cast<const uint16_t*>(t.raw());
  const bool half = t.dtype() == DType::F16;
  pool.parallel_for(t.numel(), int64_t(1) << 16, [&](int64_t i0, int64_t i1) {
    half ? f16_run(s + i0, d + i0, i1 - i0) : bf16_run(s + i0, d + i0, i1 - i0);
  });
}

Tensor widen(ThreadPool& pool, const Tensor& t) {
  if (t.dtype() == DType::F32) return t;
  if (t.dtype() != DType::F16 && t.dtype() != DType::BF16 && !dtype_is_block(t.dtype())) return t.to(DType::F32);
  Tensor out = Tensor::empty(DType::F32, t.shape());
  widen_into(pool, t, out.data<float>());
  return out;
}

namespace {
// The f32 view of a weight for one call: the data itself when already f32, else a copy in this
// thread's scratch buffer, which grows to the largest weight and is reused. Widening every call
// into fresh tensors would park hundreds of MB of freed blocks in the tensor allocator's cache
// (peak RSS) or page-fault them in again each time. Valid until the next call on this thread.
const float* widen_scratch(ThreadPool& pool, const Tensor& t) {
  if (t.dtype() == DType::F32) return t.data<float>();
  if (t.dtype() != DType::F16 && t.dtype() != DType::BF16 && !dtype_is_block(t.dtype()))
    fail(Code::Internal, "widen: unexpected weight dtype");
  thread_local Buf scratch;
  if (scratch.size() < size_t(t.numel())) {
    Buf().swap(scratch);
    scratch.resize(size_t(t.numel()));
  }
  widen_into(pool, t, scratch.data());
  return scratch.data();
}
}  // namespace

namespace {
// Float weights, or GGUF block-quantized ones (dequantized per tile / per layer at use).
bool is_float(const Tensor& t) {
  return t.dtype() == DType::F32 || t.dtype() == DType::F16 || t.dtype() == DType::BF16 || dtype_is_block(t.dtype());
}
void check_float(const WeightSet& ws, const std::string& name, const Tensor& t) {
  if (!is_float(t))
    fail(Code::ModelUnsupported, ws.source(), ": tensor ", name, " has dtype ", dtype_name(t.dtype()),
         "; weights must be F32, F16, BF16 or a GGUF block type (q8_0, q4_K, ...)");
}
}  // namespace

Linear load_linear(WeightSet& ws, const std::string& prefix, bool bias, int64_t in, int64_t out) {
  Linear l;
  const std::string wn = prefix + ".weight";
  l.w = ws.take(wn);
  if (bias) l.b = ws.take(prefix + ".bias");
  if (!present(l.w) || (bias && !present(l.b))) return l;
  check_float(ws, wn, l.w);
  if (l.w.rank() == 4 && l.w.dim(2) == 1 && l.w.dim(3) == 1) l.w = l.w.reshaped({l.w.dim(0), l.w.dim(1)});
  if (l.w.rank() != 2)
    fail(Code::ModelFormat, ws.source(), ": tensor ", wn, " has shape ", shape_str(l.w.shape()),
         ", expected a matrix (out, in)");
  l.out = l.w.dim(0);
  l.in = l.w.dim(1);
  if ((in >= 0 && l.in != in) || (out >= 0 && l.out != out))
    ws.expect_shape(wn, l.w, {out >= 0 ? out : l.out, in >= 0 ? in : l.in});
  if (bias) {
    check_float(ws, prefix + ".bias", l.b);
    ws.expect_shape(prefix + ".bias", l.b, {l.out});
  }
  return l;
}

namespace {
// The Gpu's f32 copy of a bias or norm parameter, or null when the model has none.
const float* wide(Exec& e, const Tensor& t) {
  return present(t) ? static_cast<const float*>(e.gpu->weight(t, true, e.owner).p) : nullptr;
}
}  // namespace

void linear(Exec& e, const Linear& l, const float* x, int64_t M, float* y) {
  if (e.gpu) {
    const Gpu::Weight w = e.gpu->weight(l.w, false, e.owner);
    e.gpu->linear(x, M, l.in, w.p, w.dtype, wide(e, l.b), l.out, y);
    return;
  }
  ThreadPool& pool = e.pool;
  if (present(l.b)) {
    Tensor b = widen(l.b);
    const float* bp = b.data<float>();
    for (int64_t m = 0; m < M; ++m) std::memcpy(y + m * l.out, bp, size_t(l.out) * 4);
  }
  if (l.wb) {
    cpu::gemm_bf16_right(pool, x, l.in, M, *l.wb, y, l.out, present(l.b));
    return;
  }
  if (dtype_is_block(l.w.dtype())) {  // quantized: tiles of rows dequantized per thread, never the whole matrix
    cpu::matmul(pool, l.w.dtype(), l.w.raw(), l.out, l.in, x, M, present(l.b) ? 1.f : 0.f, y);
    return;
  }
  const float* w = widen_scratch(pool, l.w);
  cpu::sgemm(pool, false, true, M, l.out, l.in, 1.f, x, l.in, w, l.in, present(l.b) ? 1.f : 0.f, y, l.out);
}

Conv2d load_conv(WeightSet& ws, const std::string& prefix, int64_t in, int64_t out, int64_t stride, bool bias) {
  Conv2d c;
  const std::string wn = prefix + ".weight";
  c.w = ws.take(wn);
  if (bias) c.b = ws.take(prefix + ".bias");
  if (!present(c.w) || (bias && !present(c.b))) return c;
  check_float(ws, wn, c.w);
  if (bias) check_float(ws, prefix + ".bias", c.b);
  if (c.w.rank() != 4)
    fail(Code::ModelFormat, ws.source(), ": tensor ", wn, " has shape ", shape_str(c.w.shape()),
         ", expected a convolution kernel (out, in, kh, kw)");
  c.out = c.w.dim(0);
  c.in = c.w.dim(1);
  c.kh = c.w.dim(2);
  c.kw = c.w.dim(3);
  if ((in >= 0 && c.in != in) || (out >= 0 && c.out != out) || c.kh != c.kw || c.kh % 2 != 1)
    fail(Code::ModelFormat, ws.source(), ": tensor ", wn, " has shape ", shape_str(c.w.shape()), ", expected (",
         out >= 0 ? out : c.out, ", ", in >= 0 ? in : c.in, ", k, k) with odd k");
  if (bias) ws.expect_shape(prefix + ".bias", c.b, {c.out});
  c.stride = stride;
  c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = c.kh / 2;
  return c;
}

void conv_out_size(const Conv2d& c, int64_t H, int64_t W, int64_t* OH, int64_t* OW) {
  *OH = (H + c.pad_top + c.pad_bottom - c.kh) / c.stride + 1;
  *OW = (W + c.pad_left + c.pad_right - c.kw) / c.stride + 1;
}

void conv2d(Exec& e, const Conv2d& c, const float* x, int64_t N, int64_t H, int64_t W, float* y) {
  cpu::Conv2dParams p;
  p.stride_h = p.stride_w = c.stride;
  p.pad_top = c.pad_top;
  p.pad_left = c.pad_left;
  p.pad_bottom = c.pad_bottom;
  p.pad_right = c.pad_right;
  if (c.relu) p.activation = cpu::Activation::Relu;
  int64_t OH, OW;
  conv_out_size(c, H, W, &OH, &OW);
  if (e.gpu) {
    const Gpu::Weight w = e.gpu->weight(c.w, false, e.owner);
    e.gpu->conv2d(x, N, c.in, H, W, w.p, w.dtype, c.out, c.kh, c.kw, wide(e, c.b), p, y, OH, OW);
    return;
  }
  ThreadPool& pool = e.pool;
  Tensor b = present(c.b) ? widen(c.b) : Tensor();
  if (c.wb) {
    cpu::conv2d_bf16(pool, cpu::ConvInput(x, c.in), N, c.in, H, W, *c.wb, c.out, c.kh, c.kw,
                     present(b) ? b.data<float>() : nullptr, p, y, OH, OW);
    return;
  }
  const float* w = widen_scratch(pool, c.w);
  cpu::conv2d(pool, cpu::ConvInput(x, c.in), N, c.in, H, W, w, c.out, c.kh, c.kw,
              present(b) ? b.data<float>() : nullptr, p, y, OH, OW);
}

Norm load_norm(WeightSet& ws, const std::string& prefix, int64_t channels, int64_t groups, float eps) {
  Norm n;
  n.c = channels;
  n.groups = groups;
  n.eps = eps;
  n.g = ws.take(prefix + ".weight");
  n.b = ws.take(prefix + ".bias");
  if (present(n.g)) {
    check_float(ws, prefix + ".weight", n.g);
    ws.expect_shape(prefix + ".weight", n.g, {channels});
  }
  if (present(n.b)) {
    check_float(ws, prefix + ".bias", n.b);
    ws.expect_shape(prefix + ".bias", n.b, {channels});
  }
  if (groups < 1 || channels % groups != 0)
    fail(Code::ModelUnsupported, ws.source(), ": ", prefix, " normalises ", channels, " channels in ", groups,
         " groups, which do not divide them");
  return n;
}

void group_norm(Exec& e, const Norm& n, const float* x, int64_t N, int64_t S, bool silu, float* y) {
  if (e.gpu) return e.gpu->group_norm(x, N, n.c, S, n.groups, wide(e, n.g), wide(e, n.b), n.eps, silu, y);
  Tensor g = widen(n.g), b = widen(n.b);
  cpu::group_norm(e.pool, x, N, n.c, S, n.groups, g.data<float>(), b.data<float>(), n.eps, silu, y);
}

void layer_norm(Exec& e, const Norm& n, const float* x, int64_t M, float* y) {
  if (e.gpu) return e.gpu->layer_norm(x, M, n.c, wide(e, n.g), wide(e, n.b), n.eps, y);
  Tensor g = widen(n.g), b = widen(n.b);
  cpu::layer_norm(e.pool, x, M, n.c, g.data<float>(), b.data<float>(), n.eps, y);
}

Attention load_attention_diffusers(WeightSet& ws, const std::string& prefix, int64_t dim, int64_t context_dim,
                                   int64_t heads) {
  Attention a;
  a.heads = heads;
  a.q = load_linear(ws, prefix + ".to_q", ws.has(prefix + ".to_q.bias"), dim);
  a.k = load_linear(ws, prefix + ".to_k", ws.has(prefix + ".to_k.bias"), context_dim, a.q.out ? a.q.out : -1);
  a.v = load_linear(ws, prefix + ".to_v", ws.has(prefix + ".to_v.bias"), context_dim, a.q.out ? a.q.out : -1);
  a.out = load_linear(ws, prefix + ".to_out.0", true, a.q.out ? a.q.out : -1, dim);
  if (present(a.q.w) && (heads < 1 || a.q.out % heads != 0))
    fail(Code::ModelUnsupported, ws.source(), ": ", prefix, " has inner dimension ", a.q.out, ", not divisible into ",
         heads, " attention heads");
  return a;
}

void attention(Exec& e, const Attention& a, const float* x, int64_t B, int64_t T, const float* ctx, int64_t S,
               bool causal, float* y) {
  const float* kv_src = ctx ? ctx : x;
  if (!ctx) S = T;
  const int64_t inner = a.q.out;
  Act q(e, B * T * inner), k(e, B * S * inner), v(e, B * S * inner), o(e, B * T * inner);
  linear(e, a.q, x, B * T, q.data());
  linear(e, a.k, kv_src, B * S, k.data());
  linear(e, a.v, kv_src, B * S, v.data());
  cpu::AttentionShape s;
  s.B = B;
  s.Tq = T;
  s.Tk = S;
  s.heads = a.heads;
  s.head_dim = inner / a.heads;
  s.ldq = s.ldk = s.ldv = s.ldo = inner;
  s.scale = float(1.0 / std::sqrt(double(s.head_dim)));
  s.causal = causal;
  s.bf16 = a.q.wb != nullptr;  // the layer computes in bf16: so does its attention
  if (e.gpu)
    e.gpu->attention(q.data(), k.data(), v.data(), o.data(), s);
  else
    cpu::attention(e.pool, q.data(), k.data(), v.data(), o.data(), s);
  linear(e, a.out, o.data(), B * T, y);
}

}  // namespace bgn::nn
