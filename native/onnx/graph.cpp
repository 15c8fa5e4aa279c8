#include "onnx/graph.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_map>

#include "onnx/fuse_transformer.h"
#include "backend/exec.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn::onnxrt {

namespace {

bool is_float(DType t) { return t == DType::F16 || t == DType::BF16 || t == DType::F64 || t == DType::F32; }

// Runtime representation of a constant: floats widened to f32.
Tensor runtime_constant(const Tensor& t) {
  if (is_float(t.dtype()) && t.dtype() != DType::F32) return t.to(DType::F32);
  return t;
}

// Kahn's algorithm over value names; fails on values nothing defines and on cycles.
std::vector<onnx::Node> topo_sort(std::vector<onnx::Node> nodes, const std::set<std::string>& available,
                                  const std::string& origin) {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i].outputs)
      if (!o.empty()) {
        if (producer.count(o) || available.count(o))
          fail(Code::ModelFormat, origin, ": value '", o, "' is defined more than once");
        producer[o] = i;
      }
  std::vector<int> missing(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        fail(Code::ModelFormat, origin, ": node '", nodes[i].name, "' (", nodes[i].op_type, ") reads '", in,
             "', which no node, input or initializer defines");
      ++missing[i];
      users[it->second].push_back(i);
    }
  }
  std::vector<size_t> ready, order;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (missing[i] == 0) ready.push_back(i);
  // Keep the file's order where it is valid: always take the lowest ready index.
  std::sort(ready.rbegin(), ready.rend());
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    order.push_back(i);
    bool added = false;
    for (size_t u : users[i])
      if (--missing[u] == 0) {
        ready.push_back(u);
        added = true;
      }
    if (added) std::sort(ready.rbegin(), ready.rend());
  }
  if (order.size() != nodes.size()) fail(Code::ModelFormat, origin, ": the graph has a cycle");
  std::vector<onnx::Node> sorted;
  sorted.reserve(nodes.size());
  for (size_t i : order) sorted.push_back(std::move(nodes[i]));
  return sorted;
}

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

std::shared_ptr<const Graph> Graph::load(const std::string& path) { return prepare(onnx::load_model(path), path); }

