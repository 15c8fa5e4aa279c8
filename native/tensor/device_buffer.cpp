#include "tensor/device_buffer.h"

namespace bgn {

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    allocator_ = o.allocator_;
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.allocator_ = nullptr;
    o.p_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (allocator_ && p_) allocator_->release(p_, bytes_);
  allocator_ = nullptr;
  p_ = nullptr;
  bytes_ = 0;
}

}  // namespace bgn
