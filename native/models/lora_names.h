// Finding the layer a LoRA module names (models/lora.h) among a component's internal names
// (models/weight_map.h): diffusers / transformers names, dotted or with '.' written as '_'
// (kohya), and for the UNet also the original LDM names (input_blocks_1_1_proj_in), mapped
// through the loader's own LDM table.
#pragma once
#include <map>
#include <set>
#include <string>

#include "models/weight_map.h"
#include "nn/weights.h"

namespace bgn {

class LoraNameIndex {
 public:
  LoraNameIndex(const nn::WeightSet& ws, Component c);
  // The internal layer name ("<name>.weight" is in the weight set), or "" when none matches.
  std::string resolve(const std::string& name, bool underscored) const;

 private:
  std::string resolve_ldm(const std::string& name, bool underscored) const;
  Component component_;
  int layers_per_block_ = 0;
  std::set<std::string> layers_;
  std::map<std::string, std::string> underscored_;  // "a_b_c" → "a.b_c"; "" when two layers collide
};

}  // namespace bgn
