// DevicePool: the caching allocator behind Gpu::alloc. cudaMalloc and cudaFree synchronise the
// device and cost tens of microseconds, and a forward pass allocates and frees the same
// activation sizes again and again, so freed blocks are kept and handed out again (best fit).
//
// Sizes are rounded up (512 B below 1 MiB, 2 MiB above) so that nearby sizes share blocks. A
// block is never split: a request takes a cached block of at most 2x its size (small) or
// 1.25x (large), else a new one. BGN_CUDA_MEMORY_LIMIT_MB caps what the pool holds (in use +
// cached), so a user can share a GPU; it is read at each allocation (tensor/knobs.h), so a test
// or an embedding application may change it at run time. All work on one stream, so a block freed by one op and
// reused by the next is ordered by the stream; blocks are only given back to CUDA after a
// device synchronisation.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace bgn::cuda {

// "12.5 MiB"
std::string mib(size_t bytes);

class DevicePool {
 public:
  explicit DevicePool(int device) : device_(device) {}
  ~DevicePool();  // frees every block (cached and live)
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  // A block of at least `bytes` (never null for bytes > 0); E_OUT_OF_MEMORY when neither the
  // cache, the limit nor the device allow it (after freeing the cache and retrying once).
  void* alloc(size_t bytes);
  // Back to the cache. Unknown pointers are ignored (a destructor calls this; it must not throw).
  void release(void* p);
  // E_OUT_OF_MEMORY up front when `bytes` more cannot be held: above what the device has free
  // plus what the cache holds, or above the limit minus what is in use.
  void reserve(size_t bytes);
  // Returns every cached block to CUDA (after a device synchronisation).
  void trim();

  size_t in_use() const;
  size_t peak() const;
  size_t cached() const;
  static size_t round_size(size_t bytes);

 private:
  void* take_cached(size_t rounded);                                    // under mu_
  void free_cached();                                                   // under mu_
  [[noreturn]] void out_of_memory(size_t requested, const char* what);  // under mu_

  int device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;       // cached blocks by size
  std::unordered_map<void*, size_t> live_;  // blocks handed out → their size
  size_t in_use_ = 0, cached_ = 0, peak_ = 0;
};

}  // namespace bgn::cuda
