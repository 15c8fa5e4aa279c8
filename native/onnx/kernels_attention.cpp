// ScoredAttention: the node fuse_transformer.h writes for MatMul(Q, K) → [Mul | Div by a scalar]
// → [Reshape → Add(bias)… → Reshape | Add(bias)…] → Softmax(last axis) → MatMul(·, V). Inputs:
// Q, K, V, the scale, the two Reshapes' shapes ("" where absent), then the bias terms; attribute
// bgn_trans_b as on MatMul, bgn_scale_div = 1 where the scale divides the scores, bgn_scale_q = 1
// where it multiplies Q.
//
// On the CPU, when the shapes are those of attention (the Reshapes only split the query and key
// axes, the bias terms and V broadcast into the scores without widening them), it runs
// cpu::scored_attention, which never holds more than a block of rows of the scores. Anything
// else, and every run on a Gpu, runs the original nodes' kernels one after another, so the
// fused node computes what the unfused graph did.
#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

#include "backend/cpu/scored_attention.h"
#include "backend/exec.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

enum : size_t { kQ = 0, kK, kV, kScale, kView, kBack, kFirstBias };

// One of the original nodes: its kernel and where each of its inputs comes from
// (>= 0: the fused node's input; -1: the previous step's output).
struct Step {
  std::unique_ptr<Kernel> kernel;
  std::vector<int> from;
};

// A Reshape's target shape for `in` (allowzero 0: 0 copies the input's dimension, -1 is inferred),
// or false when it does not apply.
bool reshape_to(const Shape& in, const std::vector<int64_t>& spec, Shape& out) {
  out.assign(spec.begin(), spec.end());
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < out.size(); ++d) {
    if (out[d] == 0) {
      if (d >= in.size()) return false;
      out[d] = in[d];
    }
    if (out[d] == -1) {
      if (infer >= 0) return false;
      infer = int64_t(d);
    } else if (out[d] < 0) {
      return false;
    } else {
      known *= out[d];
    }
  }
  const int64_t n = shape_numel(in);
  if (infer >= 0) {
    if (known == 0 || n % known) return false;
    out[size_t(infer)] = n / known;
  }
  return shape_numel(out) == n;
}

// The matrix index, in an operand whose leading axes are `own`, of each entry of `batch`; false
// when own does not fit in batch.
bool batch_index(const Shape& own, const Shape& batch, std::vector<int64_t>& index) {
  if (!broadcasts_into(own, batch)) return false;
  index = batch_matrix_index(own, batch);
  return true;
}

// An attention operand as the kernel reads it: `shape` (batch…, rows, cols) is the value the
// graph computed, each matrix entry_off[e] elements into `data` (row-major over the batch axes),
// rows ld apart, columns next to each other.
struct Operand {
  const float* data = nullptr;
  Shape shape;
  std::vector<int64_t> entry_off;
  int64_t ld = 0;
};

Operand dense(const Tensor& t) {
  Operand o;
  o.data = t.data<float>();
  o.shape = t.shape();
  const int64_t rows = t.dim(-2), cols = t.dim(-1);
  o.entry_off.resize(size_t(shape_numel(Shape(o.shape.begin(), o.shape.end() - 2))));
  for (size_t e = 0; e < o.entry_off.size(); ++e) o.entry_off[e] = int64_t(e) * rows * cols;
  o.ld = cols;
  return o;
}

// Element offsets, row-major over dims, of a view with these strides.
std::vector<int64_t> view_offsets(const Shape& dims, const std::vector<int64_t>& strides, int64_t base) {
  std::vector<int64_t> off = entry_offsets(dims, strides.data());
  for (int64_t& o : off) o += base;
  return off;
}

