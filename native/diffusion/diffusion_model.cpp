#include "diffusion/diffusion_model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "diffusion/model_sources.h"
#include "diffusion/tiny_vae_source.h"
#include "diffusion/schedulers.h"
#include "formats/mapped_file.h"
#include "formats/shared_cache.h"
#include "text/prompt_weights.h"
#include "tensor/allocator.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

namespace fs = std::filesystem;

namespace {

SharedCache<DiffusionModel>& model_cache() {
  static SharedCache<DiffusionModel> cache;
  return cache;
}

// The SD 1.x / 2.x training schedule, for single files that carry no scheduler config.
constexpr const char* kSdSchedule =
    R"({"num_train_timesteps":1000,"beta_start":0.00085,"beta_end":0.012,"beta_schedule":"scaled_linear",)"
    R"("prediction_type":"epsilon","timestep_spacing":"leading","steps_offset":1,"clip_sample":false,)"
    R"("set_alpha_to_one":false})";

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Identity of everything a load reads: the file itself, or every regular file in the
// component sub-folders of a diffusers folder.
std::string identity_key(const std::string& path) {
  if (!is_dir(path)) return file_identity(path).key();
  std::string key = "dir:";
  for (const char* sub : {"unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler"}) {
    const fs::path d = fs::path(path) / sub;
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.is_regular_file(ec)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const auto& n : names) key += std::string(sub) + "/" + n + "=" + file_identity((d / n).string()).key() + ";";
  }
  // Weights stored directly in the folder (a single component folder).
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file(ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) key += n + "=" + file_identity((fs::path(path) / n).string()).key() + ";";
  return key;
}

// pad_token of a tokenizer folder's tokenizer_config.json / special_tokens_map.json: a string
// or {"content": ...}. Empty when neither says.
std::string folder_pad_token(const std::string& dir) {
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string p = dir + "/" + name;
    if (!is_file(p)) continue;
    json::Value v = json::parse_file(p);
    const json::Value* pad = v.is_object() ? v.find("pad_token") : nullptr;
    if (!pad) continue;
    if (pad->is_string()) return pad->as_string();
    if (pad->is_object()) {
      const json::Value* c = pad->find("content");
      if (c && c->is_string()) return c->as_string();
    }
  }
  return "";
}

// One chunk list → hidden states (chunks·77, C), emphasis applied per chunk.
std::vector<float> encode_chunks(const ClipTextModel& te, const std::vector<PromptChunk>& chunks, int clip_skip) {
  const int64_t T = ClipTokenizer::kContextLength;
  std::vector<float> out;
  for (const PromptChunk& ch : chunks) {
    BGN_CHECK(int64_t(ch.ids.size()) == T && int64_t(ch.weights.size()) == T, Code::Internal, "a prompt chunk is not ",
              T, " tokens");
    ClipTextOutput o = te.encode(ch.ids.data(), 1, T, clip_skip, false);
    BGN_CHECK(int64_t(o.last.size()) == T * o.C, Code::Internal, "text encoder output has the wrong size");
    apply_prompt_weights(o.last.data(), ch.weights.data(), T, o.C);
    out.insert(out.end(), o.last.begin(), o.last.end());
  }
  return out;
}

// SDXL: one chunk list through both encoders → cat(penultimate raw 1, penultimate raw 2) per
// token (chunks·77, C1 + C2), emphasis applied per chunk; pooled = encoder 2's projected EOS
// output of the first chunk.
std::vector<float> encode_chunks_xl(const ClipTextModel& te1, const ClipTextModel& te2,
                                    const std::vector<PromptChunk>& chunks, int clip_skip, std::vector<float>* pooled) {
  const int64_t T = ClipTokenizer::kContextLength;
  std::vector<float> out;
  ClipEncodeOptions o;
  o.clip_skip = 1 + clip_skip;
  o.final_norm = false;
  for (size_t k = 0; k < chunks.size(); ++k) {
    const PromptChunk& ch = chunks[k];
    BGN_CHECK(int64_t(ch.ids.size()) == T && int64_t(ch.weights.size()) == T, Code::Internal, "a prompt chunk is not ",
              T, " tokens");
    ClipTextOutput a = te1.encode(ch.ids.data(), 1, T, o);
    ClipEncodeOptions o2 = o;
    o2.pooled = k == 0 && pooled;
    ClipTextOutput b = te2.encode(ch.ids2.empty() ? ch.ids.data() : ch.ids2.data(), 1, T, o2);
    const int64_t C = a.C + b.C;
    std::vector<float> cat(size_t(T * C));
    for (int64_t t = 0; t < T; ++t) {
      std::copy(a.last.begin() + t * a.C, a.last.begin() + (t + 1) * a.C, cat.begin() + t * C);
      std::copy(b.last.begin() + t * b.C, b.last.begin() + (t + 1) * b.C, cat.begin() + t * C + a.C);
    }
    apply_prompt_weights(cat.data(), ch.weights.data(), T, C);
    out.insert(out.end(), cat.begin(), cat.end());
    if (o2.pooled) *pooled = std::move(b.pooled);
  }
  return out;
}

}  // namespace

