// Device math intrinsics and atomics of the emulator. The fast intrinsics (__expf, __logf, ...)
// are computed exactly here; kernel tests must allow the GPU's few-ulp differences anyway.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>

inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }

// CUDA's global min/max overloads for the common types.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

// Atomics: the GCC __atomic builtins on the object's own storage, so they are atomic with respect
// to each other across the block's OS threads; float operations go through a CAS loop on the bits.
namespace bgn::emu {
template <class Op>
inline float atomic_float_update(float* p, Op op) {
  uint32_t* u = reinterpret_cast<uint32_t*>(p);
  uint32_t old_bits = __atomic_load_n(u, __ATOMIC_RELAXED);
  for (;;) {
    float old_value;
    std::memcpy(&old_value, &old_bits, sizeof old_value);
    const float new_value = op(old_value);
    uint32_t new_bits;
    std::memcpy(&new_bits, &new_value, sizeof new_bits);
    if (__atomic_compare_exchange_n(u, &old_bits, new_bits, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
      return old_value;
  }
}
template <class T, class Op>
inline T atomic_int_update(T* p, Op op) {
  T old_value = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old_value, op(old_value), false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {}
  return old_value;
}
}  // namespace bgn::emu

inline float atomicAdd(float* p, float v) {
  return bgn::emu::atomic_float_update(p, [v](float old) { return old + v; });
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned int atomicAdd(unsigned int* p, unsigned int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
inline int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
inline int atomicMax(int* p, int v) {
  return bgn::emu::atomic_int_update(p, [v](int old) { return old > v ? old : v; });
}
inline unsigned int atomicMax(unsigned int* p, unsigned int v) {
  return bgn::emu::atomic_int_update(p, [v](unsigned int old) { return old > v ? old : v; });
}
inline int atomicMin(int* p, int v) {
  return bgn::emu::atomic_int_update(p, [v](int old) { return old < v ? old : v; });
}
inline unsigned int atomicMin(unsigned int* p, unsigned int v) {
  return bgn::emu::atomic_int_update(p, [v](unsigned int old) { return old < v ? old : v; });
}
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline unsigned int atomicExch(unsigned int* p, unsigned int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline float atomicExch(float* p, float v) {
  return bgn::emu::atomic_float_update(p, [v](float) { return v; });
}
inline int atomicCAS(int* p, int compare, int v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
inline unsigned int atomicCAS(unsigned int* p, unsigned int compare, unsigned int v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
// Memory fences: the team's barriers already order memory; these keep kernels compiling.
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
