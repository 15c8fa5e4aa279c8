// Tensor: a shape, a dtype and a pointer into shared storage.
// Storage is either owned (aligned heap) or borrowed (a view into an mmap'd weight file, kept
// alive by a shared_ptr to the mapping). Tensors are cheap to copy: copies share storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace bgn {

enum class DType : uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
// Number of elements; fails with E_BAD_INPUT on negative dims or overflow past 2^62.
int64_t shape_numel(const Shape& s);

class Tensor {
 public:
  Tensor() = default;

  // Owned, uninitialised, 64-byte aligned. Throws E_OUT_OF_MEMORY when allocation fails.
  static Tensor empty(DType dtype, Shape shape);
  static Tensor zeros(DType dtype, Shape shape);
  // Borrowed: `data` stays valid while `keepalive` lives.
  static Tensor view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> keepalive);
  static Tensor scalar_f32(float v);
  static Tensor from_i64(const std::vector<int64_t>& v);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }

  template <class T> T* data() { return static_cast<T*>(data_); }
  template <class T> const T* data() const { return static_cast<const T*>(data_); }
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  // Same storage, new shape with the same number of elements.
  Tensor reshaped(Shape shape) const;
  // Deep copy converted to dtype (f16/bf16/ints → f32 and back).
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(dtype_); }
  // Values as int64 (for shape arithmetic): accepts I64/I32/I8/U8/Bool/F32 tensors.
  std::vector<int64_t> as_i64() const;

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<const void> storage_;
};

// IEEE half / bfloat16 conversions (round to nearest even).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);

// Bulk conversions used when widening weights.
void convert_to_f32(DType src_type, const void* src, float* dst, int64_t n);

}  // namespace bgn
