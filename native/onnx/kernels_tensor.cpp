// Shape and data-movement kernels; they work on any dtype (shape arithmetic is i64). On a Gpu,
// float Concat and Transposes that swap two blocks of axes run on the device, and the ops that only re-view or measure a value (Reshape,
// Flatten, Squeeze, Unsqueeze, Identity, Shape, Size, a float-to-float Cast) take it where it is.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "backend/cpu/ops.h"
#include "backend/cpu/transpose.h"
#include "backend/exec.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

bool is_float(DType t) { return t == DType::F16 || t == DType::BF16 || t == DType::F64 || t == DType::F32; }

Tensor constant_from_attrs(const NodeInfo& info) {
  const auto& n = info.node;
  for (const auto& [k, a] : n.attrs) {
    if (k == "value") {
      Tensor t = a.t;
      return is_float(t.dtype()) && t.dtype() != DType::F32 ? t.to(DType::F32) : t;
    }
    if (k == "value_float") return Tensor::scalar_f32(a.f);
    if (k == "value_int") {
      Tensor t = Tensor::empty(DType::I64, {});
      t.data<int64_t>()[0] = a.i;
      return t;
    }
    if (k == "value_floats") {
      Tensor t = Tensor::empty(DType::F32, {int64_t(a.floats.size())});
      if (!a.floats.empty()) std::memcpy(t.raw(), a.floats.data(), a.floats.size() * 4);
      return t;
    }
    if (k == "value_ints") return Tensor::from_i64(a.ints);
  }
  info.unsupported("Constant without a supported value attribute");
}

// Copies `count` elements of es bytes read every `stride` elements (0: one element repeated).
void strided_row(const uint8_t* src, int64_t stride, int64_t count, size_t es, uint8_t* dst) {
  if (stride == 1) {
    std::memcpy(dst, src, size_t(count) * es);
    return;
  }
  auto typed = [&](auto zero) {
    using T = decltype(zero);
    const T* s = reinterpret_cast<const T*>(src);
    T* d = reinterpret_cast<T*>(dst);
    if (stride == 0)
      std::fill(d, d + count, s[0]);
    else
      for (int64_t j = 0; j < count; ++j) d[j] = s[j * stride];
  };
  switch (es) {
    case 1:
      return typed(uint8_t{});
    case 2:
      return typed(uint16_t{});
    case 4:
      return typed(uint32_t{});
    case 8:
      return typed(uint64_t{});
    default:
      for (int64_t j = 0; j < count; ++j) std::memcpy(dst + size_t(j) * es, src + size_t(j * stride) * es, es);
  }
}

// General strided copy: out[i] = in[offset + sum(idx_d * stride_d)] for each output index.
// Axes of size 1 are dropped and neighbouring axes that read on (outer stride = inner stride ×
// inner size) are merged first, so a broadcast of a whole block (Expand of [1, 1, m, 1] to
// [1, c, m, 1]) or a slice of whole rows is a few long rows rather than one short row per element.
void strided_copy(const Tensor& x, const Shape& out_shape, const std::vector<int64_t>& start,
                  const std::vector<int64_t>& step, Tensor& y) {
  const size_t es = dtype_size(x.dtype());
  const int r = x.rank();
  const int64_t n = y.numel();
  if (n == 0) return;
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  std::vector<int64_t> in_stride = row_strides(x.shape());
  int64_t base = 0;
  std::vector<int64_t> dims, strides;  // the reduced axes, outermost first
  for (int d = 0; d < r; ++d) {
    base += start[size_t(d)] * in_stride[size_t(d)];
    if (out_shape[size_t(d)] == 1) continue;
    const int64_t s = step[size_t(d)] * in_stride[size_t(d)];
    if (!dims.empty() && strides.back() == s * out_shape[size_t(d)]) {
      dims.back() *= out_shape[size_t(d)];
      strides.back() = s;
    } else {
      dims.push_back(out_shape[size_t(d)]);
      strides.push_back(s);
    }
  }
  if (dims.empty()) {
    std::memcpy(dst, src + size_t(base) * es, es);
    return;
  }
  const int q = int(dims.size());
  const int64_t inner = dims.back(), inner_stride = strides.back();
  std::vector<int64_t> idx(size_t(q), 0);
  int64_t off = base;
  for (int64_t o = 0; o < n; o += inner) {
    strided_row(src + size_t(off) * es, inner_stride, inner, es, dst + size_t(o) * es);
    for (int d = q - 2; d >= 0; --d) {
      off += strides[size_t(d)];
      if (++idx[size_t(d)] < dims[size_t(d)]) break;
      off -= strides[size_t(d)] * dims[size_t(d)];
      idx[size_t(d)] = 0;
    }
  }
}

