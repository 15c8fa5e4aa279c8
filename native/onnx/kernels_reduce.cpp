// Reductions over any set of axes (ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd,
// ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp; axes as an attribute
// before opset 18, ReduceSum from 13, as an input after), ArgMax / ArgMin and CumSum. Float sums
// are accumulated in double precision, integer ones in int64.
#include <algorithm>
#include <cmath>
#include <limits>

#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

enum class Red { Mean, Sum, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp };

struct ReduceAttrs {
  Red kind;
  const char* op;
  bool axes_input;  // axes come from input 1 (else the attribute)
  std::vector<int64_t> axes;
  bool keepdims = true, noop_empty = false;
};

// The reduced lines of x: x viewed as (outer, R, inner) after moving the reduced axes together.
struct Lines {
  Tensor x;  // possibly permuted
  int64_t outer = 1, R = 1, inner = 1;
  Shape out;  // result shape (keepdims applied)
};

Lines reduce_lines(const Tensor& x, std::vector<int64_t> axes, bool keepdims, const char* op) {
  const int r = x.rank();
  std::vector<char> red(std::max(r, 1), 0);
  for (int64_t& a : axes) {
    a = normalize_axis(a, r, op);
    if (r == 0) continue;
    if (red[a]) fail(Code::BadInput, op, ": axis ", a, " is listed twice");
    red[a] = 1;
  }
  if (axes.empty())
    for (int d = 0; d < r; ++d) red[d] = 1;
  Lines l;
  for (int d = 0; d < r; ++d) {
    if (red[d] && keepdims) l.out.push_back(1);
    if (!red[d]) l.out.push_back(x.dim(d));
  }
  int first = r, last = -1;
  for (int d = 0; d < r; ++d)
    if (red[d]) {
      first = std::min(first, d);
      last = d;
    }
  bool contiguous = true;
  for (int d = first; d <= last; ++d) contiguous = contiguous && red[d];
  if (r == 0 || first > last) {
    l.x = x;
    return l;
  }
  if (contiguous) {
    l.x = x;
    for (int d = 0; d < first; ++d) l.outer *= x.dim(d);
    for (int d = first; d <= last; ++d) l.R *= x.dim(d);
    for (int d = last + 1; d < r; ++d) l.inner *= x.dim(d);
    return l;
  }
  std::vector<int64_t> perm;
  for (int d = 0; d < r; ++d)
    if (!red[d]) {
      perm.push_back(d);
      l.outer *= x.dim(d);
    }
  for (int d = 0; d < r; ++d)
    if (red[d]) {
      perm.push_back(d);
      l.R *= x.dim(d);
    }
  l.x = permute(x, perm, op);
  return l;
}

template <class T>
Tensor reduce_typed(RunContext& ctx, const Lines& l, Red k, DType dtype, const char* op) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  Tensor y = new_output(dtype, l.out, op);
  const T* xp = l.x.data<T>();
  T* yp = y.data<T>();
  const int64_t R = l.R, inner = l.inner;
  ctx.pool.parallel_for(l.outer * inner, std::max<int64_t>(1, 4096 / std::max<int64_t>(R, 1)),
                        [&](int64_t b, int64_t e) {
                          for (int64_t j = b; j < e; ++j) {
                            const T* p = xp + (j / inner) * R * inner + j % inner;
                            Acc acc = 0;
                            T best = 0;
                            if (k == Red::Max)
                              best = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                                          : std::numeric_limits<T>::lowest();
                            if (k == Red::Min)
                              best = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                                          : std::numeric_limits<T>::max();
                            if (k == Red::Prod) acc = 1;
                            double mx = -INFINITY;
                            if (k == Red::LogSumExp)
                              for (int64_t i = 0; i < R; ++i) mx = std::max(mx, double(p[i * inner]));
                            bool nan = false;
                            for (int64_t i = 0; i < R; ++i) {
                              const T v = p[i * inner];
                              switch (k) {
                                case Red::Max:
                                  if (v != v)
                                    nan = true;
                                  else
                                    best = std::max(best, v);
                                  break;
                                case Red::Min:
                                  if (v != v)
                                    nan = true;
                                  else
                                    best = std::min(best, v);
                                  break;
                                case Red::Prod:
                                  acc = wrap_mul(acc, Acc(v));
                                  break;
                                case Red::L1:
                                  acc = wrap_add(acc, Acc(v) < 0 ? wrap_mul(Acc(v), Acc(-1)) : Acc(v));
                                  break;
                                case Red::L2:
                                case Red::SumSquare:
                                  acc = wrap_add(acc, wrap_mul(Acc(v), Acc(v)));
                                  break;
                                case Red::LogSumExp:
                                  acc = Acc(acc + convert_value<Acc>(std::exp(double(v) - mx)));
                                  break;
                                default:
                                  acc = wrap_add(acc, Acc(v));
                                  break;
                              }
                            }
                            double res;
                            switch (k) {
                              case Red::Max:
                              case Red::Min:
                                if constexpr (std::is_floating_point_v<T>)
                                  yp[j] = nan ? T(NAN) : best;
                                else
                                  yp[j] = best;
                                continue;
                              case Red::Mean:
                                res = R ? double(acc) / double(R) : NAN;
                                break;
                              case Red::L2:
                                res = std::sqrt(double(acc));
                                break;
                              case Red::LogSum:
                                res = std::log(double(acc));
                                break;
                              case Red::LogSumExp:
                                res = R ? std::log(double(acc)) + mx : -INFINITY;
                                break;
                              default:
                                yp[j] = T(acc);
                                continue;
                            }
                            yp[j] = convert_value<T>(res);
                          }
                        });
  return y;
}

