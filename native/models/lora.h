// LoRA files (low-rank weight deltas) and their merge into a model component's weights.
//
// Formats (safetensors only), recognised per key:
//   kohya / sd-scripts   lora_unet_<module>, lora_te_<module> (SD 1.x/2.x), lora_te1_ / lora_te2_ (SDXL),
//                        with .lora_down.weight, .lora_up.weight and an optional .alpha; <module> is the
//                        module path with '.' → '_' in the diffusers naming (down_blocks_0_attentions_0_proj_in)
//                        or the original LDM naming (input_blocks_1_1_proj_in); LoCon conv modules have a down
//                        conv with the layer's own kernel and a 1×1 up conv
//   diffusers / PEFT     <module>.lora_A.weight and .lora_B.weight (also .lora.down/.lora.up and
//                        .lora_linear_layer.down/.up), <module> dotted, with or without a unet. /
//                        text_encoder. / text_encoder_2. (or base_model.model.) prefix; optional .alpha
// A module without .alpha uses alpha = rank (scale 1 per unit of `scale`).
//
// Merge: W' = W + Σ scale · (alpha / rank) · up @ down, with up (out, r[, 1, 1]) and down (r, in[, kh, kw])
// giving a delta of W's shape. Only the touched tensors change: each becomes an f32 copy (the base may be
// f16, bf16, f32 or GGUF-quantised; the mapped file is never written). Every module of a LoRA must match a
// layer of the component with fitting shapes, or the load fails with E_MODEL_FORMAT naming the file and a few
// keys — a LoRA for another model family is refused, never half-applied.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "models/weight_map.h"
#include "tensor/tensor.h"

namespace bgn {

class SafetensorsFile;

// One LoRA to apply: a .safetensors file and its strength, from -4 to 4.
struct LoraSpec {
  std::string path;
  float scale = 1.f;
};

// One module of a LoRA file: the layer it targets and its two factors.
struct LoraModule {
  Component target = Component::Unet;
  std::string name;                         // the layer's path as the file spells it, without prefix
  bool underscored = false;                 // kohya: '.' written as '_'
  std::string down_key, up_key, alpha_key;  // alpha_key empty: alpha = rank
  float alpha = 0.f;
};

class LoraFile {
 public:
  // Opens and validates a LoRA file: E_MODEL_FORMAT (naming the file and key) when it is not
  // safetensors, is truncated, holds a key that is not part of a LoRA, or a module lacks a factor.
  static std::shared_ptr<const LoraFile> open(const std::string& path);

  const std::string& path() const { return path_; }
  const FileIdentity& identity() const { return identity_; }
  const std::vector<LoraModule>& modules() const { return modules_; }
  bool targets(Component c) const;
  // A factor of a module as f32, checked to be a 2-D or 4-D F32/F16/BF16 tensor.
  Tensor factor(const std::string& key) const;

 private:
  std::string path_;
  FileIdentity identity_;
  std::shared_ptr<SafetensorsFile> file_;
  std::vector<LoraModule> modules_;
};

struct LoraApplied {
  std::shared_ptr<const LoraFile> file;
  float scale = 1.f;
};
using LoraStack = std::vector<LoraApplied>;

// Opens every file; a scale outside [-4, 4] (or not finite) is E_BAD_INPUT.
LoraStack open_loras(const std::vector<LoraSpec>& specs);
// Identifies the files (device, inode, size, mtime) and scales, in order, for cache keys; "" when empty.
std::string lora_stack_key(const LoraStack& loras);

// The checks merge_loras makes (every module matches a layer, its factors fit), without merging.
void check_loras(const ComponentWeights& cw, Component c, const LoraStack& loras);
// Merges the modules that target `c` into `cw` (see above); a no-op without such modules.
void merge_loras(ComponentWeights& cw, Component c, const LoraStack& loras, int threads);
// load_component(path, c) with the LoRAs merged.
ComponentWeights load_component_with_loras(const std::string& path, Component c, const LoraStack& loras, int threads);
// E_MODEL_FORMAT when a LoRA targets SDXL's second text encoder and the model has none.
void check_lora_targets(const LoraStack& loras, bool has_text_encoder_2, const std::string& model_path);

}  // namespace bgn
