// Finding and naming the weights of a tiny autoencoder (TAESD / TAESDXL, madebyollin's
// distilled SD VAE). Internal names are those of diffusers' AutoencoderTiny:
//   encoder.layers.N.*, decoder.layers.N.*
// where a layer is a conv (`.weight`, `.bias` when it has one) or a block (`.conv.{0,2,4}.*`,
// `.skip.weight`), and decoder indices without weights are the ReLU after the first conv and
// the ×2 upsamplings.
//
// Accepted sources:
//   * a diffusers AutoencoderTiny folder (config.json + diffusion_pytorch_model.safetensors), or
//     that .safetensors file alone (config.json beside it is used when it is an AutoencoderTiny's);
//   * the original release's taesd_encoder.safetensors / taesd_decoder.safetensors (and the
//     taesdxl_* pair): bare layer indices ("0.weight", "1.conv.0.weight"); the decoder's index 0
//     is its latent clamp, so its indices are one above diffusers'. Either file alone, or a folder
//     holding one `*encoder.safetensors` and/or one `*decoder.safetensors`.
// Pickled .pth/.pt files are refused with how to convert them.
#pragma once
#include <string>

#include "formats/json.h"
#include "nn/weights.h"

namespace bgn {

struct TaesdWeights {
  nn::WeightSet weights;
  json::Value config;  // the AutoencoderTiny config.json when there is one
  bool has_config = false;
  std::string layout;  // "diffusers" or "taesd"
};

// E_MODEL_NOT_FOUND when the path or the weights are missing, E_MODEL_FORMAT / E_MODEL_UNSUPPORTED
// (naming the file) when they are not a tiny autoencoder's.
TaesdWeights load_taesd_weights(const std::string& path);

}  // namespace bgn