size_t diffusion_model_cache_size() { return model_cache().size(); }

namespace {
// Freed blocks of one phase are of no use to the next: the tensor allocator's cached blocks and
// the C heap's free pages go back to the OS.
void release_freed_memory() {
  tensor_cache_trim();
  heap_trim();
}
}  // namespace

std::shared_ptr<const DiffusionModel> DiffusionModel::load(const std::string& path, const DiffusionLoadOptions& opts) {
  if (path.empty()) fail(Code::BadInput, "DiffusionModel.load: the path is empty");
  const bool dir = is_dir(path);
  check_checkpoint_file(path);  // a corrupt single file is reported before anything else is looked up
  // Tokenizer: option, the model folder, the built-in vocabulary (diffusion/model_sources.h).
  const TokenizerSource tok_src =
      choose_tokenizer(path, dir, opts.tokenizer, opts.tokenizer_vocab, opts.tokenizer_merges);
  const bool tok_from_model = tok_src.from_model;
  const std::string& tok_dir = tok_src.name;

  if (!opts.prediction_type.empty() && opts.prediction_type != "epsilon" && opts.prediction_type != "v_prediction" &&
      opts.prediction_type != "sample")
    fail(Code::BadInput, "predictionType must be 'epsilon', 'v_prediction' or 'sample', got '", opts.prediction_type,
         "'");
  const LoraStack loras = open_loras(opts.loras);
  const nn::Precision precision = nn::resolve_precision(opts.precision, !opts.gpu);
  const std::string key = identity_key(path) + "|threads=" + std::to_string(opts.threads) + "|tok=" + tok_src.key +
                          "|pred=" + opts.prediction_type + "|device=" + (opts.gpu ? "cuda" : "cpu") +
                          "|loras=" + lora_stack_key(loras) + "|precision=" + nn::precision_name(precision);
  if (auto cached = model_cache().find(key)) return cached;
  // What the caller's work before this left freed (a segmentation's activation blocks in the tensor
  // allocator's cache, the C heap's free pages) goes back to the OS before the load's peak.
  release_freed_memory();

  auto m = std::shared_ptr<DiffusionModel>(new DiffusionModel());
  m->path_ = path;
  m->tok_ = load_tokenizer(tok_src, opts.tokenizer_vocab, opts.tokenizer_merges);
  m->gpu_ = opts.gpu;
  m->threads_ = opts.threads;
  UnetLoadOptions uo;
  uo.threads = opts.threads;
  uo.gpu = opts.gpu;
  uo.precision = precision;
  ClipLoadOptions co;
  co.threads = opts.threads;
  co.gpu = opts.gpu;
  co.precision = precision;
  VaeLoadOptions vo;
  vo.threads = opts.threads;
  vo.gpu = opts.gpu;
  m->load_opts_ = opts;
  m->lora_key_ = lora_stack_key(loras);
  m->te_opts_ = co;
  // The text encoders before the UNet, to check them and keep their configs; on the CPU they are
  // let go before the UNet loads (the first encode loads them again), so the load's peak holds
  // one component. A second encoder is loaded where the checkpoint has one; whether the model
  // needs it, its UNet says.
  std::string te2_error;
  Code te2_code = Code::ModelFormat;
  {
    ResidencyScope te_pages(&m->te_pages_);
    m->te_loaded_.te =
        ClipTextModel::from_weights(load_component_with_loras(path, Component::TextEncoder, loras, opts.threads), co);
    try {
      m->te_loaded_.te2 = ClipTextModel::from_weights(
          load_component_with_loras(path, Component::TextEncoder2, loras, opts.threads), co);
    } catch (const Error& e) {
      te2_code = e.code();
      te2_error = e.what();
    }
  }
  const bool has_te2 = m->te_loaded_.te2 != nullptr;
  m->te_cfg_ = m->te_loaded_.te->config();
  if (has_te2) m->te2_cfg_ = m->te_loaded_.te2->config();
  if (!m->gpu_) {
    m->te_pages_.release();
    m->te_pages_.ranges.clear();
    m->te_loaded_ = {};
  }
  // The UNet. Where it is resident only while it denoises (see unet_), the load checks it without
  // building it: its layers over the mapped weights in f32 (nothing copied or packed) and the
  // LoRAs' checks without their merge; the first denoising builds it. Otherwise it is built here.
  m->unet_opts_ = uo;
  m->unet_precision_ = uo.gpu ? nn::Precision::F32 : uo.precision;
  std::shared_ptr<const UNetModel> probe;
  if (m->may_let_unet_go()) {
    ResidentRanges mapped;
    ResidencyScope scope(&mapped);
    ComponentWeights cw = load_component(path, Component::Unet);
    check_loras(cw, Component::Unet, loras);
    UnetLoadOptions structure = uo;
    structure.precision = nn::Precision::F32;
    probe = UNetModel::from_weights(std::move(cw), structure);
  } else {
    ResidencyScope pages(&m->unet_pages_);
    m->unet_ = UNetModel::from_weights(load_component_with_loras(path, Component::Unet, loras, opts.threads), uo);
    probe = m->unet_;
    m->unet_precision_ = m->unet_->precision();
  }
  m->unet_cfg_ = probe->config();
  const UnetConfig& uc = m->unet_cfg_;
  if (uc.text_time && !has_te2)
    fail(te2_code,
         "this is an SDXL model (its UNet has add_embedding), which needs a second text encoder "
         "(text_encoder_2/ in a diffusers folder, conditioner.embedders.1.* in a single file): ",
         te2_error);
  check_lora_targets(loras, uc.text_time, path);
  if (!uc.text_time) m->te_loaded_.te2.reset();
  m->sdxl_ = uc.text_time;
  std::shared_ptr<VaeModel> vae;
  {
    ResidencyScope pages(&m->vae_pages_);
    vae = VaeModel::load(path, vo);
  }
  m->vae_ = vae;
  if (m->gpu_) {
    // Each component reserved its own share at load; all of them must fit together.
    const TextEncoders& t = m->te_loaded_;
    const size_t weights = probe->device_weight_bytes() + t.te->device_weight_bytes() +
                           (t.te2 ? t.te2->device_weight_bytes() : 0) + vae->device_weight_bytes();
    nn::reserve_device(m->gpu_.get(), weights, path + " (UNet, text encoders and VAE together)");
  }
  m->layout_ = probe->layout();

  // The components must fit together.
  const VaeConfig& vc = m->vae_->config();
  const ClipTextConfig& tc = m->te_cfg_;
  const int64_t context = tc.hidden + (m->sdxl_ ? m->te2_cfg_.hidden : 0);
  if (context != uc.context_dim)
    fail(Code::ModelUnsupported, path, ": the text encoder", m->sdxl_ ? "s are " : " is ", context,
         " wide but the UNet attends to a ", uc.context_dim, "-wide context; the components do not belong together");
  if (m->sdxl_) {
    const ClipTextConfig& t2 = m->te2_cfg_;
    if (t2.projection_dim == 0)
      fail(Code::ModelFormat, path,
           ": the second text encoder has no text_projection (SDXL's pooled embedding needs it)");
    try {
      probe->time_id_dim(t2.projection_dim);
    } catch (const Error& e) {
      fail(Code::ModelUnsupported, path, ": the second text encoder's pooled output does not fit the UNet: ", e.what());
    }
    if (tc.layers < 2 || t2.layers < 2)
      fail(Code::ModelUnsupported, path,
           ": SDXL conditions on the penultimate layer; the text encoders need 2 layers or more");
    if (t2.max_positions < ClipTokenizer::kContextLength)
      fail(Code::ModelUnsupported, path, ": the second text encoder has ", t2.max_positions, " positions; ",
           ClipTokenizer::kContextLength, " are needed");
    if (int64_t(m->tok_->vocab_size()) > t2.vocab)
      fail(Code::ModelUnsupported, path, ": the tokenizer (", tok_dir, ") has ", m->tok_->vocab_size(),
           " tokens but the second text encoder embeds only ", t2.vocab,
           "; use the tokenizer that belongs to this model");
    // Single files carry no VAE config: the SDXL VAE's latent scale.
    if (vae->layout() == "ldm") vae->set_scaling_factor(0.13025f);
    m->force_zeros_for_empty_prompt_ = true;
    const std::string index = path + "/model_index.json";
    if (dir && is_file(index)) {
      json::Value v = json::parse_file(index);
      if (v.is_object()) m->force_zeros_for_empty_prompt_ = config_bool(v, "force_zeros_for_empty_prompt", true);
    }
  }
  m->family_ = m->sdxl_ ? "sdxl" : tc.act == cpu::Act::GELU ? "sd2" : "sd1";
  if (uc.out_channels != vc.latent_channels ||
      (uc.in_channels != vc.latent_channels && uc.in_channels != 2 * vc.latent_channels + 1))
    fail(Code::ModelUnsupported, path, ": the UNet takes ", uc.in_channels, " and predicts ", uc.out_channels,
         " channels but the VAE has ", vc.latent_channels, " latent channels");
  if (vc.image_channels != 3)
    fail(Code::ModelUnsupported, path, ": the VAE makes ", vc.image_channels, "-channel images; only RGB is supported");
  if (tc.max_positions < ClipTokenizer::kContextLength)
    fail(Code::ModelUnsupported, path, ": the text encoder has ", tc.max_positions, " positions; ",
         ClipTokenizer::kContextLength, " are needed");

  if (int64_t(m->tok_->vocab_size()) > tc.vocab)
    fail(Code::ModelUnsupported, path, ": the tokenizer (", tok_dir, ") has ", m->tok_->vocab_size(),
         " tokens but the text encoder embeds only ", tc.vocab, "; use the tokenizer that belongs to this model");

  std::string pad = tok_from_model ? folder_pad_token(tok_src.dir) : "";
  if (pad.empty()) pad = tc.act == cpu::Act::GELU ? "!" : "<|endoftext|>";
  if (m->tok_->token_id(pad) < 0)
    fail(Code::ModelUnsupported, path, ": the pad token '", pad, "' is not in the tokenizer's vocabulary (", tok_dir,
         ")");
  m->pad_token_ = pad;
  if (m->sdxl_) {
    // tokenizer_2 pads with "!" in SDXL; its folder says so when the model has one.
    std::string pad2 = tok_from_model && is_dir(path + "/tokenizer_2") ? folder_pad_token(path + "/tokenizer_2") : "";
    if (pad2.empty()) pad2 = "!";
    if (m->tok_->token_id(pad2) < 0)
      fail(Code::ModelUnsupported, path, ": the pad token '", pad2,
           "' of the second tokenizer is not in the vocabulary (", tok_dir, ")");
    m->pad_token2_ = pad2;
  }

  const std::string sched = path + "/scheduler/scheduler_config.json";
  m->sched_config_ = dir && is_file(sched) ? json::parse_file(sched) : json::parse(kSdSchedule, "SD schedule");
  if (!m->sched_config_.is_object()) fail(Code::ModelFormat, sched, " is not a JSON object");
  m->prediction_type_ = opts.prediction_type;

  // A load frees blocks no pass will ask for again (LoRA-merged f32 copies once packed, the
  // packer's widening buffer): the tensor allocator's cache would keep them resident.
  release_freed_memory();
  return model_cache().insert(key, m);  // another thread may have loaded it meanwhile
}

