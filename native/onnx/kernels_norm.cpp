// Normalisation kernels on f32 data: LayerNormalization (opset 17), InstanceNormalization,
// GroupNormalization (opset 18: scale and bias per group; opset 21: per channel), Softmax and
// LogSoftmax (opset < 13: over the flattened axes from `axis` on; opset >= 13: over one axis).
// Statistics are accumulated in double precision.
#include <algorithm>
#include <cmath>

#include "backend/cpu/vmath.h"
#include "backend/exec.h"
#include "backend/gpu.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

const Tensor& need_float(const Inputs& in, size_t i, const char* op) {
  const Tensor& t = need(in, i, op);
  if (t.dtype() != DType::F32) fail(Code::BadInput, op, ": input #", i, " must be float, got ", dtype_name(t.dtype()));
  return t;
}

// Mean and 1/sqrt(var + eps) of n values.
void moments(const float* p, int64_t n, float eps, float& mean, float& inv_std) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  const double m = n ? s / double(n) : 0.0;
  double v = 0;
  for (int64_t i = 0; i < n; ++i) v += (p[i] - m) * (p[i] - m);
  v = n ? v / double(n) : 0.0;
  mean = float(m);
  inv_std = float(1.0 / std::sqrt(v + double(eps)));
}

// The same for a row short enough to sum in f32 lanes (a LayerNorm row): two vector passes.
void row_moments(const float* p, int64_t n, float eps, float& mean, float& inv_std) {
  if (n > 8192) return moments(p, n, eps, mean, inv_std);
  using namespace cpu::vm;
  vf16 s = splat(0.f);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) s += load(p + i);
  float tail = 0.f;
  for (; i < n; ++i) tail += p[i];
  float sum = tail;
  for (int k = 0; k < 16; ++k) sum += s[k];
  const float m = n ? sum / float(n) : 0.f;
  vf16 v = splat(0.f);
  const vf16 mv = splat(m);
  for (i = 0; i + 16 <= n; i += 16) {
    const vf16 d = load(p + i) - mv;
    v += d * d;
  }
  float var = 0.f;
  for (; i < n; ++i) var += (p[i] - m) * (p[i] - m);
  for (int k = 0; k < 16; ++k) var += v[k];
  var = n ? var / float(n) : 0.f;
  mean = m;
  inv_std = float(1.0 / std::sqrt(double(var) + double(eps)));
}

// y = x * s + b with s and b (optional) broadcast unidirectionally to x's shape.
void scale_shift(const Tensor& x_shape_of, Tensor& y, const Tensor* s, const Tensor* b, const char* op) {
  const Shape& xs = x_shape_of.shape();
  for (const Tensor* t : {s, b}) {
    if (!t) continue;
    if (t->dtype() != DType::F32) fail(Code::BadInput, op, ": scale and bias must be float");
    if (t->rank() > int(xs.size()) || broadcast_all({&t->shape(), &xs}, op) != xs)
      fail(Code::BadInput, op, ": parameter of shape ", shape_str(t->shape()), " does not broadcast to ",
           shape_str(xs));
  }
  float* yp = y.data<float>();
  auto ss = s ? broadcast_strides(s->shape(), xs) : std::vector<int64_t>(xs.size(), 0);
  auto bs = b ? broadcast_strides(b->shape(), xs) : std::vector<int64_t>(xs.size(), 0);
  const float one = 1.f, zero = 0.f;
  const float* sp = s ? s->data<float>() : &one;
  const float* bp = b ? b->data<float>() : &zero;
  for_each_broadcast<2>(xs, {ss.data(), bs.data()},
                        [&](int64_t o, const std::array<int64_t, 2>& off) { yp[o] = yp[o] * sp[off[0]] + bp[off[1]]; });
}

