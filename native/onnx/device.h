// Device tensors for the ONNX executor: f32 values in a Gpu's memory (Tensor::device), moved
// between host and device by the executor and created by the kernels' GPU paths.
#pragma once
#include "backend/gpu.h"
#include "onnx/kernel.h"
#include "tensor/tensor.h"

namespace bgn::onnxrt {

// Uninitialised device tensor from the Gpu's pool (E_OUT_OF_MEMORY when it is full).
Tensor device_empty(Gpu& gpu, DType dtype, Shape shape);
// host → device copy of a host tensor (a device tensor is returned as is).
Tensor to_device(Gpu& gpu, const Tensor& t);
// device → host copy, waiting for the queued ops (a host tensor is returned as is).
Tensor to_host(Gpu& gpu, const Tensor& t);

// The Gpu of a run whose kernel got device inputs; E_INTERNAL when there is none.
Gpu& need_gpu(const RunContext& ctx, const char* op);

}  // namespace bgn::onnxrt
