#include "models/taesd.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "models/weight_map.h"
#include "tensor/knobs.h"
#include "nn/ops.h"

namespace bgn {

TaesdModel::~TaesdModel() {
  if (gpu_) gpu_->release_weights(this);
}

std::shared_ptr<TaesdModel> TaesdModel::load(const std::string& path, const TaesdLoadOptions& opts) {
  return from_weights(load_taesd_weights(path), opts);
}

std::shared_ptr<TaesdModel> TaesdModel::from_weights(TaesdWeights tw, const TaesdLoadOptions& opts) {
  auto m = std::shared_ptr<TaesdModel>(new TaesdModel());
  nn::WeightSet& ws = tw.weights;
  TaesdConfig& c = m->cfg_;
  m->layout_ = tw.layout;
  m->source_ = ws.source();
  if (tw.has_config) {
    c.upsampling = config_int(tw.config, "upsampling_scaling_factor", 2);
    c.latent_magnitude = float(config_double(tw.config, "latent_magnitude", 3.0));
    c.latent_shift = float(config_double(tw.config, "latent_shift", 0.5));
    c.scaling_factor = float(config_double(tw.config, "scaling_factor", 1.0));
    if (c.upsampling < 1 || c.upsampling > 8)
      fail(Code::ModelUnsupported, ws.source(), ": upsampling_scaling_factor ", c.upsampling, " is not from 1 to 8");
    if (!(c.latent_magnitude > 0) || !std::isfinite(c.latent_shift) || !(c.scaling_factor > 0) ||
        !std::isfinite(c.latent_magnitude) || !std::isfinite(c.scaling_factor))
      fail(Code::ModelFormat, ws.source(), ": latent_magnitude and scaling_factor must be positive numbers");
  }
  const bool has_enc = ws.has_prefix("encoder.layers."), has_dec = ws.has_prefix("decoder.layers.");
  if (!has_enc && !has_dec)
    fail(Code::ModelUnsupported, ws.source(), ": no tiny autoencoder layers (encoder.layers.* / decoder.layers.*)");

  // One side's layers, checked link by link; *in / *out: its first input and last output channels.
  auto load_side = [&](const std::string& side, bool decoder, int64_t* in, int64_t* out, int64_t* scale) {
    std::vector<Layer> layers;
    const int n = ws.count_indexed(side);
    int64_t ch = -1;
    *scale = 1;
    for (int i = 0; i < n; ++i) {
      const std::string p = side + std::to_string(i);
      Layer L;
      if (ws.has(p + ".conv.0.weight")) {
        if (ch < 0) fail(Code::ModelFormat, ws.source(), ": ", p, " is a block, but the first layer must be a conv");
        L.op = Op::Block;
        Block& b = L.block;
        b.c0 = nn::load_conv(ws, p + ".conv.0", ch);
        const int64_t o = b.c0.out;
        b.c2 = nn::load_conv(ws, p + ".conv.2", o ? o : -1, o ? o : -1);
        b.c4 = nn::load_conv(ws, p + ".conv.4", o ? o : -1, o ? o : -1);
        b.c0.relu = b.c2.relu = true;
        b.has_skip = ws.has(p + ".skip.weight");
        if (b.has_skip) {
          b.skip = nn::load_conv(ws, p + ".skip", ch, o ? o : -1, 1, false);
          if (b.skip.kh != 1) ws.expect_shape(p + ".skip.weight", b.skip.w, {o, ch, 1, 1});
        } else if (o && o != ch) {
          ws.take(p + ".skip.weight");  // a channel change needs the 1×1 skip conv
        }
        ws.require_complete("tiny autoencoder");
        ch = o;
      } else if (ws.has(p + ".weight")) {
        L.op = Op::Conv;
        const bool first = ch < 0, last = i == n - 1;
        // The encoder's convs between its first and last halve the resolution.
        const int64_t stride = !decoder && !first && !last ? 2 : 1;
        L.conv = nn::load_conv(ws, p, first ? -1 : ch, -1, stride, ws.has(p + ".bias"));
        ws.require_complete("tiny autoencoder");
        if (first) *in = L.conv.in;
        ch = L.conv.out;
        if (stride == 2) *scale *= 2;
      } else if (ws.has_prefix(p + ".")) {
        fail(Code::ModelFormat, ws.source(), ": layer ", p, " is neither a conv (", p, ".weight) nor a block (", p,
             ".conv.0.weight)");
      } else if (decoder && i == 1 && layers.size() == 1) {
        layers.back().conv.relu = true;  // the ReLU after the decoder's first conv
        continue;
      } else if (decoder && ch > 0) {
        L.op = Op::Upsample;
        *scale *= c.upsampling;
      } else {
        fail(Code::ModelFormat, ws.source(), ": the encoder has no weights for layer ", p);
      }
      layers.push_back(std::move(L));
    }
    if (layers.empty() || layers.back().op != Op::Conv)
      fail(Code::ModelFormat, ws.source(), ": the ", decoder ? "decoder" : "encoder", " must end with a conv (", side,
           n - 1, ".weight)");
    *out = ch;
    return layers;
  };

  int64_t enc_in = 0, enc_out = 0, enc_scale = 0, dec_in = 0, dec_out = 0, dec_scale = 0;
  if (has_enc) m->enc_ = load_side("encoder.layers.", false, &enc_in, &enc_out, &enc_scale);
  if (has_dec) m->dec_ = load_side("decoder.layers.", true, &dec_in, &dec_out, &dec_scale);
  if (has_enc && has_dec && (enc_out != dec_in || enc_in != dec_out || enc_scale != dec_scale))
    fail(Code::ModelFormat, ws.source(), ": the encoder (", enc_in, " → ", enc_out, " channels, ÷", enc_scale,
         ") and the decoder (", dec_in, " → ", dec_out, " channels, ×", dec_scale, ") do not belong together");
  c.latent_channels = has_enc ? enc_out : dec_in;
  c.image_channels = has_enc ? enc_in : dec_out;
  c.downscale = has_enc ? enc_scale : dec_scale;
  m->pool_ = std::make_unique<ThreadPool>(opts.threads);
  m->gpu_ = opts.gpu;
  return m;
}

nn::Act TaesdModel::block(Exec& e, const Block& b, const float* x, int64_t N, int64_t H, int64_t W) const {
  const int64_t o = b.c0.out, S = H * W;
  nn::Act a(e, N * o * S), t(e, N * o * S);
  nn::conv2d(e, b.c0, x, N, H, W, a.data());
  nn::conv2d(e, b.c2, a.data(), N, H, W, t.data());
  nn::conv2d(e, b.c4, t.data(), N, H, W, a.data());
  if (b.has_skip) {
    nn::conv2d(e, b.skip, x, N, H, W, t.data());
    nn::add(e, a.data(), t.data(), a.data(), N * o * S);
  } else {
    nn::add(e, a.data(), x, a.data(), N * o * S);
  }
  nn::relu(e, a.data(), a.data(), N * o * S);
  return a;
}

namespace {
// Rows each side of a band that its convolutions see: every row a band's zero padding gets wrong
// moves one row inward per k×k convolution (k/2 rows per side), so a band with this many rows of
// the input beyond its own is exact over its own rows.
int64_t halo_rows(const nn::Conv2d& c) { return c.kh / 2; }
bool same_size(const nn::Conv2d& c) {
  return c.stride == 1 && c.kh == c.kw && c.kh % 2 == 1 && c.pad_top == c.kh / 2 && c.pad_bottom == c.kh / 2;
}
}  // namespace

bool TaesdModel::banded(const Exec& e, const Block& b, int64_t N, int64_t C, int64_t H, int64_t W) const {
  const size_t bytes = size_t(N * std::max(C, b.c0.out) * H * W) * sizeof(float);
  return !e.gpu && bytes >= 4 * knobs::band_bytes() && same_size(b.c0) && same_size(b.c2) && same_size(b.c4) &&
         (!b.has_skip || (b.skip.kh == 1 && b.skip.stride == 1));
}

// At full resolution a block's two working activations are the largest buffers of a pass (TAESD's
// 64 channels at 512² are 64 MiB each): in bands of rows, each taking the rows its convolutions
// reach beyond it, only the input and the output are whole. Same values up to rounding (Winograd's
// tiles start at the band's edge).
nn::Act TaesdModel::block_in_bands(Exec& e, const Block& b, const float* x, int64_t N, int64_t C, int64_t H,
                                   int64_t W) const {
  const int64_t o = b.c0.out, halo = halo_rows(b.c0) + halo_rows(b.c2) + halo_rows(b.c4);
  const int64_t row_bytes = std::max(C, o) * W * int64_t(sizeof(float));
  const int64_t rows = std::max<int64_t>(2 * halo, int64_t(knobs::band_bytes()) / row_bytes);
  nn::Act y(e, N * o * H * W);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t y0 = 0; y0 < H; y0 += rows) {
      const int64_t y1 = std::min(H, y0 + rows), e0 = std::max<int64_t>(0, y0 - halo), e1 = std::min(H, y1 + halo);
      const int64_t eh = e1 - e0;
      nn::Act xb(e, C * eh * W);
      for (int64_t c = 0; c < C; ++c) std::copy_n(x + ((n * C + c) * H + e0) * W, eh * W, xb.data() + c * eh * W);
      const nn::Act band = block(e, b, xb.data(), 1, eh, W);
      for (int64_t c = 0; c < o; ++c)
        std::copy_n(band.data() + (c * eh + (y0 - e0)) * W, (y1 - y0) * W, y.data() + ((n * o + c) * H + y0) * W);
    }
  return y;
}

