#include "tensor/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

namespace {

constexpr size_t kLarge = size_t(1) << 20;

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // mapped size -> block
  std::unordered_map<void*, size_t> mapped;  // every large block, cached or in use -> its mapped size
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

// Large blocks are mapped pages of their own, not the C heap's: freed, they go back to the OS at
// once (the heap keeps freed chunks under its mmap threshold, up to 32 MiB each, resident for
// good). No MADV_HUGEPAGE: where the kernel's THP defrag policy is "madvise" (a common default),
// the first touch of an advised block compacts memory synchronously, which made a cold VAE decode
// at 512² two to three times slower; reuse through the cache saves more than huge pages did.
void* map_block(size_t size) {
#if defined(__unix__) || defined(__APPLE__)
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
#else
  return std::aligned_alloc(4096, size);
#endif
}

void unmap_block(void* p, size_t size) {
#if defined(__unix__) || defined(__APPLE__)
  munmap(p, size);
#else
  (void)size;
  std::free(p);
#endif
}

}  // namespace

void* tensor_alloc(size_t bytes) {
  const size_t size = round_size(bytes == 0 ? 64 : bytes);
  if (size < kLarge) return std::aligned_alloc(64, size);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    // Best fit among cached blocks no more than 1/8 larger than asked.
    auto it = c.free_blocks.lower_bound(size);
    if (it != c.free_blocks.end() && it->first <= size + size / 8) {
      void* p = it->second;
      c.bytes -= it->first;
      c.free_blocks.erase(it);
      return p;
    }
  }
  void* p = map_block(size);
  if (!p) return nullptr;
  std::lock_guard<std::mutex> lock(c.mu);
  c.mapped.emplace(p, size);
  return p;
}

void tensor_free(void* p, size_t bytes) {
  if (!p) return;
  if (round_size(bytes == 0 ? 64 : bytes) < kLarge) {
    std::free(p);
    return;
  }
  Cache& c = cache();
  std::unique_lock<std::mutex> lock(c.mu);
  auto m = c.mapped.find(p);
  if (m == c.mapped.end()) return;  // not ours: never happens for a block from tensor_alloc
  const size_t size = m->second;    // a cached block handed out for a smaller size keeps its own
  if (c.bytes + size <= c.cap) {
    c.free_blocks.emplace(size, p);
    c.bytes += size;
    return;
  }
  c.mapped.erase(m);
  lock.unlock();
  unmap_block(p, size);
}

void tensor_cache_trim() {
  Cache& c = cache();
  std::multimap<size_t, void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    blocks.swap(c.free_blocks);
    for (const auto& kv : blocks) c.mapped.erase(kv.second);
    c.bytes = 0;
  }
  for (const auto& [size, p] : blocks) unmap_block(p, size);
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
