// What this CPU can run, detected once at run time (cpuid and the OS's saved register state), so
// one build of the addon picks the fastest kernels the machine offers and never executes an
// instruction it lacks.
#pragma once

namespace bgn::cpu {

struct CpuFeatures {
  // AVX-512 (F, BW, VL, DQ) with the OS saving the ZMM and mask registers.
  bool avx512 = false;
  // AVX512-BF16 on top of that: vdpbf16ps (bf16 pairs dotted into f32) and vcvtne2ps2bf16.
  bool avx512_bf16 = false;
  // AMX tiles with the bf16 dot product, and the OS saving tile data (XCR0 bits 17 and 18); the
  // process must still ask Linux for the tile state before using them (gemm_amx.h, amx_usable()).
  bool amx_bf16 = false;
};

const CpuFeatures& cpu_features();

// A short description of the 16-bit compute on this CPU for messages: "AVX512-BF16", "AMX-BF16,
// AVX512-BF16" or "none".
const char* bf16_compute_name();

}  // namespace bgn::cpu