Out slice(bool legacy, const Inputs& in, const std::vector<int64_t>& attr_starts, const std::vector<int64_t>& attr_ends,
          const std::vector<int64_t>& attr_axes) {
  const Tensor& x = need(in, 0, "Slice");
  std::vector<int64_t> starts, ends, axes, steps;
  if (legacy) {
    starts = attr_starts;
    ends = attr_ends;
    axes = attr_axes;
  } else {
    starts = need(in, 1, "Slice").as_i64();
    ends = need(in, 2, "Slice").as_i64();
    if (in.size() > 3 && in[3]) axes = in[3]->as_i64();
    if (in.size() > 4 && in[4]) steps = in[4]->as_i64();
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fail(Code::BadInput, "Slice: starts/ends/axes/steps lengths differ");
  const int r = x.rank();
  if (r == 0 && !starts.empty()) fail(Code::BadInput, "Slice: a scalar has no axis to slice");
  std::vector<int64_t> st(r, 0), sp(r, 1);
  Shape out = x.shape();
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = normalize_axis(axes[i], r, "Slice");
    int64_t dim = x.dim(int(a)), s = starts[i], e = ends[i], k = steps[i];
    if (k == 0) fail(Code::BadInput, "Slice: step 0");
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (k > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      out[a] = e > s ? (e - s + k - 1) / k : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      out[a] = s > e ? (s - e - k - 1) / (-k) : 0;
    }
    st[a] = s;
    sp[a] = k;
  }
  Tensor y = Tensor::empty(x.dtype(), out);
  strided_copy(x, out, st, sp, y);
  return {y};
}

Out concat(RunContext& ctx, const Inputs& in, int64_t axis_attr) {
  std::vector<const Tensor*> parts;
  for (const Tensor* t : in)
    if (t) parts.push_back(t);
  if (parts.empty()) fail(Code::BadInput, "Concat: no inputs");
  const Tensor& first = *parts[0];
  int r = first.rank();
  int64_t axis = normalize_axis(axis_attr, r, "Concat");
  Shape out = first.shape();
  out[axis] = 0;
  for (const Tensor* t : parts) {
    if (t->rank() != r || t->dtype() != first.dtype())
      fail(Code::BadInput, "Concat: inputs differ in rank or dtype: ", shape_str(first.shape()), " vs ",
           shape_str(t->shape()));
    for (int d = 0; d < r; ++d)
      if (d != axis && t->dim(d) != first.dim(d))
        fail(Code::BadInput, "Concat: shapes ", shape_str(first.shape()), " and ", shape_str(t->shape()),
             " differ off the axis");
    out[axis] += t->dim(int(axis));
  }
  const bool device = first.on_device();
  for (const Tensor* t : parts)
    if (t->on_device() != device) fail(Code::Internal, "Concat: inputs split between host and device");
  Tensor y = device ? device_empty(need_gpu(ctx, "Concat"), first.dtype(), out) : Tensor::empty(first.dtype(), out);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= out[d];
  for (int d = int(axis) + 1; d < r; ++d) inner *= out[d];
  std::vector<const void*> ptrs;
  std::vector<int64_t> bytes;
  for (const Tensor* t : parts) {
    ptrs.push_back(t->raw());
    bytes.push_back(t->dim(int(axis)) * inner * int64_t(dtype_size(first.dtype())));
  }
  if (device)
    ctx.gpu->concat(ptrs.data(), bytes.data(), int(parts.size()), outer, y.raw());
  else
    cpu::concat(ctx.pool, ptrs.data(), bytes.data(), int(parts.size()), outer, y.raw());
  return {y};
}

