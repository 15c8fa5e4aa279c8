#include "diffusion/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/nn_ops.h"
#include "diffusion/rng.h"
#include "diffusion/tiny_vae_source.h"

namespace bgn {

namespace {

Tensor tensor_of(const std::vector<float>& v, Shape s) {
  Tensor t = Tensor::empty(DType::F32, std::move(s));
  std::memcpy(t.raw(), v.data(), v.size() * sizeof(float));
  return t;
}
std::vector<float> vec_of(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }
void append(std::vector<float>& dst, const std::vector<float>& src) { dst.insert(dst.end(), src.begin(), src.end()); }

void check_finite(const std::vector<float>& v, const char* what, int step) {
  for (float x : v)
    if (!std::isfinite(x)) fail(Code::Numeric, "NaN/Inf appeared in the ", what, " at step ", step);
}

// scaling · (mean + std · noise) of vae.encode(image), image (1, 3, H, W) in [-1, 1]
// (tiled per `tiling`: the blended moments are sampled, see models/vae_tiling.h)
std::vector<float> encode_sample(const VaeModel& vae, const std::vector<float>& image, int64_t H, int64_t W,
                                 const std::vector<float>& noise, const VaeTileOptions& tiling) {
  std::vector<float> m = vae_encode(vae, image.data(), 1, H, W, tiling);
  const size_t half = m.size() / 2;
  std::vector<float> z(half);
  const float sf = vae.config().scaling_factor;
  for (size_t i = 0; i < half; ++i) {
    const float logvar = std::min(20.f, std::max(-30.f, m[half + i]));
    const float sd = std::exp(0.5f * logvar);
    z[i] = (m[i] + sd * noise[i]) * sf;
  }
  return z;
}

}  // namespace

PipelineResult run_pipeline(PipelineRequest& req) {
  BGN_CHECK((req.unet || req.acquire_unet) && req.vae && req.scheduler, Code::Internal,
            "pipeline without UNet, VAE or scheduler");
  const VaeModel& vae = *req.vae;
  Scheduler& sched = *req.scheduler;
  const UnetConfig uc = req.unet ? req.unet->config() : req.unet_config;
  const VaeConfig& vc = vae.config();
  const int64_t f = vc.downscale, C = vc.latent_channels;
  if (req.height < f || req.width < f || req.height % f || req.width % f || req.height > 8192 || req.width > 8192)
    fail(Code::BadInput, "width and height must be multiples of ", f, " from ", f, " to 8192; got ", req.width, "×",
         req.height);
  if (req.steps < 1 || req.steps > 1000) fail(Code::BadInput, "steps must be from 1 to 1000; got ", req.steps);
  if (!std::isfinite(req.guidance) || req.guidance < 0 || req.guidance > 100)
    fail(Code::BadInput, "guidanceScale must be from 0 to 100; got ", req.guidance);
  validate_vae_tiling(req.vae_tiling);
  const bool cfg = req.guidance > 1.f;
  const int64_t D = uc.context_dim, S = req.seq;
  if (S < 1 || int64_t(req.cond.size()) != S * D || (cfg && int64_t(req.uncond.size()) != S * D))
    fail(Code::BadInput, "text embeddings must be (", S, ", ", D, ") for this UNet");
  if (uc.out_channels != C)
    fail(Code::ModelUnsupported, "the UNet predicts ", uc.out_channels, " channels but the VAE has ", C,
         " latent channels");
  const bool inpaint9 = req.kind == PipelineKind::Inpaint && uc.in_channels == 2 * C + 1;
  if (uc.in_channels != C && !inpaint9)
    fail(Code::ModelUnsupported, "a UNet with ", uc.in_channels, " input channels cannot run ",
         req.kind == PipelineKind::Inpaint ? "inpainting" : "this pipeline", " (expected ", C,
         req.kind == PipelineKind::Inpaint ? " or " + std::to_string(2 * C + 1) : std::string(), ")");

  // SDXL added conditioning: pooled text per batch row and the time ids.
  std::vector<float> pooled_rows, time_rows;
  int64_t P = 0;
  if (uc.text_time) {
    P = int64_t(req.pooled.size());
    if (P < 1 || (cfg && int64_t(req.uncond_pooled.size()) != P))
      fail(Code::BadInput, "an SDXL UNet needs the pooled text embedding of the prompt",
           cfg ? " and of the negative prompt (same width)" : "");
    unet_time_id_dim(uc, P);  // checks the width
    if (req.time_ids.empty())
      req.time_ids = {float(req.height), float(req.width), 0.f, 0.f, float(req.height), float(req.width)};
    if (req.time_ids.size() != 6)
      fail(Code::BadInput,
           "time ids must be 6 values (original height, width, crop top, left, target height, width); got ",
           req.time_ids.size());
    if (cfg) append(pooled_rows, req.uncond_pooled);
    append(pooled_rows, req.pooled);
    for (int b = 0; b < (cfg ? 2 : 1); ++b) append(time_rows, req.time_ids);
  } else if (!req.pooled.empty() || !req.time_ids.empty()) {
    fail(Code::BadInput, "pooled text embeddings and time ids are for SDXL UNets; this UNet takes neither");
  }
  UnetAddedCond added;
  added.text_embeds = pooled_rows.data();
  added.P = P;
  added.time_ids = time_rows.data();

  const int64_t H = req.height, W = req.width, h = H / f, w = W / f, L = C * h * w;
  PipelineResult r;
  r.H = H;
  r.W = W;
  r.h = h;
  r.w = w;
  r.C = C;
  Rng rng(req.seed);
  auto draw = [&](std::vector<float>& supplied, const char* what) {
    if (supplied.empty()) {
      supplied.resize(size_t(L));
      rng.normal(supplied.data(), L);
    } else if (int64_t(supplied.size()) != L) {
      fail(Code::BadInput, what, " has ", supplied.size(), " values; (1, ", C, ", ", h, ", ", w, ") needs ", L);
    }
  };

  // Image and mask preprocessing.
  std::vector<float> init_image, mask_cond;
  if (req.kind != PipelineKind::Txt2Img) {
    if (int64_t(req.image.size()) != 3 * H * W)
      fail(Code::BadInput, "the init image must be (1, 3, ", H, ", ", W, ") — the size of the output");
    init_image.resize(req.image.size());
    for (size_t i = 0; i < init_image.size(); ++i) init_image[i] = 2.f * req.image[i] - 1.f;
  }
  if (req.kind == PipelineKind::Inpaint) {
    if (int64_t(req.mask.size()) != H * W)
      fail(Code::BadInput, "the mask must be (1, 1, ", H, ", ", W, ") — the size of the image; got ", req.mask.size(),
           " values");
    mask_cond.resize(req.mask.size());
    for (size_t i = 0; i < mask_cond.size(); ++i) mask_cond[i] = req.mask[i] >= 0.5f ? 1.f : 0.f;
  }

  // Images into the UNet's latent space: the VAE's sampled latents, or in draft quality the tiny
  // autoencoder's own (what diffusers does with AutoencoderTiny as the pipeline's vae: its
  // latents, no sampling, times its scaling_factor). The VAE's sampling noise is drawn either way,
  // so the other noises of a seed stay the same in both qualities.
  const bool tiny_encode = req.tiny_decode && req.tiny_vae && req.tiny_vae->has_encoder();
  if (tiny_encode) {
    const TaesdConfig& tc = req.tiny_vae->config();
    if (tc.latent_channels != C || tc.downscale != f)
      fail(Code::ModelUnsupported, req.tiny_vae->source(), ": the tiny autoencoder encodes to ", tc.latent_channels,
           "-channel latents ", tc.downscale, "× down; this model needs ", C, " channels ", f, "× down");
  }
  bool encode_announced = false;
  auto encode_latents = [&](const std::vector<float>& image) {
    if (!tiny_encode) {
      if (req.on_phase && !encode_announced) req.on_phase(PipelinePhase::Encode);
      encode_announced = true;
      return encode_sample(vae, image, H, W, req.vae_noise, req.vae_tiling);
    }
    std::vector<float> z = req.tiny_vae->encode(image.data(), 1, H, W);
    for (float& v : z) v *= req.tiny_vae->config().scaling_factor;
    return z;
  };

  sched.set_timesteps(req.steps);
  r.timesteps = sched.timesteps();
  int start = 0;
  std::vector<float> latents;
  std::vector<float> image_latents, mask_latent, masked_latents;
  if (req.kind == PipelineKind::Img2Img) {
    start = sched.first_step(req.strength);
    if (start >= sched.num_steps())
      fail(Code::BadInput, "strength ", req.strength, " with ", req.steps, " steps leaves no denoising step");
    draw(req.vae_noise, "vaeNoise");
    image_latents = encode_latents(init_image);
    draw(req.img2img_noise, "noise");
    Tensor z =
        sched.add_noise(tensor_of(image_latents, {1, C, h, w}), tensor_of(req.img2img_noise, {1, C, h, w}), start);
    latents = vec_of(z);
    if (req.trace) r.init_latents = image_latents;
  } else {
    draw(req.noise, "latents");
    latents = req.noise;
    const float s0 = sched.init_noise_sigma();
    for (float& v : latents) v *= s0;
  }
  if (req.kind == PipelineKind::Inpaint) {
    mask_latent.resize(size_t(h * w));
    cpu::upsample_nearest(*std::make_unique<ThreadPool>(1), mask_cond.data(), 1, H, W, mask_latent.data(), h, w);
    std::vector<float> masked(init_image.size());
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < H * W; ++i)
        masked[size_t(c * H * W + i)] = init_image[size_t(c * H * W + i)] * (mask_cond[size_t(i)] < 0.5f ? 1.f : 0.f);
    draw(req.vae_noise, "vaeNoise");
    if (inpaint9) {
      masked_latents = encode_latents(masked);
    } else {
      image_latents = encode_latents(init_image);
    }
    if (req.trace) {
      r.mask_latent = mask_latent;
      r.masked_image_latents = masked_latents;
    }
  }

