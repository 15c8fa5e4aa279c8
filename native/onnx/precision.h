// Compute precision of the CPU matrix products in a graph run: f32 (the reference path, what the
// parity with onnxruntime is measured on) or bf16 (constant weights rounded to bf16 and packed
// once, activations rounded as they are packed, every product summed in f32:
// backend/cpu/gemm_bf16.h). A Segmenter handle is shared by the graph cache and carries no
// precision of its own, so the caller sets it for the runs it starts on its thread.
#pragma once

namespace bgn::onnxrt {

// While alive, graph runs started on this thread compute their constant-weight products in bf16
// (bf16 true; the caller checks the CPU has AVX512-BF16) or f32. Scopes nest.
class PrecisionScope {
 public:
  explicit PrecisionScope(bool bf16);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool previous_;
};

// Whether runs started on this thread now compute in bf16.
bool bf16_runs();

}  // namespace bgn::onnxrt