Out layer_norm(RunContext& ctx, const Inputs& in, int64_t axis_attr, float eps, bool want_stats) {
  const char* op = "LayerNormalization";
  const Tensor& x = need_float(in, 0, op);
  const Tensor& scale = need(in, 1, op);
  const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
  if (x.rank() == 0) fail(Code::BadInput, op, ": a scalar input has no axis to normalise");
  const int64_t axis = normalize_axis(axis_attr, x.rank(), op);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = int(axis); d < x.rank(); ++d) inner *= x.dim(d);
  Tensor y = new_output(DType::F32, x.shape(), op);
  Shape stat_shape = x.shape();
  for (int d = int(axis); d < x.rank(); ++d) stat_shape[d] = 1;
  Tensor mean = Tensor::empty(DType::F32, stat_shape), inv = Tensor::empty(DType::F32, stat_shape);
  // Scale and bias the size of the normalised block are applied in the same pass.
  const bool fast = scale.dtype() == DType::F32 && scale.numel() == inner && (!bias || bias->numel() == inner) &&
                    (!bias || bias->dtype() == DType::F32) && scale.rank() <= x.rank() - axis &&
                    (!bias || bias->rank() <= x.rank() - axis);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const float* sp = fast ? scale.data<float>() : nullptr;
  const float* bp = fast && bias ? bias->data<float>() : nullptr;
  ctx.pool.parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const float* p = xp + o * inner;
      float* q = yp + o * inner;
      float m, is;
      row_moments(p, inner, eps, m, is);
      mean.data<float>()[o] = m;
      inv.data<float>()[o] = is;
      if (sp && bp) {
        for (int64_t i = 0; i < inner; ++i) q[i] = (p[i] - m) * is * sp[i] + bp[i];
      } else if (sp) {
        for (int64_t i = 0; i < inner; ++i) q[i] = (p[i] - m) * is * sp[i];
      } else {
        for (int64_t i = 0; i < inner; ++i) q[i] = (p[i] - m) * is;
      }
    }
  });
  if (!fast) scale_shift(x, y, &scale, bias, op);
  if (want_stats) return {y, mean, inv};
  return {y};
}

// LayerNormalization on the device when X is there and the node normalises its last axis with a
// scale (and bias) of that axis's size and no statistics output — the transformer form, which the
// written-out LayerNorm fuses to (fuse_transformer.h); any other form runs on the host.
class LayerNormKernel : public Kernel {
 public:
  LayerNormKernel(int64_t axis, float eps, bool stats) : axis_(axis), eps_(eps), stats_(stats) {}

  // Only the transformer form (axis −1, the rank unknown until run time) asks for its inputs on the device.
  Place place(size_t) const override { return stats_ || axis_ != -1 ? Place::Host : Place::Device; }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const char* op = "LayerNormalization";
    bool device = false;
    for (const Tensor* t : in) device = device || (t && t->on_device());
    if (!device) return layer_norm(ctx, in, axis_, eps_, stats_);
    Gpu& gpu = need_gpu(ctx, op);
    const Tensor& x = need(in, 0, op);
    const Tensor& scale = need(in, 1, op);
    const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
    const int64_t C = x.rank() > 0 ? x.dim(x.rank() - 1) : 0;
    auto fits = [&](const Tensor* t) {
      return t->on_device() && t->dtype() == DType::F32 && t->rank() == 1 && t->numel() == C;
    };
    if (x.on_device() && x.dtype() == DType::F32 && x.rank() > 0 && C > 0 &&
        normalize_axis(axis_, x.rank(), op) == x.rank() - 1 && fits(&scale) && (!bias || fits(bias))) {
      Tensor y = device_empty(gpu, DType::F32, x.shape());
      gpu.layer_norm(x.data<float>(), x.numel() / C, C, scale.data<float>(), bias ? bias->data<float>() : nullptr, eps_,
                     y.data<float>());
      return {y};
    }
    // Another form: its operands come back to the host.
    std::vector<Tensor> host;
    host.reserve(in.size());
    Inputs args;
    for (const Tensor* t : in) {
      if (t && t->on_device()) {
        host.push_back(to_host(gpu, *t));
        args.push_back(&host.back());
      } else {
        args.push_back(t);
      }
    }
    return layer_norm(ctx, args, axis_, eps_, stats_);
  }

 private:
  int64_t axis_;
  float eps_;
  bool stats_;
};