LoraStack DiffusionModel::reopen_loras(const char* why) const {
  // The LoRA files are opened again rather than kept open: their mapped pages would stay resident.
  LoraStack loras = open_loras(load_opts_.loras);
  if (lora_stack_key(loras) != lora_key_)
    fail(Code::ModelFormat, "a LoRA file of ", path_, " changed after the model was loaded (", why,
         "); load the model again");
  return loras;
}

std::shared_ptr<const UNetModel> DiffusionModel::unet() const {
  std::lock_guard<std::mutex> lock(unet_mu_);
  if (unet_) return unet_;
  const LoraStack loras = reopen_loras("its UNet is built again for each generation");
  release_freed_memory();  // as for a load: the blocks freed since are not kept beside the build
  ResidentRanges pages;
  std::shared_ptr<const UNetModel> u;
  {
    ResidencyScope scope(&pages);
    u = UNetModel::from_weights(load_component_with_loras(path_, Component::Unet, loras, threads_), unet_opts_);
  }
  if (u->config().in_channels != unet_cfg_.in_channels || u->config().context_dim != unet_cfg_.context_dim)
    fail(Code::ModelFormat, path_, " changed after the model was loaded; load the model again");
  unet_pages_ = std::move(pages);
  // Freed while building (LoRA-merged copies once packed, the packer's buffer): not kept.
  release_freed_memory();
  unet_ = u;
  return u;
}

