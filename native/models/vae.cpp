#include "models/vae.h"

#include <cmath>

namespace bgn {

VaeModel::~VaeModel() {
  if (gpu_) gpu_->release_weights(this);  // only this model's copies; others stay resident
}

std::shared_ptr<VaeModel> VaeModel::load(const std::string& path, const VaeLoadOptions& opts) {
  return from_weights(load_component(path, Component::Vae), opts);
}

std::shared_ptr<VaeModel> VaeModel::load(const std::string& path, int threads) {
  VaeLoadOptions o;
  o.threads = threads;
  return load(path, o);
}

std::shared_ptr<VaeModel> VaeModel::from_weights(ComponentWeights cw, int threads) {
  VaeLoadOptions o;
  o.threads = threads;
  return from_weights(std::move(cw), o);
}

namespace {
constexpr float kEps = 1e-6f;
}

std::shared_ptr<VaeModel> VaeModel::from_weights(ComponentWeights cw, const VaeLoadOptions& opts) {
  auto m = std::shared_ptr<VaeModel>(new VaeModel());
  nn::WeightSet& ws = cw.weights;
  m->weight_bytes_ = nn::device_weight_bytes(ws);
  nn::reserve_device(opts.gpu.get(), m->weight_bytes_, std::string("the VAE (") + ws.source() + ")");
  m->gpu_ = opts.gpu;
  VaeConfig& c = m->cfg_;
  m->layout_ = cw.layout;
  if (cw.has_config) {
    c.groups = config_int(cw.config, "norm_num_groups", 32);
    c.scaling_factor = float(config_double(cw.config, "scaling_factor", 0.18215));
  }
  auto load_mid = [&](const std::string& p, int64_t ch) {
    Mid mid;
    mid.res0 = nn::load_resblock(ws, p + ".mid_block.resnets.0", ch, c.groups, kEps, -1);
    mid.has_attn = ws.has_prefix(p + ".mid_block.attentions.0.");
    if (mid.has_attn) mid.attn = nn::load_vae_attention(ws, p + ".mid_block.attentions.0", ch, c.groups);
    mid.res1 = nn::load_resblock(ws, p + ".mid_block.resnets.1", ch, c.groups, kEps, -1);
    return mid;
  };
  m->has_encoder_ = ws.has_prefix("encoder.");
  m->has_decoder_ = ws.has_prefix("decoder.");
  if (!m->has_encoder_ && !m->has_decoder_) ws.take("decoder.conv_in.weight");
  ws.require_complete("VAE");

  if (m->has_encoder_) {
    m->enc_in_ = nn::load_conv(ws, "encoder.conv_in");
    ws.require_complete("VAE");
    c.image_channels = m->enc_in_.in;
    int64_t ch = m->enc_in_.out;
    const int levels = ws.count_indexed("encoder.down_blocks.");
    for (int l = 0; l < levels; ++l) {
      const std::string p = "encoder.down_blocks." + std::to_string(l);
      Level L;
      const int nres = ws.count_indexed(p + ".resnets.");
      for (int k = 0; k < nres; ++k) {
        L.res.push_back(nn::load_resblock(ws, p + ".resnets." + std::to_string(k), ch, c.groups, kEps, -1));
        ch = L.res.back().out;
      }
      c.channels.push_back(ch);
      L.has_sampler = ws.has_prefix(p + ".downsamplers.");
      if (L.has_sampler) {
        // diffusers pads (0, 1, 0, 1) then convolves without padding.
        L.sampler = nn::load_conv(ws, p + ".downsamplers.0.conv", ch, ch, 2);
        L.sampler.pad_top = L.sampler.pad_left = 0;
        L.sampler.pad_bottom = L.sampler.pad_right = 1;
        c.downscale *= 2;
      }
      m->down_.push_back(std::move(L));
      ws.require_complete("VAE");
    }
    m->enc_mid_ = load_mid("encoder", ch);
    m->enc_norm_out_ = nn::load_norm(ws, "encoder.conv_norm_out", ch, c.groups, kEps);
    m->enc_out_ = nn::load_conv(ws, "encoder.conv_out", ch);
    m->quant_ =
        nn::load_conv(ws, "quant_conv", m->enc_out_.out ? m->enc_out_.out : -1, m->enc_out_.out ? m->enc_out_.out : -1);
    ws.require_complete("VAE");
    if (m->enc_out_.out % 2 != 0)
      fail(Code::ModelFormat, ws.source(), ": encoder.conv_out has ", m->enc_out_.out,
           " channels; expected 2 × latent channels (mean and log-variance)");
    c.latent_channels = m->enc_out_.out / 2;
  }
  if (m->has_decoder_) {
    m->post_quant_ = nn::load_conv(ws, "post_quant_conv");
    m->dec_in_ = nn::load_conv(ws, "decoder.conv_in", m->post_quant_.out ? m->post_quant_.out : -1);
    ws.require_complete("VAE");
    if (m->has_encoder_ && m->post_quant_.in != c.latent_channels)
      fail(Code::ModelFormat, ws.source(), ": post_quant_conv takes ", m->post_quant_.in,
           " channels but the encoder makes ", c.latent_channels, " latent channels");
    c.latent_channels = m->post_quant_.in;
    int64_t ch = m->dec_in_.out;
    m->dec_mid_ = load_mid("decoder", ch);
    const int levels = ws.count_indexed("decoder.up_blocks.");
    int64_t up_scale = 1;
    for (int u = 0; u < levels; ++u) {
      const std::string p = "decoder.up_blocks." + std::to_string(u);
      Level L;
      const int nres = ws.count_indexed(p + ".resnets.");
      for (int k = 0; k < nres; ++k) {
        L.res.push_back(nn::load_resblock(ws, p + ".resnets." + std::to_string(k), ch, c.groups, kEps, -1));
        ch = L.res.back().out;
      }
      L.has_sampler = ws.has_prefix(p + ".upsamplers.");
      if (L.has_sampler) {
        L.sampler = nn::load_conv(ws, p + ".upsamplers.0.conv", ch, ch);
        up_scale *= 2;
      }
      m->up_.push_back(std::move(L));
      ws.require_complete("VAE");
    }
    m->dec_norm_out_ = nn::load_norm(ws, "decoder.conv_norm_out", ch, c.groups, kEps);
    m->dec_out_ = nn::load_conv(ws, "decoder.conv_out", ch);
    ws.require_complete("VAE");
    if (m->has_encoder_ && up_scale != c.downscale)
      fail(Code::ModelFormat, ws.source(), ": the decoder upsamples ", up_scale, "× but the encoder downsamples ",
           c.downscale, "×");
    c.downscale = up_scale;
    c.image_channels = m->dec_out_.out;
  }
  m->pool_ = std::make_unique<ThreadPool>(opts.threads);
  return m;
}

namespace {
struct Feat {
  nn::Act d;
  int64_t c, h, w;
};

void run_res(Exec& e, const nn::ResBlock& r, Feat& f, int64_t N) {
  f = Feat{nn::resblock(e, r, f.d.data(), N, f.h, f.w, nullptr), r.out, f.h, f.w};
}

void run_mid(Exec& e, const nn::ResBlock& r0, const nn::VaeAttention* attn, const nn::ResBlock& r1, Feat& f,
             int64_t N) {
  run_res(e, r0, f, N);
  if (attn) {
    Feat o{nn::Act(e, f.d.size()), f.c, f.h, f.w};
    nn::vae_attention(e, *attn, f.d.data(), N, f.h, f.w, o.d.data());
    f = std::move(o);
  }
  run_res(e, r1, f, N);
}

void run_conv(Exec& e, const nn::Conv2d& cv, Feat& f, int64_t N) {
  int64_t oh, ow;
  nn::conv_out_size(cv, f.h, f.w, &oh, &ow);
  Feat o{nn::Act(e, N * cv.out * oh * ow), cv.out, oh, ow};
  nn::conv2d(e, cv, f.d.data(), N, f.h, f.w, o.d.data());
  f = std::move(o);
}
}  // namespace

std::vector<float> VaeModel::encode(const float* image, int64_t N, int64_t H, int64_t W) const {
  const VaeConfig& c = cfg_;
  if (!has_encoder_) fail(Code::ModelUnsupported, "this VAE has no encoder weights (decoder-only file)");
  if (N < 1 || H < 1 || W < 1 || H % c.downscale || W % c.downscale)
    fail(Code::BadInput, "VAE encode needs an image (N, ", c.image_channels, ", H, W) with H and W multiples of ",
         c.downscale, "; got (", N, ", ", c.image_channels, ", ", H, ", ", W, ")");
  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu_) device_lock = gpu_->lock();  // one pass at a time on the device
  Exec e{*pool_, gpu_.get(), this};
  Feat f{nn::upload(e, image, N * c.image_channels * H * W), c.image_channels, H, W};
  run_conv(e, enc_in_, f, N);
  for (const Level& L : down_) {
    for (const auto& r : L.res) run_res(e, r, f, N);
    if (L.has_sampler) run_conv(e, L.sampler, f, N);
  }
  run_mid(e, enc_mid_.res0, enc_mid_.has_attn ? &enc_mid_.attn : nullptr, enc_mid_.res1, f, N);
  nn::group_norm(e, enc_norm_out_, f.d.data(), N, f.h * f.w, true, f.d.data());
  run_conv(e, enc_out_, f, N);
  run_conv(e, quant_, f, N);
  return nn::download(e, std::move(f.d));
}

