// A whole Stable Diffusion model (SD 1.x / 2.x / SDXL, 4- or 9-channel UNet) ready to generate
// images: text encoder(s) + tokenizer + UNet + VAE + the scheduler configuration, loaded from a
// single-file LDM .safetensors or a diffusers pipeline folder (see models/weight_map.h).
//
// SDXL (the UNet has add_embedding): a second text encoder (text_encoder_2/, or
// conditioner.embedders.1.* in a single file) is required. Each chunk's context is
// cat(encoder 1 hidden_states[-2 - clip_skip], encoder 2 hidden_states[-2 - clip_skip]) without the
// final norm (77, C1 + C2); the pooled embedding is encoder 2's projected EOS output of the first
// chunk; the UNet's time ids are (H, W, 0, 0, H, W). An empty negative prompt conditions on zeros
// (embeddings and pooled) when model_index.json says force_zeros_for_empty_prompt, or has no
// model_index.json (SDXL's default). Single files use the SDXL VAE's scaling factor 0.13025.
// The SDXL VAE is known to overflow in float16 (activations beyond 65504 in the decoder's last
// levels): this runtime computes every activation in float32 (weights may be f16/bf16 and are
// widened per layer), so it decodes the original SDXL VAE without the fp16-fix VAE or upcasting.
//
//   auto m = DiffusionModel::load(path, opts);      // cached per process (see below)
//   GenerateResult r = m->generate(req);             // const: any number of threads at once
//
// Text conditioning: prompts are parsed for emphasis and laid out in 77-token chunks
// (text/prompt_weights.h); each chunk is encoded separately, weighted with
// apply_prompt_weights, and the chunks are concatenated (77·k tokens). When the prompt and the
// negative prompt need different numbers of chunks the shorter one is extended with chunks of
// the empty prompt, so both condition the UNet with the same sequence length.
//
// Tokenizer: the `tokenizer` option (a folder with vocab.json + merges.txt), else the model
// folder's tokenizer/, else the in-memory vocabulary of the options (diffusion/model_sources.h; the
// library passes the folder its configuration names, BG_CLIP_TOKENIZER included, as the option).
// Pad token: the model folder's tokenizer config when the tokenizer comes from there, otherwise
// "!" for GELU (SD 2.x / OpenCLIP) text encoders and "<|endoftext|>" for quick-GELU (SD 1.x) ones.
//
// Scheduler: the sampler named in each request, configured from the folder's
// scheduler/scheduler_config.json, or for single files the SD 1.x/2.x training schedule
// (scaled_linear 0.00085–0.012, 1000 steps, "leading" spacing, steps_offset 1, epsilon).
//
// Cache: models are shared through a process-wide cache keyed by the identity (device, inode,
// size, mtime) of every weight/config file read, the thread count and the tokenizer folder;
// loading the same files again while a previous load is alive returns the same object.
// Weights are released when the last holder lets go.
//
// Output: RGB bytes, row-major (H, W, 3), round(clamp(x, 0, 1) · 255). For inpainting with
// paste_back (default), every pixel whose mask value is < 0.5 is the original's byte for byte
// (the VAE round trip otherwise changes them slightly). The fixture runner works on the
// pipeline core (diffusion/pipeline.h) and never pastes back.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "diffusion/pipeline.h"
#include "formats/json.h"
#include "formats/mapped_file.h"
#include "models/clip_text.h"
#include "text/clip_tokenizer.h"
#include "models/lora.h"
#include "models/vae_tiling.h"