Out reshape(const Inputs& in, bool allowzero) {
  const Tensor& x = need(in, 0, "Reshape");
  std::vector<int64_t> s = need(in, 1, "Reshape").as_i64();
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0 && !allowzero) {
      if (int(i) >= x.rank()) fail(Code::BadInput, "Reshape: 0 at position ", i, " past the input rank");
      s[i] = x.dim(int(i));
    }
    if (s[i] == -1) {
      if (infer >= 0) fail(Code::BadInput, "Reshape: more than one -1");
      infer = int64_t(i);
    } else if (s[i] < 0) {
      fail(Code::BadInput, "Reshape: negative dimension ", s[i]);
    } else {
      if (s[i] != 0 && known > (int64_t(1) << 62) / s[i]) fail(Code::BadInput, "Reshape: shape too large");
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known) fail(Code::BadInput, "Reshape: cannot infer -1 for ", shape_str(x.shape()));
    s[infer] = x.numel() / known;
  }
  return {x.reshaped(Shape(s.begin(), s.end()))};
}

Out unsqueeze(const Inputs& in, std::vector<int64_t> axes) {
  const Tensor& x = need(in, 0, "Unsqueeze");
  if (in.size() > 1 && in[1]) axes = in[1]->as_i64();
  int64_t r = x.rank() + int64_t(axes.size());
  for (auto& a : axes) a = normalize_axis(a, r, "Unsqueeze");
  std::sort(axes.begin(), axes.end());
  Shape out;
  size_t k = 0;
  int src = 0;
  for (int64_t d = 0; d < r; ++d) {
    if (k < axes.size() && axes[k] == d) {
      out.push_back(1);
      ++k;
    } else
      out.push_back(x.dim(src++));
  }
  return {x.reshaped(out)};
}

Out squeeze(const Inputs& in, std::vector<int64_t> axes) {
  const Tensor& x = need(in, 0, "Squeeze");
  if (in.size() > 1 && in[1]) axes = in[1]->as_i64();
  for (auto& a : axes) a = normalize_axis(a, x.rank(), "Squeeze");
  Shape out;
  for (int d = 0; d < x.rank(); ++d) {
    bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
    if ((axes.empty() && x.dim(d) == 1) || (listed && x.dim(d) == 1)) continue;
    if (listed) fail(Code::BadInput, "Squeeze: axis ", d, " has size ", x.dim(d));
    out.push_back(x.dim(d));
  }
  return {x.reshaped(out)};
}

Out transpose(ThreadPool& pool, const Inputs& in, std::vector<int64_t> perm,
              std::vector<std::pair<std::string, double>>* detail = nullptr) {
  const Tensor& x = need(in, 0, "Transpose");
  int r = x.rank();
  if (perm.empty())
    for (int d = r - 1; d >= 0; --d) perm.push_back(d);
  if (int(perm.size()) != r) fail(Code::BadInput, "Transpose: perm length ", perm.size(), " for rank ", r);
  Shape out(r);
  std::vector<bool> seen(r, false);
  for (int d = 0; d < r; ++d) {
    int64_t p = perm[d];
    if (p < 0 || p >= r || seen[p]) fail(Code::BadInput, "Transpose: invalid perm");
    seen[p] = true;
    out[d] = x.dim(int(p));
  }
  Tensor y = Tensor::empty(x.dtype(), out);
  cpu::transpose(pool, x.raw(), x.shape(), perm, dtype_size(x.dtype()), y.raw());
  if (detail) {
    std::string key = "Transpose " + shape_str(x.shape()) + " perm [";
    for (int d = 0; d < r; ++d) key += (d ? "," : "") + std::to_string(perm[d]);
    detail->emplace_back(key + "]", 0.0);
  }
  return {y};
}

// A perm that moves one block of axes past the next, [0..a) [b..r) [a..b): x viewed as
// (B, R, C) = (dims[0..a), dims[a..b), dims[b..r)) becomes (B, C, R), which Gpu::transpose does.
// Returns false for other perms.
bool block_rotation(const std::vector<int64_t>& perm, int64_t& a, int64_t& b) {
  const int64_t r = int64_t(perm.size());
  for (a = 0; a < r && perm[a] == a; ++a) {}
  if (a >= r - 1) return false;  // identity: nothing to move
  b = perm[a];
  if (b <= a || b >= r) return false;  // also rejects perms with values out of range
  for (int64_t k = 0; k < r - b; ++k)
    if (perm[a + k] != b + k) return false;
  for (int64_t k = 0; k < b - a; ++k)
    if (perm[r - (b - a) + k] != a + k) return false;
  return true;
}

