#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "formats/json.h"
#include "tensor/error.h"

namespace bgn {

namespace {

// The reference implementation refuses headers above 100 MB; so do we (a lying length must not
// make us parse gigabytes of tensor data as JSON).
constexpr uint64_t kMaxHeader = 100u * 1000u * 1000u;

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

[[noreturn]] void bad(const std::string& source, const std::string& tensor, const std::string& what) {
  if (tensor.empty()) fail(Code::ModelFormat, source, ": not a valid safetensors file: ", what);
  fail(Code::ModelFormat, source, ": tensor '", tensor, "': ", what);
}

uint64_t checked_u64(const json::Value& v, const std::string& source, const std::string& tensor, const char* what) {
  if (!v.is_integer() || v.as_int() < 0) bad(source, tensor, std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(v.as_int());
}

}  // namespace

bool safetensors_dtype(const std::string& s, DType* out, const std::string& source, const std::string& tensor) {
  static const struct {
    const char* name;
    DType t;
  } kTable[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"I64", DType::I64},
      {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},   {"U8", DType::U8},     {"BOOL", DType::Bool},
  };
  for (const auto& e : kTable)
    if (s == e.name) {
      *out = e.t;
      return true;
    }
  static const char* kUnsupported[] = {"U16",     "U32",     "U64",     "F8_E4M3", "F8_E5M2",
                                       "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4"};
  for (const char* u : kUnsupported)
    if (s == u)
      fail(Code::ModelUnsupported, source, ": tensor '", tensor, "' has dtype ", s,
           ", which this build cannot load (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
  return false;
}

const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::F64:
      return "F64";
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::I16:
      return "I16";
    case DType::I8:
      return "I8";
    case DType::U8:
      return "U8";
    case DType::Bool:
      return "BOOL";
    default:
      break;  // block-quantized types have no safetensors name
  }
  return "?";
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  auto mf = MappedFile::open(path);
  auto f = parse(mf->data(), mf->size(), mf, path);
  f->identity_ = mf->identity();
  return f;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size,
                                                        std::shared_ptr<const void> keepalive,
                                                        const std::string& source) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->source_ = source;
  f->keepalive_ = std::move(keepalive);
  f->size_ = size;

  // [0,8): header length.
  if (size < 8)
    bad(source, "",
        "the file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length (truncated?)");
  uint64_t n = read_u64_le(data);
  if (n > kMaxHeader)
    bad(source, "", "header length " + std::to_string(n) + " exceeds the 100 MB limit (corrupt file?)");
  if (n > size - 8)
    bad(source, "",
        "header length " + std::to_string(n) + " runs past the end of the " + std::to_string(size) +
            "-byte file (truncated download?)");
  if (n < 2) bad(source, "", "header length " + std::to_string(n) + " is too small for a JSON object");
  f->header_size_ = n;
  std::string_view header(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(n));
  if (header[0] != '{') bad(source, "", "the header does not start with '{' (is this really a .safetensors file?)");

  // [8, 8+N): JSON header.
  json::Value root = json::parse(header, source + " (safetensors header)");
  if (!root.is_object()) bad(source, "", "the header is not a JSON object");

  const uint8_t* buffer = data + 8 + n;
  uint64_t buffer_size = size - 8 - n;
  f->data_ = buffer;

  for (const auto& m : root.members()) {
    const std::string& name = m.first;
    const json::Value& v = m.second;
    if (name == "__metadata__") {
      if (!v.is_object()) bad(source, "", "__metadata__ must be an object of strings");
      for (const auto& kv : v.members()) {
        if (!kv.second.is_string()) bad(source, "", "__metadata__ value for '" + kv.first + "' is not a string");
        f->metadata_[kv.first] = kv.second.as_string();
      }
      continue;
    }
    if (!v.is_object()) bad(source, name, "header entry is not an object");
    const json::Value* dt = v.find("dtype");
    const json::Value* sh = v.find("shape");
    const json::Value* off = v.find("data_offsets");
    if (!dt || !sh || !off) bad(source, name, "header entry needs dtype, shape and data_offsets");
    for (const auto& kv : v.members())
      if (kv.first != "dtype" && kv.first != "shape" && kv.first != "data_offsets")
        bad(source, name, "unknown field '" + kv.first + "' in the header entry");

    SafetensorsEntry e;
    e.name = name;
    if (!dt->is_string()) bad(source, name, "dtype is not a string");
    e.dtype_str = dt->as_string();
    if (!safetensors_dtype(e.dtype_str, &e.dtype, source, name))
      bad(source, name, "unknown dtype '" + e.dtype_str + "'");

    if (!sh->is_array()) bad(source, name, "shape is not an array");
    if (sh->size() > 16) bad(source, name, "shape has " + std::to_string(sh->size()) + " dimensions (at most 16)");
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : sh->items()) {
      uint64_t dim = checked_u64(d, source, name, "every shape dimension");
      if (dim > (uint64_t(1) << 62)) overflow = true;
      e.shape.push_back(static_cast<int64_t>(dim));
      if (dim != 0 && numel > (uint64_t(1) << 62) / dim)
        overflow = true;
      else
        numel *= dim;
    }
    if (overflow) bad(source, name, "shape " + shape_str(e.shape) + " has too many elements");

    if (!off->is_array() || off->size() != 2) bad(source, name, "data_offsets must be [begin, end]");
    e.begin = checked_u64(off->items()[0], source, name, "data_offsets[0]");
    e.end = checked_u64(off->items()[1], source, name, "data_offsets[1]");
    if (e.end < e.begin)
      bad(source, name, "data_offsets end " + std::to_string(e.end) + " is before begin " + std::to_string(e.begin));
    uint64_t itemsize = dtype_size(e.dtype);
    if (numel > UINT64_MAX / itemsize || numel * itemsize != e.end - e.begin)
      bad(source, name,
          "shape " + shape_str(e.shape) + " of " + e.dtype_str + " needs " + std::to_string(numel * itemsize) +
              " bytes but data_offsets span " + std::to_string(e.end - e.begin));
    if (e.end > buffer_size)
      bad(source, name,
          "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
              ") run past the end of the data (" + std::to_string(buffer_size) + " bytes; truncated file?)");
    f->index_[name] = f->entries_.size();
    f->entries_.push_back(std::move(e));
  }

  // No two tensors may share bytes. (Gaps are tolerated.)
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : f->entries_)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      bad(source, by_offset[i]->name, "data overlaps tensor '" + by_offset[i - 1]->name + "'");
  return f;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail(Code::ModelFormat, source_, ": tensor '", name, "' is missing");
  return entries_[it->second];
}

Tensor SafetensorsFile::tensor(const std::string& name) const { return tensor(entry(name)); }

Tensor SafetensorsFile::tensor(const SafetensorsEntry& e) const {
  const uint8_t* p = data_ + e.begin;
  size_t itemsize = dtype_size(e.dtype);
  if (reinterpret_cast<uintptr_t>(p) % itemsize == 0) return Tensor::view(e.dtype, e.shape, p, keepalive_);
  // Misaligned for its element type: copy into aligned storage instead of reading unaligned.
  Tensor t = Tensor::empty(e.dtype, e.shape);
  std::memcpy(t.raw(), p, static_cast<size_t>(e.end - e.begin));
  return t;
}

}  // namespace bgn