namespace bgn {

struct DiffusionLoadOptions {
  int threads = 0;        // per component pool; <= 0: all cores
  std::string tokenizer;  // folder; empty: model folder, then the two below
  // Contents of a vocab.json and merges.txt used when nothing above names a tokenizer (the
  // package passes its built-in CLIP vocabulary; see diffusion/model_sources.h).
  std::string tokenizer_vocab, tokenizer_merges;
  // What the UNet predicts: "epsilon", "v_prediction" (SD 2.x 768-v models) or "sample".
  // Empty: the folder's scheduler_config.json, else epsilon. A single file does not say, so
  // 768-v single files need this option.
  std::string prediction_type;
  // Runs the text encoders, UNet and VAE on this device when set (e.g. open_cuda(0)); the load
  // fails with E_OUT_OF_MEMORY when their weights and working memory cannot fit on it.
  std::shared_ptr<Gpu> gpu;
  // Merged into the UNet and text encoders (models/lora.h); part of the cache key, so two LoRA
  // sets never share merged weights while the same files without LoRAs still do.
  std::vector<LoraSpec> loras;
  // The UNet's CPU compute precision: "f32" (or empty) | "bf16" | "auto" (nn/precision.h); part of
  // the cache key. At bf16 the UNet's matrices and kernels are packed once at load (after the LoRA
  // merge), each one's mapped pages released as soon as it is packed.
  std::string precision;
};

struct GenerateRequest {
  std::string prompt, negative_prompt;
  int64_t width = 512, height = 512;  // multiples of 8, 64..4096
  int steps = 20;                     // 1..1000
  float guidance = 7.5f;
  std::string sampler = "euler";
  // "leading" | "linspace" | "trailing" (SD-Turbo / Lightning / Hyper-SD want trailing); empty:
  // the scheduler config's. The LCM sampler's timesteps do not depend on it.
  std::string timestep_spacing;
  uint64_t seed = 0;
  double strength = 0.8;  // img2img only, (0, 1]
  int clip_skip = 0;
  std::vector<uint8_t> init_image;  // RGB (H, W, 3) bytes; img2img / inpaint
  std::vector<float> mask;          // (H, W) in [0, 1], >= 0.5 = repaint; inpaint
  std::vector<float> noise;         // optional initial latents N(0,1) (1, C, h, w)
  bool paste_back = true;
  // VAE tiling (models/vae_tiling.h): Auto by default — images larger in area than one tile
  // (64² latent px = 512×512 for SD) are encoded/decoded in overlapping, blended tiles, which
  // bounds the VAE's memory; smaller ones take the plain pass, bit-identical to Off.
  VaeTileOptions vae_tiling{VaeTiling::Auto, 64, 16};
  std::function<void(int step, int total)> on_step;
  // The tiny autoencoder (diffusion/tiny_vae_source.h): 'taesd' or a path; empty = 'taesd' when needed.
  // tiny_decode: it decodes the result (draft quality). preview_every > 0 with on_preview: every N
  // steps (not the last) the denoised estimate's tiny decode, RGB (height, width, 3) with the longer
  // side <= 256, is handed to on_preview before on_step; with no tiny_vae named and none found
  // beside the model, there are no previews (a named one that is missing is E_MODEL_NOT_FOUND).
  std::string tiny_vae;
  bool tiny_decode = false;
  int preview_every = 0;
  std::function<void(int step, const std::vector<uint8_t>& rgb, int64_t width, int64_t height)> on_preview;
  std::function<bool()> cancelled;
  // LoRAs for this generation instead of the load's (an empty list: none). A set other than the
  // load's is merged into a second instance of the model, kept until another set is asked for.
  bool has_loras = false;
  std::vector<LoraSpec> loras;
};

struct GenerateResult {
  std::vector<uint8_t> pixels;  // (H, W, 3)
  int64_t width = 0, height = 0;
  uint64_t seed = 0;
};

class DiffusionModel {
 public:
  static std::shared_ptr<const DiffusionModel> load(const std::string& path, const DiffusionLoadOptions& opts);

  GenerateResult generate(const GenerateRequest& req) const;

  // Text embeddings (k·77, context) for the prompt and the negative prompt, same length; for
  // SDXL also the pooled embeddings (P each) when `pooled` / `uncond_pooled` are given.
  // with_uncond = false (no CFG): only the prompt is encoded; uncond and uncond_pooled are empty.
  void encode_prompts(const std::string& prompt, const std::string& negative, int clip_skip, std::vector<float>& cond,
                      std::vector<float>& uncond, int64_t& seq, std::vector<float>* pooled = nullptr,
                      std::vector<float>* uncond_pooled = nullptr, bool with_uncond = true) const;

  // Where the forward passes run: "cuda" or "cpu".
  const char* device() const { return gpu_ ? "cuda" : "cpu"; }
  // What the UNet's CPU layers compute in: "f32" or "bf16".
  const char* precision() const { return nn::precision_name(unet_precision_); }
  Gpu* gpu() const { return gpu_.get(); }

  // "sd1", "sd2" or "sdxl".
  const std::string& family() const { return family_; }
  bool is_sdxl() const { return sdxl_; }