// Part p of X → Transpose(perm) → [Reshape(spec)] → Split(axis 0, three parts) → Squeeze(axis 0),
// read out of X where it lies; false when the shapes do not allow it (then it is computed).
bool qkv_operand(const Tensor& x, const std::vector<int64_t>& perm, const std::vector<int64_t>& spec, int64_t part,
                 Operand& o) {
  const size_t r = size_t(x.rank());
  if (perm.size() != r || r < 3) return false;
  const std::vector<int64_t> xs = row_strides(x.shape());
  Shape t(r);
  std::vector<int64_t> ts(r);
  std::vector<bool> seen(r, false);
  for (size_t d = 0; d < r; ++d) {
    if (perm[d] < 0 || size_t(perm[d]) >= r || seen[size_t(perm[d])]) return false;
    seen[size_t(perm[d])] = true;
    t[d] = x.dim(int(perm[d]));
    ts[d] = xs[size_t(perm[d])];
  }
  if (t[0] != 3 || ts[r - 1] != 1) return false;
  // The Squeezed part: T's axes after the first; a Reshape may regroup the batch axes only
  // (same first axis, same last two), which keeps their row-major order.
  Shape shape(t.begin() + 1, t.end());
  if (!spec.empty()) {
    Shape rs;
    if (!reshape_to(t, spec, rs) || rs.size() < 3 || rs[0] != t[0] || rs[rs.size() - 1] != t[r - 1] ||
        rs[rs.size() - 2] != t[r - 2])
      return false;
    shape.assign(rs.begin() + 1, rs.end());
  }
  o.data = x.data<float>();
  o.shape = shape;
  const Shape batch(t.begin() + 1, t.end() - 2);
  o.entry_off = view_offsets(batch, std::vector<int64_t>(ts.begin() + 1, ts.end() - 2), part * ts[0]);
  o.ld = ts[r - 2];
  return true;
}

// Where the entries of an output (batch…, rows, cols) land in Y = Transpose(perm) of
// [Reshape(spec) of] it, rows ld apart, columns next to each other; false when they do not
// land so (then the Transpose is computed).
bool out_layout(const Shape& natural, const std::vector<int64_t>& perm, const std::vector<int64_t>& spec,
                Shape& final_shape, std::vector<int64_t>& entry_off, int64_t& ld) {
  Shape s1 = natural;
  if (!spec.empty() && !reshape_to(natural, spec, s1)) return false;
  const size_t r = s1.size(), n = natural.size();
  if (perm.size() != r || n < 2) return false;
  final_shape.assign(r, 0);
  std::vector<bool> seen(r, false);
  for (size_t d = 0; d < r; ++d) {
    if (perm[d] < 0 || size_t(perm[d]) >= r || seen[size_t(perm[d])]) return false;
    seen[size_t(perm[d])] = true;
    final_shape[d] = s1[size_t(perm[d])];
  }
  const std::vector<int64_t> ys = row_strides(final_shape);
  std::vector<int64_t> st(r);  // stride in Y of each axis of s1
  for (size_t d = 0; d < r; ++d) st[size_t(perm[d])] = ys[d];
  const int64_t rows = natural[n - 2], cols = natural[n - 1];
  if (s1[r - 1] != cols || (cols > 1 && st[r - 1] != 1)) return false;
  // s1's axes before the last: the batch axes, then those whose product is the rows.
  size_t j = r - 1;
  int64_t prod = 1;
  while (j > 0 && prod < rows) prod *= s1[--j];
  if (prod != rows) return false;
  // The rows must step evenly: from the innermost row axis outwards, each one block further.
  int64_t step = 0, span = 1;
  for (size_t a = r - 1; a-- > j;) {
    if (s1[a] == 1) continue;
    if (step == 0) {
      step = st[a];
    } else if (st[a] != step * span) {
      return false;
    }
    span *= s1[a];
  }
  ld = step == 0 ? cols : step;
  const Shape batch(s1.begin(), s1.begin() + long(j));
  if (shape_numel(batch) != shape_numel(Shape(natural.begin(), natural.end() - 2))) return false;
  entry_off = view_offsets(batch, std::vector<int64_t>(st.begin(), st.begin() + long(j)), 0);
  return true;
}

