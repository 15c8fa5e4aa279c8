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
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

namespace {

constexpr size_t kLarge = size_t(1) << 20;

using Block = std::pair<size_t, void*>;  // mapped size, address

// A large block: its size, and the mapping it was cut from (blocks are split and merged only
// within one mapping, so a merged block is always one range of pages the kernel mapped at once).
struct Span {
  size_t size;
  void* origin;
};

struct Cache {
  std::mutex mu;
  // Cached blocks, the longest unused first; the same blocks by size, and by address (to merge
  // a freed block with cached neighbours of the same mapping).
  std::list<Block> by_age;
  using BySize = std::multimap<size_t, std::list<Block>::iterator>;
  BySize by_size;
  std::map<char*, BySize::iterator> by_addr;
  // Every large block, cached or in use.
  std::unordered_map<void*, Span> mapped;
  size_t bytes = 0;         // cached
  size_t mapped_bytes = 0;  // all large blocks, cached or in use
  size_t live_high = 0;     // the most the blocks in use have been (since the last trim)
  size_t cap = knobs::alloc_cache_bytes();

  size_t live() const { return mapped_bytes - bytes; }
  void note_live() { live_high = std::max(live_high, live()); }
  // Files a block as cached (the newest).
  void insert(void* p, size_t size) {
    by_age.emplace_back(size, p);
    const auto it = by_size.emplace(size, std::prev(by_age.end()));
    by_addr.emplace(static_cast<char*>(p), it);
    bytes += size;
  }
  // Takes a cached block out (it is in use again, merged, or leaves the process).
  void remove(BySize::iterator it) {
    bytes -= it->first;
    by_addr.erase(static_cast<char*>(it->second->second));
    by_age.erase(it->second);
    by_size.erase(it);
  }
  // Takes out the longest unused blocks until `need` bytes are gone (or none is left): into `out`.
  void evict_oldest(size_t need, std::vector<Block>* out) {
    size_t freed = 0;
    while (freed < need && !by_age.empty()) {
      const Block b = by_age.front();
      remove(by_addr.at(static_cast<char*>(b.second)));
      mapped.erase(b.second);
      mapped_bytes -= b.first;
      out->push_back(b);
      freed += b.first;
    }
  }
  // The most the large blocks may map while the blocks in use need `live_after` bytes: what the
  // blocks in use have reached before, so that the cache never raises the peak.
  size_t ceiling(size_t live_after) const { return std::max(live_high, live_after); }
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
      c.note_live();
      return p;
    }
    // A larger cached block is split: its head serves (its pages are already there), its tail
    // stays in the cache as a block of its own (pages of one mapping can be unmapped apart).
    if (it != c.by_size.end()) {
      const size_t had = it->first;
      void* p = it->second->second;
      c.remove(it);
      Span& head = c.mapped.at(p);
      head.size = size;
      void* tail = static_cast<char*>(p) + size;
      c.mapped.emplace(tail, Span{had - size, head.origin});
      c.insert(tail, had - size);
      c.note_live();
      return p;
    }
#if defined(__linux__)
    // A smaller one: grown in place or moved by the kernel, only the new part faults in.
    if (it != c.by_size.begin()) {
      const auto smaller = std::prev(it);
      const size_t had = smaller->first;
      void* old = smaller->second->second;
      c.remove(smaller);
      const size_t others = c.live() - had;  // in use apart from the block being grown
      const size_t ceiling = c.ceiling(others + size);
      if (c.mapped_bytes + (size - had) > ceiling) c.evict_oldest(c.mapped_bytes + (size - had) - ceiling, &evicted);
      void* const origin = c.mapped.at(old).origin;
      c.mapped.erase(old);
      c.mapped_bytes -= had;
      lock.unlock();
      for (const auto& [n, q] : evicted) unmap_block(q, n);
      void* p = mremap(old, had, size, MREMAP_MAYMOVE);
      const bool in_place = p == old;
      if (p == MAP_FAILED) {
        unmap_block(old, had);
        p = map_block(size);
        if (!p) return nullptr;
      }
      lock.lock();
      c.mapped.emplace(p, Span{size, in_place ? origin : p});
      c.mapped_bytes += size;
      c.note_live();
      return p;
    }
#endif
    // Otherwise a new mapping; where it would take the large blocks past what the blocks in use
    // have needed, the longest unused cached blocks make room first (as they do for a grown block).
    const size_t ceiling = c.ceiling(c.live() + size);
    if (c.mapped_bytes + size > ceiling) c.evict_oldest(c.mapped_bytes + size - ceiling, &evicted);
  }
  for (const auto& [n, q] : evicted) unmap_block(q, n);
  void* p = map_block(size);
  if (!p) return nullptr;
  std::lock_guard<std::mutex> lock(c.mu);
  c.mapped.emplace(p, Span{size, p});
  c.mapped_bytes += size;
  c.note_live();
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
  size_t size = m->second.size;     // a cached block handed out for a smaller size keeps its own
  void* const origin = m->second.origin;
  // Merged with cached neighbours cut from the same mapping: split blocks grow back whole, so a
  // pass that needs one large block after many small ones finds it without mapping anew.
  char* start = static_cast<char*>(p);
  const auto next = c.by_addr.find(start + size);
  if (next != c.by_addr.end() && c.mapped.at(start + size).origin == origin) {
    const size_t n = next->second->first;
    c.remove(next->second);
    c.mapped.erase(start + size);
    size += n;
  }
  auto prev = c.by_addr.lower_bound(start);
  if (prev != c.by_addr.begin()) {
    --prev;
    const size_t n = prev->second->first;
    if (prev->first + n == start && c.mapped.at(prev->first).origin == origin) {
      char* const q = prev->first;
      c.remove(prev->second);
      c.mapped.erase(start);
      start = q;
      size += n;
    }
  }
  if (size > c.cap) {
    c.mapped.erase(start);
    c.mapped_bytes -= size;
    lock.unlock();
    unmap_block(start, size);
    return;
  }
  c.mapped[start] = Span{size, origin};
  std::vector<Block> evicted;
  if (c.bytes + size > c.cap) c.evict_oldest(c.bytes + size - c.cap, &evicted);
  c.insert(start, size);
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
    c.by_addr.clear();
    for (const Block& b : blocks) c.mapped.erase(b.second);
    c.mapped_bytes -= c.bytes;
    c.bytes = 0;
    c.live_high = c.mapped_bytes;  // a new period: the cache may fill up to what the blocks in use reach next
  }
  for (const auto& [size, p] : blocks) unmap_block(p, size);
}

void heap_trim() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
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
