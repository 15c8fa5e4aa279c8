// Indexing and layout kernels on any dtype: GatherElements, GatherND (batch_dims), ScatterND
// and ScatterElements (reduction none / add / mul / max / min), Range, Tile, Pad (constant,
// reflect, edge, wrap; negative pads crop) and Split. Every index is checked against the axis it
// addresses (negative indices count from the end).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

int64_t checked_index(int64_t i, int64_t dim, const char* op) {
  if (i < -dim || i >= dim) fail(Code::BadInput, op, ": index ", i, " is out of range for an axis of size ", dim);
  return i < 0 ? i + dim : i;
}

std::vector<int64_t> indices_of(const Tensor& t, const char* op) {
  if (t.dtype() != DType::I64 && t.dtype() != DType::I32)
    fail(Code::BadInput, op, ": indices must be int32 or int64, got ", dtype_name(t.dtype()));
  return t.as_i64();
}

Out gather_elements(const Inputs& in, int64_t axis_attr) {
  const char* op = "GatherElements";
  const Tensor& x = need(in, 0, op);
  const Tensor& ind = need(in, 1, op);
  if (x.rank() == 0 || ind.rank() != x.rank())
    fail(Code::BadInput, op, ": data ", shape_str(x.shape()), " and indices ", shape_str(ind.shape()),
         " differ in rank");
  const int64_t axis = normalize_axis(axis_attr, x.rank(), op);
  for (int d = 0; d < x.rank(); ++d)
    if (d != axis && ind.dim(d) > x.dim(d))
      fail(Code::BadInput, op, ": indices ", shape_str(ind.shape()), " exceed data ", shape_str(x.shape()),
           " off the axis");
  std::vector<int64_t> idx = indices_of(ind, op);
  Tensor y = new_output(x.dtype(), ind.shape(), op);
  std::vector<int64_t> xs = row_strides(x.shape()), pos = xs;
  pos[axis] = 0;  // the axis offset comes from the index
  const size_t es = dtype_size(x.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  const int64_t dim = x.dim(int(axis)), ast = xs[axis];
  for_each_broadcast<1>(ind.shape(), {pos.data()}, [&](int64_t o, const std::array<int64_t, 1>& off) {
    const int64_t k = checked_index(idx[o], dim, op);
    std::memcpy(dst + o * es, src + (off[0] + k * ast) * es, es);
  });
  return {y};
}

// GatherND: each index tuple selects a block of `inner` elements. The tuples are read where they
// are (int64) and the blocks copied on the pool's threads, single elements without memcpy; an
// index out of range fails once the copy is done.
Out gather_nd(ThreadPool& pool, const Inputs& in, int64_t b) {
  const char* op = "GatherND";
  const Tensor& x = need(in, 0, op);
  const Tensor& ind = need(in, 1, op);
  const int64_t r = x.rank(), q = ind.rank();
  if (q < 1 || r < 1) fail(Code::BadInput, op, ": data and indices need rank >= 1");
  if (b < 0 || b >= std::min(r, q)) fail(Code::BadInput, op, ": batch_dims ", b, " for ranks ", r, " and ", q);
  const int64_t k = ind.dim(-1);
  if (k < 1 || k > r - b)
    fail(Code::BadInput, op, ": index tuples of length ", k, " for data rank ", r, " and batch_dims ", b);
  int64_t B = 1;
  for (int d = 0; d < b; ++d) {
    if (x.dim(d) != ind.dim(d))
      fail(Code::BadInput, op, ": batch dimensions of data ", shape_str(x.shape()), " and indices ",
           shape_str(ind.shape()), " differ");
    B *= x.dim(d);
  }
  Shape out(ind.shape().begin(), ind.shape().end() - 1);
  int64_t inner = 1;
  for (int64_t d = b + k; d < r; ++d) {
    out.push_back(x.dim(int(d)));
    inner *= x.dim(int(d));
  }
  int64_t M = 1;
  for (int64_t d = b; d < q - 1; ++d) M *= ind.dim(int(d));
  std::vector<int64_t> converted;
  if (ind.dtype() != DType::I64) converted = indices_of(ind, op);
  const int64_t* idx = ind.dtype() == DType::I64 ? ind.data<int64_t>() : converted.data();
  Tensor y = new_output(x.dtype(), out, op);
  std::vector<int64_t> xs = row_strides(x.shape());
  const int64_t batch_stride = b > 0 ? xs[b - 1] : 0;
  const size_t es = dtype_size(x.dtype()), row = size_t(inner) * es;
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  std::atomic<bool> bad{false};
  std::atomic<int64_t> bad_value{0};
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, inner));
  pool.parallel_for(B * M, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t* tuple = idx + t * k;
      int64_t off = (t / M) * batch_stride;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t dim = x.dim(int(b + j));
        int64_t i = tuple[j];
        if (i < -dim || i >= dim) {
          bad_value.store(i);
          bad.store(true);
          i = 0;
        }
        off += (i < 0 ? i + dim : i) * xs[size_t(b + j)];
      }
      if (inner == 1 && es == 4)
        std::memcpy(dst + t * 4, src + off * 4, 4);
      else
        std::memcpy(dst + size_t(t) * row, src + size_t(off) * es, row);
    }
  });
  if (bad.load()) fail(Code::BadInput, op, ": index ", bad_value.load(), " is out of range for its axis");
  return {y};
}

