#include "tensor/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

namespace {

constexpr size_t kLarge = size_t(1) << 20;
constexpr size_t kPage = 4096;

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // rounded size -> block
  size_t bytes = 0;
  size_t cap = knobs::alloc_cache_bytes();
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: blocks may be freed during static teardown
  return *c;
}

size_t round_size(size_t bytes) {
  if (bytes < kLarge) return ((bytes + 63) / 64) * 64;
  return ((bytes + (kLarge / 16) - 1) / (kLarge / 16)) * (kLarge / 16);  // 64 KiB steps
}

}  // namespace

void* tensor_alloc(size_t bytes) {
  size_t size = round_size(bytes == 0 ? 64 : bytes);
  if (size >= kLarge) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    // Best fit among cached blocks no more than 1/8 larger than asked.
    auto it = c.free_blocks.lower_bound(size);
    if (it != c.free_blocks.end() && it->first <= size + size / 8) {
      // The block may be up to 1/8 larger than asked; it is filed under the smaller size when
      // freed again, which only under-counts the cache.
      void* p = it->second;
      c.bytes -= it->first;
      c.free_blocks.erase(it);
      return p;
    }
  }
  // No MADV_HUGEPAGE: where the kernel's THP defrag policy is "madvise" (a common default), the
  // first touch of an advised block compacts memory synchronously, which made a cold VAE decode
  // at 512² two to three times slower; reuse through the cache saves more than huge pages did.
  void* p = std::aligned_alloc(size >= kLarge ? kPage : 64, size);
  return p;
}

void tensor_free(void* p, size_t bytes) {
  if (!p) return;
  size_t size = round_size(bytes == 0 ? 64 : bytes);
  if (size >= kLarge) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + size <= c.cap) {
      c.free_blocks.emplace(size, p);
      c.bytes += size;
      return;
    }
  }
  std::free(p);
}

void tensor_cache_trim() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& kv : c.free_blocks) std::free(kv.second);
  c.free_blocks.clear();
  c.bytes = 0;
}

size_t tensor_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

CachedBlock::CachedBlock(size_t bytes, const char* what) : p_(tensor_alloc(bytes)), bytes_(bytes) {
  if (!p_) fail(Code::OutOfMemory, "could not allocate ", (bytes + (size_t(1) << 20) - 1) >> 20, " MiB for ", what);
}

CachedBlock::~CachedBlock() { tensor_free(p_, bytes_); }

CachedBlock& CachedBlock::operator=(CachedBlock&& o) noexcept {
  if (this != &o) {
    tensor_free(p_, bytes_);
    p_ = o.p_;
    bytes_ = o.bytes_;
    o.p_ = nullptr;
  }
  return *this;
}

}  // namespace bgn