Out instance_norm(RunContext& ctx, const Inputs& in, float eps) {
  const char* op = "InstanceNormalization";
  const Tensor& x = need_float(in, 0, op);
  const Tensor& s = need_float(in, 1, op);
  const Tensor& b = need_float(in, 2, op);
  if (x.rank() < 3) fail(Code::BadInput, op, ": expected (N, C, D1, ...), got ", shape_str(x.shape()));
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / std::max<int64_t>(N * C, 1);
  if (s.numel() != C || b.numel() != C)
    fail(Code::BadInput, op, ": scale and bias need ", C, " values, got ", s.numel(), " and ", b.numel());
  Tensor y = new_output(DType::F32, x.shape(), op);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  ctx.pool.parallel_for(N * C, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) {
      const int64_t c = nc % C;
      float m, is;
      moments(xp + nc * S, S, eps, m, is);
      const float k = is * s.data<float>()[c], sh = b.data<float>()[c];
      for (int64_t i = 0; i < S; ++i) yp[nc * S + i] = (xp[nc * S + i] - m) * k + sh;
    }
  });
  return {y};
}

Out group_norm(RunContext& ctx, const Inputs& in, int64_t groups, float eps, bool per_channel) {
  const char* op = "GroupNormalization";
  const Tensor& x = need_float(in, 0, op);
  const Tensor& s = need_float(in, 1, op);
  const Tensor& b = need_float(in, 2, op);
  if (x.rank() < 2) fail(Code::BadInput, op, ": expected (N, C, ...), got ", shape_str(x.shape()));
  const int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / std::max<int64_t>(N * C, 1);
  if (C % groups) fail(Code::BadInput, op, ": ", C, " channels do not split into ", groups, " groups");
  const int64_t want = per_channel ? C : groups;
  if (s.numel() != want || b.numel() != want)
    fail(Code::BadInput, op, ": scale and bias need ", want, " values, got ", s.numel(), " and ", b.numel());
  const int64_t per = C / groups;
  Tensor y = new_output(DType::F32, x.shape(), op);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  ctx.pool.parallel_for(N * groups, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ng = lo; ng < hi; ++ng) {
      const int64_t g = ng % groups, base = ng * per * S;
      float m, is;
      moments(xp + base, per * S, eps, m, is);
      for (int64_t c = 0; c < per; ++c) {
        const int64_t p = per_channel ? g * per + c : g;
        const float k = is * s.data<float>()[p], sh = b.data<float>()[p];
        for (int64_t i = 0; i < S; ++i) yp[base + c * S + i] = (xp[base + c * S + i] - m) * k + sh;
      }
    }
  });
  return {y};
}

// Softmax over `len` values spaced `stride` apart.
void softmax_line(const float* p, float* q, int64_t len, int64_t stride, bool log) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < len; ++i) mx = std::max(mx, p[i * stride]);
  double sum = 0;
  for (int64_t i = 0; i < len; ++i) {
    float e = std::exp(p[i * stride] - mx);
    q[i * stride] = e;
    sum += e;
  }
  if (log) {
    const float ls = float(std::log(sum));
    for (int64_t i = 0; i < len; ++i) q[i * stride] = p[i * stride] - mx - ls;
  } else {
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < len; ++i) q[i * stride] *= inv;
  }
}

// Softmax of a contiguous row, vectorised; the lanes past the end read as −inf.
void softmax_row(const float* p, float* q, int64_t len, bool log) {
  using namespace cpu::vm;
  const float ninf = -INFINITY;
  auto load_tail = [&](int64_t i) {
    float buf[16];
    for (int k = 0; k < 16; ++k) buf[k] = i + k < len ? p[i + k] : ninf;
    return load(buf);
  };
  vf16 m = splat(ninf);
  int64_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const vf16 v = load(p + i);
    m = vselect(v > m, v, m);  // NaN never wins, as with std::max
  }
  if (i < len) {
    const vf16 v = load_tail(i);
    m = vselect(v > m, v, m);
  }
  float mx = ninf;
  for (int k = 0; k < 16; ++k) mx = std::max(mx, m[k]);
  const vf16 shift = splat(mx);
  vf16 s = splat(0.f);
  for (i = 0; i + 16 <= len; i += 16) {
    const vf16 e = exp(load(p + i) - shift);
    if (!log) store(q + i, e);
    s += e;
  }
  if (i < len) {
    const vf16 e = exp(load_tail(i) - shift);
    if (!log)
      for (int64_t k = i; k < len; ++k) q[k] = e[k - i];
    s += e;
  }
  double sum = 0;
  for (int k = 0; k < 16; ++k) sum += s[k];
  if (log) {
    const float ls = float(std::log(sum));
    for (int64_t k = 0; k < len; ++k) q[k] = p[k] - mx - ls;
  } else {
    const float inv = float(1.0 / sum);
    for (int64_t k = 0; k < len; ++k) q[k] *= inv;
  }
}

