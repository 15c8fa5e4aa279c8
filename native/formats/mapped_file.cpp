#include "formats/mapped_file.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

std::string FileIdentity::key() const {
  return std::to_string(device) + ":" + std::to_string(inode) + ":" + std::to_string(size) + ":" +
         std::to_string(mtime_ns);
}

namespace {
FileIdentity identity_of(const struct stat& st) {
  FileIdentity id;
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<uint64_t>(st.st_size);
#if defined(__APPLE__)
  id.mtime_ns = int64_t(st.st_mtimespec.tv_sec) * 1000000000 + st.st_mtimespec.tv_nsec;
#else
  id.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
#endif
  return id;
}

[[noreturn]] void fail_open(const std::string& path, int err) {
  if (err == ENOENT || err == ENOTDIR) fail(Code::ModelNotFound, "model file not found: ", path);
  fail(Code::Io, "cannot read ", path, ": ", std::strerror(err));
}
}  // namespace

FileIdentity file_identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail_open(path, errno);
  return identity_of(st);
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_open(path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail_open(path, err);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail(Code::BadInput, path, " is a directory, not a model file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    fail(Code::ModelFormat, path, " is empty (0 bytes)");
  }
  uint64_t limit;
  try {
    limit = knobs::max_model_bytes();
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    fail(Code::ModelFormat, path, " is ", static_cast<uint64_t>(st.st_size), " bytes, more than the ", limit,
         "-byte limit on model files; raise BG_MAX_MODEL_BYTES if this file is meant to be loaded");
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) fail(Code::Io, "cannot map ", path, ": ", std::strerror(err));
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->data_ = static_cast<const uint8_t*>(p);
  f->size_ = static_cast<size_t>(st.st_size);
  f->identity_ = identity_of(st);
  return f;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace bgn
