// CLIP text encoder (transformers CLIPTextModel / CLIPTextModelWithProjection): SD 1.x (CLIP ViT-L,
// quick-GELU), SD 2.x (OpenCLIP ViT-H, GELU, penultimate layer — the converted/LDM weights already
// stop there) and SDXL's pair (CLIP ViT-L + OpenCLIP ViT-bigG with its text projection; SDXL
// conditions on both encoders' penultimate hidden states without the final norm, and on the
// second encoder's projected pooled output).
// Dimensions, layer count and heads come from config.json when present, else from the shapes
// (heads = hidden / 64, the CLIP convention).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "models/weight_map.h"
#include "nn/layers.h"
#include "nn/precision.h"

namespace bgn {

struct ClipTextConfig {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0, max_positions = 0;
  int64_t projection_dim = 0;  // text_projection's output width; 0 when the model has none
  int64_t eos_token_id = 2;    // 2: the legacy rule (EOS = position of the largest id)
  cpu::Act act = cpu::Act::QuickGELU;
  float eps = 1e-5f;
};

struct ClipEncodeOptions {
  int clip_skip = 0;  // 0 = last layer, 1 = penultimate, … (< layers)
  bool keep_hidden_states = false;
  bool final_norm = true;  // false: `last` is the raw hidden state (what SDXL uses)
  bool pooled = false;     // fill `pooled` (runs every layer)
};

struct ClipTextOutput {
  int64_t B = 0, T = 0, C = 0;
  // final_layer_norm(hidden_states[layers - clip_skip]) — what SD pipelines condition on. (B, T, C)
  std::vector<float> last;
  // Every layer's output before the final norm: index 0 = embeddings, i = after layer i.
  // ((layers + 1), B, T, C); filled only when asked for.
  std::vector<float> hidden_states;
  // final_layer_norm(last layer) at each row's EOS position, through text_projection when the
  // model has one: (B, P) with P = projection_dim, else (B, C). Filled only when asked for.
  std::vector<float> pooled;
  int64_t P = 0;
};

struct ClipLoadOptions {
  int threads = 0;
  int64_t heads = 0;  // > 0 overrides the head count (shapes cannot tell it; LDM files carry no config)
  // Runs encode on this device when set (weights uploaded as 16-bit on first use).
  std::shared_ptr<Gpu> gpu;
  // CPU compute precision (nn/precision.h): BF16 packs every matrix once at load (after any LoRA
  // merge; nn/bf16_weights.h); embeddings and norms stay as they are. Ignored on a gpu.
  nn::Precision precision = nn::Precision::F32;
};

class ClipTextModel {
 public:
  // Frees the Gpu's cached weight copies (the cache holds the host tensors, so they would outlive
  // the model otherwise); models still loaded upload theirs again on next use.
  ~ClipTextModel();
  static std::shared_ptr<ClipTextModel> load(const std::string& path, const ClipLoadOptions& opts);
  static std::shared_ptr<ClipTextModel> from_weights(ComponentWeights cw, const ClipLoadOptions& opts);
  // On the CPU with `threads` threads.
  static std::shared_ptr<ClipTextModel> load(const std::string& path, int threads);
  static std::shared_ptr<ClipTextModel> from_weights(ComponentWeights cw, int threads, int64_t heads = 0);

  const ClipTextConfig& config() const { return cfg_; }
  const std::string& layout() const { return layout_; }
  int threads() const { return pool_->size(); }
  Gpu* gpu() const { return gpu_.get(); }
  // Bytes of its weights as the Gpu holds them (16-bit matrices, f32 vectors).
  size_t device_weight_bytes() const { return weight_bytes_; }
  // The precision its CPU layers compute in (F32 on a gpu).
  nn::Precision precision() const { return precision_; }

  // ids (B, T) with T <= max_positions; every id < vocab (else E_BAD_INPUT).
  // clip_skip: 0 = last layer, 1 = penultimate, … (< layers).
  ClipTextOutput encode(const int32_t* ids, int64_t B, int64_t T, int clip_skip, bool keep_hidden_states) const;
  ClipTextOutput encode(const int32_t* ids, int64_t B, int64_t T, const ClipEncodeOptions& o) const;
  // final_layer_norm over x (M, C) in place; x is host memory
  void final_norm(float* x, int64_t M) const;

 private:
  struct Layer {
    nn::Norm ln1, ln2;
    nn::Attention attn;
    nn::Linear fc1, fc2;
  };
  ClipTextConfig cfg_;
  std::string layout_;
  Tensor tok_, pos_;
  std::vector<Layer> layers_;
  nn::Norm final_ln_;
  nn::Linear proj_;  // text_projection (no bias); absent: proj_.out == 0
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<Gpu> gpu_;
  size_t weight_bytes_ = 0;
  std::shared_ptr<void> keep_;
  nn::Precision precision_ = nn::Precision::F32;
  void pack_bf16();
};

}  // namespace bgn
