#include "models/unet.h"

#include <cmath>
#include <cstring>

#include "nn/bf16_weights.h"

namespace bgn {

void timestep_embedding(const float* t, int64_t N, int64_t dim, bool flip, float shift, float* out) {
  const int64_t half = dim / 2;
  const float neg_log = -float(std::log(10000.0));
  std::vector<float> freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) freq[size_t(i)] = std::exp(neg_log * float(i) / (float(half) - shift));
  for (int64_t n = 0; n < N; ++n) {
    float* o = out + n * dim;
    for (int64_t i = 0; i < half; ++i) {
      const float a = t[n] * freq[size_t(i)];
      const float s = std::sin(a), c = std::cos(a);
      o[flip ? half + i : i] = s;
      o[flip ? i : half + i] = c;
    }
    if (dim % 2) o[dim - 1] = 0.f;
  }
}

namespace {

std::vector<int64_t> per_level(const json::Value* v, size_t levels) {
  std::vector<int64_t> out;
  if (!v || v->is_null()) return out;
  if (v->is_number()) return std::vector<int64_t>(levels, int64_t(v->as_double()));
  if (v->is_array())
    for (const auto& x : v->items())
      if (x.is_number()) out.push_back(int64_t(x.as_double()));
  return out;
}

void refuse_config(const ComponentWeights& cw) {
  if (!cw.has_config) return;
  const json::Value& c = cw.config;
  auto set = [&](const char* k) {
    const json::Value* v = c.find(k);
    return v && !v->is_null() && !(v->is_bool() && !v->as_bool());
  };
  if (set("addition_embed_type") && config_string(c, "addition_embed_type", "") != "text_time")
    fail(Code::ModelUnsupported, cw.weights.source(), ": UNet addition_embed_type '",
         config_string(c, "addition_embed_type", "?"), "' is not supported (only SDXL's 'text_time')");
  for (const char* k :
       {"class_embed_type", "time_cond_proj_dim", "encoder_hid_dim", "only_cross_attention", "dual_cross_attention"})
    if (set(k)) fail(Code::ModelUnsupported, cw.weights.source(), ": UNet config option ", k, " is not supported");
  if (config_string(c, "resnet_time_scale_shift", "default") != "default")
    fail(Code::ModelUnsupported, cw.weights.source(),
         ": resnet_time_scale_shift other than 'default' is not supported");
  if (config_string(c, "time_embedding_type", "positional") != "positional")
    fail(Code::ModelUnsupported, cw.weights.source(), ": time_embedding_type other than 'positional' is not supported");
}

}  // namespace

UNetModel::~UNetModel() {
  if (gpu_) gpu_->release_weights(this);  // only this model's copies; others stay resident
}

std::shared_ptr<UNetModel> UNetModel::load(const std::string& path, const UnetLoadOptions& opts) {
  return from_weights(load_component(path, Component::Unet), opts);
}

