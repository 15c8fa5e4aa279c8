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
    return i == kQ || i == kK || i == kV || i >= kFirstBias ? Place::Device : Place::Host;
  }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    cpu::ScoredAttentionShape s;
    Shape out;
    if (plan(in, s, out)) {
      Tensor y = Tensor::empty(DType::F32, out);
      cpu::scored_attention(ctx.pool, in[kQ]->data<float>(), in[kK]->data<float>(), in[kV]->data<float>(),
                            y.data<float>(), s);
      if (ctx.detail) {
        const double flops = 2.0 * double(s.batch) * double(s.Nq) * double(s.Nk) * double(s.D + s.Dv);
        ctx.detail->emplace_back("ScoredAttention " + std::to_string(s.batch) + "x [" + std::to_string(s.Nq) + "x" +
                                     std::to_string(s.Nk) + "] D " + std::to_string(s.D) + " Dv " +
                                     std::to_string(s.Dv) + " bias " + std::to_string(s.bias.size()),
                                 flops);
      }
      return {y};
    }
    return run_steps(ctx, in);
  }

 private:
  // The fast path's parameters, or false where the general path has to run.
  bool plan(const Inputs& in, cpu::ScoredAttentionShape& s, Shape& out) const {
    for (size_t i = 0; i < in.size(); ++i) {
      if (i == kView || i == kBack || !in[i]) continue;
      if (in[i]->on_device() || in[i]->dtype() != DType::F32) return false;
    }
    const Tensor &q = *in[kQ], &k = *in[kK], &v = *in[kV];
    const bool tb = tb_rank_ > 0;
    if (q.rank() < 2 || k.rank() < 2 || v.rank() < 2 || (tb && k.rank() != tb_rank_)) return false;
    s.Nq = q.dim(-2);
    s.D = q.dim(-1);
    s.Nk = tb ? k.dim(-2) : k.dim(-1);
    s.Dv = v.dim(-1);
    s.k_rows = tb;
    if ((tb ? k.dim(-1) : k.dim(-2)) != s.D || v.dim(-2) != s.Nk) return false;
    const Shape qb(q.shape().begin(), q.shape().end() - 2), kb(k.shape().begin(), k.shape().end() - 2),
        vb(v.shape().begin(), v.shape().end() - 2);
    // The scores' batch axes: Q's and K's broadcast; V must fit in them.
    const size_t r = std::max(qb.size(), kb.size());
    Shape batch(r, 1);
    for (size_t d = 0; d < r; ++d) {
      const int64_t a = d + qb.size() < r ? 1 : qb[d + qb.size() - r];
      const int64_t b = d + kb.size() < r ? 1 : kb[d + kb.size() - r];
      if (a != b && a != 1 && b != 1) return false;
      batch[d] = a == 1 ? b : a;
    }
    if (!batch_index(qb, batch, s.q_index) || !batch_index(kb, batch, s.k_index) || !batch_index(vb, batch, s.v_index))
      return false;
    s.batch = shape_numel(batch);
    if (in[kScale]) {
      // The scale must not widen what it multiplies (the scores, or Q).
      if (in[kScale]->numel() != 1 || size_t(in[kScale]->rank()) > (scale_q_ ? size_t(q.rank()) : r + 2)) return false;
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
  int64_t tb_rank_ = 0;
  bool div_ = false, scale_q_ = false;
  size_t biases_ = 0;
};

}  // namespace

void register_attention_kernels(std::map<std::string, KernelFactory>& r) {
  r["#ScoredAttention"] = [](const NodeInfo& i) { return std::make_unique<ScoredAttentionKernel>(i); };
}

}  // namespace bgn::onnxrt
