// Which mapped weight bytes a model component borrows, so that they can be let go between a
// generation's phases: peak memory then holds one component's weights at a time. Every
// Tensor::view made while a ResidencyScope is alive on a thread is recorded in its ranges; the
// pages of a read-only file mapping that release() drops are read back from the page cache (or
// the file) when next touched — the values never change.
#pragma once
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace bgn {

// One borrowed range: its bytes and, when the view had one, the owner of its mapping. A range
// whose mapping has since been unmapped is skipped: its addresses may already belong to other
// memory, which MADV_DONTNEED would zero.
struct ResidentRange {
  const void* ptr = nullptr;
  size_t len = 0;
  std::weak_ptr<const void> owner;
  bool owned = false;  // owner was set (an empty weak_ptr reads as expired)
};

// Byte ranges of mapped weights that one model component borrows (see ResidencyScope).
struct ResidentRanges {
  std::vector<ResidentRange> ranges;
  size_t bytes() const;
  // madvise(MADV_DONTNEED) on the whole pages inside each range whose mapping is still alive.
  // Never fails; a no-op when BGN_KEEP_WEIGHTS_RESIDENT is set (tensor/knobs.h) or on platforms
  // without madvise.
  void release() const;
};

// While a scope is alive on this thread, every Tensor::view made on it (a borrowed weight) is
// recorded in `into`. Scopes nest; the innermost records.
class ResidencyScope {
 public:
  explicit ResidencyScope(ResidentRanges* into);
  ~ResidencyScope();
  ResidencyScope(const ResidencyScope&) = delete;
  ResidencyScope& operator=(const ResidencyScope&) = delete;
  // The innermost scope's ranges on this thread, or null.
  static ResidentRanges* current();

 private:
  ResidentRanges* prev_;
};

}  // namespace bgn
