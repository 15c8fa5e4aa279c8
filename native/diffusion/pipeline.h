// The sampling pipelines — txt2img, img2img, inpaint — as diffusers' StableDiffusion*Pipeline
// (0.25) run them, on text embeddings already computed:
//
//   txt2img  latents = noise · init_noise_sigma
//   img2img  latents = add_noise(scaling · sample(vae.encode(2·image − 1)), noise, t_start),
//            t_start = first_step(strength)
//   inpaint  9-channel UNet: latents = noise · init_noise_sigma; every UNet input is
//            cat(scaled latents, mask↓, scaling · sample(vae.encode(masked image))) where the mask
//            is binarised at 0.5 and masked image = (2·image − 1) · (mask < 0.5);
//            4-channel UNet: as txt2img, and after each step the unmasked region is replaced by
//            the image latents noised to the next timestep (masked latent blending).
//   each step (CFG when guidance > 1, batch = [uncond, cond]):
//            eps = uncond_eps + guidance · (cond_eps − uncond_eps); latents = step(eps, i, latents)
//   SDXL UNets (UnetConfig::text_time) also take, per batch row, the pooled text embedding
//            (uncond_pooled / pooled) and the 6 time ids (original h, w, crop top, left, target h, w),
//            the same ids for both rows, as StableDiffusionXL*Pipeline.
//   image = clamp(vae.decode(latents / scaling) / 2 + 0.5, 0, 1)
// VAE encode/decode go through models/vae_tiling.h with req.vae_tiling (default Off: the plain,
// reference-exact pass; DiffusionModel::generate passes Auto by default).
//
// Random draws the caller does not supply come from Rng(seed) in this order: initial noise
// (txt2img, inpaint) → VAE sample noise (img2img, inpaint) → img2img noise → ancestral noise per
// step. Same seed + same inputs + same build → identical bytes.
// Without CFG (guidance <= 1) each step is one batch-1 UNet pass on the prompt alone.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "diffusion/schedulers.h"
#include "models/taesd.h"
#include "models/unet.h"
#include "models/vae.h"
#include "models/vae_tiling.h"

namespace bgn {

enum class PipelineKind { Txt2Img, Img2Img, Inpaint };

// The phases of a run, in order: the init image is encoded (img2img/inpaint; Encode is announced
// only when the full VAE encodes it, not the tiny autoencoder), then denoised, then decoded.
enum class PipelinePhase { Encode, Denoise, Decode };

struct PipelineRequest {
  PipelineKind kind = PipelineKind::Txt2Img;
  // The UNet, or (unet null) acquire_unet, called as the denoising begins, with unet_config
  // describing it until then: a model that keeps its UNet resident only while it denoises. The
  // pipeline lets go of what acquire_unet returned before the Decode phase begins.
  std::shared_ptr<const UNetModel> unet;
  std::function<std::shared_ptr<const UNetModel>()> acquire_unet;
  UnetConfig unet_config;
  std::shared_ptr<const VaeModel> vae;
  std::unique_ptr<Scheduler> scheduler;
  std::vector<float> cond, uncond;  // (seq, context_dim) each; uncond unused without CFG
  int64_t seq = 0;
  std::vector<float> pooled, uncond_pooled;  // SDXL: (P) each; uncond unused without CFG
  std::vector<float> time_ids;               // SDXL: 6 values; empty = (H, W, 0, 0, H, W)
  int64_t height = 0, width = 0;             // pixels, multiples of the VAE downscale
  int steps = 20;
  float guidance = 7.5f;
  double strength = 1.0;     // img2img
  std::vector<float> image;  // (1, 3, H, W) in [0, 1] (img2img, inpaint)
  std::vector<float> mask;   // (1, 1, H, W) in [0, 1], 1 = repaint (inpaint)
  // Optional supplied random draws (tests, reproducing another implementation):
  std::vector<float> noise;          // initial latents N(0,1) (1, C, h, w)
  std::vector<float> vae_noise;      // latent_dist.sample noise (1, C, h, w)
  std::vector<float> img2img_noise;  // add_noise noise (1, C, h, w)
  std::vector<float> step_noise;     // the fresh noise steps draw (Euler a, LCM), (k, 1, C, h, w) in order
  uint64_t seed = 0;
  bool trace = false;                                // keep per-step tensors
  VaeTileOptions vae_tiling;                         // tiled VAE encode/decode (models/vae_tiling.h); default Off
  std::function<void(int step, int total)> on_step;  // after each step
  std::function<bool()> cancelled;                   // checked before each step → E_CANCELLED
  std::function<void(PipelinePhase)> on_phase;       // as each phase begins
  // The tiny autoencoder (models/taesd.h): with tiny_decode it decodes the result instead of the
  // VAE (draft quality), and when it has an encoder it also encodes the img2img / inpainting
  // images (its latents times its scaling_factor, as diffusers with AutoencoderTiny); with preview_every > 0 and on_preview, the denoised estimate (x0) of
  // every preview_every-th step but the last is decoded by it (latents pooled so the longer side
  // is <= preview_side px) and handed over as (3, H, W) in [0, 1], before on_step of that step.
  std::shared_ptr<const TaesdModel> tiny_vae;
  bool tiny_decode = false;
  int preview_every = 0;
  int64_t preview_side = 256;
  std::function<void(int step, std::vector<float> image, int64_t H, int64_t W)> on_preview;
};

struct PipelineResult {
  int64_t H = 0, W = 0, h = 0, w = 0, C = 0;
  std::vector<float> final_latents;  // (1, C, h, w)
  std::vector<float> image_raw;      // (1, 3, H, W) decoder output
  std::vector<float> image;          // (1, 3, H, W) in [0, 1]
  // trace (when asked)
  std::vector<double> timesteps;                         // all of the scheduler's
  std::vector<float> unet_timesteps;                     // (n)
  std::vector<float> unet_inputs;                        // (n, B, unet_in, h, w)
  std::vector<float> unet_outputs;                       // (n, B, C, h, w)
  std::vector<float> step_latents;                       // (n, 1, C, h, w)
  std::vector<float> step_denoised;                      // (n, 1, C, h, w) samplers with their own estimate (LCM)
  std::vector<float> init_latents;                       // img2img: scaling · sample
  std::vector<float> masked_image_latents, mask_latent;  // inpaint
};

PipelineResult run_pipeline(PipelineRequest& req);

}  // namespace bgn
