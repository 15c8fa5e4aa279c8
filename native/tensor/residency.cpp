#include "tensor/residency.h"

#include <cstdint>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "tensor/knobs.h"

namespace bgn {

namespace {
thread_local ResidentRanges* t_scope = nullptr;
}  // namespace

ResidencyScope::ResidencyScope(ResidentRanges* into) : prev_(t_scope) { t_scope = into; }
ResidencyScope::~ResidencyScope() { t_scope = prev_; }
ResidentRanges* ResidencyScope::current() { return t_scope; }

size_t ResidentRanges::bytes() const {
  size_t n = 0;
  for (const auto& r : ranges) n += r.len;
  return n;
}

void ResidentRanges::release() const {
#if defined(MADV_DONTNEED)
  if (ranges.empty() || knobs::keep_weights_resident()) return;
  const long page_l = sysconf(_SC_PAGESIZE);
  const uintptr_t page = page_l > 0 ? uintptr_t(page_l) : 4096;
  for (const ResidentRange& r : ranges) {
    const std::shared_ptr<const void> alive = r.owner.lock();  // the mapping stays while we advise
    if (r.owned && !alive) continue;
    const uintptr_t a = reinterpret_cast<uintptr_t>(r.ptr);
    const uintptr_t start = (a + page - 1) / page * page;  // whole pages inside the range only
    const uintptr_t end = (a + r.len) / page * page;
    if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
  }
#endif
}

}  // namespace bgn
