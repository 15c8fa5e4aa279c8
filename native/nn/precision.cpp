#include "nn/precision.h"

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/gemm_bf16.h"
#include "tensor/error.h"

namespace bgn::nn {

Precision resolve_precision(const std::string& option, bool on_cpu) {
  if (option.empty() || option == "f32") return Precision::F32;
  if (option == "auto") return on_cpu && cpu::bf16_gemm_supported() ? Precision::BF16 : Precision::F32;
  if (option == "bf16") {
    if (!on_cpu) return Precision::F32;
    if (!cpu::bf16_gemm_supported())
      fail(Code::DeviceUnavailable,
           "precision 'bf16' needs a CPU with AVX512-BF16 (bf16 compute found: ", cpu::bf16_compute_name(),
           "); use precision 'auto' (bf16 where the CPU has it, else f32) or 'f32'");
    return Precision::BF16;
  }
  fail(Code::BadInput, "precision must be 'auto', 'f32' or 'bf16'; got '", option, "'");
}

const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "f32"; }

}  // namespace bgn::nn