bool DiffusionModel::unet_resident() const {
  std::unique_lock<std::mutex> lock(unet_mu_, std::try_to_lock);  // never wait out a build: not resident yet
  return lock.owns_lock() && unet_ != nullptr;
}

bool DiffusionModel::may_let_unet_go() const { return !gpu_ && !knobs::keep_weights_resident(); }

void DiffusionModel::let_unet_go() const {
  std::shared_ptr<const UNetModel> gone;
  {
    std::lock_guard<std::mutex> lock(unet_mu_);
    unet_pages_.release();  // the mapped pages an f32 UNet borrows (a no-op when they are kept)
    if (!may_let_unet_go()) return;
    gone = std::move(unet_);
  }
  gone.reset();  // freed here unless another generation still denoises with it
  release_freed_memory();
}

DiffusionModel::TextEncoders DiffusionModel::load_text_encoders(ResidentRanges* pages) const {
  const LoraStack loras = reopen_loras("its text encoders are loaded again for each new prompt");
  ResidencyScope scope(pages);
  TextEncoders t;
  t.te =
      ClipTextModel::from_weights(load_component_with_loras(path_, Component::TextEncoder, loras, threads_), te_opts_);
  if (sdxl_)
    t.te2 = ClipTextModel::from_weights(load_component_with_loras(path_, Component::TextEncoder2, loras, threads_),
                                        te_opts_);
  return t;
}