// Transpose: on the device when the perm is a block rotation (NHWC <-> NCHW, the last two axes).
class TransposeKernel : public Kernel {
 public:
  // The empty perm (reverse every axis, whatever the rank) stays on the CPU.
  explicit TransposeKernel(std::vector<int64_t> perm) : perm_(std::move(perm)) {
    rotation_ = !perm_.empty() && block_rotation(perm_, a_, b_);
  }
  Place place(size_t i) const override { return i == 0 && rotation_ ? Place::Device : Place::Host; }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const Tensor& x = need(in, 0, "Transpose");
    if (!x.on_device()) return transpose(ctx.pool, in, perm_, ctx.detail);
    if (x.dtype() != DType::F32 || int64_t(x.rank()) != int64_t(perm_.size()))
      fail(Code::BadInput, "Transpose: perm length ", perm_.size(), " for rank ", x.rank());
    // x (B, R, C) -> y (B, C, R)
    int64_t B = 1, R = 1, C = 1;
    for (int64_t d = 0; d < a_; ++d) B *= x.dim(int(d));
    for (int64_t d = a_; d < b_; ++d) R *= x.dim(int(d));
    for (int64_t d = b_; d < x.rank(); ++d) C *= x.dim(int(d));
    Shape out;
    for (int64_t d = 0; d < a_; ++d) out.push_back(x.dim(int(d)));
    for (int64_t d = b_; d < x.rank(); ++d) out.push_back(x.dim(int(d)));
    for (int64_t d = a_; d < b_; ++d) out.push_back(x.dim(int(d)));
    Gpu& gpu = need_gpu(ctx, "Transpose");
    Tensor y = device_empty(gpu, DType::F32, out);
    if (y.numel()) gpu.transpose(x.data<float>(), B, R, C, y.data<float>());
    return {y};
  }

 private:
  std::vector<int64_t> perm_;
  bool rotation_ = false;
  int64_t a_ = 0, b_ = 0;
};

Out gather(const Inputs& in, int64_t axis_attr) {
  const Tensor& x = need(in, 0, "Gather");
  const Tensor& ind = need(in, 1, "Gather");
  if (x.rank() == 0) fail(Code::BadInput, "Gather: a scalar has no axis to gather along");
  int64_t axis = normalize_axis(axis_attr, x.rank(), "Gather");
  std::vector<int64_t> idx = ind.as_i64();
  int64_t dim = x.dim(int(axis));
  for (auto& i : idx) {
    if (i < 0) i += dim;
    if (i < 0 || i >= dim) fail(Code::BadInput, "Gather: index out of range");
  }
  Shape out;
  for (int d = 0; d < axis; ++d) out.push_back(x.dim(d));
  for (int64_t d : ind.shape()) out.push_back(d);
  for (int d = int(axis) + 1; d < x.rank(); ++d) out.push_back(x.dim(d));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = int(axis) + 1; d < x.rank(); ++d) inner *= x.dim(d);
  // Consecutive indices along the leading axes pick one contiguous piece: a view of x, nothing
  // copied (x[0] of a batch of one, one of K and V stacked on axis 0).
  bool run = outer == 1 && !idx.empty() && !dtype_is_block(x.dtype()) && !x.on_device();
  for (size_t k = 1; run && k < idx.size(); ++k) run = idx[k] == idx[0] + int64_t(k);
  if (run) return {x.part(idx[0] * inner, out)};
  Tensor y = new_output(x.dtype(), out, "Gather");
  size_t es = dtype_size(x.dtype()) * size_t(inner);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* dptr = static_cast<uint8_t*>(y.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < idx.size(); ++k)
      std::memcpy(dptr + (o * int64_t(idx.size()) + int64_t(k)) * es, s + (o * dim + idx[k]) * es, es);
  return {y};
}