std::shared_ptr<UNetModel> UNetModel::from_weights(ComponentWeights cw, const UnetLoadOptions& opts) {
  auto m = std::shared_ptr<UNetModel>(new UNetModel());
  nn::WeightSet& ws = cw.weights;
  UnetConfig& c = m->cfg_;
  m->weight_bytes_ = nn::device_weight_bytes(ws);
  nn::reserve_device(opts.gpu.get(), m->weight_bytes_, std::string("the UNet (") + ws.source() + ")");
  m->gpu_ = opts.gpu;
  m->layout_ = cw.layout;
  refuse_config(cw);

  const size_t levels = size_t(ws.count_indexed("down_blocks."));
  if (levels == 0 || size_t(ws.count_indexed("up_blocks.")) != levels)
    fail(Code::ModelUnsupported, ws.source(), ": UNet layout not recognised: ", levels, " down levels and ",
         ws.count_indexed("up_blocks."), " up levels (expected the same non-zero number)");
  if (cw.has_config) {
    c.groups = config_int(cw.config, "norm_num_groups", 32);
    c.eps = float(config_double(cw.config, "norm_eps", 1e-5));
    c.flip_sin_to_cos = config_bool(cw.config, "flip_sin_to_cos", true);
    c.freq_shift = float(config_double(cw.config, "freq_shift", 0.0));
  }

  m->conv_in_ = nn::load_conv(ws, "conv_in");
  m->time1_ = nn::load_linear(ws, "time_embedding.linear_1", true);
  m->time2_ = nn::load_linear(ws, "time_embedding.linear_2", true, m->time1_.out ? m->time1_.out : -1);
  ws.require_complete("UNet");
  c.in_channels = m->conv_in_.in;
  c.time_proj_dim = m->time1_.in;
  c.time_embed_dim = m->time2_.out;
  c.text_time = ws.has_prefix("add_embedding.");
  if (cw.has_config && config_string(cw.config, "addition_embed_type", "") == "text_time" && !c.text_time)
    ws.take("add_embedding.linear_1.weight");
  if (c.text_time) {
    m->add1_ = nn::load_linear(ws, "add_embedding.linear_1", true);
    m->add2_ = nn::load_linear(ws, "add_embedding.linear_2", true, m->add1_.out ? m->add1_.out : -1, c.time_embed_dim);
    ws.require_complete("UNet");
    c.add_in_dim = m->add1_.in;
    if (cw.has_config) c.addition_time_embed_dim = config_int(cw.config, "addition_time_embed_dim", 0);
    if (c.addition_time_embed_dim < 0 || 6 * c.addition_time_embed_dim >= c.add_in_dim)
      fail(Code::ModelFormat, ws.source(), ": add_embedding.linear_1 takes ", c.add_in_dim,
           " inputs, too few for 6 time ids of ", c.addition_time_embed_dim, " values plus the pooled text embedding");
  }

  // Context width and projection kind, from the first cross-attention found.
  for (const auto& [name, t] : ws.all()) {
    const std::string suffix = ".attn2.to_k.weight";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        t.rank() == 2) {
      c.context_dim = t.dim(1);
      break;
    }
  }
  for (const auto& [name, t] : ws.all()) {
    const std::string suffix = ".proj_in.weight";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      c.linear_projection = t.rank() == 2;
      break;
    }
  }
  if (cw.has_config) {
    const int64_t cfg_ctx = config_int(cw.config, "cross_attention_dim", c.context_dim);
    if (c.context_dim && cfg_ctx != c.context_dim)
      fail(Code::ModelFormat, ws.source(), ": config.json says cross_attention_dim ", cfg_ctx,
           " but the attention weights take ", c.context_dim);
  }

  // Heads per level.
  if (cw.has_config) {
    const json::Value* nh = cw.config.find("num_attention_heads");
    c.heads = per_level(nh && !nh->is_null() ? nh : cw.config.find("attention_head_dim"), levels);
    if (!c.heads.empty() && c.heads.size() != levels)
      fail(Code::ModelFormat, ws.source(), ": config.json lists ", c.heads.size(), " attention head counts for ",
           levels, " levels");
  }

  // Down path (tracking the channels of every skip connection).
  int64_t ch = c.in_channels ? m->conv_in_.out : 0;
  std::vector<int64_t> skips{ch};
  auto heads_for = [&](size_t level, int64_t inner) -> int64_t {
    if (opts.attention_heads > 0) return opts.attention_heads;
    if (!c.heads.empty()) return c.heads[level];
    return c.linear_projection ? std::max<int64_t>(1, inner / 64) : 8;  // SD 2.x / SD 1.x conventions
  };
  auto inner_of = [&](const std::string& p, int64_t fallback) {
    Tensor t = ws.optional(p + ".proj_in.weight");
    return nn::present(t) && t.rank() >= 2 ? t.dim(0) : fallback;
  };
  for (size_t l = 0; l < levels; ++l) {
    const std::string p = "down_blocks." + std::to_string(l);
    Level L;
    const int nres = ws.count_indexed(p + ".resnets.");
    const bool attn = ws.has_prefix(p + ".attentions.");
    if (nres == 0) ws.take(p + ".resnets.0.conv1.weight");
    for (int k = 0; k < nres; ++k) {
      L.res.push_back(
          nn::load_resblock(ws, p + ".resnets." + std::to_string(k), ch, c.groups, c.eps, c.time_embed_dim));
      ch = L.res.back().out;
      if (attn) {
        const std::string ap = p + ".attentions." + std::to_string(k);
        L.attn.push_back(
            nn::load_spatial_transformer(ws, ap, ch, heads_for(l, inner_of(ap, ch)), c.context_dim, c.groups));
      }
      skips.push_back(ch);
    }
    c.channels.push_back(ch);
    L.has_sampler = ws.has_prefix(p + ".downsamplers.");
    if (L.has_sampler) {
      L.sampler = nn::load_conv(ws, p + ".downsamplers.0.conv", ch, ch, 2);
      skips.push_back(ch);
    }
    m->down_.push_back(std::move(L));
    ws.require_complete("UNet");
  }
  // Middle.
  m->mid_res0_ = nn::load_resblock(ws, "mid_block.resnets.0", ch, c.groups, c.eps, c.time_embed_dim);
  m->mid_has_attn_ = ws.has_prefix("mid_block.attentions.0.");
  if (m->mid_has_attn_)
    m->mid_attn_ = nn::load_spatial_transformer(ws, "mid_block.attentions.0", ch,
                                                heads_for(levels - 1, inner_of("mid_block.attentions.0", ch)),
                                                c.context_dim, c.groups);
  m->mid_res1_ = nn::load_resblock(ws, "mid_block.resnets.1", ch, c.groups, c.eps, c.time_embed_dim);
  ws.require_complete("UNet");
  // Up path.
  for (size_t u = 0; u < levels; ++u) {
    const std::string p = "up_blocks." + std::to_string(u);
    Level L;
    const int nres = ws.count_indexed(p + ".resnets.");
    const bool attn = ws.has_prefix(p + ".attentions.");
    if (nres == 0) ws.take(p + ".resnets.0.conv1.weight");
    for (int k = 0; k < nres; ++k) {
      if (skips.empty())
        fail(Code::ModelUnsupported, ws.source(),
             ": UNet up path has more resnets than the down path has skip "
             "connections (at ",
             p, ".resnets.", k, ")");
      const int64_t in = ch + skips.back();
      skips.pop_back();
      L.res.push_back(
          nn::load_resblock(ws, p + ".resnets." + std::to_string(k), in, c.groups, c.eps, c.time_embed_dim));
      ch = L.res.back().out;
      if (attn) {
        const std::string ap = p + ".attentions." + std::to_string(k);
        L.attn.push_back(nn::load_spatial_transformer(ws, ap, ch, heads_for(levels - 1 - u, inner_of(ap, ch)),
                                                      c.context_dim, c.groups));
      }
    }
    L.has_sampler = ws.has_prefix(p + ".upsamplers.");
    if (L.has_sampler) L.sampler = nn::load_conv(ws, p + ".upsamplers.0.conv", ch, ch);
    m->up_.push_back(std::move(L));
    ws.require_complete("UNet");
  }
  if (!skips.empty())
    fail(Code::ModelUnsupported, ws.source(), ": UNet up path leaves ", skips.size(), " skip connections unused");
  m->norm_out_ = nn::load_norm(ws, "conv_norm_out", ch, c.groups, c.eps);
  m->conv_out_ = nn::load_conv(ws, "conv_out", ch);
  ws.require_complete("UNet");
  c.out_channels = m->conv_out_.out;
  std::vector<int64_t> resolved;  // report what was used
  for (size_t l = 0; l < levels; ++l) resolved.push_back(heads_for(l, c.channels[l]));
  c.heads = resolved;
  m->pool_ = std::make_unique<ThreadPool>(opts.threads);
  if (opts.precision == nn::Precision::BF16 && !opts.gpu) {
    // The layers hold every tensor they took: with the set's own references gone, each source
    // (a LoRA-merged f32 copy among them) is freed as soon as it is packed.
    ws = nn::WeightSet(ws.source(), ws.layout());
    m->pack_bf16();
  }
  return m;
}

