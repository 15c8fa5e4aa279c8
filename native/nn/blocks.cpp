#include "nn/blocks.h"

#include <cstring>

namespace bgn::nn {

ResBlock load_resblock(WeightSet& ws, const std::string& p, int64_t in, int64_t groups, float eps, int64_t temb_dim) {
  ResBlock r;
  r.in = in;
  r.norm1 = load_norm(ws, p + ".norm1", in, groups, eps);
  r.conv1 = load_conv(ws, p + ".conv1", in);
  r.out = r.conv1.out;
  if (!present(r.conv1.w)) return r;
  r.norm2 = load_norm(ws, p + ".norm2", r.out, groups, eps);
  r.conv2 = load_conv(ws, p + ".conv2", r.out, r.out);
  r.has_temb = temb_dim >= 0;
  if (r.has_temb) r.temb = load_linear(ws, p + ".time_emb_proj", true, temb_dim, r.out);
  r.has_shortcut = ws.has(p + ".conv_shortcut.weight");
  if (r.has_shortcut) {
    // 1×1 conv in both layouts.
    r.shortcut = load_conv(ws, p + ".conv_shortcut", in, r.out);
  } else if (in != r.out) {
    ws.take(p + ".conv_shortcut.weight");
  }
  return r;
}

void resblock(ThreadPool& pool, const ResBlock& r, const float* x, int64_t N, int64_t H, int64_t W,
              const float* temb, float* y) {
  const int64_t S = H * W;
  Buf h(size_t(N * r.in * S)), h2(size_t(N * r.out * S));
  group_norm(pool, r.norm1, x, N, S, true, h.data());
  conv2d(pool, r.conv1, h.data(), N, H, W, h2.data());
  if (r.has_temb && temb) {
    Buf t(size_t(N * r.temb.in)), e(size_t(N * r.out));
    act(pool, cpu::Act::SiLU, temb, t.data(), N * r.temb.in);
    linear(pool, r.temb, t.data(), N, e.data());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < r.out; ++c) {
        float* p = h2.data() + (n * r.out + c) * S;
        const float v = e[size_t(n * r.out + c)];
        for (int64_t i = 0; i < S; ++i) p[i] += v;
      }
  }
  group_norm(pool, r.norm2, h2.data(), N, S, true, h2.data());
  conv2d(pool, r.conv2, h2.data(), N, H, W, y);
  if (r.has_shortcut) {
    Buf s(size_t(N * r.out * S));
    conv2d(pool, r.shortcut, x, N, H, W, s.data());
    add(pool, y, s.data(), y, N * r.out * S);
  } else {
    add(pool, y, x, y, N * r.out * S);
  }
}

SpatialTransformer load_spatial_transformer(WeightSet& ws, const std::string& p, int64_t C, int64_t heads,
                                            int64_t context_dim, int64_t groups) {
  SpatialTransformer t;
  t.channels = C;
  t.norm = load_norm(ws, p + ".norm", C, groups, 1e-6f);
  Tensor pin = ws.optional(p + ".proj_in.weight");
  t.linear_proj = present(pin) && pin.rank() == 2;
  if (t.linear_proj) {
    t.proj_in_lin = load_linear(ws, p + ".proj_in", true, C);
    t.inner = t.proj_in_lin.out;
    t.proj_out_lin = load_linear(ws, p + ".proj_out", true, t.inner, C);
  } else {
    t.proj_in_conv = load_conv(ws, p + ".proj_in", C);
    t.inner = t.proj_in_conv.out;
    t.proj_out_conv = load_conv(ws, p + ".proj_out", t.inner, C);
  }
  if (!t.inner) return t;
  const int n = ws.count_indexed(p + ".transformer_blocks.");
  if (n == 0) ws.take(p + ".transformer_blocks.0.attn1.to_q.weight");
  for (int i = 0; i < n; ++i) {
    const std::string b = p + ".transformer_blocks." + std::to_string(i);
    TransformerBlock tb;
    tb.norm1 = load_norm(ws, b + ".norm1", t.inner, 1, 1e-5f);
    tb.norm2 = load_norm(ws, b + ".norm2", t.inner, 1, 1e-5f);
    tb.norm3 = load_norm(ws, b + ".norm3", t.inner, 1, 1e-5f);
    tb.attn1 = load_attention_diffusers(ws, b + ".attn1", t.inner, t.inner, heads);
    tb.attn2 = load_attention_diffusers(ws, b + ".attn2", t.inner, context_dim, heads);
    tb.ff_in = load_linear(ws, b + ".ff.net.0.proj", true, t.inner);
    if (present(tb.ff_in.w) && tb.ff_in.out % 2 != 0)
      fail(Code::ModelFormat, ws.source(), ": tensor ", b, ".ff.net.0.proj.weight has an odd output size ",
           tb.ff_in.out, " (GEGLU needs value and gate halves)");
    tb.ff_out = load_linear(ws, b + ".ff.net.2", true, tb.ff_in.out / 2, t.inner);
    t.blocks.push_back(std::move(tb));
  }
  return t;
}

