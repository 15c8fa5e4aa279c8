#include "tensor/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <iterator>
#include <list>
#include <unordered_map>
#include <utility>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

namespace {

constexpr size_t kLarge = size_t(1) << 20;

using Block = std::pair<size_t, void*>;  // mapped size, address

struct Cache {
  std::mutex mu;
  // Cached blocks, the longest unused first, and the same blocks by size.
  std::list<Block> by_age;
  std::multimap<size_t, std::list<Block>::iterator> by_size;
  // Every large block, cached or in use, and its mapped size.
  std::unordered_map<void*, size_t> mapped;
  size_t bytes = 0;         // cached
  size_t mapped_bytes = 0;  // all large blocks, cached or in use
  size_t high = 0;          // the most mapped_bytes has been
  size_t cap = knobs::alloc_cache_bytes();

  // Takes a cached block out (it is in use again, or leaves the process).
  void remove(std::multimap<size_t, std::list<Block>::iterator>::iterator it) {
    bytes -= it->first;
    by_age.erase(it->second);
    by_size.erase(it);
  }
  // Takes out the longest unused blocks until `need` bytes are gone (or none is left): into `out`.
  void evict_oldest(size_t need, std::vector<Block>* out) {
    size_t freed = 0;
    while (freed < need && !by_age.empty()) {
      const Block b = by_age.front();
      auto range = by_size.equal_range(b.first);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second == by_age.begin()) {
          remove(it);
          break;
        }
      mapped.erase(b.second);
      mapped_bytes -= b.first;
      out->push_back(b);
      freed += b.first;
    }
  }
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
  std::vector<Block> evicted;
  {
    std::unique_lock<std::mutex> lock(c.mu);
    // Best fit among cached blocks no more than 1/8 larger than asked.
    auto it = c.by_size.lower_bound(size);
    if (it != c.by_size.end() && it->first <= size + size / 8) {
      void* p = it->second->second;
      c.remove(it);
      return p;
    }
    // A larger cached block is split: its head serves (its pages are already there), its tail
    // stays in the cache as a block of its own (pages of one mapping can be unmapped apart).
    if (it != c.by_size.end()) {
      const size_t had = it->first;
      void* p = it->second->second;
      c.remove(it);
      void* tail = static_cast<char*>(p) + size;
      c.mapped[p] = size;
      c.mapped.emplace(tail, had - size);
      c.by_age.emplace_back(had - size, tail);
      c.by_size.emplace(had - size, std::prev(c.by_age.end()));
      c.bytes += had - size;
      return p;
    }
#if defined(__linux__)
    // A smaller one: grown in place or moved by the kernel, only the new part faults in.
    if (it != c.by_size.begin()) {
      const auto smaller = std::prev(it);
      const size_t had = smaller->first;
      void* old = smaller->second->second;
      const size_t live = c.mapped_bytes - c.bytes;
      c.remove(smaller);
      const size_t ceiling = std::max(c.high, live + size);
      if (c.mapped_bytes + (size - had) > ceiling) c.evict_oldest(c.mapped_bytes + (size - had) - ceiling, &evicted);
      c.mapped.erase(old);
      c.mapped_bytes -= had;
      lock.unlock();
      for (const auto& [n, q] : evicted) unmap_block(q, n);
      void* p = mremap(old, had, size, MREMAP_MAYMOVE);
      if (p == MAP_FAILED) {
        unmap_block(old, had);
        p = map_block(size);
        if (!p) return nullptr;
      }
      lock.lock();
      c.mapped.emplace(p, size);
      c.mapped_bytes += size;
      c.high = std::max(c.high, c.mapped_bytes);
      return p;
    }
#endif
    // Otherwise a new mapping; where it would take the large blocks past their high-water mark,
    // the longest unused cached blocks make room first (as they do for a grown block), so the
    // cache never raises the footprint's peak above what the blocks in use needed at some point.
    const size_t live = c.mapped_bytes - c.bytes;
    const size_t ceiling = std::max(c.high, live + size);
    if (c.mapped_bytes + size > ceiling) c.evict_oldest(c.mapped_bytes + size - ceiling, &evicted);
  }
  for (const auto& [n, q] : evicted) unmap_block(q, n);
  void* p = map_block(size);
  if (!p) return nullptr;
  std::lock_guard<std::mutex> lock(c.mu);
  c.mapped.emplace(p, size);
  c.mapped_bytes += size;
  c.high = std::max(c.high, c.mapped_bytes);
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
  if (size > c.cap) {
    c.mapped.erase(m);
    c.mapped_bytes -= size;
    lock.unlock();
    unmap_block(p, size);
    return;
  }
  std::vector<Block> evicted;
  if (c.bytes + size > c.cap) c.evict_oldest(c.bytes + size - c.cap, &evicted);
  c.by_age.emplace_back(size, p);
  c.by_size.emplace(size, std::prev(c.by_age.end()));
  c.bytes += size;
  lock.unlock();
  for (const auto& [n, q] : evicted) unmap_block(q, n);
}

void tensor_cache_trim() {
  Cache& c = cache();
  std::list<Block> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    blocks.swap(c.by_age);
    c.by_size.clear();
    for (const Block& b : blocks) c.mapped.erase(b.second);
    c.mapped_bytes -= c.bytes;
    c.bytes = 0;
    c.high = c.mapped_bytes;  // a new period: the cache may fill up to what the blocks in use reach next
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
