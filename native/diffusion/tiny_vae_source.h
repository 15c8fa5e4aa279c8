// The tiny autoencoder a generation uses for draft decodes and step previews (models/taesd.h):
// which files, and one loaded copy per file set shared by every model and generation.
//
// `spec` is a path (a diffusers AutoencoderTiny folder or .safetensors, a taesd_decoder.safetensors,
// or a folder holding it) or 'taesd', which looks beside the checkpoint (in the folder of a single
// file, in a diffusers folder and the folder holding it): taesdxl/, taesdxl.safetensors,
// taesdxl_decoder.safetensors for SDXL; taesd/, taesd.safetensors, taesd_decoder.safetensors
// otherwise. The library resolves 'taesd' to $BG_TAESD / $BG_TAESDXL itself when they are set and
// passes that path.
// Nothing is downloaded: E_MODEL_NOT_FOUND says where to put the files (or "" when `optional`).
#pragma once
#include <memory>
#include <string>

#include "backend/gpu.h"
#include "models/taesd.h"

namespace bgn {

std::string resolve_tiny_vae(const std::string& spec, const std::string& model_path, bool sdxl, bool optional);

// A process-wide cache keyed by the files' identity, threads and device (released with the last holder).
std::shared_ptr<const TaesdModel> load_tiny_vae_cached(const std::string& path, int threads,
                                                       const std::shared_ptr<Gpu>& gpu);

// The tiny decode of latents (1, C, h, w) in the UNet's latent space as an image (3, H, W) in
// [0, 1]. max_side > 0: the latents are first averaged over k×k cells, k the smallest that keeps
// the image's longer side within max_side (a preview costs a fraction of a full decode).
std::vector<float> tiny_decode_01(const TaesdModel& t, const float* latents, int64_t C, int64_t h, int64_t w,
                                  int64_t max_side, int64_t* H, int64_t* W);

}  // namespace bgn
