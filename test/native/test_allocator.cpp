// The tensor allocator (tensor/allocator.h): large blocks cached by their own size and handed out
// again for sizes up to 1/8 smaller, split and merged back within their mapping, their pages
// returned to the OS when trimmed (not kept by the C heap), small blocks never cached,
// CachedBlock's ownership and its coded out-of-memory error.
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
  void* q = tensor_alloc(7 * kMiB + kMiB / 2);  // within 1/8: the cached block, whole
  CHECK(q == p);
  CHECK(tensor_cache_bytes() == 0);
  tensor_free(q, 7 * kMiB + kMiB / 2);
  CHECK(tensor_cache_bytes() == 8 * kMiB);  // filed under the size it really has
  tensor_cache_trim();
  CHECK(tensor_cache_bytes() == 0);
}

TEST("a larger cached block is split: its head serves, its tail stays cached and serves in turn") {
  tensor_cache_trim();
  char* p = static_cast<char*>(tensor_alloc(16 * kMiB));
  std::memset(p, 3, 16 * kMiB);
  tensor_free(p, 16 * kMiB);
  char* a = static_cast<char*>(tensor_alloc(4 * kMiB));
  CHECK(a == p);
  CHECK(tensor_cache_bytes() == 12 * kMiB);
  char* b = static_cast<char*>(tensor_alloc(12 * kMiB));  // the tail, a close fit
  CHECK(b == p + 4 * kMiB);
  CHECK(tensor_cache_bytes() == 0);
  CHECK(a[0] == 3 && b[12 * kMiB - 1] == 3);  // the same pages: nothing was mapped anew
  tensor_free(a, 4 * kMiB);
  tensor_free(b, 12 * kMiB);
  CHECK(tensor_cache_bytes() == 16 * kMiB);
  tensor_cache_trim();
  CHECK(tensor_cache_bytes() == 0);
}

TEST("freed pieces of one block merge back: the whole block serves a large request without a new mapping") {
  tensor_cache_trim();
  char* p = static_cast<char*>(tensor_alloc(24 * kMiB));
  std::memset(p, 5, 24 * kMiB);
  tensor_free(p, 24 * kMiB);
  char* a = static_cast<char*>(tensor_alloc(4 * kMiB));  // three pieces of the one block
  char* b = static_cast<char*>(tensor_alloc(8 * kMiB));
  char* c = static_cast<char*>(tensor_alloc(12 * kMiB));
  CHECK(a == p && b == p + 4 * kMiB && c == p + 12 * kMiB);
  tensor_free(a, 4 * kMiB);
  tensor_free(c, 12 * kMiB);  // not adjacent to a: two cached blocks
  CHECK(tensor_cache_bytes() == 16 * kMiB);
  tensor_free(b, 8 * kMiB);  // joins both neighbours
  CHECK(tensor_cache_bytes() == 24 * kMiB);
  char* whole = static_cast<char*>(tensor_alloc(23 * kMiB));  // a close fit: the merged block
  CHECK(whole == p);
  CHECK(whole[0] == 5 && whole[24 * kMiB - 1] == 5);  // the same pages throughout
  tensor_free(whole, 23 * kMiB);
  tensor_cache_trim();
  CHECK(tensor_cache_bytes() == 0);
}

TEST("blocks of different mappings never merge, even where the kernel placed them side by side") {
  tensor_cache_trim();
  void* x = tensor_alloc(2 * kMiB);
  void* y = tensor_alloc(2 * kMiB);
  tensor_free(x, 2 * kMiB);
  tensor_free(y, 2 * kMiB);
  CHECK(tensor_cache_bytes() == 4 * kMiB);
  // Merged, they would be one 4 MiB block split for 3 MiB, leaving a 1 MiB tail cached; apart, a
  // 2 MiB block grows to 3 MiB and the other stays whole or goes.
  void* z = tensor_alloc(3 * kMiB);
  CHECK(z != nullptr);
  CHECK(tensor_cache_bytes() % (2 * kMiB) == 0);
  tensor_free(z, 3 * kMiB);
  tensor_cache_trim();
}

#if defined(__linux__)
TEST("a smaller cached block grows into a larger request, keeping its contents") {
  tensor_cache_trim();
  float* p = static_cast<float*>(tensor_alloc(4 * kMiB));
  p[0] = 42.f;
  tensor_free(p, 4 * kMiB);
  float* q = static_cast<float*>(tensor_alloc(12 * kMiB));
  CHECK(q != nullptr);
  CHECK(q[0] == 42.f);  // the old pages, grown in place or moved
  CHECK(tensor_cache_bytes() == 0);
  q[12 * kMiB / sizeof(float) - 1] = 1.f;  // the new part is mapped
  tensor_free(q, 12 * kMiB);
  CHECK(tensor_cache_bytes() == 12 * kMiB);
  tensor_cache_trim();
}
#endif

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

TEST("growing past the high-water mark evicts the longest unused cached blocks first") {
  tensor_cache_trim();  // the mark starts again from the blocks in use (none here)
  void* x = tensor_alloc(8 * kMiB);
  void* y = tensor_alloc(24 * kMiB);  // the mark: 32 MiB mapped at once
  tensor_free(x, 8 * kMiB);           // the older of the two in the cache
  tensor_free(y, 24 * kMiB);
  void* w = tensor_alloc(28 * kMiB);  // y grows by 4 MiB: 36 MiB would pass the mark, so x goes
  CHECK(w != nullptr);
  CHECK(tensor_cache_bytes() == 0);
  void* v = tensor_alloc(2 * kMiB);  // nothing cached: a new block (under the mark again)
  CHECK(v != nullptr);
  tensor_free(w, 28 * kMiB);
  tensor_free(v, 2 * kMiB);
  CHECK(tensor_cache_bytes() == 30 * kMiB);
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
