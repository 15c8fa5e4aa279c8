#include "onnx/bf16_weight.h"

#include <algorithm>
#include <vector>

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
    // (K, N) → (N, K) once, in 64×64 blocks, for the row-pair packing.
    std::vector<float> t(size_t(N * K));
    for (int64_t k0 = 0; k0 < K; k0 += 64)
      for (int64_t n0 = 0; n0 < N; n0 += 64)
        for (int64_t k = k0; k < std::min(K, k0 + 64); ++k)
          for (int64_t n = n0; n < std::min(N, n0 + 64); ++n) t[size_t(n * K + k)] = B[k * N + n];
    packed_ = std::make_unique<cpu::Bf16Weights>(pool, cpu::Bf16Weights::Side::Right, t.data(), N, K);
  });
  return *packed_;
}

}  // namespace bgn::onnxrt
