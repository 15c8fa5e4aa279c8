#include "tensor/tensor.h"

#include <limits>

#include "tensor/allocator.h"
#include "tensor/device_buffer.h"
#include "tensor/quant.h"
#include "tensor/residency.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace bgn {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64:
      return 8;
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16:
      return 2;
    case DType::I8:
    case DType::U8:
    case DType::Bool:
      return 1;
    default:
      return quant::block_bytes(t);
  }
}

bool dtype_is_block(DType t) { return t >= DType::Q4_0 && t <= DType::Q8_K; }
int64_t dtype_block(DType t) { return dtype_is_block(t) ? quant::block_size(t) : 1; }
size_t dtype_block_bytes(DType t) { return dtype_size(t); }
size_t dtype_bytes(DType t, int64_t n) {
  if (!dtype_is_block(t)) return static_cast<size_t>(n) * dtype_size(t);
  return static_cast<size_t>(n / quant::block_size(t)) * quant::block_bytes(t);
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    case DType::F64:
      return "f64";
    case DType::I64:
      return "i64";
    case DType::I32:
      return "i32";
    case DType::I16:
      return "i16";
    case DType::I8:
      return "i8";
    case DType::U8:
      return "u8";
    case DType::Bool:
      return "bool";
    default:
      return quant::type_name(t);
  }
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    BGN_CHECK(d >= 0, Code::BadInput, "negative dimension in shape ", shape_str(s));
    if (d != 0 && n > (int64_t(1) << 62) / d) fail(Code::BadInput, "shape ", shape_str(s), " is too large");
    n *= d;
  }
  return n;
}

namespace {
struct CachedFree {
  size_t bytes;
  void operator()(void* p) const { tensor_free(p, bytes); }
};
}  // namespace

namespace {
// Block types hold whole blocks along the last dimension.
void check_block_shape(DType dtype, const Shape& shape) {
  if (!dtype_is_block(dtype)) return;
  if (shape.empty() || shape.back() % dtype_block(dtype) != 0)
    fail(Code::BadInput, "a ", dtype_name(dtype), " tensor needs its last dimension to be a multiple of ",
         dtype_block(dtype), ", got shape ", shape_str(shape));
}
}  // namespace

Tensor Tensor::empty(DType dtype, Shape shape) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  check_block_shape(dtype, shape);
  t.shape_ = std::move(shape);
  size_t bytes = dtype_bytes(dtype, t.numel_);
  if (!dtype_is_block(dtype) && bytes / dtype_size(dtype) != static_cast<size_t>(t.numel_))
    fail(Code::OutOfMemory, "tensor too large");
  void* p = tensor_alloc(bytes);
  if (!p)
    fail(Code::OutOfMemory, "could not allocate ", bytes, " bytes for a ", dtype_name(dtype), " tensor ",
         shape_str(t.shape_));
  t.storage_ = std::shared_ptr<void>(p, CachedFree{bytes});
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::view(DType dtype, Shape shape, const void* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  check_block_shape(dtype, shape);
  t.shape_ = std::move(shape);
  t.data_ = const_cast<void*>(data);
  t.storage_ = std::move(keepalive);
  if (ResidentRanges* scope = ResidencyScope::current(); scope && t.nbytes() > 0)
    scope->ranges.push_back(ResidentRange{data, t.nbytes(), t.storage_, t.storage_ != nullptr});
  return t;
}

Tensor Tensor::scalar_f32(float v) {
  Tensor t = empty(DType::F32, {});
  t.data<float>()[0] = v;
  return t;
}

Tensor Tensor::from_i64(const std::vector<int64_t>& v) {
  Tensor t = empty(DType::I64, {static_cast<int64_t>(v.size())});
  if (!v.empty()) std::memcpy(t.data_, v.data(), v.size() * 8);
  return t;
}

Tensor Tensor::device(DType dtype, Shape shape, std::shared_ptr<DeviceBuffer> buffer) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  check_block_shape(dtype, shape);
  t.shape_ = std::move(shape);
  if (!buffer || buffer->bytes() < t.nbytes())
    fail(Code::Internal, "a device buffer of ", buffer ? buffer->bytes() : 0, " bytes cannot hold a ",
         dtype_name(dtype), " tensor ", shape_str(t.shape_));
  t.data_ = buffer->get();
  t.storage_ = std::move(buffer);
  t.on_device_ = true;
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  int64_t n = shape_numel(shape);
  BGN_CHECK(n == numel_, Code::BadInput, "cannot reshape ", shape_str(shape_), " to ", shape_str(shape));
  check_block_shape(dtype_, shape);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::part(int64_t offset, Shape shape) const {
  const int64_t n = shape_numel(shape);
  BGN_CHECK(!dtype_is_block(dtype_) && offset >= 0 && n <= numel_ - offset, Code::Internal, "a part of ", n,
            " elements at ", offset, " of a ", shape_str(shape_), " tensor");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  if (data_) t.data_ = static_cast<uint8_t*>(data_) + size_t(offset) * dtype_size(dtype_);
  return t;
}

