// The `loras` option of the model loads and of generate(): an array of { path, scale? = 1 } (or
// plain path strings), read into LoraSpec values. The scale range is checked by the core.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "models/lora.h"

namespace bgn::addon {

// Fills `out` from `v` (undefined / null: nothing). Returns "" or what is wrong with it.
std::string read_lora_option(const Napi::Value& v, std::vector<LoraSpec>& out);

}  // namespace bgn::addon