void DiffusionModel::encode_prompts(const std::string& prompt, const std::string& negative, int clip_skip,
                                    std::vector<float>& cond, std::vector<float>& uncond, int64_t& seq,
                                    std::vector<float>* pooled, std::vector<float>* uncond_pooled,
                                    bool with_uncond) const {
  const std::string key = prompt + '\x1f' + negative + '\x1f' + std::to_string(clip_skip) + (with_uncond ? "|cfg" : "");
  std::lock_guard<std::mutex> lock(te_mu_);
  auto hit =
      std::find_if(prompt_cache_.begin(), prompt_cache_.end(), [&](const PromptEmbeddings& e) { return e.key == key; });
  if (hit == prompt_cache_.end()) {
    PromptEmbeddings e;
    e.key = key;
    // A gpu's encoders stay loaded; on the CPU they are loaded for this encode and go with `t`,
    // their mapped pages released first (the ranges die with the mapping).
    ResidentRanges local;
    const TextEncoders t = gpu_ ? te_loaded_ : load_text_encoders(&local);
    encode_with(t, prompt, negative, clip_skip, e.cond, e.uncond, e.seq, &e.pooled, &e.uncond_pooled, with_uncond);
    (gpu_ ? te_pages_ : local).release();  // a gpu's are read back from the page cache if needed again
    constexpr size_t kPrompts = 8;
    if (prompt_cache_.size() >= kPrompts) prompt_cache_.erase(prompt_cache_.begin());
    prompt_cache_.push_back(std::move(e));
    hit = std::prev(prompt_cache_.end());
  } else {
    std::rotate(hit, hit + 1, prompt_cache_.end());  // the newest last
    hit = std::prev(prompt_cache_.end());
  }
  cond = hit->cond;
  uncond = hit->uncond;
  seq = hit->seq;
  if (pooled) *pooled = hit->pooled;
  if (uncond_pooled) *uncond_pooled = hit->uncond_pooled;
}

