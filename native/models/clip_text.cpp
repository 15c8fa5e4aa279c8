#include "models/clip_text.h"

#include <algorithm>
#include <cstring>

#include "nn/bf16_weights.h"
#include "tensor/residency.h"

namespace bgn {

ClipTextModel::~ClipTextModel() {
  if (gpu_) gpu_->release_weights(this);  // only this model's copies; others stay resident
}

std::shared_ptr<ClipTextModel> ClipTextModel::load(const std::string& path, const ClipLoadOptions& opts) {
  return from_weights(load_component(path, Component::TextEncoder), opts);
}

std::shared_ptr<ClipTextModel> ClipTextModel::load(const std::string& path, int threads) {
  ClipLoadOptions o;
  o.threads = threads;
  return load(path, o);
}

std::shared_ptr<ClipTextModel> ClipTextModel::from_weights(ComponentWeights cw, int threads, int64_t heads) {
  ClipLoadOptions o;
  o.threads = threads;
  o.heads = heads;
  return from_weights(std::move(cw), o);
}

std::shared_ptr<ClipTextModel> ClipTextModel::from_weights(ComponentWeights cw, const ClipLoadOptions& opts) {
  const int64_t heads = opts.heads;
  auto m = std::shared_ptr<ClipTextModel>(new ClipTextModel());
  nn::WeightSet& ws = cw.weights;
  m->weight_bytes_ = nn::device_weight_bytes(ws);
  nn::reserve_device(opts.gpu.get(), m->weight_bytes_, std::string("the text encoder (") + ws.source() + ")");
  m->gpu_ = opts.gpu;
  m->layout_ = cw.layout;
  ClipTextConfig& c = m->cfg_;
  m->tok_ = ws.take("embeddings.token_embedding.weight");
  m->pos_ = ws.take("embeddings.position_embedding.weight");
  ws.require_complete("CLIP text encoder");
  if (m->tok_.rank() != 2 || m->pos_.rank() != 2 || m->tok_.dim(1) != m->pos_.dim(1))
    fail(Code::ModelFormat, ws.source(), ": token embedding ", shape_str(m->tok_.shape()), " and position embedding ",
         shape_str(m->pos_.shape()), " do not agree on the hidden size");
  c.vocab = m->tok_.dim(0);
  c.hidden = m->tok_.dim(1);
  c.max_positions = m->pos_.dim(0);
  c.layers = ws.count_indexed("encoder.layers.");
  if (c.layers == 0) ws.take("encoder.layers.0.self_attn.q_proj.weight");
  // Activation: config, else by layout (OpenCLIP uses GELU, OpenAI CLIP quick-GELU).
  std::string act = cw.layout == "openclip" ? "gelu" : "quick_gelu";
  c.heads = std::max<int64_t>(1, c.hidden / 64);
  if (cw.has_config) {
    act = config_string(cw.config, "hidden_act", act);
    c.heads = config_int(cw.config, "num_attention_heads", c.heads);
    c.eps = float(config_double(cw.config, "layer_norm_eps", 1e-5));
    c.eos_token_id = config_int(cw.config, "eos_token_id", 2);
    const int64_t n = config_int(cw.config, "num_hidden_layers", c.layers);
    if (n < c.layers) c.layers = n;  // a config may ask for fewer layers than stored
  }
  if (heads > 0) c.heads = heads;
  if (act == "quick_gelu")
    c.act = cpu::Act::QuickGELU;
  else if (act == "gelu")
    c.act = cpu::Act::GELU;
  else
    fail(Code::ModelUnsupported, ws.source(), ": text encoder activation '", act,
         "' is not supported (quick_gelu, gelu)");
  if (c.heads < 1 || c.hidden % c.heads != 0)
    fail(Code::ModelUnsupported, ws.source(), ": hidden size ", c.hidden, " is not divisible into ", c.heads, " heads");
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    Layer L;
    L.ln1 = nn::load_norm(ws, p + "layer_norm1", c.hidden, 1, c.eps);
    L.ln2 = nn::load_norm(ws, p + "layer_norm2", c.hidden, 1, c.eps);
    L.attn.heads = c.heads;
    L.attn.q = nn::load_linear(ws, p + "self_attn.q_proj", true, c.hidden, c.hidden);
    L.attn.k = nn::load_linear(ws, p + "self_attn.k_proj", true, c.hidden, c.hidden);
    L.attn.v = nn::load_linear(ws, p + "self_attn.v_proj", true, c.hidden, c.hidden);
    L.attn.out = nn::load_linear(ws, p + "self_attn.out_proj", true, c.hidden, c.hidden);
    L.fc1 = nn::load_linear(ws, p + "mlp.fc1", true, c.hidden);
    L.fc2 = nn::load_linear(ws, p + "mlp.fc2", true, L.fc1.out ? L.fc1.out : -1, c.hidden);
    c.intermediate = L.fc1.out;
    m->layers_.push_back(std::move(L));
  }
  m->final_ln_ = nn::load_norm(ws, "final_layer_norm", c.hidden, 1, c.eps);
  if (ws.has("text_projection.weight")) {
    m->proj_ = nn::load_linear(ws, "text_projection", false, c.hidden);
    c.projection_dim = m->proj_.out;
  }
  ws.require_complete("CLIP text encoder");
  m->pool_ = std::make_unique<ThreadPool>(opts.threads);
  if (opts.precision == nn::Precision::BF16 && !opts.gpu) {
    ws = nn::WeightSet(ws.source(), ws.layout());  // the layers' references only: sources freed as packed
    m->pack_bf16();
  }
  return m;
}