std::vector<float> TaesdModel::run(const std::vector<Layer>& layers, std::vector<float> x, int64_t N, int64_t c,
                                   int64_t* h, int64_t* w) const {
  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu_) device_lock = gpu_->lock();  // one pass at a time on the device
  Exec e{*pool_, gpu_.get(), this};
  nn::Act cur = nn::upload(e, x.data(), int64_t(x.size()));
  x = std::vector<float>();
  for (const Layer& L : layers) {
    const int64_t S = *h * *w;
    if (L.op == Op::Conv) {
      int64_t oh, ow;
      nn::conv_out_size(L.conv, *h, *w, &oh, &ow);
      nn::Act o(e, N * L.conv.out * oh * ow);
      nn::conv2d(e, L.conv, cur.data(), N, *h, *w, o.data());
      cur = std::move(o);
      c = L.conv.out;
      *h = oh;
      *w = ow;
    } else if (L.op == Op::Block) {
      const Block& b = L.block;
      cur = banded(e, b, N, c, *h, *w) ? block_in_bands(e, b, cur.data(), N, c, *h, *w)
                                       : block(e, b, cur.data(), N, *h, *w);
      c = b.c0.out;
    } else if (L.op == Op::Upsample) {
      const int64_t f = cfg_.upsampling;
      nn::Act o(e, N * c * S * f * f);
      nn::upsample_nearest(e, cur.data(), N * c, *h, *w, o.data(), *h * f, *w * f);
      cur = std::move(o);
      *h *= f;
      *w *= f;
    } else {
      nn::relu(e, cur.data(), cur.data(), N * c * S);
    }
  }
  return nn::download(e, std::move(cur));
}

