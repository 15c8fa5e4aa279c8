// Elementwise kernels on any dtype with numpy broadcasting: comparisons (Equal, Less, Greater,
// LessOrEqual, GreaterOrEqual) and logic (Not, And, Or, Xor) to bool, Where, the variadic Min,
// Max, Sum and Mean, Mod, Pow and Clip; and the float activations GELU (opset 20, exact or tanh),
// Sin, Cos, Sign, Round, Softplus, Elu, HardSwish.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/gelu.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

bool is_int(DType t) {
  return t == DType::I64 || t == DType::I32 || t == DType::I16 || t == DType::I8 || t == DType::U8;
}

void same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    fail(Code::BadInput, op, ": operand dtypes differ (", dtype_name(a.dtype()), " vs ", dtype_name(b.dtype()), ")");
}

// y[o] = f(a[..], b[..]) with y of `out_dtype` (values of C++ type U), a and b of type T.
template <class T, class U, class F>
Tensor binary_map(const Tensor& a, const Tensor& b, DType out_dtype, const char* op, F f) {
  Shape out = broadcast_all({&a.shape(), &b.shape()}, op);
  Tensor y = new_output(out_dtype, out, op);
  auto sa = broadcast_strides(a.shape(), out), sb = broadcast_strides(b.shape(), out);
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  U* yp = y.data<U>();
  for_each_broadcast<2>(out, {sa.data(), sb.data()},
                        [&](int64_t o, const std::array<int64_t, 2>& off) { yp[o] = f(ap[off[0]], bp[off[1]]); });
  return y;
}

enum class Cmp { Eq, Lt, Gt, Le, Ge };

Out compare(const Inputs& in, Cmp c, const char* op) {
  const Tensor& a = need(in, 0, op);
  const Tensor& b = need(in, 1, op);
  same_dtype(a, b, op);
  return {with_dtype(a.dtype(), op, [&](auto z) {
    using T = decltype(z);
    return binary_map<T, uint8_t>(a, b, DType::Bool, op, [c](T u, T v) -> uint8_t {
      switch (c) {
        case Cmp::Eq:
          return u == v;
        case Cmp::Lt:
          return u < v;
        case Cmp::Gt:
          return u > v;
        case Cmp::Le:
          return u <= v;
        case Cmp::Ge:
          return u >= v;
      }
      return 0;
    });
  })};
}

enum class Logic { And, Or, Xor };

Out logic(const Inputs& in, Logic l, const char* op) {
  const Tensor& a = need(in, 0, op);
  const Tensor& b = need(in, 1, op);
  if (a.dtype() != DType::Bool || b.dtype() != DType::Bool) fail(Code::BadInput, op, ": operands must be bool");
  return {binary_map<uint8_t, uint8_t>(a, b, DType::Bool, op, [l](uint8_t u, uint8_t v) -> uint8_t {
    const bool x = u != 0, y = v != 0;
    return l == Logic::And ? (x && y) : l == Logic::Or ? (x || y) : (x != y);
  })};
}

Out where(const Inputs& in) {
  const char* op = "Where";
  const Tensor& c = need(in, 0, op);
  const Tensor& x = need(in, 1, op);
  const Tensor& y = need(in, 2, op);
  if (c.dtype() != DType::Bool) fail(Code::BadInput, op, ": the condition must be bool, got ", dtype_name(c.dtype()));
  same_dtype(x, y, op);
  Shape out = broadcast_all({&c.shape(), &x.shape(), &y.shape()}, op);
  Tensor r = new_output(x.dtype(), out, op);
  auto sc = broadcast_strides(c.shape(), out), sx = broadcast_strides(x.shape(), out),
       sy = broadcast_strides(y.shape(), out);
  const size_t es = dtype_size(x.dtype());
  const uint8_t* cp = c.data<uint8_t>();
  const uint8_t* xp = static_cast<const uint8_t*>(x.raw());
  const uint8_t* yp = static_cast<const uint8_t*>(y.raw());
  uint8_t* rp = static_cast<uint8_t*>(r.raw());
  for_each_broadcast<3>(out, {sc.data(), sx.data(), sy.data()}, [&](int64_t o, const std::array<int64_t, 3>& off) {
    std::memcpy(rp + o * es, cp[off[0]] ? xp + off[1] * es : yp + off[2] * es, es);
  });
  return {r};
}