void DiffusionModel::encode_with(const TextEncoders& t, const std::string& prompt, const std::string& negative,
                                 int clip_skip, std::vector<float>& cond, std::vector<float>& uncond, int64_t& seq,
                                 std::vector<float>* pooled, std::vector<float>* uncond_pooled,
                                 bool with_uncond) const {
  std::vector<PromptChunk> pc = encode_weighted_prompt(*tok_, prompt, pad_token_);
  std::vector<PromptChunk> nc =
      with_uncond ? encode_weighted_prompt(*tok_, negative, pad_token_) : std::vector<PromptChunk>{};
  const std::vector<PromptChunk> empty = encode_weighted_prompt(*tok_, "", pad_token_);
  while (pc.size() < nc.size()) pc.push_back(empty[0]);
  while (with_uncond && nc.size() < pc.size()) nc.push_back(empty[0]);
  // Each chunk is 77 positions; the UNet context is as long as the chunks together.
  if (pc.size() > 32)
    fail(Code::BadInput, "the prompt needs ", pc.size(), " chunks of 75 tokens; at most 32 are allowed");
  seq = int64_t(pc.size()) * ClipTokenizer::kContextLength;
  if (!t.te2) {
    cond = encode_chunks(*t.te, pc, clip_skip);
    uncond = with_uncond ? encode_chunks(*t.te, nc, clip_skip) : std::vector<float>{};
    return;
  }
  // SDXL: the second tokenizer differs only in its pad token.
  auto with_pad2 = [&](std::vector<PromptChunk>& chunks, const std::string& text) {
    std::vector<PromptChunk> c2 = encode_weighted_prompt(*tok_, text, pad_token2_);
    const std::vector<PromptChunk> e2 = encode_weighted_prompt(*tok_, "", pad_token2_);
    for (size_t k = 0; k < chunks.size(); ++k) chunks[k].ids2 = k < c2.size() ? c2[k].ids : e2[0].ids;
  };
  with_pad2(pc, prompt);
  with_pad2(nc, negative);
  std::vector<float> p, up;
  cond = encode_chunks_xl(*t.te, *t.te2, pc, clip_skip, &p);
  const bool zeros = force_zeros_for_empty_prompt_ && negative.empty();
  if (!with_uncond) {
    uncond.clear();
    up.clear();
  } else if (zeros) {
    uncond.assign(cond.size(), 0.f);
    up.assign(p.size(), 0.f);
  } else {
    uncond = encode_chunks_xl(*t.te, *t.te2, nc, clip_skip, &up);
  }
  if (pooled) *pooled = std::move(p);
  if (uncond_pooled) *uncond_pooled = std::move(up);
}

std::shared_ptr<const DiffusionModel> DiffusionModel::with_loras(const std::vector<LoraSpec>& loras) const {
  const std::string key = lora_stack_key(open_loras(loras));
  if (key == lora_key_) return nullptr;
  std::lock_guard<std::mutex> lock(variant_mu_);
  if (variant_ && variant_->lora_key_ == key) return variant_;
  variant_.reset();  // one LoRA variant at a time: release the previous merge first
  DiffusionLoadOptions o = load_opts_;
  o.loras = loras;
  variant_ = DiffusionModel::load(path_, o);
  return variant_;
}

