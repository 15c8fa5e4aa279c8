#include "nn/weights.h"

#include <cstdlib>

namespace bgn::nn {

Tensor WeightSet::take(const std::string& name) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    missing_.push_back(name);
    return Tensor();
  }
  return it->second;
}

Tensor WeightSet::optional(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? Tensor() : it->second;
}

bool WeightSet::has_prefix(const std::string& prefix) const {
  auto it = tensors_.lower_bound(prefix);
  return it != tensors_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

int WeightSet::count_indexed(const std::string& prefix) const {
  int n = 0;
  for (auto it = tensors_.lower_bound(prefix); it != tensors_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    const char* p = it->first.c_str() + prefix.size();
    char* end = nullptr;
    long v = std::strtol(p, &end, 10);
    if (end != p && *end == '.' && v >= 0 && v < 100000) n = std::max(n, int(v) + 1);
  }
  return n;
}

void WeightSet::expect_shape(const std::string& name, const Tensor& t, const Shape& want) const {
  if (t.shape() != want)
    fail(Code::ModelFormat, source_, ": tensor ", name, " has shape ", shape_str(t.shape()), ", expected ",
         shape_str(want));
}

void WeightSet::require_complete(const std::string& what) const {
  if (missing_.empty()) return;
  std::string list;
  for (size_t i = 0; i < missing_.size() && i < 12; ++i) list += (i ? ", " : "") + missing_[i];
  if (missing_.size() > 12) list += ", … (" + std::to_string(missing_.size()) + " in all)";
  fail(Code::ModelUnsupported, source_, ": not a ", what, " this build can run (", layout_, " layout): missing ", list);
}

}  // namespace bgn::nn
