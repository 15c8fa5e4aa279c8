// Helpers shared by the ONNX kernels that work on any dtype and any rank: output allocation
// under an element limit, numpy broadcasting, axis permutation and dtype dispatch.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/error.h"
#include "tensor/tensor.h"

namespace bgn::onnxrt {

// Largest number of elements one kernel output (or scratch buffer) may hold; past it the kernel
// fails with E_BAD_INPUT naming the op (a hostile shape must not exhaust memory). Default 2^32.
int64_t output_element_limit();
void set_output_element_limit(int64_t n);
// Fails past the limit; returns the element count.
int64_t check_elements(const Shape& shape, const char* op);
// Tensor::empty after check_elements.
Tensor new_output(DType dtype, Shape shape, const char* op);

// Broadcast shape of several operands (numpy rules); E_BAD_INPUT naming `op` when they do not.
Shape broadcast_all(const std::vector<const Shape*>& shapes, const char* op);
// Element strides of `in` read at the positions of `out` (right-aligned; 0 on broadcast axes).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Whether `in` broadcasts into `out` without widening it (right-aligned, each axis equal or 1).
bool broadcasts_into(const Shape& in, const Shape& out);
// The offset of each entry of `shape` (row-major) given a stride per axis (strides[0..rank)).
std::vector<int64_t> entry_offsets(const Shape& shape, const int64_t* strides);
// For batched matrix products: the matrix index, in an operand whose leading (batch) axes are
// `own`, of each entry of `batch` (row-major); own must broadcast into batch (broadcasts_into).
std::vector<int64_t> batch_matrix_index(const Shape& own, const Shape& batch);
// Row-major strides of a shape.
std::vector<int64_t> row_strides(const Shape& s);

// Calls f(o, off) for every output element o (row-major over `out`), off[k] being the element
// offset in operand k (strides[k] from broadcast_strides, each of out's rank).
template <size_t K, class F>
void for_each_broadcast(const Shape& out, const std::array<const int64_t*, K>& strides, F&& f) {
  const int r = int(out.size());
  int64_t n = 1;
  for (int64_t d : out) n *= d;
  if (n == 0) return;
  std::array<int64_t, K> off{};
  if (r == 0) {
    f(int64_t(0), off);
    return;
  }
  const int64_t inner = out[r - 1];
  std::vector<int64_t> idx(r, 0);
  std::array<int64_t, K> base{}, step{};
  for (size_t k = 0; k < K; ++k) step[k] = strides[k][r - 1];
  for (int64_t o = 0; o < n; o += inner) {
    for (int64_t j = 0; j < inner; ++j) {
      for (size_t k = 0; k < K; ++k) off[k] = base[k] + j * step[k];
      f(o + j, off);
    }
    for (int d = r - 2; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < K; ++k) base[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (size_t k = 0; k < K; ++k) base[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
}

// y = x with its axes permuted (y.dim(i) = x.dim(perm[i])); perm is checked.
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm, const char* op);

// Calls f(T{}) with T the C++ type that holds values of dtype t (bool as uint8_t).
// Floating-point values are f32 at run time; other dtypes are E_MODEL_UNSUPPORTED naming `op`.
template <class F>
decltype(auto) with_dtype(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32:
      return f(float{});
    case DType::F64:
      return f(double{});
    case DType::I64:
      return f(int64_t{});
    case DType::I32:
      return f(int32_t{});
    case DType::I16:
      return f(int16_t{});
    case DType::I8:
      return f(int8_t{});
    case DType::U8:
    case DType::Bool:
      return f(uint8_t{});
    default:
      fail(Code::ModelUnsupported, op, ": ", dtype_name(t), " values are not supported");
  }
}

// A value converted to T: integer targets truncate toward zero and saturate (NaN becomes 0), so
// that no conversion is undefined behaviour.
template <class T, class S>
T convert_value(S v) {
  if constexpr (std::is_floating_point_v<T> || !std::is_floating_point_v<S>) {
    return static_cast<T>(v);
  } else {
    if (!(v == v)) return T(0);
    const double d = double(v);
    if (d <= double(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (d >= double(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(d);
  }
}

// Integer sums and products wrap around (two's complement) instead of overflowing, which would be
// undefined behaviour; floats add and multiply as usual.
template <class T>
T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
  else
    return a + b;
}
template <class T>
T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(std::make_unsigned_t<T>(a)) * uint64_t(std::make_unsigned_t<T>(b)));
  else
    return a * b;
}

// Values of a shape input (i64 any integer dtype), checked to be a 0-D or 1-D tensor.
std::vector<int64_t> int_list(const Tensor& t, const char* op, const char* what);
// One scalar of a 0-D or one-element tensor as a double.
double scalar_value(const Tensor& t, const char* op, const char* what);

}  // namespace bgn::onnxrt
