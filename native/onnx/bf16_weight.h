// A constant weight of a graph node rounded to bf16 and packed for the bf16 GEMM the first time a
// bf16 run needs it, then kept with the kernel: half the f32 weight's size, packed once per graph
// (every handle on the graph shares it) instead of once per call. f32 runs never make one.
#pragma once
#include <memory>
#include <mutex>

#include "backend/cpu/gemm_bf16.h"

namespace bgn::onnxrt {

class Bf16Weight {
 public:
  // The packing of w (R, K) row-major for `side`; made on the first call (on the pool's threads),
  // the same object afterwards. Concurrent first calls wait for one packing.
  const cpu::Bf16Weights& get(ThreadPool& pool, cpu::Bf16Weights::Side side, const float* w, int64_t R,
                              int64_t K) const;
  // A MatMul's constant B as the right operand of X @ B: B (K, N) row-major, or (N, K) when
  // transposed — packed Right with R = N.
  const cpu::Bf16Weights& right_of(ThreadPool& pool, const float* B, bool transposed, int64_t K, int64_t N) const;

 private:
  mutable std::once_flag once_;
  mutable std::unique_ptr<cpu::Bf16Weights> packed_;
};

}  // namespace bgn::onnxrt