Out reduce(RunContext& ctx, const Inputs& in, const ReduceAttrs& a) {
  const Tensor& x = need(in, 0, a.op);
  std::vector<int64_t> axes = a.axes;
  if (a.axes_input && in.size() > 1 && in[1]) axes = int_list(*in[1], a.op, "axes");
  if (axes.empty() && a.noop_empty) return {x};
  Lines l = reduce_lines(x, axes, a.keepdims, a.op);
  return {
      with_dtype(x.dtype(), a.op, [&](auto z) { return reduce_typed<decltype(z)>(ctx, l, a.kind, x.dtype(), a.op); })};
}

Out arg_reduce(const Inputs& in, bool max, int64_t axis_attr, bool keepdims, bool last) {
  const char* op = max ? "ArgMax" : "ArgMin";
  const Tensor& x = need(in, 0, op);
  if (x.rank() == 0) fail(Code::BadInput, op, ": a scalar has no axis");
  const int64_t axis = normalize_axis(axis_attr, x.rank(), op);
  Lines l = reduce_lines(x, {axis}, keepdims, op);
  Tensor y = new_output(DType::I64, l.out, op);
  with_dtype(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    const T* p = x.data<T>();
    for (int64_t j = 0; j < l.outer * l.inner; ++j) {
      const T* q = p + (j / l.inner) * l.R * l.inner + j % l.inner;
      int64_t bi = 0;
      for (int64_t i = 1; i < l.R; ++i) {
        const T v = q[i * l.inner], b = q[bi * l.inner];
        const bool better = max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
        if (better) bi = i;
      }
      y.data<int64_t>()[j] = bi;
    }
    return 0;
  });
  return {y};
}

Out cumsum(const Inputs& in, bool exclusive, bool reverse) {
  const char* op = "CumSum";
  const Tensor& x = need(in, 0, op);
  const Tensor& ax = need(in, 1, op);
  if (x.rank() == 0) fail(Code::BadInput, op, ": a scalar has no axis");
  std::vector<int64_t> av = int_list(ax, op, "axis");
  if (av.size() != 1) fail(Code::BadInput, op, ": axis must hold one value");
  const int64_t axis = normalize_axis(av[0], x.rank(), op);
  int64_t outer = 1, len = x.dim(int(axis)), inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = int(axis) + 1; d < x.rank(); ++d) inner *= x.dim(d);
  Tensor y = new_output(x.dtype(), x.shape(), op);
  with_dtype(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    const T* p = x.data<T>();
    T* q = y.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < inner; ++j) {
        Acc acc = 0;
        for (int64_t s = 0; s < len; ++s) {
          const int64_t i = reverse ? len - 1 - s : s;
          const int64_t at = (o * len + i) * inner + j;
          if (exclusive) {
            q[at] = T(acc);
            acc = wrap_add(acc, Acc(p[at]));
          } else {
            acc = wrap_add(acc, Acc(p[at]));
            q[at] = T(acc);
          }
        }
      }
    return 0;
  });
  return {y};
}

}  // namespace

void register_reduce_kernels(std::map<std::string, KernelFactory>& r) {
  const std::pair<const char*, Red> kinds[] = {{"ReduceMean", Red::Mean},     {"ReduceSum", Red::Sum},
                                               {"ReduceMax", Red::Max},       {"ReduceMin", Red::Min},
                                               {"ReduceProd", Red::Prod},     {"ReduceL1", Red::L1},
                                               {"ReduceL2", Red::L2},         {"ReduceSumSquare", Red::SumSquare},
                                               {"ReduceLogSum", Red::LogSum}, {"ReduceLogSumExp", Red::LogSumExp}};
  for (const auto& [name, kind] : kinds)
    r[name] = [name = name, kind = kind](const NodeInfo& i) {
      ReduceAttrs a{kind, name, kind == Red::Sum ? i.opset >= 13 : i.opset >= 18, {}};
      if (a.axes_input && i.node.has("axes")) i.bad("axes is an input from this opset on, not an attribute");
      if (!a.axes_input) a.axes = i.node.attr_ints("axes");
      const int64_t keep = i.node.attr_int("keepdims", 1), noop = i.node.attr_int("noop_with_empty_axes", 0);
      if ((keep != 0 && keep != 1) || (noop != 0 && noop != 1))
        i.bad("keepdims and noop_with_empty_axes must be 0 or 1");
      a.keepdims = keep == 1;
      a.noop_empty = noop == 1 && a.axes_input;
      return make_fn_kernel([a](RunContext& c, const Inputs& in) { return reduce(c, in, a); });
    };
  for (bool max : {true, false})
    r[max ? "ArgMax" : "ArgMin"] = [max](const NodeInfo& i) {
      const int64_t axis = i.node.attr_int("axis", 0);
      const bool keep = i.node.attr_int("keepdims", 1) != 0, last = i.node.attr_int("select_last_index", 0) != 0;
      return make_fn_kernel([=](RunContext&, const Inputs& in) { return arg_reduce(in, max, axis, keep, last); });
    };
  r["CumSum"] = [](const NodeInfo& i) {
    const bool exclusive = i.node.attr_int("exclusive", 0) != 0, reverse = i.node.attr_int("reverse", 0) != 0;
    return make_fn_kernel([=](RunContext&, const Inputs& in) { return cumsum(in, exclusive, reverse); });
  };
}

}  // namespace bgn::onnxrt
