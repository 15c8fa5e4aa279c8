// WeightSet: the tensors of one model component under internal names (the name-mapping layer in
// models/weight_map.* fills it from whatever layout the file uses). Models take tensors from it
// while they build themselves; names they needed but did not find are collected, so a load
// fails once with the whole list (E_MODEL_UNSUPPORTED) instead of at the first gap.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace bgn::nn {

// A tensor that holds data (Tensor::defined() is also true for a default-constructed one).
inline bool present(const Tensor& t) { return t.raw() != nullptr; }

class WeightSet {
 public:
  WeightSet() = default;
  WeightSet(std::string source, std::string layout) : source_(std::move(source)), layout_(std::move(layout)) {}

  const std::string& source() const { return source_; }  // file or folder, for messages
  const std::string& layout() const { return layout_; }  // "diffusers", "ldm", "openclip", ...
  void set(const std::string& name, Tensor t) { tensors_[name] = std::move(t); }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, Tensor>& all() const { return tensors_; }
  size_t size() const { return tensors_.size(); }

  // The tensor, or an undefined Tensor with the name recorded as missing.
  Tensor take(const std::string& name);
  // Like take() but absence is fine (optional biases, optional blocks).
  Tensor optional(const std::string& name) const;
  // True when the name exists; counts prefixes, e.g. has_prefix("down_blocks.0.attentions.").
  bool has_prefix(const std::string& prefix) const;
  // Largest N + 1 such that "<prefix>N." starts some name (0 when none).
  int count_indexed(const std::string& prefix) const;

  // A shape the model requires: fails with E_MODEL_FORMAT naming the source and tensor.
  void expect_shape(const std::string& name, const Tensor& t, const Shape& want) const;
  // Throws E_MODEL_UNSUPPORTED listing missing names ("what" names the component).
  void require_complete(const std::string& what) const;
  const std::vector<std::string>& missing() const { return missing_; }

 private:
  std::string source_, layout_;
  std::map<std::string, Tensor> tensors_;
  std::vector<std::string> missing_;
};

}  // namespace bgn::nn