std::shared_ptr<const Graph> Graph::prepare(onnx::Model model, const std::string& origin) {
  auto g = std::shared_ptr<Graph>(new Graph());
  g->origin_ = origin;
  const auto& registry = kernel_registry();

  // 1. Every op must be one we run.
  std::set<std::string> unsupported;
  for (const auto& n : model.nodes) {
    bool std_domain = n.domain.empty() || n.domain == "ai.onnx";
    if (!std_domain || !registry.count(n.op_type))
      unsupported.insert(std_domain ? n.op_type : n.domain + "." + n.op_type);
  }
  if (!unsupported.empty())
    fail(Code::ModelUnsupported, origin, " uses operators bg-native cannot run: ", join(unsupported));
  if (!model.opsets.count("")) fail(Code::ModelUnsupported, origin, " imports no standard ONNX operator set");
  int64_t opset = model.opsets.at("");
  if (opset <= 0) fail(Code::ModelFormat, origin, " declares ONNX opset ", opset);
  if (opset > 23) fail(Code::ModelUnsupported, origin, " needs ONNX opset ", opset, "; bg-native supports up to 23");

  // 2. Known values: initializers (constants) and real graph inputs.
  std::map<std::string, Tensor> constants;
  for (auto& [name, t] : model.initializers) constants[name] = runtime_constant(t);
  std::set<std::string> available;
  for (const auto& kv : constants) available.insert(kv.first);
  for (const auto& in : model.inputs) {
    if (constants.count(in.name)) continue;  // old exporters list initializers as inputs
    g->inputs_.push_back(in);
    available.insert(in.name);
  }
  if (g->inputs_.empty()) fail(Code::ModelFormat, origin, " has no inputs that are not initializers");
  g->static_inputs_ = true;
  for (const auto& in : g->inputs_) {
    g->static_inputs_ = g->static_inputs_ && !in.dims.empty();
    for (int64_t d : in.dims) g->static_inputs_ = g->static_inputs_ && d > 0;
  }
  g->outputs_ = model.outputs;

  std::vector<onnx::Node> nodes = topo_sort(std::move(model.nodes), available, origin);
  model.initializers.clear();
  for (const auto& o : g->outputs_) {
    bool defined = available.count(o.name) != 0;
    for (const auto& n : nodes)
      for (const auto& x : n.outputs) defined = defined || x == o.name;
    if (!defined) fail(Code::ModelFormat, origin, ": graph output '", o.name, "' is never computed");
  }

  // 3. Fold every node whose inputs are all constants (weight casts, dequantisation, shape math).
  ThreadPool serial(1);
  RunContext fold_ctx(Exec{serial});
  std::vector<onnx::Node> remaining;
  for (auto& n : nodes) {
    bool all_const = true;
    std::vector<const Tensor*> cin;
    for (const auto& in : n.inputs) {
      if (in.empty()) {
        cin.push_back(nullptr);
        continue;
      }
      auto it = constants.find(in);
      if (it == constants.end()) {
        all_const = false;
        cin.push_back(nullptr);
      } else
        cin.push_back(&it->second);
    }
    if (!all_const) {
      remaining.push_back(std::move(n));
      continue;
    }
    NodeInfo info{n, opset, cin, origin};
    auto kernel = registry.at(n.op_type)(info);
    Inputs args(cin.begin(), cin.end());
    std::vector<Tensor> outs;
    try {
      outs = kernel->run(fold_ctx, args);
    } catch (const Error& e) {
      // Every operand is in the file: a value the op refuses is the model's own inconsistency.
      if (e.code() != Code::BadInput) throw;
      fail(Code::ModelFormat, origin, ": node '", n.name, "' (", n.op_type,
           ") cannot run on its constant inputs: ", e.what());
    }
    for (size_t i = 0; i < n.outputs.size() && i < outs.size(); ++i)
      if (!n.outputs[i].empty()) constants[n.outputs[i]] = std::move(outs[i]);
  }
  nodes = std::move(remaining);

  // 4. Fusions: Conv -> BatchNormalization, Conv -> Relu/Sigmoid; the transformer patterns.
  std::set<std::string> graph_outputs;
  for (const auto& o : g->outputs_) graph_outputs.insert(o.name);
  auto consumers = [&](const std::string& v) {
    std::vector<size_t> c;
    for (size_t i = 0; i < nodes.size(); ++i)
      for (const auto& in : nodes[i].inputs)
        if (in == v) {
          c.push_back(i);
          break;
        }
    return c;
  };
  std::vector<bool> removed(nodes.size(), false);
  // Concat along channels read only by a Conv: the Conv reads the parts directly.
  for (size_t i = 0; i < nodes.size(); ++i) {
    onnx::Node& cat = nodes[i];
    if (cat.op_type != "Concat" || cat.attr_int("axis", 0) != 1 || cat.outputs.size() != 1 || cat.inputs.size() < 2 ||
        graph_outputs.count(cat.outputs[0]))
      continue;
    bool parts_computed = true;
    for (const auto& in : cat.inputs) parts_computed = parts_computed && !in.empty() && !constants.count(in);
    auto users = consumers(cat.outputs[0]);
    if (!parts_computed || users.size() != 1) continue;
    onnx::Node& conv = nodes[users[0]];
    if (conv.op_type != "Conv" || conv.inputs.empty() || conv.inputs[0] != cat.outputs[0] ||
        conv.has("bgn_concat_parts"))
      continue;
    bool reads_once = true;
    for (size_t k = 1; k < conv.inputs.size(); ++k) reads_once = reads_once && conv.inputs[k] != cat.outputs[0];
    if (!reads_once) continue;
    std::vector<std::string> ins = cat.inputs;
    ins.insert(ins.end(), conv.inputs.begin() + 1, conv.inputs.end());
    conv.inputs = ins;
    onnx::Attribute a;
    a.type = onnx::Attribute::Int;
    a.i = int64_t(cat.inputs.size());
    conv.attrs["bgn_concat_parts"] = a;
    removed[i] = true;
    cat.op_type = "#removed";
    cat.inputs.clear();
    cat.outputs.clear();
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    onnx::Node& conv = nodes[i];
    if (conv.op_type != "Conv" || removed[i] || conv.outputs.size() != 1) continue;
    for (;;) {
      const std::string out = conv.outputs[0];
      if (graph_outputs.count(out)) break;
      auto users = consumers(out);
      if (users.size() != 1) break;
      onnx::Node& next = nodes[users[0]];
      const size_t wi = size_t(conv.attr_int("bgn_concat_parts", 1));
      if (next.op_type == "BatchNormalization" && next.outputs.size() == 1 && next.inputs.size() >= 5 &&
          !conv.has("bgn_activation") && conv.inputs.size() > wi && constants.count(conv.inputs[wi])) {
        bool params_const = true;
        for (int k = 1; k <= 4; ++k) params_const = params_const && constants.count(next.inputs[k]);
        if (!params_const) break;
        const Tensor& w = constants.at(conv.inputs[wi]);
        const Tensor& scale = constants.at(next.inputs[1]);
        const Tensor& bias = constants.at(next.inputs[2]);
        const Tensor& mean = constants.at(next.inputs[3]);
        const Tensor& var = constants.at(next.inputs[4]);
        int64_t O = w.rank() > 0 ? w.dim(0) : 0;
        if (w.dtype() != DType::F32 || scale.numel() != O || bias.numel() != O || mean.numel() != O || var.numel() != O)
          break;
        float eps = next.attr_float("epsilon", 1e-5f);
        Tensor nw = w.clone();
        Tensor nb = Tensor::zeros(DType::F32, {O});
        bool has_bias = conv.inputs.size() > wi + 1 && !conv.inputs[wi + 1].empty();
        if (has_bias) {
          auto it = constants.find(conv.inputs[wi + 1]);
          if (it == constants.end() || it->second.numel() != O) break;
          nb = it->second.clone();
        }
        int64_t per = w.numel() / std::max<int64_t>(O, 1);
        for (int64_t o = 0; o < O; ++o) {
          float k = scale.data<float>()[o] / std::sqrt(var.data<float>()[o] + eps);
          for (int64_t j = 0; j < per; ++j) nw.data<float>()[o * per + j] *= k;
          nb.data<float>()[o] = (nb.data<float>()[o] - mean.data<float>()[o]) * k + bias.data<float>()[o];
        }
        std::string wname = conv.inputs[wi] + "#bnfolded", bname = conv.inputs[wi] + "#bnbias";
        constants[wname] = nw;
        constants[bname] = nb;
        conv.inputs.resize(wi + 2);
        conv.inputs[wi] = wname;
        conv.inputs[wi + 1] = bname;
        conv.outputs[0] = next.outputs[0];
        removed[users[0]] = true;
        next.op_type = "#removed";
        next.inputs.clear();
        continue;
      }
      if ((next.op_type == "Relu" || next.op_type == "Sigmoid") && next.outputs.size() == 1 &&
          !conv.has("bgn_activation")) {
        onnx::Attribute a;
        a.type = onnx::Attribute::String;
        a.s = next.op_type;
        conv.attrs["bgn_activation"] = a;
        conv.outputs[0] = next.outputs[0];
        removed[users[0]] = true;
        next.op_type = "#removed";
        next.inputs.clear();
        continue;
      }
      break;
    }
  }

  fuse_transformer_patterns(nodes, removed, constants, graph_outputs);

  // 5. Slots and kernels.
  std::unordered_map<std::string, int> slot;
  auto slot_of = [&](const std::string& name) {
    auto it = slot.find(name);
    if (it != slot.end()) return it->second;
    int s = g->slots_++;
    slot[name] = s;
    return s;
  };
  for (const auto& in : g->inputs_) g->input_slots_.push_back(slot_of(in.name));
  for (const auto& [name, t] : constants) (void)slot_of(name);
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (removed[i]) continue;
    for (const auto& in : nodes[i].inputs)
      if (!in.empty()) (void)slot_of(in);
    for (const auto& out : nodes[i].outputs)
      if (!out.empty()) (void)slot_of(out);
  }
  for (const auto& o : g->outputs_) g->output_slots_.push_back(slot_of(o.name));
  g->constants_.assign(g->slots_, Tensor());
  g->is_constant_.assign(g->slots_, false);
  for (auto& [name, t] : constants) {
    int s = slot.at(name);
    g->constants_[s] = t;
    g->is_constant_[s] = true;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (removed[i]) continue;
    const onnx::Node& n = nodes[i];
    Step st;
    st.op = n.op_type;
    st.name = n.name;
    std::vector<const Tensor*> cin;
    for (const auto& in : n.inputs) {
      int s = in.empty() ? -1 : slot.at(in);
      st.in.push_back(s);
      cin.push_back(s >= 0 && g->is_constant_[s] ? &g->constants_[s] : nullptr);
    }
    for (const auto& out : n.outputs) st.out.push_back(out.empty() ? -1 : slot.at(out));
    NodeInfo info{n, opset, cin, origin};
    st.kernel = registry.at(n.op_type)(info);
    g->steps_.push_back(std::move(st));
  }
  return g;
}