Out expand(const Inputs& in) {
  const Tensor& x = need(in, 0, "Expand");
  std::vector<int64_t> s = need(in, 1, "Expand").as_i64();
  Shape out = broadcast_shapes(x.shape(), Shape(s.begin(), s.end()), "Expand");
  Tensor y = new_output(x.dtype(), out, "Expand");
  int r = int(out.size());
  std::vector<int64_t> start(r, 0), step(r, 0);
  // Broadcast as a strided copy of a rank-r view of x with stride 0 on expanded axes.
  Shape xs(r, 1);
  for (int d = 0; d < x.rank(); ++d) xs[r - x.rank() + d] = x.dim(d);
  Tensor xv = x.reshaped(xs);
  for (int d = 0; d < r; ++d) step[d] = xs[d] == 1 ? 0 : 1;
  strided_copy(xv, out, start, step, y);
  return {y};
}

// x converted to `target`: integer targets truncate toward zero and saturate (NaN becomes 0),
// bool is x != 0, and bool sources read as 0 / 1.
Tensor cast_to(const Tensor& x, DType target, const char* op) {
  if (x.on_device()) return x.to(target);
  Tensor y = Tensor::empty(target, x.shape());
  with_dtype(x.dtype(), op, [&](auto zs) {
    using S = decltype(zs);
    const S* src = x.data<S>();
    if (target == DType::Bool) {
      for (int64_t i = 0; i < x.numel(); ++i) y.data<uint8_t>()[i] = src[i] != S(0);
      return 0;
    }
    with_dtype(target, op, [&](auto zt) {
      using T = decltype(zt);
      T* dst = y.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) dst[i] = convert_value<T>(src[i]);
      return 0;
    });
    return 0;
  });
  return y;
}

DType onnx_to_runtime(int onnx_type, DType& logical) {
  logical = onnx::dtype_from_onnx(onnx_type, "Cast target");
  return is_float(logical) ? DType::F32 : logical;
}

}  // namespace

