// Aligned allocation for tensor storage, with a cache of freed large blocks.
// A network run allocates and frees the same large activation sizes over and over; handing
// them back to the OS each time costs a page fault per 4 KiB on the next use. Freed blocks of
// 1 MiB and more are kept (up to a cap, BGN_ALLOC_CACHE_MB, default 1024) and reused like a heap's
// chunks: a close fit as it is, else a larger block split (the tail stays cached), else a smaller
// one grown (on Linux, only the new part faults in); a freed block merges with cached neighbours
// cut from the same mapping, so a pass that repeats the last one's sizes finds them all cached.
// Growing or mapping anew first evicts the longest unused cached blocks where the large blocks
// would pass the most the blocks in use have needed, so the cache does not raise a run's peak.
#pragma once
#include <cstddef>

namespace bgn {

// 64-byte aligned; nullptr on failure.
void* tensor_alloc(size_t bytes);
void tensor_free(void* p, size_t bytes);
// Returns every cached block to the OS, and starts the high-water mark of the blocks in use again
// from what is in use now (from then on the cache fills only up to what they reach: call it between phases of work
// whose sizes differ, e.g. a model load and its passes).
void tensor_cache_trim();
size_t tensor_cache_bytes();
// Gives the C heap's free pages back to the OS: glibc keeps the chunks freed in each thread's
// arena resident (every libuv worker that ran a call has one). For the ends of phases of work.
void heap_trim();

// An owning, uninitialised block from tensor_alloc, handed back to the cache when destroyed: for
// scratch and activation memory that is allocated and freed at the same sizes call after call.
class CachedBlock {
 public:
  CachedBlock() = default;
  // E_OUT_OF_MEMORY naming `what` when the block cannot be had.
  CachedBlock(size_t bytes, const char* what);
  ~CachedBlock();
  CachedBlock(CachedBlock&& o) noexcept : p_(o.p_), bytes_(o.bytes_) { o.p_ = nullptr; }
  CachedBlock& operator=(CachedBlock&& o) noexcept;
  CachedBlock(const CachedBlock&) = delete;
  CachedBlock& operator=(const CachedBlock&) = delete;

  template <class T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace bgn
