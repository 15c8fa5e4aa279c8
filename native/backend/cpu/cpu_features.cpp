#include "backend/cpu/cpu_features.h"

#include <cstdint>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace bgn::cpu {

namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave || __get_cpuid_max(0, nullptr) < 7) return f;
  const uint64_t xcr = xcr0();
  // SSE, AVX, opmask, upper halves of ZMM0-15, ZMM16-31.
  const bool zmm_state = (xcr & 0xE6) == 0xE6;
  const bool tile_state = ((xcr >> 17) & 3) == 3;
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  __cpuid_count(7, 0, a7, b7, c7, d7);
  const bool f512 = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
  f.avx512 = zmm_state && f512 && dq && bw && vl;
  unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
  if (a7 >= 1) __cpuid_count(7, 1, a71, b71, c71, d71);
  f.avx512_bf16 = f.avx512 && ((a71 >> 5) & 1);
  const bool amx_bf16 = (d7 >> 22) & 1, amx_tile = (d7 >> 24) & 1;
  f.amx_bf16 = tile_state && amx_bf16 && amx_tile;
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* bf16_compute_name() {
  const CpuFeatures& f = cpu_features();
  if (f.amx_bf16 && f.avx512_bf16) return "AMX-BF16, AVX512-BF16";
  if (f.avx512_bf16) return "AVX512-BF16";
  if (f.amx_bf16) return "AMX-BF16";
  return "none";
}

}  // namespace bgn::cpu
