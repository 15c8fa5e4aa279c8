#include "backend/exec.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace bgn {

void copy_from_host(const Exec& e, void* dst, const void* host, size_t bytes) {
  if (bytes == 0) return;
  if (e.gpu)
    e.gpu->upload(dst, host, bytes);
  else
    std::memcpy(dst, host, bytes);
}

void copy_to_host(const Exec& e, void* host, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (e.gpu)
    e.gpu->download(host, src, bytes);
  else
    std::memcpy(host, src, bytes);
}

void copy_within(const Exec& e, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (e.gpu)
    e.gpu->copy(dst, src, bytes);
  else
    std::memcpy(dst, src, bytes);
}

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

}  // namespace bgn
