// The tiny autoencoder (TAESD / TAESDXL: madebyollin's distilled SD VAE, diffusers'
// AutoencoderTiny): a few 3×3 convs per level instead of the VAE's resnets and attention, so a
// decode costs a small fraction of the VAE's — for draft-quality results and step previews.
//
//   Block(c)  conv3×3 → ReLU → conv3×3 → ReLU → conv3×3, + x (through a 1×1 `skip` conv without
//             bias when the channel count changes), → ReLU
//   encoder   conv(3 → c), then per level [stride-2 conv without bias (not on the first level),
//             Blocks], conv(c → latent)                      downscale 2^(stride-2 convs) = 8
//   decoder   tanh(z / 3) · 3, conv(latent → c), ReLU, then per level [Blocks, nearest ×2
//             upsample, conv without bias], the last level's conv → 3 channels with bias
//
// Levels, block counts and channels come from the weights (see models/taesd_weights.h); the
// upsampling factor, latent_magnitude / latent_shift and scaling_factor from config.json when
// there is one (defaults 2, 3, 0.5, 1.0). Conventions are diffusers':
//   encode(image in [−1, 1]) = encoder((image + 1) / 2)     — already the UNet's latent space
//   decode(latents)          = 2 · decoder(tanh(latents / 3) · 3) − 1, unclamped
// and latents are SD-scaled: the UNet's latents / scaling_factor (1.0) go in directly, never
// divided by the VAE's 0.18215.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "backend/gpu.h"
#include "models/taesd_weights.h"
#include "nn/exec.h"
#include "nn/layers.h"

namespace bgn {

struct TaesdConfig {
  int64_t image_channels = 3, latent_channels = 4;
  int64_t downscale = 8;  // encoder: 2^(stride-2 convs); decoder: upsampling_scaling_factor^(upsamplings)
  int64_t upsampling = 2;
  float latent_magnitude = 3.f, latent_shift = 0.5f, scaling_factor = 1.f;
};

struct TaesdLoadOptions {
  int threads = 0;
  std::shared_ptr<Gpu> gpu;  // runs on this device when set
};

class TaesdModel {
 public:
  ~TaesdModel();
  static std::shared_ptr<TaesdModel> load(const std::string& path, const TaesdLoadOptions& opts);
  static std::shared_ptr<TaesdModel> from_weights(TaesdWeights w, const TaesdLoadOptions& opts);

  const TaesdConfig& config() const { return cfg_; }
  const std::string& layout() const { return layout_; }
  const std::string& source() const { return source_; }
  bool has_encoder() const { return !enc_.empty(); }
  bool has_decoder() const { return !dec_.empty(); }

  // image (N, image_channels, H, W) in [−1, 1] → latents (N, latent_channels, H/f, W/f).
  // H, W multiples of the downscale f.
  std::vector<float> encode(const float* image, int64_t N, int64_t H, int64_t W) const;
  // latents (N, latent_channels, h, w) → image (N, image_channels, h·f, w·f) in about [−1, 1], unclamped.
  std::vector<float> decode(const float* latents, int64_t N, int64_t h, int64_t w) const;
  // TAESD's 8-bit storage mapping, in place: clamp(x / (2 · latent_magnitude) + latent_shift, 0, 1).
  void scale_latents(float* x, int64_t n) const;

 private:
  struct Block {
    nn::Conv2d c0, c2, c4, skip;
    bool has_skip = false;
  };
  enum class Op { Conv, Block, Relu, Upsample };
  struct Layer {
    Op op = Op::Conv;
    nn::Conv2d conv;
    Block block;
  };
  // One block on x (N, C, H, W) → (N, out, H, W); in bands of rows where its activations are large.
  nn::Act block(Exec& e, const Block& b, const float* x, int64_t N, int64_t H, int64_t W) const;
  bool banded(const Exec& e, const Block& b, int64_t N, int64_t C, int64_t H, int64_t W) const;
  nn::Act block_in_bands(Exec& e, const Block& b, const float* x, int64_t N, int64_t C, int64_t H, int64_t W) const;
  // Runs one side's layers on x (N, c, h, w); h and w are updated.
  std::vector<float> run(const std::vector<Layer>& layers, std::vector<float> x, int64_t N, int64_t c, int64_t* h,
                         int64_t* w) const;

  TaesdConfig cfg_;
  std::string layout_, source_;
  std::vector<Layer> enc_, dec_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<Gpu> gpu_;
};

}  // namespace bgn
