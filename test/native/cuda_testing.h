// Helpers for the CUDA kernel tests (test_cuda_*.cpp): device buffers filled from and read back to
// host vectors through the CUDA runtime API. The same test text runs on the emulated backend
// (every machine) and, in a CUDA build, on the GPU (its *_gpu twin), which skips itself when the
// machine has no CUDA device.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cuda/cuda_kernel.h"
#include "backend/gpu.h"

namespace bgn::testing {

// Ends the test program with status 0 and a line saying why when no device can run it.
inline void require_cuda_device(const char* test) {
  const std::string why = cuda_unavailable_reason(0);
  if (!why.empty()) {
    std::printf("%s: skipped, GPU execution needs a CUDA device: %s\n", test, why.c_str());
    std::exit(0);
  }
  std::printf("%s: running on %s\n", test, cuda_emulated() ? "the CUDA emulator (CPU)" : "a CUDA device");
}

template <class T>
struct DevVec {
  T* p = nullptr;
  size_t n = 0;
  explicit DevVec(size_t count) : n(count) {
    if (cudaMalloc(reinterpret_cast<void**>(&p), (n ? n : 1) * sizeof(T)) != cudaSuccess) {
      std::fprintf(stderr, "cudaMalloc of %zu bytes failed\n", n * sizeof(T));
      std::exit(1);
    }
  }
  explicit DevVec(const std::vector<T>& h) : DevVec(h.size()) { put(h); }
  DevVec(const DevVec&) = delete;
  DevVec& operator=(const DevVec&) = delete;
  ~DevVec() { cudaFree(p); }
  void put(const std::vector<T>& h) { cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    cudaDeviceSynchronize();
    cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
};

}  // namespace bgn::testing