class ScoredAttentionKernel : public Kernel {
 public:
  explicit ScoredAttentionKernel(const NodeInfo& info) {
    const onnx::Node& n = info.node;
    if (n.inputs.size() < kFirstBias || !info.has_input(kQ) || !info.has_input(kK) || !info.has_input(kV))
      info.bad("needs Q, K, V, scale, two shapes and the bias terms");
    if (info.has_input(kView) != info.has_input(kBack)) info.bad("needs both Reshape shapes or neither");
    tb_rank_ = n.attr_int("bgn_trans_b", 0);
    div_ = n.attr_int("bgn_scale_div", 0) == 1;
    scale_q_ = n.attr_int("bgn_scale_q", 0) == 1;
    if (scale_q_ && (div_ || !info.has_input(kScale))) info.bad("bgn_scale_q needs a Mul scale");
    biases_ = n.inputs.size() - kFirstBias;
    qkv_ = n.has("bgn_qkv_perm");
    if (qkv_) {
      qkv_perm_ = n.attr_ints("bgn_qkv_perm");
      qkv_shape_ = n.attr_ints("bgn_qkv_shape");
      qkv_parts_ = n.attr_ints("bgn_qkv_parts");
      std::vector<int64_t> sorted = qkv_parts_;
      std::sort(sorted.begin(), sorted.end());
      if (sorted != std::vector<int64_t>{0, 1, 2}) info.bad("bgn_qkv_parts must name parts 0, 1 and 2");
    }
    out_perm_ = n.attr_ints("bgn_out_perm");
    out_shape_ = n.attr_ints("bgn_out_shape");
    // The original nodes, rebuilt for the general path.
    const auto& reg = kernel_registry();
    auto add = [&](const char* op, std::vector<int> from, std::map<std::string, onnx::Attribute> attrs = {}) {
      onnx::Node sub;
      sub.name = n.name + "/" + op;
      sub.op_type = op;
      sub.attrs = std::move(attrs);
      std::vector<const Tensor*> consts;
      for (int f : from) {
        sub.inputs.push_back(f < 0 ? "#previous" : n.inputs[size_t(f)]);
        consts.push_back(f < 0 ? nullptr : info.constants[size_t(f)]);
      }
      sub.outputs = {sub.name};
      NodeInfo si{sub, info.opset, consts, info.origin};
      steps_.push_back({reg.at(op)(si), std::move(from)});
    };
    std::map<std::string, onnx::Attribute> mm;
    if (tb_rank_ > 0) {
      onnx::Attribute a;
      a.type = onnx::Attribute::Int;
      a.i = tb_rank_;
      mm["bgn_trans_b"] = a;
    }
    if (scale_q_) {
      add("Mul", {int(kQ), int(kScale)});
      add("MatMul", {-1, int(kK)}, mm);
    } else {
      add("MatMul", {int(kQ), int(kK)}, mm);
      if (info.has_input(kScale)) add(div_ ? "Div" : "Mul", {-1, int(kScale)});
    }
    if (info.has_input(kView)) add("Reshape", {-1, int(kView)});
    for (size_t b = 0; b < biases_; ++b) add("Add", {-1, int(kFirstBias + b)});
    if (info.has_input(kBack)) add("Reshape", {-1, int(kBack)});
    onnx::Attribute axis;
    axis.type = onnx::Attribute::Int;
    axis.i = -1;
    add("Softmax", {-1}, {{"axis", axis}});
    add("MatMul", {-1, int(kV)});
  }

