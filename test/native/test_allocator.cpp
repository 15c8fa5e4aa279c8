// The tensor allocator (tensor/allocator.h): large blocks cached by their own size and handed out
// again for sizes up to 1/8 smaller, their pages returned to the OS when trimmed (not kept by the
// C heap), small blocks never cached, CachedBlock's ownership and its coded out-of-memory error.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "tensor/allocator.h"
#include "tensor/error.h"
#include "testing.h"

using namespace bgn;

namespace {

constexpr size_t kMiB = size_t(1) << 20;

// Resident bytes of this process (/proc/self/statm: pages).
size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? size_t(resident) * size_t(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

TEST("a freed large block is cached under its own size and handed out again for a slightly smaller one") {
  tensor_cache_trim();
  void* p = tensor_alloc(8 * kMiB);
  CHECK(p != nullptr);
  std::memset(p, 1, 8 * kMiB);
  tensor_free(p, 8 * kMiB);
  CHECK(tensor_cache_bytes() == 8 * kMiB);
  void* q = tensor_alloc(7 * kMiB + kMiB / 2);  // within 1/8: the cached block
  CHECK(q == p);
  CHECK(tensor_cache_bytes() == 0);
  tensor_free(q, 7 * kMiB + kMiB / 2);
  CHECK(tensor_cache_bytes() == 8 * kMiB);  // filed under the size it really has
  void* r = tensor_alloc(6 * kMiB);         // more than 1/8 smaller: a miss, which evicts the 8 MiB first
  CHECK(r != nullptr);
  CHECK(tensor_cache_bytes() == 0);
  tensor_free(r, 6 * kMiB);
  CHECK(tensor_cache_bytes() == 6 * kMiB);
  tensor_cache_trim();
  CHECK(tensor_cache_bytes() == 0);
}

TEST("a miss evicts the longest unused blocks, only as many bytes as it maps") {
  tensor_cache_trim();
  void* a = tensor_alloc(4 * kMiB);
  void* b = tensor_alloc(8 * kMiB);
  void* c = tensor_alloc(16 * kMiB);
  tensor_free(a, 4 * kMiB);  // the oldest in the cache
  tensor_free(b, 8 * kMiB);
  tensor_free(c, 16 * kMiB);
  CHECK(tensor_cache_bytes() == 28 * kMiB);
  void* d = tensor_alloc(2 * kMiB);  // no fit: the 4 MiB block (oldest) makes room, the others stay
  CHECK(tensor_cache_bytes() == 24 * kMiB);
  void* e = tensor_alloc(16 * kMiB);  // a hit: the 16 MiB block comes back
  CHECK(e == c);
  CHECK(tensor_cache_bytes() == 8 * kMiB);
  void* f = tensor_alloc(12 * kMiB);  // a miss bigger than the cache: all of it goes
  CHECK(tensor_cache_bytes() == 0);
  tensor_free(d, 2 * kMiB);
  tensor_free(e, 16 * kMiB);
  tensor_free(f, 12 * kMiB);
  tensor_cache_trim();
}

TEST("trimming gives the cached pages back to the OS") {
  tensor_cache_trim();
  const size_t before = resident_bytes();
  const size_t n = 96 * kMiB;
  void* p = tensor_alloc(n);
  CHECK(p != nullptr);
  std::memset(p, 7, n);
  CHECK(resident_bytes() >= before + n - 8 * kMiB);
  tensor_free(p, n);
  CHECK(tensor_cache_bytes() == n);
  tensor_cache_trim();
  CHECK_MSG(resident_bytes() < before + 16 * kMiB, "resident ", resident_bytes() >> 20, " MiB after the trim, ",
            before >> 20, " MiB before the block");
}

TEST("below the high-water mark of the blocks in use a miss keeps the cached blocks") {
  tensor_cache_trim();  // the mark starts again from the blocks in use (none here)
  void* x = tensor_alloc(32 * kMiB);
  void* y = tensor_alloc(32 * kMiB);  // the mark: 64 MiB mapped at once
  tensor_free(x, 32 * kMiB);          // the older of the two in the cache
  tensor_free(y, 32 * kMiB);
  void* a = tensor_alloc(8 * kMiB);  // 72 MiB would pass the mark: the oldest block (x) makes room
  CHECK(tensor_cache_bytes() == 32 * kMiB);
  void* b = tensor_alloc(4 * kMiB);  // 44 MiB mapped in all, under the mark: nothing evicted
  CHECK(tensor_cache_bytes() == 32 * kMiB);
  void* c = tensor_alloc(32 * kMiB);  // and the cached block still serves its size
  CHECK(c == y);
  tensor_free(a, 8 * kMiB);
  tensor_free(b, 4 * kMiB);
  tensor_free(c, 32 * kMiB);
  tensor_cache_trim();
}

TEST("small blocks are not cached") {
  tensor_cache_trim();
  void* p = tensor_alloc(1000);
  CHECK(p != nullptr);
  CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
  tensor_free(p, 1000);
  CHECK(tensor_cache_bytes() == 0);
}

TEST("CachedBlock owns one block, moves it, returns it to the cache, and reports an impossible size") {
  tensor_cache_trim();
  {
    CachedBlock a(4 * kMiB, "a test block");
    float* pa = a.as<float>();
    CHECK(pa != nullptr && a.bytes() == 4 * kMiB);
    pa[0] = 1.f;
    CachedBlock b(std::move(a));
    CHECK(b.as<float>() == pa && a.as<float>() == nullptr);
    CachedBlock c;
    c = std::move(b);
    CHECK(c.as<float>() == pa);
  }
  CHECK(tensor_cache_bytes() == 4 * kMiB);  // freed once, by the last owner
  CHECK_THROWS_CODE(CachedBlock(size_t(1) << 60, "an impossible block"), Code::OutOfMemory);
  tensor_cache_trim();
}

int main() { return bgn_test::run_all(); }
