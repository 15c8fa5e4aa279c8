// LayerNorm as exporters before opset 17 write it (ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt,
// Div, Mul γ [, Add β], over the last axis) is fused at load into one LayerNormalization node
// (onnx/fuse_transformer.h); a chain that differs anywhere stays as it is. The numbers of the fused
// node against onnxruntime are checked in test/onnx-ops-norm.test.ts.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "onnx/fuse_transformer.h"
#include "testing.h"

using namespace bgn;

namespace {

onnx::Node node(const std::string& op, std::vector<std::string> in, const std::string& out) {
  onnx::Node n;
  n.op_type = op;
  n.name = out + "_node";
  n.inputs = std::move(in);
  n.outputs = {out};
  return n;
}

void ints_attr(onnx::Node& n, const std::string& k, std::vector<int64_t> v) {
  onnx::Attribute a;
  a.type = onnx::Attribute::Ints;
  a.ints = std::move(v);
  n.attrs[k] = a;
}

Tensor f32_const(std::vector<float> v, bool scalar) {
  Tensor t = Tensor::empty(DType::F32, scalar ? Shape{} : Shape{int64_t(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

struct Chain {
  std::vector<onnx::Node> nodes;
  std::map<std::string, Tensor> constants;
  std::set<std::string> outputs{"y"};
};

struct Variant {
  std::vector<int64_t> axes{-1};
  bool axes_as_input = false;  // opset 18
  bool beta = true;
  bool gamma_first = false;  // Mul(γ, n) rather than Mul(n, γ)
  float exponent = 2.f;
  bool d_read_elsewhere = false;
  bool mean_of_other = false;  // Sub(x, mean(z)): not x's own mean
  bool gamma_computed = false;
};

Chain layer_norm_chain(const Variant& v) {
  Chain c;
  c.constants["two"] = f32_const({v.exponent}, true);
  c.constants["eps"] = f32_const({1e-6f}, true);
  c.constants["gamma"] = f32_const({1.f, 2.f, 3.f}, false);
  c.constants["beta"] = f32_const({0.5f, 0.f, -0.5f}, false);
  auto mean = [&](const std::string& in, const std::string& out) {
    onnx::Node n = node("ReduceMean", {in}, out);
    if (v.axes_as_input) {
      Tensor a = Tensor::empty(DType::I64, {int64_t(v.axes.size())});
      for (size_t i = 0; i < v.axes.size(); ++i) a.data<int64_t>()[i] = v.axes[i];
      c.constants[out + "_axes"] = a;
      n.inputs.push_back(out + "_axes");
    } else {
      ints_attr(n, "axes", v.axes);
    }
    c.nodes.push_back(n);
  };
  mean(v.mean_of_other ? "z" : "x", "m");
  c.nodes.push_back(node("Sub", {"x", "m"}, "d"));
  c.nodes.push_back(node("Pow", {"d", "two"}, "p"));
  mean("p", "var");
  c.nodes.push_back(node("Add", {"var", "eps"}, "ve"));
  c.nodes.push_back(node("Sqrt", {"ve"}, "sd"));
  c.nodes.push_back(node("Div", {"d", "sd"}, "n"));
  const std::string gamma = v.gamma_computed ? "g" : "gamma";
  if (v.gamma_computed) c.nodes.push_back(node("Relu", {"gamma"}, "g"));
  c.nodes.push_back(v.gamma_first ? node("Mul", {gamma, "n"}, v.beta ? "s" : "y")
                                  : node("Mul", {"n", gamma}, v.beta ? "s" : "y"));
  if (v.beta) c.nodes.push_back(node("Add", {"s", "beta"}, "y"));
  if (v.d_read_elsewhere) {
    c.nodes.push_back(node("Relu", {"d"}, "d_too"));
    c.outputs.insert("d_too");
  }
  return c;
}

// The live nodes after fusion.
std::vector<onnx::Node> fused(Chain c) {
  std::vector<bool> removed(c.nodes.size(), false);
  bgn::onnxrt::fuse_transformer_patterns(c.nodes, removed, c.constants, c.outputs);
  std::vector<onnx::Node> live;
  for (size_t i = 0; i < c.nodes.size(); ++i)
    if (!removed[i]) live.push_back(c.nodes[i]);
  return live;
}

bool has_op(const std::vector<onnx::Node>& nodes, const std::string& op) {
  for (const auto& n : nodes)
    if (n.op_type == op) return true;
  return false;
}

}  // namespace

TEST("the written-out LayerNorm with γ and β becomes one LayerNormalization over the last axis") {
  const std::vector<onnx::Node> live = fused(layer_norm_chain({}));
  CHECK(live.size() == 1);
  const onnx::Node& ln = live[0];
  CHECK(ln.op_type == "LayerNormalization");
  CHECK((ln.inputs == std::vector<std::string>{"x", "gamma", "beta"}));
  CHECK((ln.outputs == std::vector<std::string>{"y"}));
  CHECK(ln.attr_int("axis", 0) == -1);
  CHECK(std::fabs(ln.attr_float("epsilon", 0.f) - 1e-6f) < 1e-12f);
}

TEST("without β, with γ first, and with the axes as an input (opset 18) it fuses the same way") {
  Variant v;
  v.beta = false;
  v.gamma_first = true;
  v.axes_as_input = true;
  const std::vector<onnx::Node> live = fused(layer_norm_chain(v));
  CHECK(live.size() == 1);
  CHECK(live[0].op_type == "LayerNormalization");
  CHECK((live[0].inputs == std::vector<std::string>{"x", "gamma"}));
  CHECK((live[0].outputs == std::vector<std::string>{"y"}));
}

TEST("chains that are not a LayerNorm over the last axis stay written out") {
  Variant channel;  // SAM's LayerNorm2d: the channel axis of NCHW
  channel.axes = {1};
  Variant cube;
  cube.exponent = 3.f;
  Variant shared;
  shared.d_read_elsewhere = true;
  Variant other;
  other.mean_of_other = true;
  Variant computed;
  computed.gamma_computed = true;
  Variant two_axes;
  two_axes.axes = {-2, -1};
  for (const Variant& v : {channel, cube, shared, other, computed, two_axes}) {
    const std::vector<onnx::Node> live = fused(layer_norm_chain(v));
    CHECK(!has_op(live, "LayerNormalization"));
    CHECK(has_op(live, "ReduceMean"));
    CHECK(has_op(live, "Sqrt"));
  }
}

int main() { return bgn_test::run_all(); }