namespace {

// Reads element i of any dtype as double (exact for every value the integer dtypes hold
// up to 2^53, which covers shape arithmetic).
double load(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::F32:
      return static_cast<const float*>(p)[i];
    case DType::F64:
      return static_cast<const double*>(p)[i];
    case DType::I64:
      return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DType::I32:
      return static_cast<const int32_t*>(p)[i];
    case DType::I16:
      return static_cast<const int16_t*>(p)[i];
    case DType::I8:
      return static_cast<const int8_t*>(p)[i];
    case DType::U8:
    case DType::Bool:
      return static_cast<const uint8_t*>(p)[i];
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default:
      break;  // block types are converted whole (convert_to_f32)
  }
  return 0;
}

template <class Src>
void widen_to_f32(const Src* s, float* d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<float>(s[i]);
}

}  // namespace

namespace {
// v truncated toward zero and clamped to I's range; NaN → 0. 2^63 is exact in a double, so the
// comparisons with the bounds of int64 are exact too.
template <class I>
I saturate(double v) {
  if (!(v == v)) return 0;
  const double lo = static_cast<double>(std::numeric_limits<I>::min());
  const double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (v <= lo) return std::numeric_limits<I>::min();
  if (v >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}
}  // namespace

Tensor Tensor::to(DType dtype) const {
  // Device memory is not readable here (on the CUDA emulator it is not even mapped).
  if (on_device_)
    fail(Code::Internal, "host code converted a device tensor ", shape_str(shape_), "; download it first");
  Tensor out = empty(dtype, shape_);
  if (dtype == dtype_) {
    if (nbytes()) std::memcpy(out.data_, data_, nbytes());
    return out;
  }
  if (dtype_is_block(dtype) || (dtype_is_block(dtype_) && dtype != DType::F32)) {
    if (!dtype_is_block(dtype_) && dtype_ == DType::F32) {
      quant::quantize(dtype, data<float>(), out.data_, numel_);
      return out;
    }
    return to(DType::F32).to(dtype);
  }
  if (dtype == DType::F32) {
    float* d = out.data<float>();
    if (dtype_is_block(dtype_)) {
      convert_to_f32(dtype_, data_, d, numel_);
      return out;
    }
    switch (dtype_) {
      case DType::F16:
      case DType::BF16:
        convert_to_f32(dtype_, data_, d, numel_);
        return out;
      case DType::I32:
        widen_to_f32(data<int32_t>(), d, numel_);
        return out;
      case DType::U8:
        widen_to_f32(data<uint8_t>(), d, numel_);
        return out;
      case DType::I8:
        widen_to_f32(data<int8_t>(), d, numel_);
        return out;
      case DType::I64:
        widen_to_f32(data<int64_t>(), d, numel_);
        return out;
      case DType::F64:
        widen_to_f32(data<double>(), d, numel_);
        return out;
      default:
        break;
    }
  }
  // Integer targets truncate toward zero, as a C cast does, and saturate at the type's range (NaN
  // becomes 0): a value a file holds can be anything, and an out-of-range conversion is undefined.
  for (int64_t i = 0; i < numel_; ++i) {
    double v = load(data_, dtype_, i);
    switch (dtype) {
      case DType::F32:
        out.data<float>()[i] = static_cast<float>(v);
        break;
      case DType::F64:
        out.data<double>()[i] = v;
        break;
      case DType::I64:
        out.data<int64_t>()[i] = saturate<int64_t>(v);
        break;
      case DType::I32:
        out.data<int32_t>()[i] = saturate<int32_t>(v);
        break;
      case DType::I16:
        out.data<int16_t>()[i] = saturate<int16_t>(v);
        break;
      case DType::I8:
        out.data<int8_t>()[i] = saturate<int8_t>(v);
        break;
      case DType::U8:
        out.data<uint8_t>()[i] = saturate<uint8_t>(v);
        break;
      case DType::Bool:
        out.data<uint8_t>()[i] = v != 0.0;
        break;
      case DType::F16:
        out.data<uint16_t>()[i] = f32_to_f16(static_cast<float>(v));
        break;
      case DType::BF16:
        out.data<uint16_t>()[i] = f32_to_bf16(static_cast<float>(v));
        break;
      default:
        break;
    }
  }
  return out;
}

std::vector<int64_t> Tensor::as_i64() const {
  if (on_device_) fail(Code::Internal, "host code read the values of a device tensor ", shape_str(shape_));
  Tensor t = dtype_ == DType::I64 ? *this : to(DType::I64);
  return std::vector<int64_t>(t.data<int64_t>(), t.data<int64_t>() + t.numel());
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 112) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow → inf
  if (absx < 0x38800000u) {                                               // subnormal or zero in half
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
    int shift = 113 - static_cast<int>(absx >> 23) + 13;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((absx - 0x38000000u) >> 13);
  uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);
  uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

void convert_to_f32(DType src_type, const void* src, float* dst, int64_t n) {
  if (src_type == DType::F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
  } else if (src_type == DType::F16) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else if (src_type == DType::BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
  } else if (dtype_is_block(src_type)) {
    quant::dequantize(src_type, src, dst, n);
  } else {
    fail(Code::Internal, "convert_to_f32: unsupported source dtype ", dtype_name(src_type));
  }
}

}  // namespace bgn