void DiffusionModel::attach_tiny_vae(const GenerateRequest& g, PipelineRequest& req) const {
  const bool previews = g.preview_every > 0 && g.on_preview;
  if (g.preview_every < 0 || g.preview_every > 1000)
    fail(Code::BadInput, "previewEvery must be from 0 to 1000 steps; got ", g.preview_every);
  if (!g.tiny_decode && !previews) return;
  const std::string spec = g.tiny_vae.empty() ? "taesd" : g.tiny_vae;
  // Previews alone are best-effort: without a tiny autoencoder beside the model there are none.
  const std::string file = resolve_tiny_vae(spec, path_, is_sdxl(), !g.tiny_decode && g.tiny_vae.empty());
  if (file.empty()) return;
  req.tiny_vae = load_tiny_vae_cached(file, threads_, gpu_);
  const TaesdConfig& tc = req.tiny_vae->config();
  const VaeConfig& vc = vae_->config();
  if (!req.tiny_vae->has_decoder() || tc.latent_channels != vc.latent_channels || tc.downscale != vc.downscale)
    fail(Code::ModelUnsupported, file, ": this tiny autoencoder ",
         req.tiny_vae->has_decoder()
             ? "does not fit the model (" + std::to_string(tc.latent_channels) + " latent channels, " +
                   std::to_string(tc.downscale) + "× up; the model's VAE: " + std::to_string(vc.latent_channels) +
                   ", " + std::to_string(vc.downscale) + "×): use TAESD for SD 1.x/2.x and TAESDXL for SDXL"
             : "has no decoder");
  req.tiny_decode = g.tiny_decode;
  if (!previews) return;
  req.preview_every = g.preview_every;
  req.on_preview = [cb = g.on_preview](int step, std::vector<float> img, int64_t H, int64_t W) {
    std::vector<uint8_t> rgb(size_t(H * W * 3));
    for (int64_t i = 0; i < H * W; ++i)
      for (int64_t c = 0; c < 3; ++c) rgb[size_t(i * 3 + c)] = uint8_t(std::lround(img[size_t(c * H * W + i)] * 255.f));
    cb(step, rgb, W, H);
  };
}