std::vector<float> TaesdModel::encode(const float* image, int64_t N, int64_t H, int64_t W) const {
  const TaesdConfig& c = cfg_;
  if (enc_.empty())
    fail(Code::ModelUnsupported, source_,
         ": this tiny autoencoder has no encoder (a decoder-only file such as "
         "taesd_decoder.safetensors; add taesd_encoder.safetensors beside it to encode)");
  if (N < 1 || H < 1 || W < 1 || H % c.downscale || W % c.downscale)
    fail(Code::BadInput, "tiny autoencoder encode needs an image (N, ", c.image_channels,
         ", H, W) with H and W multiples of ", c.downscale, "; got (", N, ", ", c.image_channels, ", ", H, ", ", W,
         ")");
  std::vector<float> x(size_t(N * c.image_channels * H * W));
  for (size_t i = 0; i < x.size(); ++i) x[i] = (image[i] + 1.f) / 2.f;
  int64_t h = H, w = W;
  return run(enc_, std::move(x), N, c.image_channels, &h, &w);
}

std::vector<float> TaesdModel::decode(const float* latents, int64_t N, int64_t h, int64_t w) const {
  const TaesdConfig& c = cfg_;
  if (dec_.empty())
    fail(Code::ModelUnsupported, source_,
         ": this tiny autoencoder has no decoder (an encoder-only file; use "
         "taesd_decoder.safetensors or the diffusers folder)");
  if (N < 1 || h < 1 || w < 1 || h * c.downscale > 16384 || w * c.downscale > 16384)
    fail(Code::BadInput, "tiny autoencoder decode needs latents (N, ", c.latent_channels, ", h, w) of 1 to ",
         16384 / c.downscale, " per side; got (", N, ", ", c.latent_channels, ", ", h, ", ", w, ")");
  std::vector<float> x(size_t(N * c.latent_channels * h * w));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::tanh(latents[i] / 3.f) * 3.f;
  std::vector<float> y = run(dec_, std::move(x), N, c.latent_channels, &h, &w);
  for (float& v : y) v = v * 2.f - 1.f;
  return y;
}

void TaesdModel::scale_latents(float* x, int64_t n) const {
  const float m = 2.f * cfg_.latent_magnitude, s = cfg_.latent_shift;
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(1.f, std::max(0.f, x[i] / m + s));
}

}  // namespace bgn
