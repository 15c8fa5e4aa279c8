// Exec: where a pass runs, for both runtimes — the nn/ layers (UNet, VAE, CLIP, TAESD) and the
// onnx/ graph executor (segmenters). On the CPU it is the pool's threads and host memory; with a
// Gpu the work is queued on the device and the values it computes live in device memory.
//
// The copies between host memory and where a pass runs live here once: the nn/ activations and
// the executor's device tensors both cross through them.
#pragma once
#include <cstddef>

#include "backend/cpu/threads.h"
#include "backend/gpu.h"
#include "tensor/tensor.h"

namespace bgn {

struct Exec {
  ThreadPool& pool;
  Gpu* gpu = nullptr;  // null: the CPU
  // Whose weights the Gpu's copies are (Gpu::weight's owner): the model running the pass, which
  // releases them when destroyed; null is the Gpu's unowned token. Unused on the CPU.
  const void* owner = nullptr;
  bool on_gpu() const { return gpu != nullptr; }
};

// Raw copies of `bytes` bytes: a memcpy on the CPU, a transfer (or device copy) on a Gpu.
void copy_from_host(const Exec& e, void* dst, const void* host, size_t bytes);  // host → where e runs
void copy_to_host(const Exec& e, void* host, const void* src, size_t bytes);    // where e runs → host; waits
void copy_within(const Exec& e, void* dst, const void* src, size_t bytes);      // where e runs → there

// Device tensors (Tensor::device) in a Gpu's memory.
// Uninitialised, from the Gpu's pool (E_OUT_OF_MEMORY when it is full).
Tensor device_empty(Gpu& gpu, DType dtype, Shape shape);
// host → device copy of a host tensor (a device tensor is returned as is).
Tensor to_device(Gpu& gpu, const Tensor& t);
// device → host copy, waiting for the queued ops (a host tensor is returned as is).
Tensor to_host(Gpu& gpu, const Tensor& t);

}  // namespace bgn
