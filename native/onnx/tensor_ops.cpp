#include "onnx/tensor_ops.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace bgn::onnxrt {

namespace {
std::atomic<int64_t> g_limit{int64_t(1) << 32};
}

int64_t output_element_limit() { return g_limit.load(std::memory_order_relaxed); }
void set_output_element_limit(int64_t n) { g_limit.store(n, std::memory_order_relaxed); }

int64_t check_elements(const Shape& shape, const char* op) {
  const int64_t limit = output_element_limit();
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(Code::BadInput, op, ": negative dimension in ", shape_str(shape));
    if (d != 0 && n > limit / d) fail(Code::BadInput, op, ": a result of shape ", shape_str(shape), " is too large");
    n *= d;
  }
  for (int64_t d : shape)
    if (d == 0) return 0;
  return n;
}

Tensor new_output(DType dtype, Shape shape, const char* op) {
  check_elements(shape, op);
  return Tensor::empty(dtype, std::move(shape));
}

Shape broadcast_all(const std::vector<const Shape*>& shapes, const char* op) {
  size_t r = 0;
  for (const Shape* s : shapes) r = std::max(r, s->size());
  Shape out(r, 1);
  for (const Shape* s : shapes) {
    for (size_t i = 0; i < s->size(); ++i) {
      int64_t& o = out[r - s->size() + i];
      int64_t d = (*s)[i];
      if (d == o || d == 1) continue;
      if (o != 1) {
        std::string all;
        for (const Shape* t : shapes) all += (all.empty() ? "" : " and ") + shape_str(*t);
        fail(Code::BadInput, op, ": shapes ", all, " do not broadcast");
      }
      o = d;
    }
  }
  return out;
}

std::vector<int64_t> row_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int d = int(s.size()) - 2; d >= 0; --d) {
    // An empty tensor may carry huge other dimensions: their product must still be representable.
    if (__builtin_mul_overflow(st[d + 1], s[d + 1], &st[d])) {
      fail(Code::BadInput, "the shape ", shape_str(s), " is too large to index");
    }
  }
  return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> own = row_strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[lead + i] = in[i] == 1 ? 0 : own[i];
  return st;
}

bool broadcasts_into(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i] != out[lead + i] && in[i] != 1) return false;
  return true;
}

std::vector<int64_t> entry_offsets(const Shape& shape, const int64_t* strides) {
  const int64_t n = shape_numel(shape);
  std::vector<int64_t> offsets(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, off = 0;
    for (size_t d = shape.size(); d-- > 0;) {
      off += (rem % shape[d]) * strides[d];
      rem /= shape[d];
    }
    offsets[size_t(i)] = off;
  }
  return offsets;
}

std::vector<int64_t> batch_matrix_index(const Shape& own, const Shape& batch) {
  return entry_offsets(batch, broadcast_strides(own, batch).data());
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm, const char* op) {
  const int r = x.rank();
  if (int(perm.size()) != r) fail(Code::BadInput, op, ": permutation of length ", perm.size(), " for rank ", r);
  std::vector<char> seen(r, 0);
  Shape out(r);
  std::vector<int64_t> in_st = row_strides(x.shape()), src(r);
  bool identity = true;
  for (int d = 0; d < r; ++d) {
    int64_t p = perm[d];
    if (p < 0 || p >= r || seen[p]) fail(Code::BadInput, op, ": invalid permutation");
    seen[p] = 1;
    out[d] = x.dim(int(p));
    src[d] = in_st[p];
    identity = identity && p == d;
  }
  if (identity) return x;
  Tensor y = Tensor::empty(x.dtype(), out);
  const size_t es = dtype_size(x.dtype());
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(y.raw());
  std::array<const int64_t*, 1> st{src.data()};
  if (es == 4) {
    for_each_broadcast<1>(
        out, st, [&](int64_t o, const std::array<int64_t, 1>& off) { std::memcpy(d + o * 4, s + off[0] * 4, 4); });
  } else {
    for_each_broadcast<1>(
        out, st, [&](int64_t o, const std::array<int64_t, 1>& off) { std::memcpy(d + o * es, s + off[0] * es, es); });
  }
  return y;
}

std::vector<int64_t> int_list(const Tensor& t, const char* op, const char* what) {
  if (t.rank() > 1) fail(Code::BadInput, op, ": ", what, " must be a 1-D tensor, got ", shape_str(t.shape()));
  if (t.dtype() != DType::I64 && t.dtype() != DType::I32 && t.dtype() != DType::I16 && t.dtype() != DType::I8 &&
      t.dtype() != DType::U8)
    fail(Code::BadInput, op, ": ", what, " must be integers, got ", dtype_name(t.dtype()));
  return t.as_i64();
}

double scalar_value(const Tensor& t, const char* op, const char* what) {
  if (t.numel() != 1) fail(Code::BadInput, op, ": ", what, " must hold one value, got ", shape_str(t.shape()));
  return with_dtype(t.dtype(), op, [&](auto z) { return double(t.data<decltype(z)>()[0]); });
}

}  // namespace bgn::onnxrt
