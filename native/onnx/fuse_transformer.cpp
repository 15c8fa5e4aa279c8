#include "onnx/fuse_transformer.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace bgn::onnxrt {

namespace {

// An int attribute set to 1: how a fusion marks what the node now does (bgn_bias, bgn_gelu, ...).
void set_flag(onnx::Node& n, const char* name) {
  onnx::Attribute a;
  a.type = onnx::Attribute::Int;
  a.i = 1;
  n.attrs[name] = a;
}

class Matcher {
 public:
  Matcher(std::vector<onnx::Node>& nodes, std::vector<bool>& removed, const std::map<std::string, Tensor>& constants,
          const std::set<std::string>& graph_outputs)
      : nodes_(nodes), removed_(removed), constants_(constants), outputs_(graph_outputs) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (removed_[i]) continue;
      for (const auto& in : nodes_[i].inputs)
        if (!in.empty()) uses_[in].push_back(i);
      for (const auto& out : nodes_[i].outputs)
        if (!out.empty()) producer_[out] = i;
    }
  }

  // The one live node reading `v` (an intermediate value: not a graph output), or -1.
  long sole_user(const std::string& v) const {
    if (outputs_.count(v)) return -1;
    auto it = uses_.find(v);
    if (it == uses_.end()) return -1;
    long user = -1;
    for (size_t i : it->second) {
      if (removed_[i]) continue;
      if (user >= 0 && size_t(user) != i) return -1;
      user = long(i);
    }
    return user;
  }

  bool is(size_t i, const char* op, size_t inputs) const {
    const onnx::Node& n = nodes_[i];
    return !removed_[i] && n.op_type == op && (n.domain.empty() || n.domain == "ai.onnx") &&
           n.inputs.size() == inputs && n.outputs.size() == 1 && !n.outputs[0].empty();
  }

  // A constant f32 scalar (one element) near `want`.
  bool scalar(const std::string& v, double want) const {
    return std::fabs(double(f32_scalar(v)) - want) <= 1e-6 * std::max(1.0, std::fabs(want));  // false for NaN
  }
  bool computed(const std::string& v) const { return !v.empty() && !constants_.count(v); }

  // The operand of binary node i that is not `v` (or "" when neither or both are).
  std::string other(size_t i, const std::string& v) const {
    const auto& in = nodes_[i].inputs;
    if (in[0] == v && in[1] != v) return in[1];
    if (in[1] == v && in[0] != v) return in[0];
    return "";
  }

  void remove(size_t i) {
    removed_[i] = true;
    nodes_[i].op_type = "#removed";
    nodes_[i].inputs.clear();
    nodes_[i].outputs.clear();
  }

  // Div(x, √2) | Mul(x, 1/√2) → Erf → Add(·, 1) → Mul(·, x) → Mul(·, 0.5)  ⇒  Gelu(x)
  void gelu() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const onnx::Node& d = nodes_[i];
      const bool div = is(i, "Div", 2) && scalar(d.inputs[1], std::sqrt(2.0));
      const bool mul = is(i, "Mul", 2) && (scalar(d.inputs[1], std::sqrt(0.5)) || scalar(d.inputs[0], std::sqrt(0.5)));
      if (!div && !mul) continue;
      const std::string x = div || scalar(d.inputs[1], std::sqrt(0.5)) ? d.inputs[0] : d.inputs[1];
      if (!computed(x)) continue;
      const long e = sole_user(d.outputs[0]);
      if (e < 0 || !is(size_t(e), "Erf", 1)) continue;
      const long a = sole_user(nodes_[size_t(e)].outputs[0]);
      if (a < 0 || !is(size_t(a), "Add", 2) || !scalar(other(size_t(a), nodes_[size_t(e)].outputs[0]), 1.0)) continue;
      const long m = sole_user(nodes_[size_t(a)].outputs[0]);
      if (m < 0 || !is(size_t(m), "Mul", 2) || other(size_t(m), nodes_[size_t(a)].outputs[0]) != x) continue;
      const long h = sole_user(nodes_[size_t(m)].outputs[0]);
      if (h < 0 || !is(size_t(h), "Mul", 2) || !scalar(other(size_t(h), nodes_[size_t(m)].outputs[0]), 0.5)) continue;
      onnx::Node& g = nodes_[size_t(h)];
      g.op_type = "Gelu";
      g.inputs = {x};
      g.attrs.clear();
      for (long k : {long(i), e, a, m}) remove(size_t(k));
    }
  }

  // LayerNorm as exporters before opset 17 write it, over the last axis:
  //   m = ReduceMean(x); d = Sub(x, m); Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), ε))) → Mul(·, γ) [→ Add(·, β)]
  // with γ and β constant f32 vectors  ⇒  LayerNormalization(x, γ[, β]) (axis −1, epsilon ε): one pass
  // over each row instead of nine full-size tensors written and read back.
  void layer_norm() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!mean_last(i)) continue;
      const std::string x = nodes_[i].inputs[0];
      if (!computed(x)) continue;
      const long sub = sole_user(nodes_[i].outputs[0]);
      if (sub < 0 || !is(size_t(sub), "Sub", 2) || nodes_[size_t(sub)].inputs[0] != x ||
          nodes_[size_t(sub)].inputs[1] != nodes_[i].outputs[0])
        continue;
      const std::string d = nodes_[size_t(sub)].outputs[0];
      const std::vector<size_t> readers = users(d);
      if (readers.size() != 2) continue;
      const size_t sq = is(readers[0], "Pow", 2) ? readers[0] : readers[1];
      const size_t div = sq == readers[0] ? readers[1] : readers[0];
      if (!is(sq, "Pow", 2) || nodes_[sq].inputs[0] != d || !scalar(nodes_[sq].inputs[1], 2.0)) continue;
      if (!is(div, "Div", 2) || nodes_[div].inputs[0] != d) continue;
      const long var = sole_user(nodes_[sq].outputs[0]);
      if (var < 0 || !mean_last(size_t(var)) || nodes_[size_t(var)].inputs[0] != nodes_[sq].outputs[0]) continue;
      const long add = sole_user(nodes_[size_t(var)].outputs[0]);
      if (add < 0 || !is(size_t(add), "Add", 2)) continue;
      const std::string eps = other(size_t(add), nodes_[size_t(var)].outputs[0]);
      const float epsilon = f32_scalar(eps);
      if (!(epsilon >= 0.f)) continue;
      const long root = sole_user(nodes_[size_t(add)].outputs[0]);
      if (root < 0 || !is(size_t(root), "Sqrt", 1) || sole_user(nodes_[size_t(root)].outputs[0]) != long(div) ||
          nodes_[div].inputs[1] != nodes_[size_t(root)].outputs[0])
        continue;
      const long mul = sole_user(nodes_[div].outputs[0]);
      if (mul < 0 || !is(size_t(mul), "Mul", 2)) continue;
      const std::string gamma = other(size_t(mul), nodes_[div].outputs[0]);
      if (!f32_vector(gamma)) continue;
      long last = mul;
      std::string beta;
      const long shift = sole_user(nodes_[size_t(mul)].outputs[0]);
      if (shift >= 0 && is(size_t(shift), "Add", 2)) {
        const std::string b = other(size_t(shift), nodes_[size_t(mul)].outputs[0]);
        if (f32_vector(b) && constants_.at(b).numel() == constants_.at(gamma).numel()) {
          beta = b;
          last = shift;
        }
      }
      onnx::Node& ln = nodes_[size_t(last)];
      ln.op_type = "LayerNormalization";
      ln.inputs = {x, gamma};
      if (!beta.empty()) ln.inputs.push_back(beta);
      ln.attrs.clear();
      onnx::Attribute axis;
      axis.type = onnx::Attribute::Int;
      axis.i = -1;
      ln.attrs["axis"] = axis;
      onnx::Attribute e;
      e.type = onnx::Attribute::Float;
      e.f = epsilon;
      ln.attrs["epsilon"] = e;
      for (long k : {long(i), sub, long(sq), var, add, root, long(div), mul})
        if (k != last) remove(size_t(k));
    }
  }

  // Transpose swapping the last two axes (perm [0, …, r-3, r-1, r-2]) read only as MatMul's B
  // ⇒ MatMul reading B transposed (attribute bgn_trans_b = r, the rank the perm was written for).
  void transposed_b() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const onnx::Node& t = nodes_[i];
      if (!is(i, "Transpose", 1) || !computed(t.inputs[0]) || !t.has("perm")) continue;
      const std::vector<int64_t> perm = t.attr_ints("perm");
      const size_t r = perm.size();
      bool swap_last = r >= 2 && perm[r - 1] == int64_t(r) - 2 && perm[r - 2] == int64_t(r) - 1;
      for (size_t d = 0; swap_last && d + 2 < r; ++d) swap_last = perm[d] == int64_t(d);
      if (!swap_last) continue;
      const long m = sole_user(t.outputs[0]);
      if (m < 0 || !is(size_t(m), "MatMul", 2)) continue;
      onnx::Node& mm = nodes_[size_t(m)];
      if (mm.inputs[1] != t.outputs[0] || mm.inputs[0] == t.outputs[0] || mm.has("bgn_trans_b")) continue;
      mm.inputs[1] = t.inputs[0];
      onnx::Attribute attr;
      attr.type = onnx::Attribute::Int;
      attr.i = int64_t(r);
      mm.attrs["bgn_trans_b"] = attr;
      remove(i);
    }
  }

  // MatMul(x, W) with W a constant f32 (K, N), then Add with a constant f32 bias of shape (N)  ⇒
  // MatMul(x, W, bias) with bgn_bias = 1.
  void linear_bias() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      onnx::Node& mm = nodes_[i];
      if (!is(i, "MatMul", 2) || !computed(mm.inputs[0])) continue;
      auto w = constants_.find(mm.inputs[1]);
      if (w == constants_.end() || w->second.dtype() != DType::F32 || w->second.rank() != 2) continue;
      const long a = sole_user(mm.outputs[0]);
      if (a < 0 || !is(size_t(a), "Add", 2)) continue;
      const std::string b = other(size_t(a), mm.outputs[0]);
      auto bias = constants_.find(b);
      if (bias == constants_.end() || bias->second.dtype() != DType::F32 || bias->second.rank() != 1 ||
          bias->second.dim(0) != w->second.dim(1))
        continue;
      mm.inputs.push_back(b);
      mm.outputs[0] = nodes_[size_t(a)].outputs[0];
      set_flag(mm, "bgn_bias");
      remove(size_t(a));
    }
  }

  // The layouts around a #ScoredAttention node (K read transposed): Q, K and V that are the three
  // parts of one projection's output — X → Transpose → [Reshape] → Split(axis 0, three parts of
  // one) → Squeeze(axis 0) each, every value read only by the next — are read out of X by strides
  // (attributes bgn_qkv_perm, bgn_qkv_shape, bgn_qkv_parts; X as Q, K and V); an output read only
  // by [Reshape →] Transpose is written in the Transpose's layout (bgn_out_perm, bgn_out_shape).
  // The kernel checks at run time that the shapes allow it and otherwise computes the
  // Transposes (onnx/kernels_attention.cpp).
  void attention_layouts() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (removed_[i] || nodes_[i].op_type != "#ScoredAttention" || !nodes_[i].has("bgn_trans_b")) continue;
      qkv_parts(i);
      output_layout(i);
    }
  }

  void qkv_parts(size_t n) {
    onnx::Node& att = nodes_[n];
    if (att.has("bgn_qkv_perm")) return;
    std::vector<size_t> chain;
    long split = -1;
    std::vector<int64_t> parts;
    for (size_t k = 0; k < 3; ++k) {
      const std::string& in = att.inputs[k];
      auto sq = producer_.find(in);
      if (in.empty() || sq == producer_.end() || sole_user(in) != long(n) || !squeeze0(sq->second)) return;
      const std::string& part = nodes_[sq->second].inputs[0];
      auto sp = producer_.find(part);
      if (sp == producer_.end() || sole_user(part) != long(sq->second)) return;
      if (split >= 0 && size_t(split) != sp->second) return;
      split = long(sp->second);
      const onnx::Node& sn = nodes_[sp->second];
      const auto at = std::find(sn.outputs.begin(), sn.outputs.end(), part);
      parts.push_back(at - sn.outputs.begin());
      chain.push_back(sq->second);
    }
    if (parts[0] == parts[1] || parts[1] == parts[2] || parts[0] == parts[2] || !split_thirds(size_t(split))) return;
    chain.push_back(size_t(split));
    std::string x = nodes_[size_t(split)].inputs[0];
    std::vector<int64_t> shape;
    auto made = producer_.find(x);
    if (made == producer_.end() || sole_user(x) != split) return;
    if (nodes_[made->second].op_type == "Reshape") {
      if (!reshape(made->second, nodes_[made->second].inputs[0])) return;
      shape = constants_.at(nodes_[made->second].inputs[1]).as_i64();
      chain.push_back(made->second);
      const std::string y = nodes_[made->second].inputs[0];
      if (sole_user(y) != long(made->second)) return;
      made = producer_.find(y);
      if (made == producer_.end()) return;
    }
    const size_t t = made->second;
    if (!is(t, "Transpose", 1) || !nodes_[t].has("perm") || !computed(nodes_[t].inputs[0])) return;
    chain.push_back(t);
    onnx::Node& a = nodes_[n];
    a.attrs["bgn_qkv_perm"] = ints(nodes_[t].attr_ints("perm"));
    if (!shape.empty()) a.attrs["bgn_qkv_shape"] = ints(shape);
    a.attrs["bgn_qkv_parts"] = ints(parts);
    const std::string src = nodes_[t].inputs[0];
    for (size_t k = 0; k < 3; ++k) a.inputs[k] = src;
    for (size_t c : chain) remove(c);
  }

  void output_layout(size_t n) {
    onnx::Node& att = nodes_[n];
    if (att.has("bgn_out_perm")) return;
    std::string cur = att.outputs[0];
    long u = sole_user(cur);
    std::vector<size_t> chain;
    std::vector<int64_t> shape;
    if (u >= 0 && nodes_[size_t(u)].op_type == "Reshape" && reshape(size_t(u), cur)) {
      shape = constants_.at(nodes_[size_t(u)].inputs[1]).as_i64();
      chain.push_back(size_t(u));
      cur = nodes_[size_t(u)].outputs[0];
      u = sole_user(cur);
    }
    if (u < 0 || !is(size_t(u), "Transpose", 1) || !nodes_[size_t(u)].has("perm")) return;
    chain.push_back(size_t(u));
    // The fused node writes the Transpose's output, in the Transpose's place (the last of the chain).
    onnx::Node fused = att;
    fused.outputs[0] = nodes_[size_t(u)].outputs[0];
    fused.attrs["bgn_out_perm"] = ints(nodes_[size_t(u)].attr_ints("perm"));
    if (!shape.empty()) fused.attrs["bgn_out_shape"] = ints(shape);
    nodes_[size_t(u)] = std::move(fused);
    chain.pop_back();
    for (size_t c : chain) remove(c);
    remove(n);
  }

  // MatMul(x, W) [with its bias] read only by an exact Gelu  ⇒  MatMul with bgn_gelu = 1: the CPU
  // kernel applies GELU to each tile of the product as it is finished, instead of a pass of its own.
  void matmul_gelu() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      onnx::Node& mm = nodes_[i];
      if (removed_[i] || mm.op_type != "MatMul" || !(mm.domain.empty() || mm.domain == "ai.onnx") ||
          mm.outputs.size() != 1 || mm.has("bgn_gelu"))
        continue;
      const long g = sole_user(mm.outputs[0]);
      if (g < 0 || !is(size_t(g), "Gelu", 1) || nodes_[size_t(g)].attr_string("approximate", "none") != "none")
        continue;
      mm.outputs[0] = nodes_[size_t(g)].outputs[0];
      set_flag(mm, "bgn_gelu");
      remove(size_t(g));
    }
  }

  // MatMul(x, W) [with its bias] read only by an Add of a computed value (a skip connection)  ⇒
  // MatMul with the addend as input 3 and bgn_residual = 1: added to each tile as it is finished.
  // Not after a fused GELU (the device path applies that on the host).
  void matmul_residual() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      onnx::Node& mm = nodes_[i];
      if (removed_[i] || mm.op_type != "MatMul" || !(mm.domain.empty() || mm.domain == "ai.onnx") ||
          mm.outputs.size() != 1 || mm.inputs.size() < 2 || mm.inputs.size() > 3 || mm.has("bgn_gelu") ||
          mm.has("bgn_residual"))
        continue;
      const long a = sole_user(mm.outputs[0]);
      if (a < 0 || !is(size_t(a), "Add", 2)) continue;
      const std::string r = other(size_t(a), mm.outputs[0]);
      if (!computed(r)) continue;
      // The fused node takes the Add's place: the addend may be computed after the product.
      onnx::Node fused = mm;
      fused.inputs.resize(3);  // no bias: ""
      fused.inputs.push_back(r);
      fused.outputs[0] = nodes_[size_t(a)].outputs[0];
      set_flag(fused, "bgn_residual");
      nodes_[size_t(a)] = std::move(fused);
      remove(i);
    }
  }

  // MatMul(Q, K) → [Mul | Div by a constant scalar] → [Reshape → Add(bias)… → Reshape | Add(bias)…]
  // → Softmax(axis -1) → MatMul(·, V), every intermediate read only by the next node, the scale
  // possibly a Mul on Q instead (bgn_scale_q)  ⇒  #ScoredAttention(Q, K, V, scale, view shape,
  // back shape, bias…) (onnx/kernels_attention.cpp).
  void scored_attention() {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const onnx::Node& m1 = nodes_[i];
      if (!is(i, "MatMul", 2) || m1.has("bgn_bias")) continue;
      std::vector<size_t> chain = {i};
      std::string cur = m1.outputs[0], scale, view, back;
      bool div = false;
      std::vector<std::string> bias;
      long s = sole_user(cur);
      auto step = [&](long next) {
        chain.push_back(size_t(next));
        cur = nodes_[size_t(next)].outputs[0];
        s = sole_user(cur);
      };
      if (s >= 0 && (is(size_t(s), "Mul", 2) || is(size_t(s), "Div", 2))) {
        const onnx::Node& n = nodes_[size_t(s)];
        const bool is_div = n.op_type == "Div";
        const std::string c = is_div ? (n.inputs[0] == cur ? n.inputs[1] : "") : other(size_t(s), cur);
        if (scalar_constant(c)) {
          scale = c;
          div = is_div;
          step(s);
        }
      }
      // Or the scale on Q (timm, SAM): Mul(q, c) read only by this MatMul.
      std::string q = m1.inputs[0];
      bool scale_q = false;
      auto made = producer_.find(q);
      if (scale.empty() && made != producer_.end() && is(made->second, "Mul", 2) && sole_user(q) == long(i)) {
        const onnx::Node& n = nodes_[made->second];
        const bool first = scalar_constant(n.inputs[1]);
        const std::string c = first ? n.inputs[1] : n.inputs[0], x = first ? n.inputs[0] : n.inputs[1];
        if (scalar_constant(c) && computed(x)) {
          scale = c;
          q = x;
          scale_q = true;
          chain.push_back(made->second);
        }
      }
      auto adds = [&] {
        while (s >= 0 && is(size_t(s), "Add", 2)) {
          const std::string b = other(size_t(s), cur);
          if (b.empty()) break;
          bias.push_back(b);
          step(s);
        }
      };
      if (s >= 0 && reshape(size_t(s), cur)) {
        view = nodes_[size_t(s)].inputs[1];
        step(s);
        adds();
        if (s < 0 || !reshape(size_t(s), cur)) continue;
        back = nodes_[size_t(s)].inputs[1];
        step(s);
      } else {
        adds();
      }
      if (s < 0 || !is(size_t(s), "Softmax", 1) || !nodes_[size_t(s)].has("axis") ||
          nodes_[size_t(s)].attr_int("axis", 0) != -1)
        continue;
      step(s);
      if (s < 0 || !is(size_t(s), "MatMul", 2)) continue;
      onnx::Node& m2 = nodes_[size_t(s)];
      if (m2.inputs[0] != cur || m2.inputs[1] == cur || !m2.attrs.empty()) continue;
      const std::string v = m2.inputs[1];
      m2.op_type = "#ScoredAttention";
      m2.inputs = {q, m1.inputs[1], v, scale, view, back};
      for (const std::string& b : bias) m2.inputs.push_back(b);
      m2.attrs.clear();
      if (m1.has("bgn_trans_b")) m2.attrs["bgn_trans_b"] = m1.attrs.at("bgn_trans_b");
      onnx::Attribute one;
      one.type = onnx::Attribute::Int;
      one.i = 1;
      if (div) m2.attrs["bgn_scale_div"] = one;
      if (scale_q) m2.attrs["bgn_scale_q"] = one;
      for (size_t k : chain) remove(k);
    }
  }

 private:
  // A constant f32 scalar of any value.
  bool scalar_constant(const std::string& v) const {
    auto it = constants_.find(v);
    return !v.empty() && it != constants_.end() && it->second.dtype() == DType::F32 && it->second.numel() == 1;
  }
  static onnx::Attribute ints(std::vector<int64_t> v) {
    onnx::Attribute a;
    a.type = onnx::Attribute::Ints;
    a.ints = std::move(v);
    return a;
  }
  // Node i squeezes axis 0 only (axes as an attribute or a constant input).
  bool squeeze0(size_t i) const {
    const onnx::Node& n = nodes_[i];
    if (n.op_type != "Squeeze" || !(n.domain.empty() || n.domain == "ai.onnx") || n.outputs.size() != 1) return false;
    std::vector<int64_t> axes;
    if (n.inputs.size() == 2 && constants_.count(n.inputs[1]))
      axes = constants_.at(n.inputs[1]).as_i64();
    else if (n.inputs.size() == 1)
      axes = n.attr_ints("axes");
    return axes == std::vector<int64_t>{0};
  }
  // Node i is a ReduceMean over the last axis alone (axes [-1], an attribute or from opset 18 a
  // constant input) that keeps the reduced axis.
  bool mean_last(size_t i) const {
    const onnx::Node& n = nodes_[i];
    if (removed_[i] || n.op_type != "ReduceMean" || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.empty() ||
        n.outputs.size() != 1 || n.outputs[0].empty() || n.attr_int("keepdims", 1) != 1)
      return false;
    std::vector<int64_t> axes;
    if (n.inputs.size() >= 2 && !n.inputs[1].empty()) {
      auto c = constants_.find(n.inputs[1]);
      if (c == constants_.end()) return false;
      axes = c->second.as_i64();
    } else {
      axes = n.attr_ints("axes");
    }
    return axes == std::vector<int64_t>{-1};
  }
  // The value of a constant f32 scalar, NaN when `v` is not one.
  float f32_scalar(const std::string& v) const {
    auto it = constants_.find(v);
    if (it == constants_.end() || it->second.dtype() != DType::F32 || it->second.numel() != 1) return NAN;
    return it->second.data<float>()[0];
  }
  // `v` is a constant f32 vector (rank 1, not empty).
  bool f32_vector(const std::string& v) const {
    auto it = constants_.find(v);
    return it != constants_.end() && it->second.dtype() == DType::F32 && it->second.rank() == 1 &&
           it->second.numel() > 0;
  }
  // The live nodes reading `v` (an intermediate value), each listed once; none for a graph output.
  std::vector<size_t> users(const std::string& v) const {
    std::vector<size_t> r;
    if (outputs_.count(v)) return r;
    auto it = uses_.find(v);
    if (it == uses_.end()) return r;
    for (size_t i : it->second)
      if (!removed_[i] && std::find(r.begin(), r.end(), i) == r.end()) r.push_back(i);
    return r;
  }
  // Node i splits axis 0 into three parts of one each (sizes given as [1, 1, 1], or three equal parts).
  bool split_thirds(size_t i) const {
    const onnx::Node& n = nodes_[i];
    if (n.op_type != "Split" || !(n.domain.empty() || n.domain == "ai.onnx") || n.outputs.size() != 3 ||
        n.attr_int("axis", 0) != 0 || n.inputs.empty())
      return false;
    for (const auto& o : n.outputs)
      if (o.empty()) return false;
    std::vector<int64_t> sizes;
    if (n.inputs.size() >= 2 && !n.inputs[1].empty()) {
      if (!constants_.count(n.inputs[1])) return false;
      sizes = constants_.at(n.inputs[1]).as_i64();
    } else if (n.has("split")) {
      sizes = n.attr_ints("split");
    }
    return sizes.empty() || sizes == std::vector<int64_t>{1, 1, 1};
  }
  // Node i is a Reshape of `x` to a constant shape without allowzero.
  bool reshape(size_t i, const std::string& x) const {
    const onnx::Node& n = nodes_[i];
    return is(i, "Reshape", 2) && n.inputs[0] == x && constants_.count(n.inputs[1]) && n.attr_int("allowzero", 0) == 0;
  }

  std::vector<onnx::Node>& nodes_;
  std::vector<bool>& removed_;
  const std::map<std::string, Tensor>& constants_;
  const std::set<std::string>& outputs_;
  std::unordered_map<std::string, std::vector<size_t>> uses_;
  std::unordered_map<std::string, size_t> producer_;  // value -> the node writing it
};

}  // namespace

void fuse_transformer_patterns(std::vector<onnx::Node>& nodes, std::vector<bool>& removed,
                               const std::map<std::string, Tensor>& constants,
                               const std::set<std::string>& graph_outputs) {
  Matcher m(nodes, removed, constants, graph_outputs);
  m.layer_norm();
  m.gelu();
  m.transposed_b();
  m.scored_attention();
  m.linear_bias();
  // The nodes below are those the fusions above wrote: a fresh look at who reads what.
  Matcher(nodes, removed, constants, graph_outputs).attention_layouts();
  Matcher(nodes, removed, constants, graph_outputs).matmul_gelu();
  Matcher(nodes, removed, constants, graph_outputs).matmul_residual();
}

}  // namespace bgn::onnxrt