enum class Reduction { None, Add, Mul, Max, Min };

Reduction read_reduction(const NodeInfo& i) {
  const std::string s = i.node.attr_string("reduction", "none");
  if (s == "none") return Reduction::None;
  if (s == "add") return Reduction::Add;
  if (s == "mul") return Reduction::Mul;
  if (s == "max") return Reduction::Max;
  if (s == "min") return Reduction::Min;
  i.bad("unknown reduction '" + s + "'");
}

template <class T>
void combine(T& dst, T v, Reduction r) {
  switch (r) {
    case Reduction::None:
      dst = v;
      break;
    case Reduction::Add:
      dst = wrap_add(dst, v);
      break;
    case Reduction::Mul:
      dst = wrap_mul(dst, v);
      break;
    case Reduction::Max:
      dst = std::max(dst, v);
      break;
    case Reduction::Min:
      dst = std::min(dst, v);
      break;
  }
}

Out scatter_nd(const Inputs& in, Reduction red) {
  const char* op = "ScatterND";
  const Tensor& x = need(in, 0, op);
  const Tensor& ind = need(in, 1, op);
  const Tensor& upd = need(in, 2, op);
  if (upd.dtype() != x.dtype()) fail(Code::BadInput, op, ": updates and data differ in dtype");
  const int64_t r = x.rank(), q = ind.rank();
  if (q < 1 || r < 1) fail(Code::BadInput, op, ": data and indices need rank >= 1");
  const int64_t k = ind.dim(-1);
  if (k < 1 || k > r) fail(Code::BadInput, op, ": index tuples of length ", k, " for data rank ", r);
  Shape want(ind.shape().begin(), ind.shape().end() - 1);
  for (int64_t d = k; d < r; ++d) want.push_back(x.dim(int(d)));
  if (upd.shape() != want)
    fail(Code::BadInput, op, ": updates of shape ", shape_str(upd.shape()), " where ", shape_str(want), " is needed");
  std::vector<int64_t> idx = indices_of(ind, op);
  Tensor y = x.clone();
  int64_t inner = 1, M = 1;
  for (int64_t d = k; d < r; ++d) inner *= x.dim(int(d));
  for (int64_t d = 0; d < q - 1; ++d) M *= ind.dim(int(d));
  std::vector<int64_t> xs = row_strides(x.shape());
  with_dtype(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    T* yp = y.data<T>();
    const T* up = upd.data<T>();
    for (int64_t m = 0; m < M; ++m) {
      int64_t off = 0;
      for (int64_t j = 0; j < k; ++j) off += checked_index(idx[m * k + j], x.dim(int(j)), op) * xs[j];
      for (int64_t i = 0; i < inner; ++i) combine(yp[off + i], up[m * inner + i], red);
    }
    return 0;
  });
  return {y};
}

