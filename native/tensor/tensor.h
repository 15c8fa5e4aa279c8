// Tensor: a shape, a dtype and a pointer into shared storage.
// Storage is either owned (aligned heap) or borrowed (a view into an mmap'd weight file, kept
// alive by a shared_ptr to the mapping), or device memory of a Gpu (a DeviceBuffer, see
// tensor/device_buffer.h), whose pointer host code must never dereference. Tensors are cheap
// to copy: copies share storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace bgn {

class DeviceBuffer;

// Q* are GGUF/ggml block-quantized types (tensor/quant.h): a tensor of them is stored as blocks of
// dtype_block(t) consecutive elements along its last dimension, dtype_block_bytes(t) bytes each.
enum class DType : uint8_t {
  F32,
  F16,
  BF16,
  F64,
  I64,
  I32,
  I16,
  I8,
  U8,
  Bool,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q4_K,
  Q5_K,
  Q6_K,
  Q8_K
};

// Bytes per element (for block types: of one block, see dtype_block_bytes).
size_t dtype_size(DType t);
const char* dtype_name(DType t);
// Block types: elements per block (32 or 256) and bytes per block; 1 and dtype_size otherwise.
bool dtype_is_block(DType t);
int64_t dtype_block(DType t);
size_t dtype_block_bytes(DType t);
// Bytes of n consecutive elements; for block types n must be a multiple of the block size.
size_t dtype_bytes(DType t, int64_t n);

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
  // Device-resident: data()/raw() are the buffer's device pointer; the tensor keeps the buffer
  // alive. Fails (E_INTERNAL) when the buffer is smaller than the shape needs.
  static Tensor device(DType dtype, Shape shape, std::shared_ptr<DeviceBuffer> buffer);

  bool on_device() const { return on_device_; }

  bool defined() const { return data_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return dtype_bytes(dtype_, numel_); }

  template <class T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  // Same storage, new shape with the same number of elements.
  Tensor reshaped(Shape shape) const;
  // Same storage: the elements [offset, offset + numel(shape)) viewed with `shape` (a contiguous
  // piece, such as one output of a Split along the leading axes). Not for block dtypes.
  Tensor part(int64_t offset, Shape shape) const;
  // Host storage that no other Tensor shares (a value whose last reader may overwrite it).
  bool sole_owner() const { return storage_ && storage_.use_count() == 1 && !on_device_; }
  // Deep copy converted to dtype (f16/bf16/ints → f32 and back). Host tensors only.
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(dtype_); }
  // Values as int64 (for shape arithmetic): accepts I64/I32/I8/U8/Bool/F32 host tensors.
  std::vector<int64_t> as_i64() const;

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<const void> storage_;
  bool on_device_ = false;
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

// Bulk conversions used when widening weights (block types: dequantized; n a multiple of the block).
void convert_to_f32(DType src_type, const void* src, float* dst, int64_t n);

}  // namespace bgn
