// CLIP text encoder (transformers CLIPTextModel): SD 1.x (CLIP ViT-L, quick-GELU) and SD 2.x
// (OpenCLIP ViT-H, GELU, penultimate layer — the converted/LDM weights already stop there).
// Dimensions, layer count and heads come from config.json when present, else from the shapes
// (heads = hidden / 64, the CLIP convention).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "models/weight_map.h"
#include "nn/layers.h"

namespace bgn {

struct ClipTextConfig {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0, max_positions = 0;
  cpu::Act act = cpu::Act::QuickGELU;
  float eps = 1e-5f;
};

struct ClipTextOutput {
  int64_t B = 0, T = 0, C = 0;
  // final_layer_norm(hidden_states[layers - clip_skip]) — what SD pipelines condition on. (B, T, C)
  std::vector<float> last;
  // Every layer's output before the final norm: index 0 = embeddings, i = after layer i.
  // ((layers + 1), B, T, C); filled only when asked for.
  std::vector<float> hidden_states;
};

class ClipTextModel {
 public:
  static std::shared_ptr<ClipTextModel> load(const std::string& path, int threads);
  static std::shared_ptr<ClipTextModel> from_weights(ComponentWeights cw, int threads);

  const ClipTextConfig& config() const { return cfg_; }
  const std::string& layout() const { return layout_; }
  int threads() const { return pool_->size(); }

  // ids (B, T) with T <= max_positions; every id < vocab (else E_BAD_INPUT).
  // clip_skip: 0 = last layer, 1 = penultimate, … (< layers).
  ClipTextOutput encode(const int32_t* ids, int64_t B, int64_t T, int clip_skip, bool keep_hidden_states) const;
  // final_layer_norm over x (M, C) in place
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
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<void> keep_;
};

}  // namespace bgn
