// Device memory of the emulator: each cudaMalloc is its own mapping, between two guard pages,
// inaccessible (PROT_NONE) except while a launch or a copy runs, so host code that dereferences a
// device pointer crashes at once. The allocation ends at its last page's end (256-byte aligned
// start, as CUDA's), so a kernel overrunning it faults too. Fresh memory is filled with 0xFF bytes
// (NaN floats): a kernel that reads what nobody wrote shows it.
#include <cstdlib>
#include <cstring>
#include <map>
#include <sys/mman.h>
#include <unistd.h>

#include "cuda_emu/internal.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn::emu {

namespace {

struct Allocation {
  char* map = nullptr;  // guard page, data pages, guard page
  size_t map_bytes = 0;
  char* data = nullptr;  // the pages opened during launches
  size_t data_bytes = 0;
  char* user = nullptr;  // what cudaMalloc returned
  size_t size = 0;
};

class DeviceMemory {
 public:
  DeviceMemory() : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))), capacity_(knobs::cuda_emu_memory_bytes()) {}

  size_t capacity() const { return capacity_; }
  size_t used() const { return used_; }

  cudaError_t allocate(void** out, size_t size) {
    if (out == nullptr) return cudaErrorInvalidValue;
    *out = nullptr;
    if (size == 0) return cudaSuccess;
    const size_t rounded = (size + 255) / 256 * 256;
    const size_t data_bytes = (rounded + page_ - 1) / page_ * page_;
    if (data_bytes > capacity_ - used_) return cudaErrorMemoryAllocation;
    void* m = mmap(nullptr, data_bytes + 2 * page_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return cudaErrorMemoryAllocation;
    Allocation a;
    a.map = static_cast<char*>(m);
    a.map_bytes = data_bytes + 2 * page_;
    a.data = a.map + page_;
    a.data_bytes = data_bytes;
    a.user = a.data + (data_bytes - rounded);
    a.size = size;
    protect(a, true);
    std::memset(a.data, 0xFF, a.data_bytes);
    protect(a, open_);
    std::lock_guard<std::mutex> lk(mu_);
    by_user_[reinterpret_cast<uintptr_t>(a.user)] = a;
    used_ += data_bytes;
    *out = a.user;
    return cudaSuccess;
  }

  cudaError_t release(void* p) {
    if (p == nullptr) return cudaSuccess;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = by_user_.find(reinterpret_cast<uintptr_t>(p));
    if (it == by_user_.end()) return cudaErrorInvalidValue;
    munmap(it->second.map, it->second.map_bytes);
    used_ -= it->second.data_bytes;
    by_user_.erase(it);
    return cudaSuccess;
  }

  // The allocation holding [p, p + n), or nullptr.
  const Allocation* find(const void* p, size_t n) {
    std::lock_guard<std::mutex> lk(mu_);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = by_user_.upper_bound(a);
    if (it == by_user_.begin()) return nullptr;
    --it;
    const Allocation& al = it->second;
    const uintptr_t begin = reinterpret_cast<uintptr_t>(al.user);
    if (a < begin || a - begin >= al.size || n > al.size - (a - begin)) return nullptr;
    return &al;
  }

  void protect(const Allocation& a, bool open) {
    if (mprotect(a.data, a.data_bytes, open ? PROT_READ | PROT_WRITE : PROT_NONE) != 0)
      die("mprotect of device memory failed");
  }

  void set_all(bool open) {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = open;
    for (auto& kv : by_user_) protect(kv.second, open);
  }

 private:
  std::mutex mu_;  // the map (is_device_pointer may come from any thread)
  std::map<uintptr_t, Allocation> by_user_;
  size_t page_;
  size_t capacity_;
  size_t used_ = 0;
  bool open_ = false;
};

// Never destroyed: a static DevVec elsewhere may call cudaFree during static destruction.
DeviceMemory& memory() {
  static DeviceMemory* m = new DeviceMemory;
  return *m;
}

cudaError_t report(cudaError_t err) {
  if (err != cudaSuccess) set_last_error(err);
  return err;
}

// Opens the given allocations for one copy (launch_mutex held), closes them again after.
class OpenForCopy {
 public:
  OpenForCopy(const Allocation* a, const Allocation* b) : a_(a), b_(b) {
    if (a_) memory().protect(*a_, true);
    if (b_ && b_ != a_) memory().protect(*b_, true);
  }
  ~OpenForCopy() {
    if (a_) memory().protect(*a_, false);
    if (b_ && b_ != a_) memory().protect(*b_, false);
  }

 private:
  const Allocation* a_;
  const Allocation* b_;
};

}  // namespace

void open_device_memory() { memory().set_all(true); }
void close_device_memory() { memory().set_all(false); }

size_t memory_capacity() { return memory().capacity(); }

bool is_device_pointer(const void* p) { return memory().find(p, 0) != nullptr; }

}  // namespace bgn::emu

using bgn::emu::Allocation;

cudaError_t cudaMalloc(void** ptr, size_t size) {
  std::lock_guard<std::mutex> lk(bgn::emu::launch_mutex());
  return bgn::emu::report(bgn::emu::memory().allocate(ptr, size));
}

cudaError_t cudaFree(void* ptr) {
  std::lock_guard<std::mutex> lk(bgn::emu::launch_mutex());
  return bgn::emu::report(bgn::emu::memory().release(ptr));
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  using namespace bgn::emu;
  std::lock_guard<std::mutex> lk(launch_mutex());
  if (count == 0) return cudaSuccess;
  if (dst == nullptr || src == nullptr) return report(cudaErrorInvalidValue);
  const Allocation* d = memory().find(dst, count);
  const Allocation* s = memory().find(src, count);
  // Each side must be wholly inside one allocation when the kind says device, and must not be
  // device memory when it says host (that copy would be a bug on a GPU without UVA semantics).
  bool dst_device = false, src_device = false;
  switch (kind) {
    case cudaMemcpyHostToHost:
      dst_device = false;
      src_device = false;
      break;
    case cudaMemcpyHostToDevice:
      dst_device = true;
      src_device = false;
      break;
    case cudaMemcpyDeviceToHost:
      dst_device = false;
      src_device = true;
      break;
    case cudaMemcpyDeviceToDevice:
      dst_device = true;
      src_device = true;
      break;
    case cudaMemcpyDefault:
      dst_device = is_device_pointer(dst);
      src_device = is_device_pointer(src);
      break;
    default:
      return report(cudaErrorInvalidMemcpyDirection);
  }
  if (dst_device ? d == nullptr : is_device_pointer(dst)) return report(cudaErrorInvalidValue);
  if (src_device ? s == nullptr : is_device_pointer(src)) return report(cudaErrorInvalidValue);
  OpenForCopy open(dst_device ? d : nullptr, src_device ? s : nullptr);
  std::memmove(dst, src, count);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, count, kind);
}

cudaError_t cudaMemset(void* dst, int value, size_t count) {
  using namespace bgn::emu;
  std::lock_guard<std::mutex> lk(launch_mutex());
  if (count == 0) return cudaSuccess;
  const Allocation* d = memory().find(dst, count);
  if (d == nullptr) return report(cudaErrorInvalidValue);
  OpenForCopy open(d, nullptr);
  std::memset(dst, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t) { return cudaMemset(dst, value, count); }

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  using namespace bgn::emu;
  std::lock_guard<std::mutex> lk(launch_mutex());
  if (free_bytes == nullptr || total_bytes == nullptr) return report(cudaErrorInvalidValue);
  *total_bytes = memory().capacity();
  *free_bytes = memory().capacity() - memory().used();
  return cudaSuccess;
}