namespace {
// x (B, T, C) in place
void transformer_block(ThreadPool& pool, const TransformerBlock& tb, float* x, int64_t B, int64_t T, int64_t C,
                       const float* ctx, int64_t S) {
  const int64_t n = B * T * C;
  Buf h(static_cast<size_t>(n)), a(static_cast<size_t>(n));
  layer_norm(pool, tb.norm1, x, B * T, h.data());
  attention(pool, tb.attn1, h.data(), B, T, nullptr, 0, false, a.data());
  add(pool, x, a.data(), x, n);
  layer_norm(pool, tb.norm2, x, B * T, h.data());
  attention(pool, tb.attn2, h.data(), B, T, ctx, S, false, a.data());
  add(pool, x, a.data(), x, n);
  layer_norm(pool, tb.norm3, x, B * T, h.data());
  const int64_t F = tb.ff_in.out / 2;
  Buf g(size_t(B * T * 2 * F)), f(size_t(B * T * F));
  linear(pool, tb.ff_in, h.data(), B * T, g.data());
  cpu::geglu(pool, g.data(), B * T, F, f.data());
  linear(pool, tb.ff_out, f.data(), B * T, a.data());
  add(pool, x, a.data(), x, n);
}

// (C, S) -> (S, C) for one image
void transpose(const float* x, int64_t R, int64_t Cc, float* y) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < Cc; ++c) y[c * R + r] = x[r * Cc + c];
}
}  // namespace

void spatial_transformer(ThreadPool& pool, const SpatialTransformer& t, const float* x, int64_t N, int64_t H,
                         int64_t W, const float* ctx, int64_t S, float* y) {
  const int64_t HW = H * W, C = t.channels, I = t.inner;
  Buf h(size_t(N * C * HW)), seq(size_t(N * HW * I));
  group_norm(pool, t.norm, x, N, HW, false, h.data());
  if (t.linear_proj) {
    Buf hs(size_t(N * HW * C));
    for (int64_t n = 0; n < N; ++n) transpose(h.data() + n * C * HW, C, HW, hs.data() + n * HW * C);
    linear(pool, t.proj_in_lin, hs.data(), N * HW, seq.data());
  } else {
    Buf p(size_t(N * I * HW));
    conv2d(pool, t.proj_in_conv, h.data(), N, H, W, p.data());
    for (int64_t n = 0; n < N; ++n) transpose(p.data() + n * I * HW, I, HW, seq.data() + n * HW * I);
  }
  for (const auto& tb : t.blocks) transformer_block(pool, tb, seq.data(), N, HW, I, ctx, S);
  if (t.linear_proj) {
    Buf o(size_t(N * HW * C));
    linear(pool, t.proj_out_lin, seq.data(), N * HW, o.data());
    for (int64_t n = 0; n < N; ++n) transpose(o.data() + n * HW * C, HW, C, y + n * C * HW);
  } else {
    Buf p(size_t(N * I * HW));
    for (int64_t n = 0; n < N; ++n) transpose(seq.data() + n * HW * I, HW, I, p.data() + n * I * HW);
    conv2d(pool, t.proj_out_conv, p.data(), N, H, W, y);
  }
  add(pool, y, x, y, N * C * HW);
}

VaeAttention load_vae_attention(WeightSet& ws, const std::string& p, int64_t C, int64_t groups) {
  VaeAttention a;
  a.channels = C;
  a.norm = load_norm(ws, p + ".group_norm", C, groups, 1e-6f);
  a.attn = load_attention_diffusers(ws, p, C, C, 1);
  return a;
}

void vae_attention(ThreadPool& pool, const VaeAttention& a, const float* x, int64_t N, int64_t H, int64_t W,
                   float* y) {
  const int64_t HW = H * W, C = a.channels;
  Buf h(size_t(N * C * HW)), seq(size_t(N * HW * C)), o(size_t(N * HW * C));
  group_norm(pool, a.norm, x, N, HW, false, h.data());
  for (int64_t n = 0; n < N; ++n) transpose(h.data() + n * C * HW, C, HW, seq.data() + n * HW * C);
  attention(pool, a.attn, seq.data(), N, HW, nullptr, 0, false, o.data());
  for (int64_t n = 0; n < N; ++n) transpose(o.data() + n * HW * C, HW, C, y + n * C * HW);
  add(pool, y, x, y, N * C * HW);
}

void upsample(ThreadPool& pool, const Conv2d& conv, const float* x, int64_t N, int64_t H, int64_t W, int64_t OH,
              int64_t OW, float* y) {
  Buf u(size_t(N * conv.in * OH * OW));
  cpu::upsample_nearest(pool, x, N * conv.in, H, W, u.data(), OH, OW);
  conv2d(pool, conv, u.data(), N, OH, OW, y);
}

}  // namespace bgn::nn
