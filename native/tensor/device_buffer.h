// DeviceBuffer: a block of device memory with one owner, the storage of a device-resident
// Tensor. The tensor layer knows only that the memory came from a DeviceAllocator and goes back to
// it; which device that is (backend/gpu.h: a Gpu is one) is the backend's business.
#pragma once
#include <cstddef>
#include <utility>

namespace bgn {

// Where a DeviceBuffer returns its block when destroyed.
class DeviceAllocator {
 public:
  virtual void release(void* p, size_t bytes) = 0;

 protected:
  ~DeviceAllocator() = default;
};

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceAllocator* allocator, void* p, size_t bytes) : allocator_(allocator), p_(p), bytes_(bytes) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  ~DeviceBuffer() { reset(); }
  void reset();
  void* get() const { return p_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  DeviceAllocator* allocator_ = nullptr;
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace bgn
