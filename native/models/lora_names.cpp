#include "models/lora_names.h"

#include <algorithm>
#include <vector>

namespace bgn {

namespace {

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

bool numeric(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

}  // namespace

LoraNameIndex::LoraNameIndex(const nn::WeightSet& ws, Component c) : component_(c) {
  for (const auto& kv : ws.all()) {
    if (!ends_with(kv.first, ".weight")) continue;
    const std::string layer = kv.first.substr(0, kv.first.size() - 7);
    layers_.insert(layer);
    std::string u = layer;
    std::replace(u.begin(), u.end(), '.', '_');
    auto [it, fresh] = underscored_.emplace(u, layer);
    if (!fresh && it->second != layer) it->second.clear();
  }
  if (c == Component::Unet) layers_per_block_ = ws.count_indexed("down_blocks.0.resnets.");
}

std::string LoraNameIndex::resolve(const std::string& name, bool underscored) const {
  if (underscored) {
    auto it = underscored_.find(name);
    if (it != underscored_.end() && !it->second.empty()) return it->second;
  } else if (layers_.count(name)) {
    return name;
  }
  return component_ == Component::Unet ? resolve_ldm(name, underscored) : "";
}

// LDM names: numbers are always segments of their own ("input_blocks.1.1"), so only the joins
// between two words are open ('.' or '_'); each spelling is mapped through the loader's table.
std::string LoraNameIndex::resolve_ldm(const std::string& name, bool underscored) const {
  if (layers_per_block_ <= 0) return "";
  if (!underscored) {
    const std::string mapped = unet_ldm_to_internal(name + ".weight", layers_per_block_);
    return mapped.size() > 7 && layers_.count(mapped.substr(0, mapped.size() - 7)) ? mapped.substr(0, mapped.size() - 7)
                                                                                   : "";
  }
  const std::vector<std::string> tokens = split(name, '_');
  std::vector<size_t> open;  // joins between two words
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (tokens[i].empty() || tokens[i + 1].empty()) return "";
    if (!numeric(tokens[i]) && !numeric(tokens[i + 1])) open.push_back(i);
  }
  if (open.size() > 12) return "";
  std::string found;
  for (uint32_t mask = 0; mask < (1u << open.size()); ++mask) {
    std::string dotted = tokens[0];
    for (size_t i = 0, k = 0; i + 1 < tokens.size(); ++i) {
      bool dot = true;
      if (k < open.size() && open[k] == i) dot = (mask >> k++) & 1u;
      dotted += dot ? '.' : '_';
      dotted += tokens[i + 1];
    }
    const std::string mapped = unet_ldm_to_internal(dotted + ".weight", layers_per_block_);
    if (mapped.size() <= 7) continue;
    const std::string layer = mapped.substr(0, mapped.size() - 7);
    if (!layers_.count(layer)) continue;
    if (!found.empty() && found != layer) return "";  // ambiguous
    found = layer;
  }
  return found;
}

}  // namespace bgn