std::vector<Tensor> Graph::run(const Exec& exec, const std::vector<Tensor>& inputs, const std::vector<int>& which,
                               const std::atomic<bool>* cancel, RunStats* stats, bool bf16) const {
  Gpu* const gpu = exec.gpu;
  if (inputs.size() != inputs_.size())
    fail(Code::BadInput, "the model takes ", inputs_.size(), " input(s), got ", inputs.size());
  std::vector<Tensor> values(slots_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& info = inputs_[i];
    const Tensor& t = inputs[i];
    if (!info.dims.empty()) {
      bool ok = static_cast<size_t>(t.rank()) == info.dims.size();
      for (size_t d = 0; ok && d < info.dims.size(); ++d) ok = info.dims[d] < 0 || info.dims[d] == t.dim(int(d));
      if (!ok) {
        std::string want = "[";
        for (size_t d = 0; d < info.dims.size(); ++d)
          want += (d ? "," : "") + (info.dims[d] < 0 ? std::string("?") : std::to_string(info.dims[d]));
        fail(Code::BadInput, "input '", info.name, "' must have shape ", want, "], got ", shape_str(t.shape()));
      }
    }
    values[input_slots_[i]] = t;
  }
  // Only the steps the requested outputs depend on run; each value is freed after its last
  // reader among them.
  std::vector<char> needed(steps_.size(), 0), wanted(slots_, 0);
  for (int w : which)
    if (w >= 0 && static_cast<size_t>(w) < output_slots_.size()) wanted[output_slots_[w]] = 1;
  for (size_t i = steps_.size(); i-- > 0;) {
    bool any = false;
    for (int s : steps_[i].out) any = any || (s >= 0 && wanted[s]);
    if (!any) continue;
    needed[i] = 1;
    for (int s : steps_[i].in)
      if (s >= 0) wanted[s] = 1;
  }
  std::vector<int> last_use(slots_, -1);
  for (size_t i = 0; i < steps_.size(); ++i)
    if (needed[i])
      for (int s : steps_[i].in)
        if (s >= 0) last_use[s] = static_cast<int>(i);
  for (int w : which)
    if (w >= 0 && static_cast<size_t>(w) < output_slots_.size())
      last_use[output_slots_[w]] = static_cast<int>(steps_.size());

  RunContext ctx(exec);
  ctx.bf16 = !gpu && bf16;
  // One pass at a time per device: the ops share its stream and scratch memory.
  std::unique_lock<std::recursive_mutex> device_lock;
  if (gpu) device_lock = gpu->lock();
  RunStats local_stats;
  RunStats& st_out = stats ? *stats : local_stats;
  st_out = RunStats();
  // On a Gpu a value may also have a copy on the other side (host <-> device), made when the
  // first reader there needs it and freed with the value: every value, graph input and constant
  // crosses at most once per run. Values are written once, so a copy never goes stale.
  std::vector<Tensor> mirror(gpu ? slots_ : 0);
  std::vector<char> mirrored(gpu ? slots_ : 0, 0);
  auto other_side = [&](int s, const Tensor& v) -> const Tensor& {
    if (!mirrored[s]) {
      if (v.on_device()) {
        mirror[s] = to_host(*gpu, v);
        st_out.downloads++;
        st_out.download_bytes += v.nbytes();
      } else {
        mirror[s] = to_device(*gpu, v);
        st_out.uploads++;
        st_out.upload_bytes += v.nbytes();
      }
      mirrored[s] = 1;
    }
    return mirror[s];
  };
  // BGN_PROFILE=1 prints the time spent per op type to stderr after each run.
  static const int profile_level = knobs::profile();
  static const bool profile = profile_level > 0, detailed = profile_level == 2;
  std::map<std::string, std::pair<double, int>> prof;
  std::vector<std::pair<std::string, double>> detail;
  if (detailed) ctx.detail = &detail;
  for (size_t i = 0; i < steps_.size(); ++i) {
    if (!needed[i]) continue;
    if (cancel && cancel->load(std::memory_order_relaxed)) fail(Code::Cancelled, "cancelled");
    const Step& st = steps_[i];
    Inputs args;
    args.reserve(st.in.size());
    bool computes_on_device = false, views_device = false;
    for (size_t k = 0; k < st.in.size(); ++k) {
      int s = st.in[k];
      if (s < 0) {
        args.push_back(nullptr);
        continue;
      }
      const Tensor* v = is_constant_[s] ? &constants_[s] : &values[s];
      if (gpu) {
        Place where = st.kernel->place(k);
        bool want_device = where == Place::Device && v->dtype() == DType::F32;
        if (where != Place::Any && want_device != v->on_device()) v = &other_side(s, *v);
        computes_on_device = computes_on_device || (where == Place::Device && v->on_device());
        views_device = views_device || (where == Place::Any && v->on_device());
      }
      args.push_back(v);
    }
    if (computes_on_device) {
      st_out.device_nodes++;
      st_out.device_ops[st.op]++;
    } else if (views_device) {
      st_out.view_nodes++;
    } else {
      st_out.host_nodes++;
    }
    // Values read for the last time, by this step only once, that nothing else shares.
    ctx.donatable = 0;
    if (!gpu)
      for (size_t k = 0; k < st.in.size() && k < 64; ++k) {
        const int s = st.in[k];
        if (s < 0 || is_constant_[s] || last_use[s] != static_cast<int>(i) || !values[s].sole_owner()) continue;
        if (std::count(st.in.begin(), st.in.end(), s) == 1) ctx.donatable |= uint64_t(1) << k;
      }
    std::vector<Tensor> outs;
    auto t0 = std::chrono::steady_clock::now();
    try {
      outs = st.kernel->run(ctx, args);
    } catch (const Error& e) {
      if (e.code() == Code::Cancelled) throw;
      // The inputs matched the shapes the model declares, so a shape error inside the graph is
      // the model's own inconsistency, not the caller's input.
      Code code = e.code() == Code::BadInput && static_inputs_ ? Code::ModelFormat : e.code();
      fail(code, origin_, ": node '", st.name, "' (", st.op, ") cannot run: ", e.what());
    }
    if (profile) {
      if (gpu) gpu->synchronize();  // device ops are queued: time them to completion
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      auto& p = prof[st.op];
      p.first += ms;
      p.second += 1;
      if (detailed && !detail.empty()) {
        std::fprintf(stderr, "bgn-step %-48s %8.2f ms %7.1f GF/s\n", detail.back().first.c_str(), ms,
                     detail.back().second / ms / 1e6);
        detail.clear();
      }
    }
    for (size_t k = 0; k < st.out.size() && k < outs.size(); ++k)
      if (st.out[k] >= 0) values[st.out[k]] = std::move(outs[k]);
    for (int s : st.in)
      if (s >= 0 && !is_constant_[s] && last_use[s] == static_cast<int>(i)) {
        values[s] = Tensor();
        if (gpu) {
          mirror[s] = Tensor();
          mirrored[s] = 0;
        }
      }
  }
  if (profile) {
    for (const auto& [op, p] : prof)
      std::fprintf(stderr, "bgn-profile %-24s %5d x %9.1f ms\n", op.c_str(), p.second, p.first);
    std::fprintf(stderr, "bgn-profile conv GFLOP %.1f\n", ctx.flops / 1e9);
  }
  std::vector<Tensor> result;
  for (int w : which) {
    if (w < 0 || static_cast<size_t>(w) >= output_slots_.size()) fail(Code::BadInput, "no output #", w);
    int s = output_slots_[w];
    const Tensor& v = is_constant_[s] ? constants_[s] : values[s];
    result.push_back(v.on_device() ? other_side(s, v) : v);
  }
  return result;
}

}  // namespace bgn::onnxrt