Out scatter_elements(const Inputs& in, int64_t axis_attr, Reduction red) {
  const char* op = "ScatterElements";
  const Tensor& x = need(in, 0, op);
  const Tensor& ind = need(in, 1, op);
  const Tensor& upd = need(in, 2, op);
  if (upd.dtype() != x.dtype()) fail(Code::BadInput, op, ": updates and data differ in dtype");
  if (x.rank() == 0 || ind.rank() != x.rank() || upd.shape() != ind.shape())
    fail(Code::BadInput, op, ": data ", shape_str(x.shape()), ", indices ", shape_str(ind.shape()), " and updates ",
         shape_str(upd.shape()), " do not fit");
  const int64_t axis = normalize_axis(axis_attr, x.rank(), op);
  for (int d = 0; d < x.rank(); ++d)
    if (d != axis && ind.dim(d) > x.dim(d)) fail(Code::BadInput, op, ": indices exceed data off the axis");
  std::vector<int64_t> idx = indices_of(ind, op);
  Tensor y = x.clone();
  std::vector<int64_t> xs = row_strides(x.shape()), pos = xs;
  pos[axis] = 0;
  const int64_t dim = x.dim(int(axis)), ast = xs[axis];
  with_dtype(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    T* yp = y.data<T>();
    const T* up = upd.data<T>();
    for_each_broadcast<1>(ind.shape(), {pos.data()}, [&](int64_t o, const std::array<int64_t, 1>& off) {
      combine(yp[off[0] + checked_index(idx[o], dim, op) * ast], up[o], red);
    });
    return 0;
  });
  return {y};
}

Out range(const Inputs& in) {
  const char* op = "Range";
  const Tensor& s = need(in, 0, op);
  const Tensor& l = need(in, 1, op);
  const Tensor& d = need(in, 2, op);
  if (s.dtype() != l.dtype() || s.dtype() != d.dtype())
    fail(Code::BadInput, op, ": start, limit and delta differ in dtype");
  return {with_dtype(s.dtype(), op, [&](auto z) {
    using T = decltype(z);
    const double start = scalar_value(s, op, "start"), limit = scalar_value(l, op, "limit"),
                 delta = scalar_value(d, op, "delta");
    if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
      fail(Code::BadInput, op, ": delta must be non-zero and every value finite");
    const double count = std::ceil((limit - start) / delta);
    if (!(count <= double(output_element_limit()))) fail(Code::BadInput, op, ": ", count, " elements are too many");
    const int64_t n = std::max<int64_t>(0, int64_t(count));
    Tensor y = new_output(s.dtype(), {n}, op);
    T v = s.data<T>()[0];
    const T step = d.data<T>()[0];
    for (int64_t i = 0; i < n; ++i) {
      y.data<T>()[i] = v;
      v = wrap_add(v, step);
    }
    return y;
  })};
}

Out tile(const Inputs& in) {
  const char* op = "Tile";
  const Tensor& x = need(in, 0, op);
  std::vector<int64_t> rep = int_list(need(in, 1, op), op, "repeats");
  if (int64_t(rep.size()) != x.rank()) fail(Code::BadInput, op, ": ", rep.size(), " repeats for rank ", x.rank());
  Shape out = x.shape();
  for (size_t d = 0; d < rep.size(); ++d) {
    if (rep[d] < 0) fail(Code::BadInput, op, ": negative repeat ", rep[d]);
    if (out[d] != 0 && rep[d] > output_element_limit() / out[d]) fail(Code::BadInput, op, ": repeats too large");
    out[d] *= rep[d];
  }
  Tensor y = new_output(x.dtype(), out, op);
  if (y.numel() == 0) return {y};
  const int r = x.rank();
  const size_t es = dtype_size(x.dtype());
  if (r == 0) {
    std::memcpy(y.raw(), x.raw(), es);
    return {y};
  }
  std::vector<int64_t> xs = row_strides(x.shape()), ys = row_strides(out);
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  // Builds the block of dims d.. at out_off from the input block at in_off, then repeats it.
  auto fill = [&](auto&& self, int d, int64_t in_off, int64_t out_off) -> void {
    const int64_t n = x.dim(d);
    if (d == r - 1) {
      std::memcpy(dst + out_off * es, src + in_off * es, size_t(n) * es);
    } else {
      for (int64_t i = 0; i < n; ++i) self(self, d + 1, in_off + i * xs[d], out_off + i * ys[d]);
    }
    const int64_t block = n * ys[d];
    for (int64_t k = 1; k < rep[d]; ++k)
      std::memcpy(dst + (out_off + k * block) * es, dst + out_off * es, size_t(block) * es);
  };
  fill(fill, 0, 0, 0);
  return {y};
}

