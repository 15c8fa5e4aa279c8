// Reader for .safetensors files (https://github.com/huggingface/safetensors, format spec):
//
//   [0, 8)          u64 little-endian N: length of the header
//   [8, 8+N)        UTF-8 JSON object: { name: {dtype, shape, data_offsets: [begin, end]}, ...,
//                                        "__metadata__": {string: string} (optional) }
//   [8+N, size)     data buffer; offsets are relative to its start
//
// Everything is checked before a tensor is handed out: N against the file size, JSON syntax,
// dtype strings, shapes (non-negative, product without overflow), numel * itemsize == end-begin,
// ranges inside the buffer and not overlapping each other. Failures are E_MODEL_FORMAT (or
// E_MODEL_UNSUPPORTED for valid dtypes this build has no type for) naming the file and tensor.
//
// Tensors are views into the mmap'd file (kept alive by the returned tensors), except when a
// tensor's data is not aligned to its element size: then it is copied into owned storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/mapped_file.h"
#include "tensor/tensor.h"

namespace bgn {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::string dtype_str;  // as written in the file ("F16", "BF16", ...)
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data buffer
};

class SafetensorsFile {
 public:
  // Maps and validates a file.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  // Validates bytes already in memory; `keepalive` owns them. `source` names them in errors.
  static std::shared_ptr<SafetensorsFile> parse(const uint8_t* data, size_t size, std::shared_ptr<const void> keepalive,
                                                const std::string& source);

  const std::string& path() const { return source_; }
  // Entries in header order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  // Throws E_MODEL_FORMAT naming the file when the tensor is absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // A view (or an aligned copy) of one tensor's data.
  Tensor tensor(const std::string& name) const;
  Tensor tensor(const SafetensorsEntry& e) const;
  // Size of the header JSON (N) and of the whole file.
  uint64_t header_size() const { return header_size_; }
  size_t file_size() const { return size_; }
  // Identity of the mapped file (empty for parse()).
  const FileIdentity& identity() const { return identity_; }

 private:
  SafetensorsFile() = default;
  std::string source_;
  const uint8_t* data_ = nullptr;  // start of the data buffer
  size_t size_ = 0;
  uint64_t header_size_ = 0;
  std::shared_ptr<const void> keepalive_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  FileIdentity identity_;
};

// "F32" → DType::F32 …; returns false for strings the format does not define.
// Valid but unsupported dtypes (U16, U32, U64, F8_*) throw E_MODEL_UNSUPPORTED.
bool safetensors_dtype(const std::string& s, DType* out, const std::string& source, const std::string& tensor);
const char* safetensors_dtype_name(DType t);

}  // namespace bgn