GenerateResult DiffusionModel::generate(const GenerateRequest& g) const {
  if (g.has_loras) {
    if (auto variant = with_loras(g.loras)) {
      GenerateRequest own = g;
      own.has_loras = false;
      return variant->generate(own);
    }
  }
  const int64_t W = g.width, H = g.height;
  if (W < 64 || H < 64 || W > 4096 || H > 4096 || W % 8 || H % 8)
    fail(Code::BadInput, "width and height must be multiples of 8 from 64 to 4096; got ", W, "×", H);
  if (g.steps < 1 || g.steps > 1000) fail(Code::BadInput, "steps must be from 1 to 1000; got ", g.steps);
  if (!std::isfinite(g.guidance) || g.guidance < 0 || g.guidance > 100)
    fail(Code::BadInput, "guidanceScale must be from 0 to 100; got ", g.guidance);
  {
    // SDXL already starts at the penultimate layer of both encoders.
    int64_t layers = te_cfg_.layers;
    if (sdxl_) layers = std::min(layers, te2_cfg_.layers) - 1;
    if (g.clip_skip < 0 || g.clip_skip >= layers)
      fail(Code::BadInput, "clipSkip must be from 0 to ", layers - 1, "; got ", g.clip_skip);
  }
  const bool has_image = !g.init_image.empty(), has_mask = !g.mask.empty();
  if (has_mask && !has_image) fail(Code::BadInput, "a mask needs an initImage to inpaint");
  if (has_image && int64_t(g.init_image.size()) != H * W * 3)
    fail(Code::BadInput, "initImage must be ", W, "×", H, " RGB (", H * W * 3, " bytes); got ", g.init_image.size(),
         " bytes");
  if (has_mask && int64_t(g.mask.size()) != H * W)
    fail(Code::BadInput, "mask must be ", W, "×", H, " (", H * W, " values), the size of the image; got ",
         g.mask.size());
  if (has_image && !has_mask && !(g.strength > 0 && g.strength <= 1))
    fail(Code::BadInput, "strength must be in (0, 1]; got ", g.strength);
  for (float v : g.mask)
    if (!std::isfinite(v)) fail(Code::BadInput, "the mask holds NaN or Inf");
  validate_vae_tiling(g.vae_tiling);
  // What the caller's work before this left freed (a segmentation's blocks in the tensor
  // allocator's cache, the C heap's free pages after an image's processing on other threads) goes
  // back to the OS before the generation's peak.
  release_freed_memory();

  PipelineRequest req;
  req.kind = has_mask ? PipelineKind::Inpaint : has_image ? PipelineKind::Img2Img : PipelineKind::Txt2Img;
  req.unet_config = unet_cfg_;
  req.acquire_unet = [this] { return unet(); };
  req.vae = vae_;
  bool karras = false;
  const SchedulerKind sk = scheduler_kind_from_name(g.sampler, &karras);
  SchedulerConfig sc = SchedulerConfig::from_json(sk, sched_config_, path_ + " scheduler config");
  if (karras) sc.use_karras_sigmas = true;
  if (!g.timestep_spacing.empty()) sc.timestep_spacing = timestep_spacing_from_name(g.timestep_spacing);
  if (prediction_type_ == "epsilon") sc.prediction_type = PredictionType::Epsilon;
  if (prediction_type_ == "v_prediction") sc.prediction_type = PredictionType::VPrediction;
  if (prediction_type_ == "sample") sc.prediction_type = PredictionType::Sample;
  req.scheduler = make_scheduler(sk, sc);
  req.height = H;
  req.width = W;
  req.steps = g.steps;
  req.guidance = g.guidance;
  req.strength = g.strength;
  req.seed = g.seed;
  req.noise = g.noise;
  req.vae_tiling = g.vae_tiling;
  req.on_step = g.on_step;
  req.cancelled = g.cancelled;
  attach_tiny_vae(g, req);
  if (g.cancelled && g.cancelled()) fail(Code::Cancelled, "generation cancelled before it started");
  // Without CFG (guidance <= 1) the pipeline runs the prompt alone: no negative prompt to encode.
  encode_prompts(g.prompt, g.negative_prompt, g.clip_skip, req.cond, req.uncond, req.seq, sdxl_ ? &req.pooled : nullptr,
                 sdxl_ ? &req.uncond_pooled : nullptr, g.guidance > 1.f);
  // One component's weights resident at a time: the encoders are done (encode_prompts let their
  // pages go); the VAE goes once the init image is encoded; the UNet once the last step is taken.
  // Freed activation blocks of one phase are of no use to the next: the tensor allocator's cache
  // lets them go between phases and after the generation, so that peak memory is one phase's.
  // One large component resident at a time (see unet_): the UNet goes before the full VAE encodes
  // an init image (it is built again as the denoising begins) and after the last step.
  req.on_phase = [this](PipelinePhase phase) {
    if (phase == PipelinePhase::Denoise) vae_pages_.release();
    if (phase == PipelinePhase::Encode || phase == PipelinePhase::Decode) let_unet_go();
    release_freed_memory();
  };
  if (has_image) {
    // (H, W, 3) bytes → (1, 3, H, W) in [0, 1]
    req.image.resize(size_t(3 * H * W));
    for (int64_t i = 0; i < H * W; ++i)
      for (int64_t c = 0; c < 3; ++c) req.image[size_t(c * H * W + i)] = float(g.init_image[size_t(i * 3 + c)]) / 255.f;
  }
  req.mask = g.mask;

  PipelineResult r = run_pipeline(req);
  release_freed_memory();
  BGN_CHECK(r.H == H && r.W == W && int64_t(r.image.size()) == 3 * H * W, Code::Internal,
            "the pipeline returned an image of the wrong size");
  GenerateResult out;
  out.width = W;
  out.height = H;
  out.seed = g.seed;
  out.pixels.resize(size_t(H * W * 3));
  for (int64_t i = 0; i < H * W; ++i)
    for (int64_t c = 0; c < 3; ++c) {
      const float v = std::min(1.f, std::max(0.f, r.image[size_t(c * H * W + i)]));
      out.pixels[size_t(i * 3 + c)] = uint8_t(std::lround(v * 255.f));
    }
  if (has_mask && g.paste_back)
    for (int64_t i = 0; i < H * W; ++i)
      if (g.mask[size_t(i)] < 0.5f)
        for (int64_t c = 0; c < 3; ++c) out.pixels[size_t(i * 3 + c)] = g.init_image[size_t(i * 3 + c)];
  return out;
}

}  // namespace bgn