void UNetModel::pack_bf16() {
  // The weights mapped while this load's residency scope was open are released as they are packed.
  nn::Bf16Packer packer(*pool_, ResidencyScope::current());
  for (nn::Linear* l : {&time1_, &time2_, &add1_, &add2_}) packer.pack(*l);
  for (nn::Conv2d* cv : {&conv_in_, &conv_out_}) packer.pack(*cv);
  for (std::vector<Level>* side : {&down_, &up_})
    for (Level& L : *side) {
      for (nn::ResBlock& r : L.res) packer.pack(r);
      for (nn::SpatialTransformer& t : L.attn) packer.pack(t);
      if (L.has_sampler) packer.pack(L.sampler);
    }
  packer.pack(mid_res0_);
  packer.pack(mid_res1_);
  if (mid_has_attn_) packer.pack(mid_attn_);
  precision_ = nn::Precision::BF16;
}

int64_t UNetModel::time_id_dim(int64_t P) const { return unet_time_id_dim(cfg_, P); }

int64_t unet_time_id_dim(const UnetConfig& c, int64_t P) {
  if (!c.text_time) fail(Code::BadInput, "this UNet takes no text_embeds / time_ids (it is not an SDXL UNet)");
  if (c.addition_time_embed_dim > 0) {
    if (P + 6 * c.addition_time_embed_dim != c.add_in_dim)
      fail(Code::BadInput, "text_embeds are ", P, " wide but this SDXL UNet expects ",
           c.add_in_dim - 6 * c.addition_time_embed_dim, " (add_embedding takes ", c.add_in_dim, " = pooled + 6·",
           c.addition_time_embed_dim, ")");
    return c.addition_time_embed_dim;
  }
  if (P < 1 || P >= c.add_in_dim || (c.add_in_dim - P) % 6 != 0)
    fail(Code::BadInput, "text_embeds are ", P, " wide, which does not fit this SDXL UNet: add_embedding takes ",
         c.add_in_dim, " inputs = pooled width + 6 time ids × their embedding width");
  return (c.add_in_dim - P) / 6;
}