enum class Fold { Min, Max, Sum, Mean };

Out variadic(const Inputs& in, Fold f, const char* op) {
  std::vector<const Tensor*> parts;
  for (const Tensor* t : in)
    if (t) parts.push_back(t);
  if (parts.empty()) fail(Code::BadInput, op, ": no inputs");
  for (const Tensor* t : parts) same_dtype(*parts[0], *t, op);
  if (f == Fold::Mean && parts[0]->dtype() != DType::F32) fail(Code::BadInput, op, ": float inputs expected");
  Tensor acc = *parts[0];
  if (parts.size() == 1) acc = acc.clone();
  with_dtype(acc.dtype(), op, [&](auto z) {
    using T = decltype(z);
    for (size_t k = 1; k < parts.size(); ++k)
      acc = binary_map<T, T>(acc, *parts[k], acc.dtype(), op, [f](T u, T v) -> T {
        if constexpr (std::is_floating_point_v<T>) {
          if (f == Fold::Min) return (u != u || v != v) ? NAN : std::min(u, v);
          if (f == Fold::Max) return (u != u || v != v) ? NAN : std::max(u, v);
        } else {
          if (f == Fold::Min) return std::min(u, v);
          if (f == Fold::Max) return std::max(u, v);
        }
        return wrap_add(u, v);
      });
    return 0;
  });
  if (f == Fold::Mean) {
    const float inv = 1.f / float(parts.size());
    for (int64_t i = 0; i < acc.numel(); ++i) acc.data<float>()[i] *= inv;
  }
  // Broadcasting may leave a single input's shape below the output's: fold did it.
  return {acc};
}

Out mod(const Inputs& in, bool fmod) {
  const char* op = "Mod";
  const Tensor& a = need(in, 0, op);
  const Tensor& b = need(in, 1, op);
  same_dtype(a, b, op);
  return {with_dtype(a.dtype(), op, [&](auto z) {
    using T = decltype(z);
    return binary_map<T, T>(a, b, a.dtype(), op, [fmod, op](T u, T v) -> T {
      if constexpr (std::is_floating_point_v<T>) {
        T r = std::fmod(u, v);
        if (!fmod && r != 0 && ((r < 0) != (v < 0))) r += v;
        return r;
      } else {
        if (v == 0) fail(Code::BadInput, op, ": integer modulo by zero");
        if constexpr (std::is_signed_v<T>) {
          if (v == T(-1)) return T(0);  // avoids the overflow of lowest % -1
        }
        T r = T(u % v);
        if (!fmod && r != 0 && ((r < 0) != (v < 0))) r = T(r + v);
        return r;
      }
    });
  })};
}

