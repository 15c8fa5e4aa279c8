// Reader of ONNX model files (ModelProto). Parses the graph, attributes and initializers with
// every length and count checked; initializer data is decoded into owned tensors.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "tensor/tensor.h"

namespace bgn::onnx {

struct Attribute {
  enum Type { Undefined = 0, Float = 1, Int = 2, String = 3, Tensor = 4, Graph = 5, Floats = 6, Ints = 7, Strings = 8 };
  Type type = Undefined;
  float f = 0.f;
  int64_t i = 0;
  std::string s;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  bgn::Tensor t;
};

struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;  // "" marks an omitted optional input
  std::map<std::string, Attribute> attrs;

  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  int64_t attr_int(const std::string& k, int64_t def) const;
  float attr_float(const std::string& k, float def) const;
  std::string attr_string(const std::string& k, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& k, const std::vector<int64_t>& def = {}) const;
};

struct ValueInfo {
  std::string name;
  int elem_type = 0;
  std::vector<int64_t> dims;  // -1 for symbolic/unknown dimensions
};

struct Model {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::string producer;
  std::vector<Node> nodes;
  std::map<std::string, bgn::Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs;
};

// Maps an ONNX TensorProto data_type to ours; E_MODEL_UNSUPPORTED for strings/complex.
DType dtype_from_onnx(int data_type, const std::string& tensor_name);

// Parses a whole model from memory. `origin` names the file in error messages; tensors kept in
// external data files (the ONNX external data format, which models over 2 GB need) are read from
// `external_dir` (the model's folder), and refused when it is empty.
Model parse_model(const uint8_t* data, size_t size, const std::string& origin, const std::string& external_dir = "");
Model load_model(const std::string& path);

}  // namespace bgn::onnx
