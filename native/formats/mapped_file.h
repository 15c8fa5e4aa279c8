// A read-only memory-mapped file. Weight readers return tensors that point into the mapping and
// keep it alive through a shared_ptr, so weights are never copied unless widened.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/residency.h"  // the weight ranges views of a mapping record

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
  // larger than BG_MAX_MODEL_BYTES (tensor/knobs.h).
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

}  // namespace bgn
