#include "backend/gpu.h"

namespace bgn {

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    gpu_ = o.gpu_;
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.gpu_ = nullptr;
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (gpu_ && p_) gpu_->release(p_, bytes_);
  gpu_ = nullptr;
  p_ = nullptr;
  bytes_ = 0;
}

}  // namespace bgn
