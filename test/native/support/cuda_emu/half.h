// __half and __nv_bfloat16 of the emulator: 16-bit storage, round-to-nearest-even conversions
// (the same routines as the CPU backend's f16/bf16 tensors) and the implicit float conversions
// cuda_fp16.hpp / cuda_bf16.hpp provide on the host.
#pragma once
#include <cstdint>
#include <cstring>

namespace bgn {
// Defined in tensor/tensor.cpp (bgn_core); round to nearest even, NaN stays NaN.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
uint16_t f32_to_bf16(float f);
}  // namespace bgn

namespace bgn::emu {
inline float bf16_bits_to_f32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
// A 16-bit float (__half or __nv_bfloat16) holding the bits `u`.
template <class H>
inline H from_bits(unsigned short u) {
  H h;
  h.__x = u;
  return h;
}
}  // namespace bgn::emu

struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) : __x(bgn::f32_to_f16(f)) {}
  __half(double d) : __half(static_cast<float>(d)) {}
  __half(int i) : __half(static_cast<float>(i)) {}
  __half(unsigned int u) : __half(static_cast<float>(u)) {}
  operator float() const { return bgn::f16_to_f32(__x); }
};

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(bgn::f32_to_bf16(f)) {}
  __nv_bfloat16(double d) : __nv_bfloat16(static_cast<float>(d)) {}
  __nv_bfloat16(int i) : __nv_bfloat16(static_cast<float>(i)) {}
  __nv_bfloat16(unsigned int u) : __nv_bfloat16(static_cast<float>(u)) {}
  operator float() const { return bgn::emu::bf16_bits_to_f32(__x); }
};

static_assert(sizeof(__half) == 2 && alignof(__half) == 2, "__half is 16 bits like CUDA's");
static_assert(sizeof(__nv_bfloat16) == 2 && alignof(__nv_bfloat16) == 2, "__nv_bfloat16 is 16 bits like CUDA's");

typedef __half half;
typedef __nv_bfloat16 nv_bfloat16;

inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return static_cast<float>(h); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short u) { return bgn::emu::from_bits<__half>(u); }

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return static_cast<float>(b); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return bgn::emu::from_bits<__nv_bfloat16>(u); }
