// AutoencoderKL (the SD VAE): encode an image in [-1, 1] to the latent distribution's moments,
// decode latents to an image. Levels, channels, resnets per level, latent channels and the
// presence of the mid attention come from the weights; norm groups and scaling_factor from
// config.json when present (defaults 32 and 0.18215).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "models/weight_map.h"
#include "nn/blocks.h"

namespace bgn {

struct VaeConfig {
  int64_t image_channels = 3, latent_channels = 4;
  std::vector<int64_t> channels;  // per level, encoder order
  int64_t groups = 32;
  float scaling_factor = 0.18215f;
  int64_t downscale = 1;  // 2^(levels-1)
};

struct VaeLoadOptions {
  int threads = 0;
  // Runs encode / decode on this device when set (weights uploaded as 16-bit on first use).
  std::shared_ptr<Gpu> gpu;
};

class VaeModel {
 public:
  // Frees the Gpu's cached weight copies (the cache holds the host tensors, so they would outlive
  // the model otherwise); models still loaded upload theirs again on next use.
  ~VaeModel();
  static std::shared_ptr<VaeModel> load(const std::string& path, const VaeLoadOptions& opts);
  static std::shared_ptr<VaeModel> from_weights(ComponentWeights cw, const VaeLoadOptions& opts);
  // On the CPU with `threads` threads.
  static std::shared_ptr<VaeModel> load(const std::string& path, int threads);
  static std::shared_ptr<VaeModel> from_weights(ComponentWeights cw, int threads);

  const VaeConfig& config() const { return cfg_; }
  // For files that do not say (single-file SDXL checkpoints: 0.13025).
  void set_scaling_factor(float s) { cfg_.scaling_factor = s; }
  const std::string& layout() const { return layout_; }
  Gpu* gpu() const { return gpu_.get(); }
  // Bytes of its weights as the Gpu holds them (16-bit matrices, f32 vectors).
  size_t device_weight_bytes() const { return weight_bytes_; }

  // image (N, image_channels, H, W) in [-1, 1] -> moments (N, 2·latent_channels, H/f, W/f)
  // (mean = first half, logvar = second half, unclamped). H, W multiples of the downscale f.
  std::vector<float> encode(const float* image, int64_t N, int64_t H, int64_t W) const;
  // latents (N, latent_channels, h, w), raw VAE space (already divided by scaling_factor)
  // -> image (N, image_channels, h·f, w·f), unclamped
  std::vector<float> decode(const float* latents, int64_t N, int64_t h, int64_t w) const;

 private:
  struct Level {
    std::vector<nn::ResBlock> res;
    bool has_sampler = false;
    nn::Conv2d sampler;
  };
  struct Mid {
    nn::ResBlock res0, res1;
    nn::VaeAttention attn;
    bool has_attn = false;
  };
  VaeConfig cfg_;
  std::string layout_;
  bool has_encoder_ = false, has_decoder_ = false;
  nn::Conv2d enc_in_, enc_out_, quant_, dec_in_, dec_out_, post_quant_;
  std::vector<Level> down_, up_;
  Mid enc_mid_, dec_mid_;
  nn::Norm enc_norm_out_, dec_norm_out_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<Gpu> gpu_;
  size_t weight_bytes_ = 0;
};

}  // namespace bgn