void ClipTextModel::pack_bf16() {
  // The weights mapped while this load's residency scope was open are released as they are packed.
  nn::Bf16Packer packer(*pool_, ResidencyScope::current());
  for (Layer& L : layers_) {
    packer.pack(L.attn);
    packer.pack(L.fc1);
    packer.pack(L.fc2);
  }
  packer.pack(proj_);
  precision_ = nn::Precision::BF16;
}

void ClipTextModel::final_norm(float* x, int64_t M) const {
  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu_) device_lock = gpu_->lock();
  Exec e{*pool_, gpu_.get(), this};
  if (!e.gpu) return nn::layer_norm(e, final_ln_, x, M, x);
  nn::Act a = nn::upload(e, x, M * cfg_.hidden);
  nn::layer_norm(e, final_ln_, a.data(), M, a.data());
  const std::vector<float> y = nn::download(e, std::move(a));
  std::copy(y.begin(), y.end(), x);
}

ClipTextOutput ClipTextModel::encode(const int32_t* ids, int64_t B, int64_t T, int clip_skip,
                                     bool keep_hidden_states) const {
  ClipEncodeOptions o;
  o.clip_skip = clip_skip;
  o.keep_hidden_states = keep_hidden_states;
  return encode(ids, B, T, o);
}

ClipTextOutput ClipTextModel::encode(const int32_t* ids, int64_t B, int64_t T, const ClipEncodeOptions& opt) const {
  const int clip_skip = opt.clip_skip;
  const bool keep_hidden_states = opt.keep_hidden_states;
  const ClipTextConfig& c = cfg_;
  if (B < 1 || T < 1 || T > c.max_positions)
    fail(Code::BadInput, "text encoder input must be (B, T) with 1 <= T <= ", c.max_positions, "; got (", B, ", ", T,
         ")");
  if (clip_skip < 0 || clip_skip >= c.layers)
    fail(Code::BadInput, "clip_skip ", clip_skip, " is out of range for a ", c.layers, "-layer text encoder");
  for (int64_t i = 0; i < B * T; ++i)
    if (ids[i] < 0 || ids[i] >= c.vocab)
      fail(Code::BadInput, "token id ", ids[i], " at position ", i, " is outside the vocabulary (", c.vocab, ")");
  const int64_t C = c.hidden, M = B * T;
  ClipTextOutput out;
  out.B = B;
  out.T = T;
  out.C = C;
  // x = token_embedding[ids] + position_embedding[t]   (B, T, C), gathered on the host
  std::vector<float> xh(size_t(M * C));
  {
    std::vector<float> row(static_cast<size_t>(C)), prow(static_cast<size_t>(C));
    // Bytes per row (block-quantized GGUF embeddings hold whole blocks per row).
    const size_t tok_row = dtype_bytes(tok_.dtype(), C), pos_row = dtype_bytes(pos_.dtype(), C);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        convert_to_f32(tok_.dtype(), static_cast<const uint8_t*>(tok_.raw()) + size_t(ids[b * T + t]) * tok_row,
                       row.data(), C);
        convert_to_f32(pos_.dtype(), static_cast<const uint8_t*>(pos_.raw()) + size_t(t) * pos_row, prow.data(), C);
        float* xr = xh.data() + (b * T + t) * C;
        for (int64_t i = 0; i < C; ++i) xr[i] = row[size_t(i)] + prow[size_t(i)];
      }
  }
  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu_) device_lock = gpu_->lock();  // one pass at a time on the device
  Exec e{*pool_, gpu_.get(), this};
  nn::Act x = nn::upload(e, xh.data(), M * C);
  if (keep_hidden_states) {
    out.hidden_states.reserve(size_t((c.layers + 1) * M * C));
    nn::append_to_host(e, x, out.hidden_states);
  }
  const int64_t run = keep_hidden_states || opt.pooled ? c.layers : c.layers - clip_skip;
  nn::Act h(e, M * C), a(e, M * C), target;
  for (int64_t l = 0; l < run; ++l) {
    const Layer& L = layers_[size_t(l)];
    // x += out_proj(causal_self_attention(ln1(x)))
    nn::layer_norm(e, L.ln1, x.data(), M, h.data());
    nn::attention(e, L.attn, h.data(), B, T, nullptr, 0, true, a.data());
    nn::add(e, x.data(), a.data(), x.data(), M * C);
    // x += fc2(act(fc1(ln2(x))))
    nn::layer_norm(e, L.ln2, x.data(), M, h.data());
    nn::Act f(e, M * L.fc1.out);
    nn::linear(e, L.fc1, h.data(), M, f.data());
    nn::act(e, c.act, f.data(), f.data(), M * L.fc1.out);
    nn::linear(e, L.fc2, f.data(), M, a.data());
    nn::add(e, x.data(), a.data(), x.data(), M * C);
    if (keep_hidden_states) nn::append_to_host(e, x, out.hidden_states);
    if (l + 1 == c.layers - clip_skip) target = nn::clone(e, x);
  }
  if (opt.pooled) {
    // x is the last layer's output (B, T, C): norm the EOS row of each sequence, then project.
    // EOS: legacy rule (eos_token_id 2) = first position of the largest id, else the first
    // position holding eos_token_id (the last one when absent), as transformers' CLIPTextTransformer.
    nn::Act rows(e, B * C);
    for (int64_t b = 0; b < B; ++b) {
      const int32_t* r = ids + b * T;
      int64_t at = 0;
      if (c.eos_token_id == 2) {
        for (int64_t t = 1; t < T; ++t)
          if (r[t] > r[at]) at = t;
      } else {
        at = T - 1;
        for (int64_t t = 0; t < T; ++t)
          if (r[t] == c.eos_token_id) {
            at = t;
            break;
          }
      }
      nn::copy(e, x.data() + (b * T + at) * C, rows.data() + b * C, C);
    }
    nn::layer_norm(e, final_ln_, rows.data(), B, rows.data());
    if (proj_.out) {
      out.P = proj_.out;
      nn::Act p(e, B * out.P);
      nn::linear(e, proj_, rows.data(), B, p.data());
      out.pooled = nn::download(e, std::move(p));
    } else {
      out.P = C;
      out.pooled = nn::download(e, std::move(rows));
    }
  }
  if (opt.final_norm) nn::layer_norm(e, final_ln_, target.data(), M, target.data());
  out.last = nn::download(e, std::move(target));
  return out;
}

}  // namespace bgn
