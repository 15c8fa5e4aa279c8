// The name-mapping / loading layer: turns the weight layouts people download into one internal
// naming per component, so the model code (clip_text, unet, vae) never sees file layouts.
//
// Internal names are the diffusers / transformers module names:
//   UNet          conv_in.*, time_embedding.linear_{1,2}.*, down_blocks.L.{resnets,attentions,downsamplers}.*,
//                 mid_block.*, up_blocks.L.*, conv_norm_out.*, conv_out.*
//   VAE           encoder.*, decoder.*, quant_conv.*, post_quant_conv.*   (diffusers AutoencoderKL)
//   text encoder  embeddings.*, encoder.layers.N.*, final_layer_norm.*  (transformers CLIPTextModel,
//                 without the "text_model." prefix), text_projection.weight (CLIPTextModelWithProjection)
//
// Accepted sources:
//   * a single-file LDM checkpoint (.safetensors) with model.diffusion_model.*, first_stage_model.*
//     and cond_stage_model.transformer.text_model.* (SD 1.x) or cond_stage_model.model.* (SD 2.x
//     OpenCLIP: fused attn.in_proj_* split into q/k/v; the last resblock is dropped because SD 2
//     conditions on the penultimate layer);
//   * an SDXL single file: UNet with label_emb.0.{0,2}.* (→ add_embedding.linear_{1,2}), VAE as above,
//     conditioner.embedders.0.transformer.text_model.* (CLIP ViT-L, TextEncoder) and
//     conditioner.embedders.1.model.* (OpenCLIP ViT-bigG, TextEncoder2: every resblock kept, its
//     text_projection (width, proj) transposed into text_projection.weight (proj, width));
//   * a standalone LDM VAE file (encoder.down.*, decoder.up.*);
//   * a diffusers pipeline folder (unet/, vae/, text_encoder/, SDXL's text_encoder_2/ with config.json), one component
//     folder, or one component's .safetensors file (config.json beside it is used when present).
// Pickled checkpoints (.ckpt/.pt/.pth/.bin) are refused with how to convert them.
#pragma once
#include <memory>
#include <string>

#include "formats/json.h"
#include "nn/weights.h"

namespace bgn {

enum class Component { TextEncoder, TextEncoder2, Unet, Vae };
const char* component_name(Component c);

struct ComponentWeights {
  nn::WeightSet weights;
  json::Value config;  // config.json of a diffusers folder; null otherwise
  bool has_config = false;
  std::string layout;  // "diffusers", "transformers", "ldm", "openclip"
};

// Loads one component's weights from `path` (see above). Unknown layouts fail with
// E_MODEL_UNSUPPORTED naming what was looked for; missing files with E_MODEL_NOT_FOUND.
ComponentWeights load_component(const std::string& path, Component c);

// The internal (diffusers) name of an LDM UNet tensor ("input_blocks.1.1.proj_in.weight", without
// model.diffusion_model.) for a UNet with `layers_per_block` resnets per down level; "" when none.
std::string unet_ldm_to_internal(const std::string& ldm_name, int layers_per_block);

// Config helpers: a member of `config` as int / double / bool, or `fallback` when absent or null.
int64_t config_int(const json::Value& config, const char* key, int64_t fallback);
double config_double(const json::Value& config, const char* key, double fallback);
bool config_bool(const json::Value& config, const char* key, bool fallback);
std::string config_string(const json::Value& config, const char* key, const std::string& fallback);

}  // namespace bgn