  Place place(size_t i) const override {
    // Q, K and V read out of one projection: taken on the host, where the strides are read.
    if (qkv_ && i <= kV) return Place::Host;
    return i == kQ || i == kK || i == kV || i >= kFirstBias ? Place::Device : Place::Host;
  }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    Inputs args = in;
    std::array<Tensor, 3> made;
    std::array<Operand, 3> ops;
    bool have_ops = false;
    if (qkv_) {
      // Q, K and V by strides out of the projection, or computed as the fused nodes would.
      const Tensor& x = *in[kQ];
      have_ops = !x.on_device() && x.dtype() == DType::F32;
      for (size_t p = 0; p < 3 && have_ops; ++p)
        have_ops = qkv_operand(x, qkv_perm_, qkv_shape_, qkv_parts_[p], ops[p]);
      if (!have_ops) {
        for (size_t p = 0; p < 3; ++p) {
          made[p] = qkv_part(x, qkv_parts_[p]);
          args[p] = &made[p];
        }
      }
    }
    if (!have_ops) {
      have_ops = true;
      for (size_t p = 0; p < 3; ++p) {
        const Tensor& t = *args[p];
        if (t.on_device() || t.dtype() != DType::F32 || t.rank() < 2) {
          have_ops = false;
          break;
        }
        ops[p] = dense(t);
      }
    }
    cpu::ScoredAttentionShape s;
    Shape natural;
    if (have_ops && plan(args, ops, s, natural)) {
      s.bf16 = ctx.bf16;
      Shape shape = natural;
      if (!out_perm_.empty() && !out_layout(natural, out_perm_, out_shape_, shape, s.o_off, s.ldo))
        return {out_transposed(ctx, compute(ctx, ops, s, natural))};
      Tensor y = Tensor::empty(DType::F32, shape);
      cpu::scored_attention(ctx.pool, ops[0].data, ops[1].data, ops[2].data, y.data<float>(), s);
      if (ctx.detail) {
        const double flops = 2.0 * double(s.batch) * double(s.Nq) * double(s.Nk) * double(s.D + s.Dv);
        ctx.detail->emplace_back("ScoredAttention " + std::to_string(s.batch) + "x [" + std::to_string(s.Nq) + "x" +
                                     std::to_string(s.Nk) + "] D " + std::to_string(s.D) + " Dv " +
                                     std::to_string(s.Dv) + " bias " + std::to_string(s.bias.size()) +
                                     (qkv_ ? " qkv" : "") + (out_perm_.empty() ? "" : " out") +
                                     (s.bf16 ? " (bf16)" : ""),
                                 flops);
      }
      return {y};
    }
    if (qkv_ && args[kQ] == in[kQ]) {  // the original nodes read the parts themselves
      for (size_t p = 0; p < 3; ++p) {
        made[p] = qkv_part(*in[kQ], qkv_parts_[p]);
        args[p] = &made[p];
      }
    }
    Tensor o = run_steps(ctx, args).at(0);
    if (out_perm_.empty()) return {o};
    return {out_transposed(ctx, ctx.gpu && o.on_device() ? to_host(*ctx.gpu, o) : o)};
  }

 private:
  // The output in its natural layout (batch…, Nq, Dv).
  Tensor compute(RunContext& ctx, const std::array<Operand, 3>& ops, cpu::ScoredAttentionShape s,
                 const Shape& natural) const {
    Tensor y = Tensor::empty(DType::F32, natural);
    s.o_off.resize(size_t(s.batch));
    for (int64_t e = 0; e < s.batch; ++e) s.o_off[size_t(e)] = e * s.Nq * s.Dv;
    s.ldo = s.Dv;
    cpu::scored_attention(ctx.pool, ops[0].data, ops[1].data, ops[2].data, y.data<float>(), s);
    return y;
  }

  // The fused [Reshape →] Transpose after the output, computed (host).
  Tensor out_transposed(RunContext&, const Tensor& o) const {
    Tensor t = o;
    if (!out_shape_.empty()) {
      Shape to;
      if (!reshape_to(o.shape(), out_shape_, to))
        fail(Code::BadInput, "Reshape: cannot reshape ", shape_str(o.shape()), " as the graph asks");
      t = o.reshaped(to);
    }
    return permute(t, out_perm_, "Transpose");
  }

  // Part p of the projection X → Transpose → [Reshape] → Split(axis 0) → Squeeze, computed (host).
  Tensor qkv_part(const Tensor& x, int64_t p) const {
    Tensor t = permute(x, qkv_perm_, "Transpose");
    if (!qkv_shape_.empty()) {
      Shape to;
      if (!reshape_to(t.shape(), qkv_shape_, to))
        fail(Code::BadInput, "Reshape: cannot reshape ", shape_str(t.shape()), " as the graph asks");
      t = t.reshaped(to);
    }
    if (t.rank() < 1 || t.dim(0) % 3 != 0)
      fail(Code::BadInput, "Split: axis 0 of ", shape_str(t.shape()), " is not three equal parts");
    Shape part = t.shape();
    part[0] /= 3;
    if (part[0] != 1) fail(Code::BadInput, "Squeeze: axis 0 of ", shape_str(part), " is not 1");
    const int64_t n = shape_numel(part);
    part.erase(part.begin());
    return t.part(p * n, part);
  }

  // The fast path's parameters, or false where the general path has to run.
  bool plan(const Inputs& in, const std::array<Operand, 3>& ops, cpu::ScoredAttentionShape& s, Shape& out) const {
    for (size_t i = kScale; i < in.size(); ++i) {
      if (i == kView || i == kBack || !in[i]) continue;
      if (in[i]->on_device() || in[i]->dtype() != DType::F32) return false;
    }
    const Shape &q = ops[0].shape, &k = ops[1].shape, &v = ops[2].shape;
    const bool tb = tb_rank_ > 0;
    if (q.size() < 2 || k.size() < 2 || v.size() < 2 || (tb && int64_t(k.size()) != tb_rank_)) return false;
    s.Nq = q[q.size() - 2];
    s.D = q.back();
    s.Nk = tb ? k[k.size() - 2] : k.back();
    s.Dv = v.back();
    s.k_rows = tb;
    if ((tb ? k.back() : k[k.size() - 2]) != s.D || v[v.size() - 2] != s.Nk) return false;
    const Shape qb(q.begin(), q.end() - 2), kb(k.begin(), k.end() - 2), vb(v.begin(), v.end() - 2);
    // The scores' batch axes: Q's and K's broadcast; V must fit in them.
    const size_t r = std::max(qb.size(), kb.size());
    Shape batch(r, 1);
    for (size_t d = 0; d < r; ++d) {
      const int64_t a = d + qb.size() < r ? 1 : qb[d + qb.size() - r];
      const int64_t b = d + kb.size() < r ? 1 : kb[d + kb.size() - r];
      if (a != b && a != 1 && b != 1) return false;
      batch[d] = a == 1 ? b : a;
    }
    std::vector<int64_t> qi, ki, vi;
    if (!batch_index(qb, batch, qi) || !batch_index(kb, batch, ki) || !batch_index(vb, batch, vi)) return false;
    s.batch = shape_numel(batch);
    auto offsets = [&](const std::vector<int64_t>& index, const Operand& o) {
      std::vector<int64_t> off(index.size());
      for (size_t e = 0; e < index.size(); ++e) off[e] = o.entry_off[size_t(index[e])];
      return off;
    };
    s.q_off = offsets(qi, ops[0]);
    s.k_off = offsets(ki, ops[1]);
    s.v_off = offsets(vi, ops[2]);
    s.ldq = ops[0].ld;
    s.ldk = ops[1].ld;
    s.ldv = ops[2].ld;
    s.o_off.resize(size_t(s.batch));
    for (int64_t e = 0; e < s.batch; ++e) s.o_off[size_t(e)] = e * s.Nq * s.Dv;
    s.ldo = s.Dv;
    if (in[kScale]) {
      // The scale must not widen what it multiplies (the scores, or Q).
      if (in[kScale]->numel() != 1 || size_t(in[kScale]->rank()) > (scale_q_ ? q.size() : r + 2)) return false;
      const float c = in[kScale]->data<float>()[0];
      s.scale = div_ ? 1.f / c : c;
      if (div_ && !(std::isfinite(s.scale) && s.scale != 0.f)) return false;
    }
    Shape scores = batch;
    scores.push_back(s.Nq);
    scores.push_back(s.Nk);
    // The view the bias terms are added in: the scores' query and key axes split in two.
    Shape view = scores;
    s.q_cols = s.Nq;
    s.k_cols = s.Nk;
    if (in[kView]) {
      Shape back;
      if (!reshape_to(scores, in[kView]->as_i64(), view) || !reshape_to(view, in[kBack]->as_i64(), back) ||
          back != scores || view.size() != scores.size() + 2 || !std::equal(batch.begin(), batch.end(), view.begin()))
        return false;
      const size_t n = view.size();
      if (view[n - 4] * view[n - 3] != s.Nq || view[n - 2] * view[n - 1] != s.Nk) return false;
      s.q_cols = view[n - 3];
      s.k_cols = view[n - 1];
      if (s.q_cols == 0 || s.k_cols == 0) return false;
    }
    const bool split = in[kView] != nullptr;
    for (size_t b = 0; b < biases_; ++b) {
      const Tensor& t = *in[kFirstBias + b];
      if (!broadcasts_into(t.shape(), view)) return false;
      const std::vector<int64_t> st = broadcast_strides(t.shape(), view);
      cpu::ScoreBias term;
      term.data = t.data<float>();
      const size_t n = view.size();
      if (split) {
        term.s_qr = st[n - 4];
        term.s_qc = st[n - 3];
        term.s_kr = st[n - 2];
        term.s_kc = st[n - 1];
      } else {
        term.s_qc = st[n - 2];
        term.s_kc = st[n - 1];
      }
      term.batch_off = entry_offsets(batch, st.data());  // view starts with the batch axes
      s.bias.push_back(std::move(term));
    }
    out = batch;
    out.push_back(s.Nq);
    out.push_back(s.Dv);
    return true;
  }

  // The original nodes one after another, each input moved to where its kernel reads it.
  std::vector<Tensor> run_steps(RunContext& ctx, const Inputs& in) const {
    const uint64_t donatable = ctx.donatable;
    ctx.donatable = 0;
    Tensor prev;
    for (const Step& st : steps_) {
      std::vector<Tensor> moved(st.from.size());
      Inputs args;
      for (size_t i = 0; i < st.from.size(); ++i) {
        const Tensor* t = st.from[i] < 0 ? &prev : in[size_t(st.from[i])];
        if (t && ctx.gpu) {
          const Place where = st.kernel->place(i);
          const bool want_device = where == Place::Device && t->dtype() == DType::F32;
          if (where != Place::Any && want_device != t->on_device()) {
            moved[i] = want_device ? to_device(*ctx.gpu, *t) : to_host(*ctx.gpu, *t);
            t = &moved[i];
          }
        }
        args.push_back(t);
      }
      std::vector<Tensor> outs = st.kernel->run(ctx, args);
      prev = std::move(outs.at(0));
    }
    ctx.donatable = donatable;
    return {prev};
  }

  std::vector<Step> steps_;
  // The fused layouts (fuse_transformer.h): Q, K, V as parts of one projection, the output's Transpose.
  bool qkv_ = false;
  std::vector<int64_t> qkv_perm_, qkv_shape_, qkv_parts_, out_perm_, out_shape_;
  int64_t tb_rank_ = 0;
  bool div_ = false, scale_q_ = false;
  size_t biases_ = 0;
};

}  // namespace

void register_attention_kernels(std::map<std::string, KernelFactory>& r) {
  r["#ScoredAttention"] = [](const NodeInfo& i) { return std::make_unique<ScoredAttentionKernel>(i); };
}

}  // namespace bgn::onnxrt
