// Compute precision of a model's CPU layers: f32 (the reference path) or bf16 (weights and
// activations rounded to bf16, products summed in f32; backend/cpu/gemm_bf16.h).
#pragma once
#include <string>

namespace bgn::nn {

enum class Precision { F32, BF16 };

// The precision a load option asks for, as this CPU runs it:
//   "f32" (or empty) — f32;
//   "bf16" — bf16, or E_DEVICE_UNAVAILABLE on a CPU without AVX512-BF16;
//   "auto" — bf16 where the CPU computes it natively, else f32.
// Anything else is E_BAD_INPUT. For a model on a GPU (on_cpu false) the spelling is checked and
// the result is F32: the setting is the CPU's.
Precision resolve_precision(const std::string& option, bool on_cpu = true);

const char* precision_name(Precision p);  // "f32" | "bf16"

}  // namespace bgn::nn
