#include "nn/blocks.h"

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

Act resblock(Exec& e, const ResBlock& r, const float* x, int64_t N, int64_t H, int64_t W, const float* temb) {
  const int64_t S = H * W;
  Act h2(e, N * r.out * S);
  {
    Act h(e, N * r.in * S);
    group_norm(e, r.norm1, x, N, S, true, h.data());
    conv2d(e, r.conv1, h.data(), N, H, W, h2.data());
  }
  if (r.has_temb && temb) {
    // + time_emb_proj(SiLU(temb)), one value per (n, channel) plane
    Act t(e, N * r.temb.in), v(e, N * r.out);
    act(e, cpu::Act::SiLU, temb, t.data(), N * r.temb.in);
    linear(e, r.temb, t.data(), N, v.data());
    add_rows(e, h2.data(), v.data(), N * r.out, S);
  }
  group_norm(e, r.norm2, h2.data(), N, S, true, h2.data());
  Act y(e, N * r.out * S);
  conv2d(e, r.conv2, h2.data(), N, H, W, y.data());
  if (r.has_shortcut) {
    conv2d(e, r.shortcut, x, N, H, W, h2.data());  // h2 is spent: it takes the shortcut
    add(e, y.data(), h2.data(), y.data(), N * r.out * S);
  } else {
    add(e, y.data(), x, y.data(), N * r.out * S);
  }
  return y;
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
void transformer_block(Exec& e, const TransformerBlock& tb, float* x, int64_t B, int64_t T, int64_t C, const float* ctx,
                       int64_t S) {
  const int64_t n = B * T * C;
  Act h(e, n), a(e, n);
  layer_norm(e, tb.norm1, x, B * T, h.data());
  attention(e, tb.attn1, h.data(), B, T, nullptr, 0, false, a.data());
  add(e, x, a.data(), x, n);
  layer_norm(e, tb.norm2, x, B * T, h.data());
  attention(e, tb.attn2, h.data(), B, T, ctx, S, false, a.data());
  add(e, x, a.data(), x, n);
  layer_norm(e, tb.norm3, x, B * T, h.data());
  const int64_t F = tb.ff_in.out / 2;
  Act g(e, B * T * 2 * F), f(e, B * T * F);
  linear(e, tb.ff_in, h.data(), B * T, g.data());
  geglu(e, g.data(), B * T, F, f.data(), tb.ff_in.wb != nullptr);  // a bf16 block needs no exact erf
  linear(e, tb.ff_out, f.data(), B * T, a.data());
  add(e, x, a.data(), x, n);
}
}  // namespace

// Sequences are (N, HW, I) rows; images (N, C, HW) planes: transposes convert between them.
void spatial_transformer(Exec& e, const SpatialTransformer& t, const float* x, int64_t N, int64_t H, int64_t W,
                         const float* ctx, int64_t S, float* y) {
  const int64_t HW = H * W, C = t.channels, I = t.inner;
  Act h(e, N * C * HW), seq(e, N * HW * I);
  group_norm(e, t.norm, x, N, HW, false, h.data());
  if (t.linear_proj) {
    Act hs(e, N * HW * C);
    transpose(e, h.data(), N, C, HW, hs.data());
    linear(e, t.proj_in_lin, hs.data(), N * HW, seq.data());
  } else {
    Act p(e, N * I * HW);
    conv2d(e, t.proj_in_conv, h.data(), N, H, W, p.data());
    transpose(e, p.data(), N, I, HW, seq.data());
  }
  for (const auto& tb : t.blocks) transformer_block(e, tb, seq.data(), N, HW, I, ctx, S);
  if (t.linear_proj) {
    Act o(e, N * HW * C);
    linear(e, t.proj_out_lin, seq.data(), N * HW, o.data());
    transpose(e, o.data(), N, HW, C, y);
  } else {
    Act p(e, N * I * HW);
    transpose(e, seq.data(), N, HW, I, p.data());
    conv2d(e, t.proj_out_conv, p.data(), N, H, W, y);
  }
  add(e, y, x, y, N * C * HW);
}

VaeAttention load_vae_attention(WeightSet& ws, const std::string& p, int64_t C, int64_t groups) {
  VaeAttention a;
  a.channels = C;
  a.norm = load_norm(ws, p + ".group_norm", C, groups, 1e-6f);
  a.attn = load_attention_diffusers(ws, p, C, C, 1);
  return a;
}

void vae_attention(Exec& e, const VaeAttention& a, const float* x, int64_t N, int64_t H, int64_t W, float* y) {
  const int64_t HW = H * W, C = a.channels;
  Act h(e, N * C * HW), seq(e, N * HW * C), o(e, N * HW * C);
  group_norm(e, a.norm, x, N, HW, false, h.data());
  transpose(e, h.data(), N, C, HW, seq.data());
  attention(e, a.attn, seq.data(), N, HW, nullptr, 0, false, o.data());
  transpose(e, o.data(), N, HW, C, y);
  add(e, y, x, y, N * C * HW);
}

void upsample(Exec& e, const Conv2d& conv, const float* x, int64_t N, int64_t H, int64_t W, int64_t OH, int64_t OW,
              float* y) {
  Act u(e, N * conv.in * OH * OW);
  upsample_nearest(e, x, N * conv.in, H, W, u.data(), OH, OW);
  conv2d(e, conv, u.data(), N, OH, OW, y);
}

}  // namespace bgn::nn
