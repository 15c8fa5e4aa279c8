#include "onnx/bf16_weight.h"

#include <vector>

#include "backend/cpu/transpose.h"

namespace bgn::onnxrt {

const cpu::Bf16Weights& Bf16Weight::get(ThreadPool& pool, cpu::Bf16Weights::Side side, const float* w, int64_t R,
                                        int64_t K) const {
  std::call_once(once_, [&] { packed_ = std::make_unique<cpu::Bf16Weights>(pool, side, w, R, K); });
  return *packed_;
}

const cpu::Bf16Weights& Bf16Weight::right_of(ThreadPool& pool, const float* B, bool transposed, int64_t K,
                                             int64_t N) const {
  std::call_once(once_, [&] {
    if (transposed) {
      packed_ = std::make_unique<cpu::Bf16Weights>(pool, cpu::Bf16Weights::Side::Right, B, N, K);
      return;
    }
    // (K, N) → (N, K) once, for the row-pair packing.
    std::vector<float> t(size_t(N * K));
    cpu::transpose(pool, B, {K, N}, {1, 0}, sizeof(float), t.data());
    packed_ = std::make_unique<cpu::Bf16Weights>(pool, cpu::Bf16Weights::Side::Right, t.data(), N, K);
  });
  return *packed_;
}

}  // namespace bgn::onnxrt