  // Denoising loop.
  const int64_t B = cfg ? 2 : 1, Cin = uc.in_channels;
  std::vector<float> ctx;
  if (cfg) append(ctx, req.uncond);
  append(ctx, req.cond);
  const int total = sched.num_steps() - start;
  size_t step_noise_used = 0;
  NoiseFn ancestral = [&](float* out, int64_t n) {
    if (req.step_noise.empty()) return rng.normal(out, n);
    if (step_noise_used + size_t(n) > req.step_noise.size())
      fail(Code::BadInput, "stepNoise has ", req.step_noise.size(), " values; the sampler needs more (", n,
           " per step)");
    std::memcpy(out, req.step_noise.data() + step_noise_used, size_t(n) * 4);
    step_noise_used += size_t(n);
  };
  if (req.on_phase) req.on_phase(PipelinePhase::Denoise);
  std::shared_ptr<const UNetModel> unet = req.unet ? req.unet : req.acquire_unet();
  BGN_CHECK(unet, Code::Internal, "the model gave no UNet");
  if (unet->config().in_channels != uc.in_channels || unet->config().context_dim != uc.context_dim)
    fail(Code::Internal, "the UNet acquired for the denoising differs from the one described");
  for (int i = start; i < sched.num_steps(); ++i) {
    if (req.cancelled && req.cancelled()) fail(Code::Cancelled, "generation cancelled before step ", i - start + 1);
    Tensor x = tensor_of(latents, {1, C, h, w});
    std::vector<float> scaled = vec_of(sched.scale_model_input(x, i));
    std::vector<float> input(size_t(B * Cin * h * w));
    for (int64_t b = 0; b < B; ++b) {
      float* dst = input.data() + b * Cin * h * w;
      std::memcpy(dst, scaled.data(), size_t(L) * 4);
      if (inpaint9) {
        std::memcpy(dst + L, mask_latent.data(), size_t(h * w) * 4);
        std::memcpy(dst + L + h * w, masked_latents.data(), size_t(L) * 4);
      }
    }
    const float t = float(sched.timestep(i));
    std::vector<float> ts(size_t(B), t);
    std::vector<float> out =
        unet->forward(input.data(), B, h, w, ts.data(), ctx.data(), S, uc.text_time ? &added : nullptr);
    check_finite(out, "UNet output", i - start + 1);
    std::vector<float> eps(static_cast<size_t>(L));
    if (cfg) {
      for (int64_t k = 0; k < L; ++k)
        eps[size_t(k)] = out[size_t(k)] + req.guidance * (out[size_t(L + k)] - out[size_t(k)]);
    } else {
      std::memcpy(eps.data(), out.data(), size_t(L) * 4);
    }
    // A preview every preview_every steps (not after the last: the result follows).
    const bool preview = req.on_preview && req.tiny_vae && req.preview_every > 0 && i + 1 < sched.num_steps() &&
                         (i - start + 1) % req.preview_every == 0;
    Tensor x0;
    Tensor next = sched.step(tensor_of(eps, {1, C, h, w}), i, x, ancestral, preview ? &x0 : nullptr);
    latents = vec_of(next);
    if (req.kind == PipelineKind::Inpaint && !inpaint9) {
      // Masked latent blending: keep the original outside the mask, noised to the next timestep.
      std::vector<float> proper = image_latents;
      if (i + 1 < sched.num_steps())
        proper =
            vec_of(sched.add_noise(tensor_of(image_latents, {1, C, h, w}), tensor_of(req.noise, {1, C, h, w}), i + 1));
      for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < h * w; ++k) {
          const float m = mask_latent[size_t(k)];
          float& v = latents[size_t(c * h * w + k)];
          v = (1.f - m) * proper[size_t(c * h * w + k)] + m * v;
        }
    }
    check_finite(latents, "latents", i - start + 1);
    if (req.trace) {
      r.unet_timesteps.push_back(t);
      append(r.unet_inputs, input);
      append(r.unet_outputs, out);
      append(r.step_latents, latents);
      const Tensor& den = sched.last_denoised();
      if (den.numel() == L) r.step_denoised.insert(r.step_denoised.end(), den.data<float>(), den.data<float>() + L);
    }
    if (preview && int64_t(x0.numel()) == L) {
      int64_t ph = 0, pw = 0;
      std::vector<float> img = tiny_decode_01(*req.tiny_vae, x0.data<float>(), C, h, w, req.preview_side, &ph, &pw);
      req.on_preview(i - start + 1, std::move(img), ph, pw);
    }
    if (req.on_step) req.on_step(i - start + 1, total);
  }

  r.final_latents = latents;
  std::vector<float> z(latents);
  for (float& v : z) v /= vc.scaling_factor;
  unet.reset();  // an acquired UNet may go now (req.unet, when given, stays the caller's)
  if (req.on_phase) req.on_phase(PipelinePhase::Decode);
  if (req.tiny_decode && req.tiny_vae) {
    // Draft: the tiny autoencoder decodes the UNet's latents directly (its scaling_factor, 1.0).
    const TaesdConfig& tc = req.tiny_vae->config();
    if (tc.latent_channels != C || tc.downscale != f)
      fail(Code::ModelUnsupported, req.tiny_vae->source(), ": the tiny autoencoder decodes ", tc.latent_channels,
           "-channel latents ", tc.downscale, "× up; this model needs ", C, " channels ", f, "× up");
    for (size_t i = 0; i < z.size(); ++i) z[i] = latents[i] / tc.scaling_factor;
    r.image_raw = req.tiny_vae->decode(z.data(), 1, h, w);
  } else {
    r.image_raw = vae_decode(vae, z.data(), 1, h, w, req.vae_tiling);
  }
  check_finite(r.image_raw, "decoded image", total);
  r.image.resize(r.image_raw.size());
  for (size_t i = 0; i < r.image.size(); ++i) r.image[i] = std::min(1.f, std::max(0.f, r.image_raw[i] / 2.f + 0.5f));
  return r;
}

}  // namespace bgn