Out pow(const Inputs& in) {
  const char* op = "Pow";
  const Tensor& a = need(in, 0, op);
  Tensor b = need(in, 1, op);
  if (a.dtype() != DType::F32 && !is_int(a.dtype())) fail(Code::BadInput, op, ": numeric base expected");
  if (b.dtype() != DType::F32 && !is_int(b.dtype())) fail(Code::BadInput, op, ": numeric exponent expected");
  if (b.dtype() != DType::F32) b = b.to(DType::F32);
  if (a.dtype() == DType::F32) {
    if (b.numel() == 1 && b.rank() <= a.rank()) {
      // The common case (x ** 2, x ** 0.5) without broadcasting machinery.
      const float p = b.data<float>()[0];
      Shape out = broadcast_all({&a.shape(), &b.shape()}, op);
      Tensor y = new_output(DType::F32, out, op);
      const float* x = a.data<float>();
      float* q = y.data<float>();
      if (p == 2.f)
        for (int64_t i = 0; i < a.numel(); ++i) q[i] = x[i] * x[i];
      else if (p == 1.f)
        for (int64_t i = 0; i < a.numel(); ++i) q[i] = x[i];
      else if (p == 0.5f)
        for (int64_t i = 0; i < a.numel(); ++i) q[i] = std::sqrt(x[i]);
      else
        for (int64_t i = 0; i < a.numel(); ++i) q[i] = std::pow(x[i], p);
      return {y};
    }
    return {binary_map<float, float>(a, b, DType::F32, op, [](float u, float v) { return std::pow(u, v); })};
  }
  Tensor af = a.to(DType::F64);
  Tensor bf = b.to(DType::F64);
  Tensor y = binary_map<double, double>(af, bf, DType::F64, op, [](double u, double v) { return std::pow(u, v); });
  return {with_dtype(a.dtype(), op, [&](auto z) {
    using T = decltype(z);
    Tensor r = Tensor::empty(a.dtype(), y.shape());
    for (int64_t i = 0; i < y.numel(); ++i) r.data<T>()[i] = convert_value<T>(y.data<double>()[i]);
    return r;
  })};
}

Out clip(const Inputs& in, float lo_attr, float hi_attr) {
  const char* op = "Clip";
  const Tensor& x = need(in, 0, op);
  for (size_t k = 1; k <= 2; ++k)
    if (in.size() > k && in[k]) {
      same_dtype(x, *in[k], op);
      if (in[k]->numel() != 1)
        fail(Code::BadInput, op, ": min and max must be scalars, got ", shape_str(in[k]->shape()));
    }
  return {with_dtype(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    T lo, hi;
    if constexpr (std::is_floating_point_v<T>) {
      lo = T(lo_attr);
      hi = T(hi_attr);
    } else {
      lo = std::numeric_limits<T>::lowest();
      hi = std::numeric_limits<T>::max();
    }
    if (in.size() > 1 && in[1]) lo = in[1]->data<T>()[0];
    if (in.size() > 2 && in[2]) hi = in[2]->data<T>()[0];
    Tensor y = new_output(x.dtype(), x.shape(), op);
    const T* p = x.data<T>();
    T* q = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) q[i] = std::min(std::max(p[i], lo), hi);
    return y;
  })};
}

template <class F>
std::unique_ptr<Kernel> float_map(const char* op, F f) {
  return make_fn_kernel([op, f](RunContext& ctx, const Inputs& in) {
    const Tensor& x = need(in, 0, op);
    if (x.dtype() != DType::F32) fail(Code::BadInput, op, ": expected float data, got ", dtype_name(x.dtype()));
    Tensor y = new_output(DType::F32, x.shape(), op);
    const float* p = x.data<float>();
    float* q = y.data<float>();
    ctx.pool.parallel_for(x.numel(), 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) q[i] = f(p[i]);
    });
    return Out{y};
  });
}

}  // namespace