Out softmax(RunContext& ctx, const Inputs& in, int64_t axis_attr, bool flatten, bool log) {
  const char* op = log ? "LogSoftmax" : "Softmax";
  const Tensor& x = need_float(in, 0, op);
  // Softmax (not LogSoftmax, which reads x again after writing) may overwrite x in place.
  Tensor y = !log && donated(ctx, 0) ? x : new_output(DType::F32, x.shape(), op);
  if (x.numel() == 0) return {y};
  const int64_t r = std::max(x.rank(), 1);
  const int64_t axis = normalize_axis(axis_attr, r, op);
  int64_t outer = 1, len = 1, inner = 1;
  for (int d = 0; d < axis && d < x.rank(); ++d) outer *= x.dim(d);
  if (flatten) {
    for (int d = int(axis); d < x.rank(); ++d) len *= x.dim(d);
  } else {
    len = x.rank() ? x.dim(int(axis)) : 1;
    for (int d = int(axis) + 1; d < x.rank(); ++d) inner *= x.dim(d);
  }
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  if (inner == 1) {
    ctx.pool.parallel_for(outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) softmax_row(xp + o * len, yp + o * len, len, log);
    });
    return {y};
  }
  ctx.pool.parallel_for(outer * inner, std::max<int64_t>(1, 8192 / std::max<int64_t>(len, 1)),
                        [&](int64_t b, int64_t e) {
                          for (int64_t k = b; k < e; ++k) {
                            const int64_t o = k / inner, i = k % inner;
                            softmax_line(xp + o * len * inner + i, yp + o * len * inner + i, len, inner, log);
                          }
                        });
  return {y};
}

}  // namespace

void register_norm_kernels(std::map<std::string, KernelFactory>& r) {
  r["LayerNormalization"] = [](const NodeInfo& i) {
    const int64_t axis = i.node.attr_int("axis", -1);
    const float eps = i.node.attr_float("epsilon", 1e-5f);
    const int64_t stash = i.node.attr_int("stash_type", 1);
    if (stash != 1) i.unsupported("stash_type " + std::to_string(stash) + " (only float statistics are supported)");
    if (!(eps >= 0.f)) i.bad("epsilon must be a non-negative number");
    if (i.node.inputs.size() < 2 || !i.has_input(1)) i.bad("needs X and Scale");
    const bool stats = i.node.outputs.size() > 1;
    return std::make_unique<LayerNormKernel>(axis, eps, stats);
  };
  r["InstanceNormalization"] = [](const NodeInfo& i) {
    const float eps = i.node.attr_float("epsilon", 1e-5f);
    if (!(eps >= 0.f)) i.bad("epsilon must be a non-negative number");
    return make_fn_kernel([=](RunContext& c, const Inputs& in) { return instance_norm(c, in, eps); });
  };
  r["GroupNormalization"] = [](const NodeInfo& i) {
    if (!i.node.has("num_groups")) i.bad("needs num_groups");
    const int64_t groups = i.node.attr_int("num_groups", 1);
    if (groups <= 0) i.bad("num_groups must be positive");
    const float eps = i.node.attr_float("epsilon", 1e-5f);
    if (!(eps >= 0.f)) i.bad("epsilon must be a non-negative number");
    if (i.node.attr_int("stash_type", 1) != 1) i.unsupported("only float statistics (stash_type 1) are supported");
    const bool per_channel = i.opset >= 21;
    return make_fn_kernel([=](RunContext& c, const Inputs& in) { return group_norm(c, in, groups, eps, per_channel); });
  };
  for (bool log : {false, true}) {
    r[log ? "LogSoftmax" : "Softmax"] = [log](const NodeInfo& i) {
      const bool flatten = i.opset < 13;
      const int64_t axis = i.node.attr_int("axis", flatten ? 1 : -1);
      return make_fn_kernel([=](RunContext& c, const Inputs& in) { return softmax(c, in, axis, flatten, log); });
    };
  }
}

}  // namespace bgn::onnxrt
