// A read-only memory-mapped file. Weight readers return tensors that point into the mapping and
// keep it alive through a shared_ptr, so weights are never copied unless widened.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bgn {

struct FileIdentity {
  uint64_t device = 0, inode = 0, size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileIdentity& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
  }
  std::string key() const;
};

class MappedFile {
 public:
  // Throws E_MODEL_NOT_FOUND when missing, E_IO when unreadable, E_MODEL_FORMAT when empty or
  // larger than BG_MAX_MODEL_BYTES (tensor/limits.h).
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  const FileIdentity& identity() const { return identity_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  FileIdentity identity_;
};

// Identity of a file without mapping it (for caches). Throws like MappedFile::open.
FileIdentity file_identity(const std::string& path);

// Byte ranges of mapped weights that one model component borrows (see ResidencyScope). Released
// between a generation's phases so that peak memory holds one component's weights at a time:
// the pages of a read-only file mapping are dropped from the resident set and read back from
// the page cache (or the file) when next touched — the values never change.
struct ResidentRanges {
  std::vector<std::pair<const void*, size_t>> ranges;
  size_t bytes() const;
  // madvise(MADV_DONTNEED) on the whole pages inside each range. Never fails; a no-op when
  // BGN_KEEP_WEIGHTS_RESIDENT=1 or on platforms without madvise.
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
