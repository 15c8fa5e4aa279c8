// UNet2DConditionModel for SD 1.x / 2.x / SDXL (and their 9-channel inpainting variants).
// Everything is read from the weights (+ config.json when present): input/output channels,
// levels, channels per level, resnets per level, which levels have cross-attention, transformer
// depth, conv vs linear proj_in/proj_out, context width, time-embedding size. Attention heads
// cannot be seen in shapes: they come from config.json (`num_attention_heads`, else
// `attention_head_dim`, as diffusers reads them) or, for LDM checkpoints, from the SD convention
// (8 heads with conv projections = SD 1.x, 64-wide heads with linear projections = SD 2.x / SDXL).
//
// SDXL ("text_time" added conditioning, found by add_embedding.* / LDM label_emb.*): the time
// embedding gains add_embedding(cat(text_embeds, time_proj(time_ids))), where time_ids are
// (original h, w, crop top, left, target h, w) and each id gets a sinusoidal embedding of
// addition_time_embed_dim values (the main time projection's flip/shift). That width comes from
// config.json, else from the shapes: add_embedding.linear_1 takes P + 6·A inputs, and P is the
// width of the text_embeds the caller passes. Transformer depth per level is read from the weights.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "models/weight_map.h"
#include "nn/blocks.h"
#include "nn/precision.h"

namespace bgn {

struct UnetConfig {
  int64_t in_channels = 0, out_channels = 0;
  int64_t time_proj_dim = 0, time_embed_dim = 0;
  int64_t context_dim = 0;
  std::vector<int64_t> channels;  // per level
  std::vector<int64_t> heads;     // per level
  int64_t groups = 32;
  float eps = 1e-5f;
  bool flip_sin_to_cos = true;
  float freq_shift = 0.f;
  bool linear_projection = false;
  // SDXL: add_embedding present; its input width (pooled text + 6 time ids) and, when config.json
  // says, the time-id embedding width (0: inferred from the text_embeds width at forward time).
  bool text_time = false;
  int64_t add_in_dim = 0, addition_time_embed_dim = 0;
};

// SDXL's added conditioning for one forward: text_embeds (N, P), time_ids (N, 6).
struct UnetAddedCond {
  const float* text_embeds = nullptr;
  int64_t P = 0;
  const float* time_ids = nullptr;
};

// The embedding width of each SDXL time id for a pooled text embedding P wide (from the
// add_embedding's input width); E_BAD_INPUT when P does not fit.
int64_t unet_time_id_dim(const UnetConfig& c, int64_t P);

struct UnetLoadOptions {
  int threads = 0;
  // Overrides the attention heads per level (all levels) when > 0.
  int64_t attention_heads = 0;
  // Runs every forward on this device when set (weights uploaded as 16-bit on first use).
  std::shared_ptr<Gpu> gpu;
  // CPU compute precision (nn/precision.h): BF16 packs every matrix and kernel once at load, after
  // any LoRA merge; ignored with a gpu.
  nn::Precision precision = nn::Precision::F32;
};

class UNetModel {
 public:
  // Frees the Gpu's cached weight copies (the cache holds the host tensors, so they would outlive
  // the model otherwise); models still loaded upload theirs again on next use.
  ~UNetModel();
  static std::shared_ptr<UNetModel> load(const std::string& path, const UnetLoadOptions& opts);
  static std::shared_ptr<UNetModel> from_weights(ComponentWeights cw, const UnetLoadOptions& opts);

  const UnetConfig& config() const { return cfg_; }
  const std::string& layout() const { return layout_; }
  Gpu* gpu() const { return gpu_.get(); }
  // The precision its CPU layers compute in (F32 on a gpu).
  nn::Precision precision() const { return precision_; }
  // Bytes of its weights as the Gpu holds them (16-bit matrices, f32 vectors).
  size_t device_weight_bytes() const { return weight_bytes_; }

  // x (N, in_channels, H, W), timesteps (N), ctx (N, S, context_dim) -> (N, out_channels, H, W)
  // added: SDXL's conditioning, required when config().text_time (else must be null).
  std::vector<float> forward(const float* x, int64_t N, int64_t H, int64_t W, const float* timesteps, const float* ctx,
                             int64_t S, const UnetAddedCond* added = nullptr) const;
  // The time-id embedding width for text_embeds of width P (E_BAD_INPUT when they do not fit).
  int64_t time_id_dim(int64_t P) const;

 private:
  struct Level {
    std::vector<nn::ResBlock> res;
    std::vector<nn::SpatialTransformer> attn;  // empty, or one per resnet
    bool has_sampler = false;
    nn::Conv2d sampler;  // stride-2 conv (down) or the conv after 2× nearest (up)
  };
  UnetConfig cfg_;
  std::string layout_;
  nn::Conv2d conv_in_, conv_out_;
  nn::Linear time1_, time2_;
  nn::Linear add1_, add2_;  // SDXL add_embedding
  std::vector<Level> down_, up_;
  nn::ResBlock mid_res0_, mid_res1_;
  nn::SpatialTransformer mid_attn_;
  bool mid_has_attn_ = false;
  nn::Norm norm_out_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<Gpu> gpu_;
  size_t weight_bytes_ = 0;
  nn::Precision precision_ = nn::Precision::F32;
  void pack_bf16();
};

// Sinusoidal timestep embedding as diffusers' get_timestep_embedding (float32 arithmetic):
// t (N) -> (N, dim); flip_sin_to_cos puts cos first.
void timestep_embedding(const float* t, int64_t N, int64_t dim, bool flip_sin_to_cos, float freq_shift, float* out);

}  // namespace bgn
