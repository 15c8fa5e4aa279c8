#include "models/weight_map.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <vector>

#include "formats/gguf.h"
#include "formats/safetensors.h"

namespace bgn {

namespace fs = std::filesystem;

const char* component_name(Component c) {
  switch (c) {
    case Component::TextEncoder:
      return "text encoder";
    case Component::TextEncoder2:
      return "second text encoder";
    case Component::Unet:
      return "UNet";
    case Component::Vae:
      return "VAE";
  }
  return "component";
}

int64_t config_int(const json::Value& config, const char* key, int64_t fallback) {
  const json::Value* v = config.find(key);
  if (!v || !v->is_number()) return fallback;
  return v->is_integer() ? v->as_int() : int64_t(v->as_double());
}
double config_double(const json::Value& config, const char* key, double fallback) {
  const json::Value* v = config.find(key);
  return v && v->is_number() ? v->as_double() : fallback;
}
bool config_bool(const json::Value& config, const char* key, bool fallback) {
  const json::Value* v = config.find(key);
  return v && v->is_bool() ? v->as_bool() : fallback;
}
std::string config_string(const json::Value& config, const char* key, const std::string& fallback) {
  const json::Value* v = config.find(key);
  return v && v->is_string() ? v->as_string() : fallback;
}

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

[[noreturn]] void refuse_pickle(const std::string& path) {
  fail(Code::ModelUnsupported, path,
       ": pickled PyTorch checkpoints (.ckpt/.pt/.pth/.bin) are not loaded, because unpickling can run "
       "arbitrary code. Convert it to .safetensors first, e.g. with Python: "
       "`import torch, safetensors.torch; sd = torch.load('model.ckpt', map_location='cpu', weights_only=True); "
       "sd = sd.get('state_dict', sd); safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items() "
       "if hasattr(v, 'contiguous')}, 'model.safetensors')`, or download the .safetensors release of the model.");
}

bool is_pickle_name(const std::string& p) {
  return ends_with(p, ".ckpt") || ends_with(p, ".pt") || ends_with(p, ".pth") || ends_with(p, ".bin");
}

// Splits "a.b.c" at the first dot: head "a", tail "b.c" (tail empty when no dot).
bool split_index(const std::string& s, int* index, std::string* rest) {
  size_t dot = s.find('.');
  std::string head = s.substr(0, dot);
  if (head.empty() || head.size() > 6) return false;
  for (char ch : head)
    if (ch < '0' || ch > '9') return false;
  *index = std::stoi(head);
  *rest = dot == std::string::npos ? "" : s.substr(dot + 1);
  return true;
}

// ---- UNet: LDM (openaimodel) names → diffusers -------------------------------------------------

std::string ldm_resnet(const std::string& r) {
  static const std::pair<const char*, const char*> map[] = {
      {"in_layers.0.", "norm1."},  {"in_layers.2.", "conv1."},  {"emb_layers.1.", "time_emb_proj."},
      {"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."}};
  for (const auto& [from, to] : map)
    if (starts_with(r, from)) return to + r.substr(std::strlen(from));
  return "";
}

struct UnetLdmLayout {
  int lpb = 0;  // resnets per down level
};

std::string map_unet_ldm(const std::string& n, const UnetLdmLayout& L) {
  int i, j;
  std::string rest, rest2;
  if (starts_with(n, "time_embed.0.")) return "time_embedding.linear_1." + n.substr(13);
  if (starts_with(n, "time_embed.2.")) return "time_embedding.linear_2." + n.substr(13);
  // SDXL's vector conditioning (pooled text + size/crop ids): label_emb.0 = Sequential(Linear, SiLU, Linear).
  if (starts_with(n, "label_emb.0.0.")) return "add_embedding.linear_1." + n.substr(14);
  if (starts_with(n, "label_emb.0.2.")) return "add_embedding.linear_2." + n.substr(14);
  if (starts_with(n, "out.0.")) return "conv_norm_out." + n.substr(6);
  if (starts_with(n, "out.2.")) return "conv_out." + n.substr(6);
  if (starts_with(n, "input_blocks.") && split_index(n.substr(13), &i, &rest) && split_index(rest, &j, &rest2)) {
    if (i == 0) return j == 0 ? "conv_in." + rest2 : "";
    const int level = (i - 1) / (L.lpb + 1), k = (i - 1) % (L.lpb + 1);
    const std::string base = "down_blocks." + std::to_string(level) + ".";
    if (k == L.lpb) return starts_with(rest2, "op.") ? base + "downsamplers.0.conv." + rest2.substr(3) : "";
    if (j == 0) {
      std::string r = ldm_resnet(rest2);
      return r.empty() ? "" : base + "resnets." + std::to_string(k) + "." + r;
    }
    if (j == 1) return base + "attentions." + std::to_string(k) + "." + rest2;
    return "";
  }
  if (starts_with(n, "middle_block.") && split_index(n.substr(13), &j, &rest)) {
    if (j == 1) return "mid_block.attentions.0." + rest;
    if (j == 0 || j == 2) {
      std::string r = ldm_resnet(rest);
      return r.empty() ? "" : "mid_block.resnets." + std::to_string(j / 2) + "." + r;
    }
    return "";
  }
  if (starts_with(n, "output_blocks.") && split_index(n.substr(14), &i, &rest) && split_index(rest, &j, &rest2)) {
    const int level = i / (L.lpb + 1), k = i % (L.lpb + 1);
    const std::string base = "up_blocks." + std::to_string(level) + ".";
    if (j == 0) {
      std::string r = ldm_resnet(rest2);
      return r.empty() ? "" : base + "resnets." + std::to_string(k) + "." + r;
    }
    if (starts_with(rest2, "conv.")) return base + "upsamplers.0.conv." + rest2.substr(5);
    if (j == 1) return base + "attentions." + std::to_string(k) + "." + rest2;
    return "";
  }
  return "";
}

UnetLdmLayout unet_ldm_layout(const std::vector<std::string>& names, const std::string& source) {
  // The first downsampler ("input_blocks.N.0.op.") comes after layers_per_block resnets.
  int first_op = -1, max_input = -1;
  for (const auto& n : names) {
    int i;
    std::string rest;
    if (!starts_with(n, "input_blocks.") || !split_index(n.substr(13), &i, &rest)) continue;
    max_input = std::max(max_input, i);
    if (starts_with(rest, "0.op.") && (first_op < 0 || i < first_op)) first_op = i;
  }
  UnetLdmLayout L;
  if (first_op > 0)
    L.lpb = first_op - 1;
  else if (max_input > 0)
    L.lpb = max_input;
  else
    fail(Code::ModelUnsupported, source, ": no UNet input blocks (model.diffusion_model.input_blocks.*) found");
  return L;
}

// ---- VAE: LDM names → diffusers ----------------------------------------------------------------

std::string ldm_vae_resnet(const std::string& r) {
  if (starts_with(r, "nin_shortcut.")) return "conv_shortcut." + r.substr(13);
  return r;
}

std::string ldm_vae_mid(const std::string& r) {
  if (starts_with(r, "block_1.")) return "mid_block.resnets.0." + ldm_vae_resnet(r.substr(8));
  if (starts_with(r, "block_2.")) return "mid_block.resnets.1." + ldm_vae_resnet(r.substr(8));
  if (starts_with(r, "attn_1.")) {
    std::string a = r.substr(7);
    static const std::pair<const char*, const char*> map[] = {
        {"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
    for (const auto& [from, to] : map)
      if (starts_with(a, from)) return "mid_block.attentions.0." + std::string(to) + a.substr(std::strlen(from));
  }
  return "";
}

std::string map_vae_ldm(const std::string& n, int up_levels) {
  int i, j;
  std::string rest, rest2;
  if (starts_with(n, "quant_conv.") || starts_with(n, "post_quant_conv.")) return n;
  for (const char* side : {"encoder.", "decoder."}) {
    if (!starts_with(n, side)) continue;
    const std::string s = side, r = n.substr(s.size());
    if (starts_with(r, "conv_in.") || starts_with(r, "conv_out.")) return n;
    if (starts_with(r, "norm_out.")) return s + "conv_norm_out." + r.substr(9);
    if (starts_with(r, "mid.")) {
      std::string m = ldm_vae_mid(r.substr(4));
      return m.empty() ? "" : s + m;
    }
    if (s == "encoder." && starts_with(r, "down.") && split_index(r.substr(5), &i, &rest)) {
      const std::string base = s + "down_blocks." + std::to_string(i) + ".";
      if (starts_with(rest, "block.") && split_index(rest.substr(6), &j, &rest2))
        return base + "resnets." + std::to_string(j) + "." + ldm_vae_resnet(rest2);
      if (starts_with(rest, "downsample.conv.")) return base + "downsamplers.0.conv." + rest.substr(16);
    }
    if (s == "decoder." && starts_with(r, "up.") && split_index(r.substr(3), &i, &rest) && i < up_levels) {
      const std::string base = s + "up_blocks." + std::to_string(up_levels - 1 - i) + ".";
      if (starts_with(rest, "block.") && split_index(rest.substr(6), &j, &rest2))
        return base + "resnets." + std::to_string(j) + "." + ldm_vae_resnet(rest2);
      if (starts_with(rest, "upsample.conv.")) return base + "upsamplers.0.conv." + rest.substr(14);
    }
  }
  return "";
}

// Older diffusers VAE attention names (query/key/value/proj_attn) → current ones.
std::string map_vae_diffusers(const std::string& n) {
  static const std::pair<const char*, const char*> map[] = {
      {".query.", ".to_q."}, {".key.", ".to_k."}, {".value.", ".to_v."}, {".proj_attn.", ".to_out.0."}};
  if (n.find("mid_block.attentions.") == std::string::npos) return n;
  for (const auto& [from, to] : map) {
    size_t p = n.find(from);
    if (p != std::string::npos) return n.substr(0, p) + to + n.substr(p + std::strlen(from));
  }
  return n;
}

// ---- text encoder: OpenCLIP → transformers -----------------------------------------------------

Tensor rows(const Tensor& t, int64_t r0, int64_t r1) {
  auto keep = std::make_shared<Tensor>(t);
  const int64_t row = t.numel() / std::max<int64_t>(1, t.dim(0));
  Shape s = t.shape();
  s[0] = r1 - r0;
  const uint8_t* base = static_cast<const uint8_t*>(t.raw()) + dtype_bytes(t.dtype(), r0 * row);
  return Tensor::view(t.dtype(), s, base, std::shared_ptr<const void>(keep, keep.get()));
}

// An f32 copy of a 2-D tensor, transposed: (R, C) -> (C, R).
Tensor transposed(const Tensor& t, const std::string& source, const std::string& name) {
  if (t.rank() != 2)
    fail(Code::ModelFormat, source, ": tensor ", name, " has shape ", shape_str(t.shape()), ", expected a matrix");
  const int64_t R = t.dim(0), C = t.dim(1);
  std::vector<float> src(size_t(R * C));
  convert_to_f32(t.dtype(), t.raw(), src.data(), R * C);
  Tensor out = Tensor::empty(DType::F32, {C, R});
  float* o = out.data<float>();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) o[c * R + r] = src[size_t(r * C + c)];
  return out;
}

// keep_last: SDXL's second encoder keeps every resblock (its pooled output needs the last one)
// and its text_projection (x @ P, P (width, proj) → Linear weight (proj, width)).
template <class File>
void map_openclip(const File& f, const std::string& prefix, nn::WeightSet& ws, bool keep_last = false) {
  // Number of resblocks; SD 2 runs all but the last (the "penultimate" layer), then ln_final.
  int blocks = 0;
  for (const auto& e : f.entries()) {
    int i;
    std::string rest;
    const std::string key = prefix + "transformer.resblocks.";
    if (starts_with(e.name, key) && split_index(e.name.substr(key.size()), &i, &rest)) blocks = std::max(blocks, i + 1);
  }
  const int used = keep_last ? blocks : blocks - 1;
  for (const auto& e : f.entries()) {
    if (!starts_with(e.name, prefix)) continue;
    const std::string n = e.name.substr(prefix.size());
    if (n == "token_embedding.weight")
      ws.set("embeddings.token_embedding.weight", f.tensor(e));
    else if (n == "text_projection" && keep_last)
      ws.set("text_projection.weight", transposed(f.tensor(e), f.path(), e.name));
    else if (n == "positional_embedding")
      ws.set("embeddings.position_embedding.weight", f.tensor(e));
    else if (starts_with(n, "ln_final."))
      ws.set("final_layer_norm." + n.substr(9), f.tensor(e));
    else if (starts_with(n, "transformer.resblocks.")) {
      int i;
      std::string r;
      if (!split_index(n.substr(22), &i, &r) || i >= used) continue;
      const std::string L = "encoder.layers." + std::to_string(i) + ".";
      if (r == "attn.in_proj_weight" || r == "attn.in_proj_bias") {
        Tensor t = f.tensor(e);
        if (t.rank() < 1 || t.dim(0) % 3 != 0)
          fail(Code::ModelFormat, f.path(), ": tensor ", e.name, " has shape ", shape_str(t.shape()),
               ", expected a fused q/k/v projection with 3·C rows");
        const int64_t c = t.dim(0) / 3;
        const std::string kind = r == "attn.in_proj_weight" ? "weight" : "bias";
        ws.set(L + "self_attn.q_proj." + kind, rows(t, 0, c));
        ws.set(L + "self_attn.k_proj." + kind, rows(t, c, 2 * c));
        ws.set(L + "self_attn.v_proj." + kind, rows(t, 2 * c, 3 * c));
      } else if (starts_with(r, "attn.out_proj."))
        ws.set(L + "self_attn.out_proj." + r.substr(14), f.tensor(e));
      else if (starts_with(r, "ln_1."))
        ws.set(L + "layer_norm1." + r.substr(5), f.tensor(e));
      else if (starts_with(r, "ln_2."))
        ws.set(L + "layer_norm2." + r.substr(5), f.tensor(e));
      else if (starts_with(r, "mlp.c_fc."))
        ws.set(L + "mlp.fc1." + r.substr(9), f.tensor(e));
      else if (starts_with(r, "mlp.c_proj."))
        ws.set(L + "mlp.fc2." + r.substr(11), f.tensor(e));
    }
  }
}

// ---- sources -------------------------------------------------------------------------------------

// File is SafetensorsFile or GgufFile: both list entries (with .name) and hand out tensors.
template <class File>
bool any_prefix(const File& f, const std::string& p) {
  for (const auto& e : f.entries())
    if (starts_with(e.name, p)) return true;
  return false;
}

// Copies the entries under `prefix` (stripped) through `map` (empty result = skip).
template <class File>
void add_mapped(const File& f, const std::string& prefix, nn::WeightSet& ws,
                const std::function<std::string(const std::string&)>& map) {
  for (const auto& e : f.entries()) {
    if (!starts_with(e.name, prefix)) continue;
    std::string n = map(e.name.substr(prefix.size()));
    if (!n.empty()) ws.set(n, f.tensor(e));
  }
}

template <class File>
ComponentWeights from_parsed(const std::shared_ptr<File>& f, const std::string& path, Component c,
                             const json::Value* config) {
  ComponentWeights out;
  if (config) {
    out.config = *config;
    out.has_config = true;
  }
  auto make = [&](const std::string& layout) {
    out.layout = layout;
    out.weights = nn::WeightSet(path, layout);
  };
  switch (c) {
    case Component::Unet: {
      if (any_prefix(*f, "model.diffusion_model.")) {
        make("ldm");
        std::vector<std::string> names;
        for (const auto& e : f->entries())
          if (starts_with(e.name, "model.diffusion_model.")) names.push_back(e.name.substr(22));
        UnetLdmLayout L = unet_ldm_layout(names, path);
        add_mapped(*f, "model.diffusion_model.", out.weights, [&](const std::string& n) { return map_unet_ldm(n, L); });
      } else if (any_prefix(*f, "down_blocks.") && any_prefix(*f, "conv_in.")) {
        make("diffusers");
        add_mapped(*f, "", out.weights, [](const std::string& n) { return n; });
      } else {
        fail(Code::ModelUnsupported, path,
             ": no UNet weights found (looked for model.diffusion_model.* "
             "(LDM checkpoint) or down_blocks.*/conv_in.* (diffusers unet/diffusion_pytorch_model.safetensors))");
      }
      break;
    }
    case Component::Vae: {
      std::string prefix;
      if (any_prefix(*f, "first_stage_model.")) prefix = "first_stage_model.";
      if (any_prefix(*f, prefix + "encoder.down.") || any_prefix(*f, prefix + "decoder.up.")) {
        make("ldm");
        int up = 0;
        for (const auto& e : f->entries()) {
          int i;
          std::string rest;
          const std::string key = prefix + "decoder.up.";
          if (starts_with(e.name, key) && split_index(e.name.substr(key.size()), &i, &rest)) up = std::max(up, i + 1);
        }
        add_mapped(*f, prefix, out.weights, [&](const std::string& n) { return map_vae_ldm(n, up); });
      } else if (any_prefix(*f, "encoder.down_blocks.") || any_prefix(*f, "decoder.up_blocks.")) {
        make("diffusers");
        add_mapped(*f, "", out.weights, map_vae_diffusers);
      } else {
        fail(Code::ModelUnsupported, path,
             ": no VAE weights found (looked for first_stage_model.* (LDM checkpoint), "
             "encoder.down.*/decoder.up.* (LDM VAE) or encoder.down_blocks.*/decoder.up_blocks.* (diffusers vae/))");
      }
      break;
    }
    case Component::TextEncoder: {
      if (any_prefix(*f, "cond_stage_model.transformer.")) {
        make("ldm");
        const std::string p = any_prefix(*f, "cond_stage_model.transformer.text_model.")
                                  ? "cond_stage_model.transformer.text_model."
                                  : "cond_stage_model.transformer.";
        add_mapped(*f, p, out.weights, [](const std::string& n) { return n; });
      } else if (any_prefix(*f, "cond_stage_model.model.")) {
        make("openclip");
        map_openclip(*f, "cond_stage_model.model.", out.weights);
      } else if (any_prefix(*f, "conditioner.embedders.")) {
        // SDXL: embedders.0 is CLIP ViT-L (transformers names), embedders.1 OpenCLIP ViT-bigG.
        if (!any_prefix(*f, "conditioner.embedders.0.transformer."))
          fail(Code::ModelFormat, path,
               ": this SDXL checkpoint has no first text encoder "
               "(conditioner.embedders.0.transformer.*); it is incomplete, or holds only the second encoder "
               "(load that with { encoder: 2 })");
        make("ldm");
        const std::string p = any_prefix(*f, "conditioner.embedders.0.transformer.text_model.")
                                  ? "conditioner.embedders.0.transformer.text_model."
                                  : "conditioner.embedders.0.transformer.";
        add_mapped(*f, p, out.weights, [](const std::string& n) { return n; });
      } else if (any_prefix(*f, "text_model.")) {
        make("transformers");
        add_mapped(*f, "text_model.", out.weights, [](const std::string& n) { return n; });
        // CLIPTextModelWithProjection (SDXL's text_encoder_2/) keeps its projection at the top level.
        for (const auto& e : f->entries())
          if (e.name == "text_projection.weight") out.weights.set(e.name, f->tensor(e));
      } else if (any_prefix(*f, "transformer.resblocks.")) {
        make("openclip");
        map_openclip(*f, "", out.weights);
      } else {
        fail(Code::ModelUnsupported, path,
             ": no CLIP text encoder weights found (looked for "
             "cond_stage_model.transformer.* (SD 1.x), cond_stage_model.model.* (SD 2.x OpenCLIP), "
             "conditioner.embedders.0.* (SDXL) or text_model.* (text_encoder/model.safetensors))");
      }
      break;
    }
    case Component::TextEncoder2: {
      if (any_prefix(*f, "conditioner.embedders.1.model.")) {
        make("openclip");
        map_openclip(*f, "conditioner.embedders.1.model.", out.weights, true);
      } else if (any_prefix(*f, "conditioner.embedders.")) {
        fail(Code::ModelFormat, path,
             ": this SDXL checkpoint has no second text encoder "
             "(conditioner.embedders.1.model.*, OpenCLIP ViT-bigG); the file is incomplete");
      } else if (any_prefix(*f, "text_model.")) {
        make("transformers");
        add_mapped(*f, "text_model.", out.weights, [](const std::string& n) { return n; });
        for (const auto& e : f->entries())
          if (e.name == "text_projection.weight") out.weights.set(e.name, f->tensor(e));
      } else if (any_prefix(*f, "transformer.resblocks.")) {
        make("openclip");
        map_openclip(*f, "", out.weights, true);
      } else {
        fail(Code::ModelFormat, path,
             ": no second text encoder found (looked for conditioner.embedders.1.model.* "
             "(SDXL checkpoint) or text_model.* (text_encoder_2/model.safetensors)); SDXL needs both encoders");
      }
      break;
    }
  }
  return out;
}

// .gguf files (stable-diffusion.cpp style: the checkpoint's own tensor names, weights in any GGUF
// type) go through the same name mapping as .safetensors.
ComponentWeights from_file(const std::string& path, Component c, const json::Value* config) {
  if (ends_with(path, ".gguf")) return from_parsed(GgufFile::open(path), path, c, config);
  return from_parsed(SafetensorsFile::open(path), path, c, config);
}

const char* subfolder(Component c) {
  switch (c) {
    case Component::TextEncoder:
      return "text_encoder";
    case Component::TextEncoder2:
      return "text_encoder_2";
    case Component::Unet:
      return "unet";
    case Component::Vae:
      return "vae";
  }
  return "";
}

}  // namespace

std::string unet_ldm_to_internal(const std::string& ldm_name, int layers_per_block) {
  UnetLdmLayout L;
  L.lpb = layers_per_block;
  return map_unet_ldm(ldm_name, L);
}

ComponentWeights load_component(const std::string& path, Component c) {
  std::error_code ec;
  if (is_pickle_name(path)) refuse_pickle(path);
  if (!fs::exists(path, ec)) fail(Code::ModelNotFound, path, ": no such file or folder");
  if (!fs::is_directory(path, ec)) {
    if (ends_with(path, ".gguf")) return from_file(path, c, nullptr);
    if (!ends_with(path, ".safetensors"))
      fail(Code::ModelUnsupported, path, ": expected a .safetensors or .gguf file, or a diffusers folder");
    fs::path cfg = fs::path(path).parent_path() / "config.json";
    auto sf = fs::exists(cfg, ec) ? SafetensorsFile::open(path) : nullptr;
    if (sf && !any_prefix(*sf, "model.diffusion_model.") && !any_prefix(*sf, "first_stage_model.") &&
        !any_prefix(*sf, "conditioner.") && !any_prefix(*sf, "cond_stage_model.")) {
      json::Value v = json::parse_file(cfg.string());
      return from_file(path, c, &v);
    }
    return from_file(path, c, nullptr);
  }
  fs::path dir(path);
  // A pipeline folder: descend into the component's subfolder.
  if (fs::is_directory(dir / subfolder(c), ec)) dir /= subfolder(c);
  const char* names[] = {"diffusion_pytorch_model.safetensors", "model.safetensors",
                         "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"};
  for (const char* n : names) {
    fs::path w = dir / n;
    if (!fs::exists(w, ec)) continue;
    fs::path cfg = dir / "config.json";
    if (fs::exists(cfg, ec)) {
      json::Value v = json::parse_file(cfg.string());
      return from_file(w.string(), c, &v);
    }
    return from_file(w.string(), c, nullptr);
  }
  for (const char* n : {"diffusion_pytorch_model.bin", "pytorch_model.bin"})
    if (fs::exists(dir / n, ec)) refuse_pickle((dir / n).string());
  fail(Code::ModelNotFound, dir.string(), ": no ", component_name(c),
       " weights here (looked for diffusion_pytorch_model.safetensors or model.safetensors, in the folder or its ",
       subfolder(c), "/ subfolder)");
}

}  // namespace bgn
