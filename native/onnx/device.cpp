#include "onnx/device.h"

#include <algorithm>

#include "onnx/kernel.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

Tensor device_empty(Gpu& gpu, DType dtype, Shape shape) {
  int64_t n = shape_numel(shape);
  // A zero-element tensor still gets a (tiny) buffer so that it has a non-null device pointer.
  size_t bytes = std::max<size_t>(dtype_bytes(dtype, n), 16);
  auto buf = std::make_shared<DeviceBuffer>(gpu.alloc(bytes));
  return Tensor::device(dtype, std::move(shape), std::move(buf));
}

Tensor to_device(Gpu& gpu, const Tensor& t) {
  if (t.on_device()) return t;
  Tensor d = device_empty(gpu, t.dtype(), t.shape());
  if (t.nbytes()) gpu.upload(d.raw(), t.raw(), t.nbytes());
  return d;
}

Tensor to_host(Gpu& gpu, const Tensor& t) {
  if (!t.on_device()) return t;
  Tensor h = Tensor::empty(t.dtype(), t.shape());
  if (t.nbytes()) gpu.download(h.raw(), t.raw(), t.nbytes());
  return h;
}

Gpu& need_gpu(const RunContext& ctx, const char* op) {
  if (!ctx.gpu) fail(Code::Internal, op, ": got device inputs in a run without a Gpu");
  return *ctx.gpu;
}

}  // namespace bgn::onnxrt