void register_elementwise_kernels(std::map<std::string, KernelFactory>& r) {
  const std::pair<const char*, Cmp> cmps[] = {{"Equal", Cmp::Eq},
                                              {"Less", Cmp::Lt},
                                              {"Greater", Cmp::Gt},
                                              {"LessOrEqual", Cmp::Le},
                                              {"GreaterOrEqual", Cmp::Ge}};
  for (const auto& [name, c] : cmps)
    r[name] = [name = name, c = c](const NodeInfo&) {
      return make_fn_kernel([=](RunContext&, const Inputs& in) { return compare(in, c, name); });
    };
  const std::pair<const char*, Logic> logics[] = {{"And", Logic::And}, {"Or", Logic::Or}, {"Xor", Logic::Xor}};
  for (const auto& [name, l] : logics)
    r[name] = [name = name, l = l](const NodeInfo&) {
      return make_fn_kernel([=](RunContext&, const Inputs& in) { return logic(in, l, name); });
    };
  r["Not"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext&, const Inputs& in) {
      const Tensor& x = need(in, 0, "Not");
      if (x.dtype() != DType::Bool) fail(Code::BadInput, "Not: bool input expected");
      Tensor y = Tensor::empty(DType::Bool, x.shape());
      for (int64_t i = 0; i < x.numel(); ++i) y.data<uint8_t>()[i] = !x.data<uint8_t>()[i];
      return Out{y};
    });
  };
  r["Where"] = [](const NodeInfo&) { return make_fn_kernel([](RunContext&, const Inputs& in) { return where(in); }); };
  const std::pair<const char*, Fold> folds[] = {
      {"Min", Fold::Min}, {"Max", Fold::Max}, {"Sum", Fold::Sum}, {"Mean", Fold::Mean}};
  for (const auto& [name, f] : folds)
    r[name] = [name = name, f = f](const NodeInfo&) {
      return make_fn_kernel([=](RunContext&, const Inputs& in) { return variadic(in, f, name); });
    };
  r["Mod"] = [](const NodeInfo& i) {
    const int64_t f = i.node.attr_int("fmod", 0);
    if (f != 0 && f != 1) i.bad("fmod must be 0 or 1");
    return make_fn_kernel([f](RunContext&, const Inputs& in) { return mod(in, f == 1); });
  };
  r["Pow"] = [](const NodeInfo&) { return make_fn_kernel([](RunContext&, const Inputs& in) { return pow(in); }); };
  r["Clip"] = [](const NodeInfo& i) {
    const float lo = i.node.attr_float("min", -INFINITY), hi = i.node.attr_float("max", INFINITY);
    return make_fn_kernel([lo, hi](RunContext&, const Inputs& in) { return clip(in, lo, hi); });
  };
  r["Gelu"] = [](const NodeInfo& i) {
    const std::string a = i.node.attr_string("approximate", "none");
    if (a == "none") {
      return make_fn_kernel([](RunContext& ctx, const Inputs& in) {
        const Tensor& x = need(in, 0, "Gelu");
        if (x.dtype() != DType::F32) fail(Code::BadInput, "Gelu: expected float data, got ", dtype_name(x.dtype()));
        Tensor y = donated(ctx, 0) ? x : new_output(DType::F32, x.shape(), "Gelu");
        cpu::gelu(ctx.pool, x.data<float>(), y.data<float>(), x.numel());
        return Out{y};
      });
    }
    if (a != "tanh") i.bad("approximate must be 'none' or 'tanh', got '" + a + "'");
    return float_map("Gelu", [](float x) {
      const double k = std::sqrt(2.0 / M_PI);
      return float(0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * double(x) * x * x))));
    });
  };
  r["Sin"] = [](const NodeInfo&) { return float_map("Sin", [](float x) { return std::sin(x); }); };
  r["Cos"] = [](const NodeInfo&) { return float_map("Cos", [](float x) { return std::cos(x); }); };
  r["Sign"] = [](const NodeInfo&) { return float_map("Sign", [](float x) { return float((x > 0.f) - (x < 0.f)); }); };
  r["Round"] = [](const NodeInfo&) { return float_map("Round", [](float x) { return std::nearbyint(x); }); };
  r["Softplus"] = [](const NodeInfo&) {
    return float_map("Softplus", [](float x) { return x > 20.f ? x : std::log1p(std::exp(x)); });
  };
  r["Elu"] = [](const NodeInfo& i) {
    const float alpha = i.node.attr_float("alpha", 1.f);
    return float_map("Elu", [alpha](float x) { return x >= 0.f ? x : alpha * std::expm1(x); });
  };
  r["HardSwish"] = [](const NodeInfo&) {
    return float_map("HardSwish", [](float x) { return x * std::clamp(x / 6.f + 0.5f, 0.f, 1.f); });
  };
}

}  // namespace bgn::onnxrt