enum class PadMode { Constant, Reflect, Edge, Wrap };

// Source index along an axis of size n for output position o with `before` padding; -1: the constant.
int64_t pad_source(int64_t o, int64_t before, int64_t n, PadMode m) {
  int64_t i = o - before;
  if (i >= 0 && i < n) return i;
  switch (m) {
    case PadMode::Constant:
      return -1;
    case PadMode::Edge:
      return i < 0 ? 0 : n - 1;
    case PadMode::Wrap:
      return ((i % n) + n) % n;
    case PadMode::Reflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      i = ((i % period) + period) % period;
      return i < n ? i : period - i;
    }
  }
  return -1;
}

Out pad(const Inputs& in, PadMode mode, bool legacy, const std::vector<int64_t>& attr_pads, float attr_value) {
  const char* op = "Pad";
  const Tensor& x = need(in, 0, op);
  const int r = x.rank();
  std::vector<int64_t> pads = attr_pads;
  std::vector<int64_t> axes;
  if (!legacy) {
    pads = int_list(need(in, 1, op), op, "pads");
    if (in.size() > 3 && in[3]) axes = int_list(*in[3], op, "axes");
  }
  if (axes.empty())
    for (int d = 0; d < r; ++d) axes.push_back(d);
  if (pads.size() != 2 * axes.size()) fail(Code::BadInput, op, ": ", pads.size(), " pads for ", axes.size(), " axes");
  std::vector<int64_t> before(r, 0), after(r, 0);
  std::vector<char> seen(r, 0);
  const size_t na = axes.size();
  for (size_t k = 0; k < na; ++k) {
    const int64_t a = normalize_axis(axes[k], r, op);
    if (r == 0 || seen[a]) fail(Code::BadInput, op, ": axis ", axes[k], " is invalid or repeated");
    seen[a] = 1;
    before[a] = pads[k];
    after[a] = pads[k + na];
  }
  Shape out(r);
  for (int d = 0; d < r; ++d) {
    const int64_t n = x.dim(d);
    if (std::abs(before[d]) > output_element_limit() || std::abs(after[d]) > output_element_limit())
      fail(Code::BadInput, op, ": pads too large");
    out[d] = n + before[d] + after[d];
    if (out[d] < 0) fail(Code::BadInput, op, ": pads crop axis ", d, " of size ", n, " below zero");
    if (n == 0 && out[d] > 0 && mode != PadMode::Constant)
      fail(Code::BadInput, op, ": cannot pad an empty axis in this mode");
  }
  Tensor y = new_output(x.dtype(), out, op);
  if (y.numel() == 0) return {y};
  // Per-axis source maps.
  std::vector<std::vector<int64_t>> map(r);
  for (int d = 0; d < r; ++d) {
    map[d].resize(out[d]);
    for (int64_t o = 0; o < out[d]; ++o) map[d][o] = pad_source(o, before[d], x.dim(d), mode);
  }
  Tensor value = Tensor::empty(x.dtype(), {});
  with_dtype(x.dtype(), op, [&](auto z) {
    using T = decltype(z);
    T v = convert_value<T>(attr_value);
    if (!legacy && in.size() > 2 && in[2] && in[2]->numel() > 0) {
      if (in[2]->dtype() != x.dtype()) fail(Code::BadInput, op, ": constant_value differs in dtype from the data");
      v = in[2]->data<T>()[0];
    }
    value.data<T>()[0] = v;
    return 0;
  });
  const size_t es = dtype_size(x.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  uint8_t* dst = static_cast<uint8_t*>(y.raw());
  const uint8_t* cv = static_cast<const uint8_t*>(value.raw());
  if (r == 0) {
    std::memcpy(dst, src, es);
    return {y};
  }
  // Trailing axes that are not padded travel with each element: an (N, H, W, C) pad of H and W
  // copies rows of C values; along the last padded axis, runs of consecutive sources are one copy.
  int last = r - 1;
  size_t block = es;
  while (last > 0 && before[last] == 0 && after[last] == 0) block *= size_t(x.dim(last--));
  // The constant in a buffer of whole values, copied as often as a padded run needs.
  std::vector<uint8_t> fill(std::max(es, std::min(block, size_t(1) << 16) / es * es));
  for (size_t b = 0; b < fill.size(); b += es) std::memcpy(fill.data() + b, cv, es);
  auto put_constant = [&](uint8_t* p, size_t bytes) {
    for (size_t done = 0; done < bytes; done += fill.size())
      std::memcpy(p + done, fill.data(), std::min(fill.size(), bytes - done));
  };
  const std::vector<int64_t> xs = row_strides(x.shape());
  std::vector<int64_t> idx(size_t(last), 0);
  const int64_t inner = out[last], rows = y.numel() / (int64_t(block / es) * inner);
  const std::vector<int64_t>& inner_map = map[last];
  for (int64_t row = 0; row < rows; ++row, dst += size_t(inner) * block) {
    int64_t base = 0;
    bool constant = false;
    for (int d = 0; d < last; ++d) {
      const int64_t s = map[d][idx[d]];
      if (s < 0) constant = true;
      base += s * xs[d];
    }
    for (int64_t j = 0; j < inner;) {
      const int64_t s = inner_map[j];
      int64_t len = 1;
      if (constant || s < 0) {
        while (j + len < inner && (constant || inner_map[j + len] < 0)) ++len;
        put_constant(dst + size_t(j) * block, size_t(len) * block);
        j += len;
        continue;
      }
      while (j + len < inner && inner_map[j + len] == s + len) ++len;
      std::memcpy(dst + size_t(j) * block, src + size_t(base + s * xs[last]) * es, size_t(len) * block);
      j += len;
    }
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return {y};
}

Out split(const Inputs& in, int64_t axis_attr, std::vector<int64_t> sizes, int64_t outputs, bool ceil_chunks) {
  const char* op = "Split";
  const Tensor& x = need(in, 0, op);
  if (in.size() > 1 && in[1]) sizes = int_list(*in[1], op, "split");
  if (x.rank() == 0) fail(Code::BadInput, op, ": a scalar cannot be split");
  const int64_t axis = normalize_axis(axis_attr, x.rank(), op), n = x.dim(int(axis));
  if (sizes.empty()) {
    if (outputs <= 0) fail(Code::BadInput, op, ": no outputs");
    const int64_t chunk = ceil_chunks ? (n + outputs - 1) / outputs : n / outputs;
    if (!ceil_chunks && n % outputs)
      fail(Code::BadInput, op, ": an axis of ", n, " does not split into ", outputs, " equal parts");
    for (int64_t k = 0, left = n; k < outputs; ++k) {
      sizes.push_back(std::min(chunk, left));
      left -= sizes.back();
    }
  }
  if (int64_t(sizes.size()) != outputs)
    fail(Code::BadInput, op, ": ", sizes.size(), " sizes for ", outputs, " outputs");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) fail(Code::BadInput, op, ": negative split size ", s);
    if (s > n - total) fail(Code::BadInput, op, ": split sizes add up to more than the axis of ", n);
    total += s;
  }
  if (total != n) fail(Code::BadInput, op, ": split sizes add up to ", total, " for an axis of ", n);
  // An empty input (a zero dimension elsewhere) may carry huge other dimensions: nothing to copy.
  int64_t outer = x.numel() == 0 ? 0 : 1, inner = x.numel() == 0 ? 0 : 1;
  for (int d = 0; d < axis && outer; ++d) outer *= x.dim(d);
  for (int d = int(axis) + 1; d < x.rank() && inner; ++d) inner *= x.dim(d);
  const size_t es = dtype_size(x.dtype());
  const uint8_t* src = static_cast<const uint8_t*>(x.raw());
  Out ys;
  int64_t start = 0;
  for (int64_t s : sizes) {
    Shape sh = x.shape();
    sh[axis] = s;
    if (outer == 1 && !dtype_is_block(x.dtype())) {
      // Along the leading axes each part is contiguous: a view of x, nothing copied (attention's
      // Q / K / V out of one projection).
      ys.push_back(x.part(start * inner, sh));
      start += s;
      continue;
    }
    Tensor y = Tensor::empty(x.dtype(), sh);
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(static_cast<uint8_t*>(y.raw()) + o * s * inner * es, src + (o * n + start) * inner * es,
                  size_t(s * inner) * es);
    start += s;
    ys.push_back(y);
  }
  return ys;
}

}  // namespace