std::vector<float> VaeModel::decode(const float* latents, int64_t N, int64_t h, int64_t w) const {
  const VaeConfig& c = cfg_;
  if (!has_decoder_) fail(Code::ModelUnsupported, "this VAE has no decoder weights (encoder-only file)");
  if (N < 1 || h < 1 || w < 1) fail(Code::BadInput, "VAE decode needs non-empty latents");
  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu_) device_lock = gpu_->lock();
  Exec e{*pool_, gpu_.get(), this};
  Feat f{nn::upload(e, latents, N * c.latent_channels * h * w), c.latent_channels, h, w};
  run_conv(e, post_quant_, f, N);
  run_conv(e, dec_in_, f, N);
  run_mid(e, dec_mid_.res0, dec_mid_.has_attn ? &dec_mid_.attn : nullptr, dec_mid_.res1, f, N);
  for (const Level& L : up_) {
    for (const auto& r : L.res) run_res(e, r, f, N);
    if (L.has_sampler) {
      Feat o{nn::Act(e, N * L.sampler.out * f.h * 2 * f.w * 2), L.sampler.out, f.h * 2, f.w * 2};
      nn::upsample(e, L.sampler, f.d.data(), N, f.h, f.w, f.h * 2, f.w * 2, o.d.data());
      f = std::move(o);
    }
  }
  nn::group_norm(e, dec_norm_out_, f.d.data(), N, f.h * f.w, true, f.d.data());
  run_conv(e, dec_out_, f, N);
  return nn::download(e, std::move(f.d));
}

}  // namespace bgn
