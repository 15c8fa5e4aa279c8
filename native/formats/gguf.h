// Reader for GGUF files (versions 2 and 3, little-endian; the ggml/llama.cpp/stable-diffusion.cpp
// format):
//
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count
//   kv_count × { string key, u32 value_type, value }           (string = u64 length + bytes)
//   tensor_count × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to `alignment` (general.alignment, u32 power of two; default 32)
//   tensor data: each tensor at data_start + offset, offset a multiple of the alignment
//
// ne[0] is the fastest-moving dimension, so the tensor's shape (outermost first, as in PyTorch) is
// ne reversed. Every count, length, dimension and offset is checked with overflow-safe arithmetic
// against the file before anything is allocated or read: a lying file is E_MODEL_FORMAT naming the
// file, the entry and what is wrong; a valid tensor type this build cannot run (Q2_K, IQ*, …) is
// E_MODEL_UNSUPPORTED. Tensors are views into the mapping (kept alive by the returned tensors).
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

enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Integers keep their exact value in `i` (signed types, bool) or `u`
// (unsigned types); floats in `f`. Arrays of `count` elements of type `elem`: numbers stay in the
// file (`raw`, little-endian, read with number_at), strings in `strings`, nested arrays in `items`.
struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  GgufType elem = GgufType::U8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;
  std::vector<std::string> strings;
  std::vector<GgufValue> items;

  bool is_integer() const;
  // The value as an unsigned integer; false when it is not a non-negative integer.
  bool as_u64(uint64_t* out) const;
  // Element k of a numeric array as a double.
  double number_at(uint64_t k) const;
};

// ggml tensor type ids as stored in files.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};
// The DType of a ggml type id: true when this build can read it; E_MODEL_UNSUPPORTED for known
// types it cannot (naming them), false for ids the format does not define.
bool gguf_dtype(uint32_t ggml_type, DType* out, const std::string& source, const std::string& tensor);
// The ggml type id of a DType (for writers and messages).
uint32_t ggml_type_of(DType t);

struct GgufEntry {
  std::string name;
  DType dtype = DType::F32;
  uint32_t ggml_type = 0;
  std::vector<uint64_t> ne;  // as in the file: ne[0] fastest
  Shape shape;               // ne reversed (outermost first)
  uint64_t offset = 0;       // relative to the start of the data section
  uint64_t nbytes = 0;
};

class GgufFile {
 public:
  static std::shared_ptr<GgufFile> open(const std::string& path);
  static std::shared_ptr<GgufFile> parse(const uint8_t* data, size_t size, std::shared_ptr<const void> keepalive,
                                         const std::string& source);

  const std::string& path() const { return source_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the tensor data in the file
  size_t file_size() const { return size_; }
  const FileIdentity& identity() const { return identity_; }

  // Metadata in file order and by key.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  // A string / integer metadata value, or `fallback` when absent or of another type.
  std::string get_string(const std::string& key, const std::string& fallback = "") const;

  // Tensors in file order.
  const std::vector<GgufEntry>& entries() const { return entries_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const GgufEntry& entry(const std::string& name) const;  // E_MODEL_FORMAT when absent
  Tensor tensor(const std::string& name) const { return tensor(entry(name)); }
  Tensor tensor(const GgufEntry& e) const;

 private:
  GgufFile() = default;
  std::string source_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_offset_ = 0;
  std::shared_ptr<const void> keepalive_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<GgufEntry> entries_;
  std::map<std::string, size_t> index_;
  FileIdentity identity_;
};

// True when the first bytes are the GGUF magic.
bool is_gguf(const uint8_t* data, size_t size);

}  // namespace bgn