  const UnetConfig& unet_config() const { return unet_cfg_; }
  // The UNet: the resident one, or built again from the file (its LoRAs merged again) when a
  // generation let it go (see unet_).
  std::shared_ptr<const UNetModel> unet() const;
  // Whether the UNet's weights are resident now (a gpu's always are).
  bool unet_resident() const;
  // The text encoder kept loaded: a gpu's (loaded once); null on the CPU, where an encode loads it
  // and lets it go.
  const ClipTextModel* resident_text_encoder() const { return gpu_ ? te_loaded_.te.get() : nullptr; }
  const VaeModel& vae() const { return *vae_; }
  const std::string& path() const { return path_; }
  const std::string& layout() const { return layout_; }
  const std::string& pad_token() const { return pad_token_; }

 private:
  DiffusionModel() = default;
  // Loads the request's tiny autoencoder into req when its result or previews need one.
  void attach_tiny_vae(const GenerateRequest& g, PipelineRequest& req) const;
  std::string path_, layout_, pad_token_, pad_token2_, family_;
  // The text encoders. On a gpu they stay loaded; on the CPU they are loaded for an encode and let
  // go after it (their packed weights would otherwise sit beside the UNet's for the whole
  // generation), and the embeddings of the last prompts are kept, so a batch that repeats a
  // prompt encodes it once. Their configs are kept from the load.
  struct TextEncoders {
    std::shared_ptr<const ClipTextModel> te, te2;  // te2: SDXL only
  };
  // The load's LoRA files opened again; E_MODEL_FORMAT when one changed since (`why` says what
  // needed them again).
  LoraStack reopen_loras(const char* why) const;
  // Loads them, recording the mapped pages they borrow in `pages`.
  TextEncoders load_text_encoders(ResidentRanges* pages) const;
  ClipTextConfig te_cfg_, te2_cfg_;
  bool sdxl_ = false;
  ClipLoadOptions te_opts_;
  // The encoders the load left on a gpu (kept); empty on the CPU.
  TextEncoders te_loaded_;
  void encode_with(const TextEncoders& t, const std::string& prompt, const std::string& negative, int clip_skip,
                   std::vector<float>& cond, std::vector<float>& uncond, int64_t& seq, std::vector<float>* pooled,
                   std::vector<float>* uncond_pooled, bool with_uncond) const;
  struct PromptEmbeddings {
    std::string key;
    std::vector<float> cond, uncond, pooled, uncond_pooled;
    int64_t seq = 0;
  };
  mutable std::mutex te_mu_;
  mutable std::vector<PromptEmbeddings> prompt_cache_;  // the newest last
  bool force_zeros_for_empty_prompt_ = false;
  // The UNet's weights are the largest part of the model. On the CPU they are resident only while
  // the UNet denoises: a generation lets them go after its last step (and before the full VAE
  // encodes an init image), and the next one builds them again from the file (~1-2 s for SD 1.5
  // with a LoRA), so that neither the VAE's working memory nor another model (the segmentation
  // the caller runs between generations) adds to them: the peak resident set stays near the
  // checkpoint's size. BGN_KEEP_WEIGHTS_RESIDENT=1 keeps them (speed over memory); a gpu's always
  // stay.
  void let_unet_go() const;
  bool may_let_unet_go() const;
  UnetConfig unet_cfg_;
  UnetLoadOptions unet_opts_;
  nn::Precision unet_precision_ = nn::Precision::F32;
  mutable std::mutex unet_mu_;
  mutable std::shared_ptr<const UNetModel> unet_;
  std::shared_ptr<const VaeModel> vae_;
  std::shared_ptr<const ClipTokenizer> tok_;
  json::Value sched_config_;  // object
  // The mapped weight pages each component borrows, released between a generation's phases
  // (text encoders after encoding, VAE after encoding an init image, UNet before decoding) so the
  // peak resident set holds about one component's weights at a time (BGN_KEEP_WEIGHTS_RESIDENT=1
  // keeps them).
  ResidentRanges te_pages_, vae_pages_;
  mutable ResidentRanges unet_pages_;  // guarded by unet_mu_ once loaded
  std::string prediction_type_;        // load-option override of the scheduler config; empty: none
  std::shared_ptr<Gpu> gpu_;           // null: the CPU
  int threads_ = 0;                    // the load's threads option (the tiny autoencoder runs with it)
  DiffusionLoadOptions load_opts_;
  std::string lora_key_;  // lora_stack_key of the merged LoRAs
  // The instance with a generation's own LoRA set (GenerateRequest::loras).
  std::shared_ptr<const DiffusionModel> with_loras(const std::vector<LoraSpec>& loras) const;
  mutable std::mutex variant_mu_;
  mutable std::shared_ptr<const DiffusionModel> variant_;
};

// Live models in the process-wide cache (for tests).
size_t diffusion_model_cache_size();

}  // namespace bgn
