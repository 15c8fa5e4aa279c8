#include "models/taesd_weights.h"

#include <filesystem>
#include <vector>

#include "formats/safetensors.h"
#include "tensor/error.h"

namespace bgn {

namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

[[noreturn]] void refuse_pickle(const std::string& path) {
  fail(Code::ModelUnsupported, path,
       ": pickled PyTorch files (.pth/.pt) are not loaded, because unpickling can run arbitrary code. Use the "
       ".safetensors release (taesd_decoder.safetensors, or the diffusers folder madebyollin/taesd), or convert it: "
       "`import torch, safetensors.torch; safetensors.torch.save_file(torch.load('taesd_decoder.pth', "
       "map_location='cpu', weights_only=True), 'taesd_decoder.safetensors')`");
}

// "12.conv.0.weight" → 12 and "conv.0.weight"; false when the name does not start with an index.
bool split_index(const std::string& s, int* index, std::string* rest) {
  const size_t dot = s.find('.');
  if (dot == 0 || dot == std::string::npos || dot > 5) return false;
  for (size_t i = 0; i < dot; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  *index = std::stoi(s.substr(0, dot));
  *rest = s.substr(dot + 1);
  return true;
}

bool any_prefix(const SafetensorsFile& f, const std::string& p) {
  for (const auto& e : f.entries())
    if (starts_with(e.name, p)) return true;
  return false;
}

// A bare-index file (the original release): which side it is, from its first layer.
enum class Side { Encoder, Decoder };
Side bare_side(const SafetensorsFile& f) {
  bool index0 = false, index1 = false, all_indexed = !f.entries().empty();
  for (const auto& e : f.entries()) {
    int i;
    std::string rest;
    if (!split_index(e.name, &i, &rest)) {
      all_indexed = false;
      break;
    }
    index0 = index0 || i == 0;
    index1 = index1 || i == 1;
  }
  if (!all_indexed || !index1)
    fail(Code::ModelUnsupported, f.path(),
         ": no tiny autoencoder (TAESD) weights found (looked for encoder.layers.* / decoder.layers.* (diffusers "
         "AutoencoderTiny) or the bare layer indices of taesd_encoder.safetensors / taesd_decoder.safetensors)");
  // The decoder's layer 0 is a parameterless clamp; the encoder's is its first conv.
  return index0 ? Side::Encoder : Side::Decoder;
}

void add_bare(const SafetensorsFile& f, Side side, nn::WeightSet& ws) {
  const std::string prefix = side == Side::Encoder ? "encoder.layers." : "decoder.layers.";
  const int shift = side == Side::Encoder ? 0 : 1;
  for (const auto& e : f.entries()) {
    int i;
    std::string rest;
    split_index(e.name, &i, &rest);
    ws.set(prefix + std::to_string(i - shift) + "." + rest, f.tensor(e));
  }
}

void add_diffusers(const SafetensorsFile& f, nn::WeightSet& ws) {
  for (const auto& e : f.entries())
    if (starts_with(e.name, "encoder.layers.") || starts_with(e.name, "decoder.layers.")) ws.set(e.name, f.tensor(e));
}

bool is_tiny_config(const json::Value& v) {
  if (!v.is_object()) return false;
  const json::Value* c = v.find("_class_name");
  return !c || (c->is_string() && c->as_string() == "AutoencoderTiny");
}

// One .safetensors file; `config` (may be null) is its folder's config.json.
TaesdWeights from_file(const std::string& path, const fs::path& config) {
  auto f = SafetensorsFile::open(path);
  TaesdWeights out;
  if (any_prefix(*f, "encoder.layers.") || any_prefix(*f, "decoder.layers.")) {
    out.layout = "diffusers";
    out.weights = nn::WeightSet(path, out.layout);
    add_diffusers(*f, out.weights);
    std::error_code ec;
    if (!config.empty() && fs::is_regular_file(config, ec)) {
      json::Value v = json::parse_file(config.string());
      if (is_tiny_config(v)) {
        out.config = std::move(v);
        out.has_config = true;
      }
    }
    return out;
  }
  out.layout = "taesd";
  out.weights = nn::WeightSet(path, out.layout);
  add_bare(*f, bare_side(*f), out.weights);
  return out;
}

}  // namespace

TaesdWeights load_taesd_weights(const std::string& path) {
  std::error_code ec;
  if (ends_with(path, ".pth") || ends_with(path, ".pt") || ends_with(path, ".ckpt") || ends_with(path, ".bin"))
    refuse_pickle(path);
  if (!fs::exists(path, ec)) fail(Code::ModelNotFound, path, ": no such file or folder");
  if (!fs::is_directory(path, ec)) {
    if (!ends_with(path, ".safetensors"))
      fail(Code::ModelUnsupported, path, ": expected a .safetensors file or a folder (diffusers AutoencoderTiny)");
    return from_file(path, fs::path(path).parent_path() / "config.json");
  }
  const fs::path dir(path);
  for (const char* n : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"})
    if (fs::is_regular_file(dir / n, ec)) return from_file((dir / n).string(), dir / "config.json");
  // The original release: one encoder and / or one decoder file.
  std::vector<std::string> enc, dec, pickles;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (ends_with(n, "encoder.safetensors"))
      enc.push_back(e.path().string());
    else if (ends_with(n, "decoder.safetensors"))
      dec.push_back(e.path().string());
    else if (ends_with(n, "decoder.pth") || ends_with(n, "encoder.pth"))
      pickles.push_back(e.path().string());
  }
  if (enc.size() > 1 || dec.size() > 1)
    fail(Code::BadInput, path, ": holds ", enc.size() > 1 ? enc.size() : dec.size(), " ",
         enc.size() > 1 ? "encoder" : "decoder", " files (e.g. ", enc.size() > 1 ? enc[0] : dec[0], " and ",
         enc.size() > 1 ? enc[1] : dec[1], "); pass the file to use");
  if (enc.empty() && dec.empty()) {
    if (!pickles.empty()) refuse_pickle(pickles[0]);
    fail(Code::ModelNotFound, path,
         ": no tiny autoencoder here (looked for diffusion_pytorch_model.safetensors "
         "with config.json, or taesd_decoder.safetensors / taesd_encoder.safetensors)");
  }
  TaesdWeights out;
  out.layout = "taesd";
  out.weights = nn::WeightSet(path, out.layout);
  for (const std::string& p : {enc.empty() ? std::string() : enc[0], dec.empty() ? std::string() : dec[0]}) {
    if (p.empty()) continue;
    TaesdWeights one = from_file(p, fs::path());
    for (const auto& [name, t] : one.weights.all()) {
      if (out.weights.has(name))
        fail(Code::ModelFormat, p, ": holds the same side of the autoencoder as the other file in ", path);
      out.weights.set(name, t);
    }
  }
  return out;
}

}  // namespace bgn