void register_tensor_kernels(std::map<std::string, KernelFactory>& r) {
  r["Constant"] = [](const NodeInfo& i) {
    Tensor t = constant_from_attrs(i);
    return make_fn_kernel([t](RunContext&, const Inputs&) { return Out{t}; });
  };
  auto identity = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext&, const Inputs& in) { return Out{need(in, 0, "Identity")}; },
                          Placement::first(Place::Any));
  };
  r["Identity"] = identity;
  r["Dropout"] = identity;
  r["Shape"] = [](const NodeInfo& i) {
    int64_t start = i.node.attr_int("start", 0), end = i.node.attr_int("end", INT64_MAX);
    return make_fn_kernel(
        [start, end](RunContext&, const Inputs& in) {
          const Tensor& x = need(in, 0, "Shape");
          int64_t r = x.rank(), s = start < 0 ? start + r : start, e = end < 0 ? end + r : std::min(end, r);
          s = std::clamp<int64_t>(s, 0, r);
          e = std::clamp<int64_t>(e, s, r);
          return Out{Tensor::from_i64(std::vector<int64_t>(x.shape().begin() + s, x.shape().begin() + e))};
        },
        Placement::first(Place::Any));
  };
  r["Size"] = [](const NodeInfo&) {
    return make_fn_kernel(
        [](RunContext&, const Inputs& in) {
          Tensor t = Tensor::empty(DType::I64, {});
          t.data<int64_t>()[0] = need(in, 0, "Size").numel();
          return Out{t};
        },
        Placement::first(Place::Any));
  };
  r["Slice"] = [](const NodeInfo& i) {
    bool legacy = i.opset < 10;
    auto s = i.node.attr_ints("starts"), e = i.node.attr_ints("ends"), a = i.node.attr_ints("axes");
    return make_fn_kernel([legacy, s, e, a](RunContext&, const Inputs& in) { return slice(legacy, in, s, e, a); });
  };
  r["Concat"] = [](const NodeInfo& i) {
    if (!i.node.has("axis")) i.bad("Concat needs an axis");
    int64_t axis = i.node.attr_int("axis", 0);
    return make_fn_kernel([axis](RunContext& c, const Inputs& in) { return concat(c, in, axis); },
                          Placement::all(Place::Device));
  };
  r["Reshape"] = [](const NodeInfo& i) {
    bool allowzero = i.node.attr_int("allowzero", 0) != 0;
    return make_fn_kernel([allowzero](RunContext&, const Inputs& in) { return reshape(in, allowzero); },
                          Placement::first(Place::Any));
  };
  r["Unsqueeze"] = [](const NodeInfo& i) {
    auto axes = i.node.attr_ints("axes");
    return make_fn_kernel([axes](RunContext&, const Inputs& in) { return unsqueeze(in, axes); },
                          Placement::first(Place::Any));
  };
  r["Squeeze"] = [](const NodeInfo& i) {
    auto axes = i.node.attr_ints("axes");
    return make_fn_kernel([axes](RunContext&, const Inputs& in) { return squeeze(in, axes); },
                          Placement::first(Place::Any));
  };
  r["Flatten"] = [](const NodeInfo& i) {
    int64_t axis = i.node.attr_int("axis", 1);
    return make_fn_kernel(
        [axis](RunContext&, const Inputs& in) {
          const Tensor& x = need(in, 0, "Flatten");
          int64_t a = axis < 0 ? axis + x.rank() : axis;
          if (a < 0 || a > x.rank()) fail(Code::BadInput, "Flatten: axis out of range");
          int64_t outer = 1;
          for (int d = 0; d < a; ++d) outer *= x.dim(d);
          return Out{x.reshaped({outer, outer ? x.numel() / outer : 0})};
        },
        Placement::first(Place::Any));
  };
  r["Transpose"] = [](const NodeInfo& i) { return std::make_unique<TransposeKernel>(i.node.attr_ints("perm")); };
  r["Gather"] = [](const NodeInfo& i) {
    int64_t axis = i.node.attr_int("axis", 0);
    return make_fn_kernel([axis](RunContext&, const Inputs& in) { return gather(in, axis); });
  };
  r["Expand"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext&, const Inputs& in) { return expand(in); });
  };
  r["ConstantOfShape"] = [](const NodeInfo& i) {
    Tensor value = Tensor::scalar_f32(0.f);
    auto it = i.node.attrs.find("value");
    if (it != i.node.attrs.end()) {
      value = it->second.t;
      if (value.numel() != 1) i.bad("value must hold one element");
      if (is_float(value.dtype()) && value.dtype() != DType::F32) value = value.to(DType::F32);
    }
    return make_fn_kernel([value](RunContext&, const Inputs& in) {
      std::vector<int64_t> s = need(in, 0, "ConstantOfShape").as_i64();
      Tensor y = new_output(value.dtype(), Shape(s.begin(), s.end()), "ConstantOfShape");
      size_t es = dtype_size(value.dtype());
      for (int64_t k = 0; k < y.numel(); ++k) std::memcpy(static_cast<uint8_t*>(y.raw()) + k * es, value.raw(), es);
      return Out{y};
    });
  };
  r["Cast"] = [](const NodeInfo& i) {
    DType logical, target;
    try {
      target = onnx_to_runtime(int(i.node.attr_int("to", 1)), logical);
    } catch (const Error& e) {
      i.unsupported(e.what());
    }
    // Floating-point values are computed in f32 throughout (docs/DESIGN.md §6), so a cast between
    // float types is the identity here: f16 graphs run at f32 precision.
    // Only f32 values live on the device, so a cast to f32 passes a device value through.
    return make_fn_kernel(
        [target](RunContext&, const Inputs& in) {
          const Tensor& x = need(in, 0, "Cast");
          if (x.dtype() == target) return Out{x};
          return Out{cast_to(x, target, "Cast")};
        },
        target == DType::F32 ? Placement::first(Place::Any) : Placement{});
  };
  r["CastLike"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext&, const Inputs& in) {
      const Tensor& x = need(in, 0, "CastLike");
      const DType target = need(in, 1, "CastLike").dtype();
      if (x.dtype() == target) return Out{x};
      return Out{cast_to(x, target, "CastLike")};
    });
  };
}

}  // namespace bgn::onnxrt