std::vector<float> UNetModel::forward(const float* x, int64_t N, int64_t H, int64_t W, const float* timesteps,
                                      const float* ctx, int64_t S, const UnetAddedCond* added) const {
  const UnetConfig& c = cfg_;
  if (c.text_time && (!added || !added->text_embeds || !added->time_ids))
    fail(Code::BadInput,
         "this is an SDXL UNet: forward needs text_embeds (pooled text) and time_ids "
         "(original size, crop, target size)");
  if (!c.text_time && added && (added->text_embeds || added->time_ids))
    fail(Code::BadInput, "this UNet takes no text_embeds / time_ids (it is not an SDXL UNet)");
  const int64_t A = c.text_time ? time_id_dim(added->P) : 0;
  if (N < 1 || H < 1 || W < 1 || S < 1)
    fail(Code::BadInput, "UNet input must be non-empty: (", N, ", ", c.in_channels, ", ", H, ", ", W, ") with ", S,
         " context tokens");
  for (int64_t n = 0; n < N; ++n)
    if (!std::isfinite(timesteps[n])) fail(Code::BadInput, "UNet timestep ", n, " is not finite");

  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu_) device_lock = gpu_->lock();  // one pass at a time on the device
  Exec e{*pool_, gpu_.get(), this};

  // Time embedding: (N, time_embed_dim); the sinusoids are computed on the host.
  std::vector<float> tp(size_t(N * c.time_proj_dim));
  timestep_embedding(timesteps, N, c.time_proj_dim, c.flip_sin_to_cos, c.freq_shift, tp.data());
  nn::Act tpd = nn::upload(e, tp.data(), N * c.time_proj_dim);
  nn::Act t1(e, N * c.time_embed_dim), temb(e, N * c.time_embed_dim);
  nn::linear(e, time1_, tpd.data(), N, t1.data());
  nn::act(e, cpu::Act::SiLU, t1.data(), t1.data(), N * c.time_embed_dim);
  nn::linear(e, time2_, t1.data(), N, temb.data());
  if (c.text_time) {
    // temb += add_embedding(cat(text_embeds (N, P), time_proj(time_ids) (N, 6·A))), the input
    // assembled on the host from host inputs.
    for (int64_t i = 0; i < N * 6; ++i)
      if (!std::isfinite(added->time_ids[i])) fail(Code::BadInput, "time_ids hold NaN or Inf");
    std::vector<float> ids(size_t(N * 6 * A)), av(size_t(N * c.add_in_dim));
    timestep_embedding(added->time_ids, N * 6, A, c.flip_sin_to_cos, c.freq_shift, ids.data());
    for (int64_t n = 0; n < N; ++n) {
      std::memcpy(av.data() + n * c.add_in_dim, added->text_embeds + n * added->P, size_t(added->P) * 4);
      std::memcpy(av.data() + n * c.add_in_dim + added->P, ids.data() + n * 6 * A, size_t(6 * A) * 4);
    }
    nn::Act avd = nn::upload(e, av.data(), N * c.add_in_dim);
    nn::Act a1(e, N * add1_.out), a2(e, N * c.time_embed_dim);
    nn::linear(e, add1_, avd.data(), N, a1.data());
    nn::act(e, cpu::Act::SiLU, a1.data(), a1.data(), N * add1_.out);
    nn::linear(e, add2_, a1.data(), N, a2.data());
    nn::add(e, temb.data(), a2.data(), temb.data(), N * c.time_embed_dim);
  }
  nn::Act ctxd = nn::upload(e, ctx, N * S * c.context_dim);

  struct Feat {
    nn::Act d;
    int64_t c, h, w;
  };
  // Each step reads its input feature and returns a new one; the down path's outputs stay in
  // `skips` (the last one is the current feature) until the up path concatenates them.
  auto conv = [&](const nn::Conv2d& cv, const Feat& f) {
    int64_t oh, ow;
    nn::conv_out_size(cv, f.h, f.w, &oh, &ow);
    Feat o{nn::Act(e, N * cv.out * oh * ow), cv.out, oh, ow};
    nn::conv2d(e, cv, f.d.data(), N, f.h, f.w, o.d.data());
    return o;
  };
  auto res = [&](const nn::ResBlock& r, const Feat& f) {
    return Feat{nn::resblock(e, r, f.d.data(), N, f.h, f.w, temb.data()), r.out, f.h, f.w};
  };
  auto attn = [&](const nn::SpatialTransformer& t, const Feat& f) {
    Feat o{nn::Act(e, f.d.size()), f.c, f.h, f.w};
    nn::spatial_transformer(e, t, f.d.data(), N, f.h, f.w, ctxd.data(), S, o.d.data());
    return o;
  };

  std::vector<Feat> skips;
  {
    Feat in{nn::upload(e, x, N * c.in_channels * H * W), c.in_channels, H, W};
    skips.push_back(conv(conv_in_, in));
  }
  for (const Level& L : down_) {
    for (size_t k = 0; k < L.res.size(); ++k) {
      Feat o = res(L.res[k], skips.back());
      if (!L.attn.empty()) o = attn(L.attn[k], o);
      skips.push_back(std::move(o));
    }
    if (L.has_sampler) {
      Feat o = conv(L.sampler, skips.back());
      skips.push_back(std::move(o));
    }
  }
  Feat h = res(mid_res0_, skips.back());
  if (mid_has_attn_) h = attn(mid_attn_, h);
  h = res(mid_res1_, h);
  for (const Level& L : up_) {
    for (size_t k = 0; k < L.res.size(); ++k) {
      // cat([h, skip], channels)
      const Feat& s = skips.back();
      Feat cat{nn::Act(e, N * (h.c + s.c) * h.h * h.w), h.c + s.c, h.h, h.w};
      nn::concat_channels(e, h.d.data(), h.c, s.d.data(), s.c, N, h.h * h.w, cat.d.data());
      skips.pop_back();
      h = res(L.res[k], cat);
      if (!L.attn.empty()) h = attn(L.attn[k], h);
    }
    if (L.has_sampler) {
      // Upsample to the size of the skip connection it meets next (2× unless sizes were odd).
      const int64_t oh = skips.empty() ? h.h * 2 : skips.back().h, ow = skips.empty() ? h.w * 2 : skips.back().w;
      Feat o{nn::Act(e, N * h.c * oh * ow), h.c, oh, ow};
      nn::upsample(e, L.sampler, h.d.data(), N, h.h, h.w, oh, ow, o.d.data());
      h = std::move(o);
    }
  }
  nn::group_norm(e, norm_out_, h.d.data(), N, h.h * h.w, true, h.d.data());
  return nn::download(e, conv(conv_out_, h).d);
}

}  // namespace bgn