void register_index_kernels(std::map<std::string, KernelFactory>& r) {
  r["GatherElements"] = [](const NodeInfo& i) {
    const int64_t axis = i.node.attr_int("axis", 0);
    return make_fn_kernel([axis](RunContext&, const Inputs& in) { return gather_elements(in, axis); });
  };
  r["GatherND"] = [](const NodeInfo& i) {
    const int64_t b = i.node.attr_int("batch_dims", 0);
    if (b < 0) i.bad("batch_dims must not be negative");
    return make_fn_kernel([b](RunContext& ctx, const Inputs& in) { return gather_nd(ctx.pool, in, b); });
  };
  r["ScatterND"] = [](const NodeInfo& i) {
    const Reduction red = read_reduction(i);
    return make_fn_kernel([red](RunContext&, const Inputs& in) { return scatter_nd(in, red); });
  };
  r["ScatterElements"] = [](const NodeInfo& i) {
    const Reduction red = read_reduction(i);
    const int64_t axis = i.node.attr_int("axis", 0);
    return make_fn_kernel([=](RunContext&, const Inputs& in) { return scatter_elements(in, axis, red); });
  };
  r["Range"] = [](const NodeInfo&) { return make_fn_kernel([](RunContext&, const Inputs& in) { return range(in); }); };
  r["Tile"] = [](const NodeInfo&) { return make_fn_kernel([](RunContext&, const Inputs& in) { return tile(in); }); };
  r["Pad"] = [](const NodeInfo& i) {
    const std::string m = i.node.attr_string("mode", "constant");
    PadMode mode;
    if (m == "constant")
      mode = PadMode::Constant;
    else if (m == "reflect")
      mode = PadMode::Reflect;
    else if (m == "edge")
      mode = PadMode::Edge;
    else if (m == "wrap" && i.opset >= 19)
      mode = PadMode::Wrap;
    else
      i.bad("unknown pad mode '" + m + "'");
    const bool legacy = i.opset < 11;
    std::vector<int64_t> pads = legacy ? i.node.attr_ints(i.opset < 2 ? "paddings" : "pads") : std::vector<int64_t>{};
    const float value = i.node.attr_float("value", 0.f);
    return make_fn_kernel([=](RunContext&, const Inputs& in) { return pad(in, mode, legacy, pads, value); });
  };
  r["Split"] = [](const NodeInfo& i) {
    const int64_t axis = i.node.attr_int("axis", 0);
    const int64_t outputs = int64_t(i.node.outputs.size());
    std::vector<int64_t> sizes = i.opset < 13 ? i.node.attr_ints("split") : std::vector<int64_t>{};
    const bool ceil_chunks = i.opset >= 18 && i.node.has("num_outputs");
    if (ceil_chunks && i.node.attr_int("num_outputs", 0) != outputs)
      i.bad("num_outputs differs from the outputs listed");
    return make_fn_kernel([=](RunContext&, const Inputs& in) { return split(in, axis, sizes, outputs, ceil_chunks); });
  };
}

}  // namespace bgn::onnxrt
