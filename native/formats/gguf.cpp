#include "formats/gguf.h"

#include <algorithm>
#include <cstring>

namespace bgn {

namespace {

constexpr uint64_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr uint64_t kMaxNameBytes = 1 << 16;  // tensor names and keys
constexpr uint64_t kMaxStringBytes = uint64_t(1) << 30;
constexpr int kMaxArrayDepth = 4;
constexpr uint64_t kMaxNestedItems = uint64_t(1) << 20;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  fail(Code::ModelFormat, source, ": not a valid GGUF file: ", what);
}

size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    default:
      return 0;
  }
}

bool valid_type(uint32_t t) { return t <= uint32_t(GgufType::F64); }

// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + size_t(n) >= s.size() + (n == 0 ? 1 : 0)) {
      if (n != 0) return false;
    }
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1F) : n == 2 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k <= n; ++k) {
      if (i + size_t(k) >= s.size()) return false;
      const unsigned char cc = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((cc >> 6) != 2) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += size_t(n) + 1;
  }
  return true;
}

// A cursor over [pos, size) that refuses to read past the end.
struct Reader {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
  const std::string& source;

  size_t left() const { return size - pos; }
  void need(uint64_t n, const std::string& what) {
    if (n > left())
      bad(source, what + " needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos) + " but only " +
                      std::to_string(left()) + " remain (truncated file?)");
  }
  template <class T>
  T get(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  std::string str(const std::string& what, uint64_t max) {
    uint64_t n = get<uint64_t>(what + " length");
    if (n > max) bad(source, what + " is " + std::to_string(n) + " bytes long (limit " + std::to_string(max) + ")");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data + pos), size_t(n));
    pos += size_t(n);
    return s;
  }
};

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s.substr(0, 200)) out += (c >= 32 && c < 127) ? c : '?';
  return out + (s.size() > 200 ? "…'" : "'");
}

void read_value(Reader& r, GgufType type, GgufValue* v, const std::string& key, int depth, uint64_t* nested) {
  v->type = type;
  switch (type) {
    case GgufType::U8:
      v->u = r.get<uint8_t>(key);
      v->i = int64_t(v->u);
      v->f = double(v->u);
      return;
    case GgufType::I8:
      v->i = r.get<int8_t>(key);
      v->f = double(v->i);
      return;
    case GgufType::U16:
      v->u = r.get<uint16_t>(key);
      v->i = int64_t(v->u);
      v->f = double(v->u);
      return;
    case GgufType::I16:
      v->i = r.get<int16_t>(key);
      v->f = double(v->i);
      return;
    case GgufType::U32:
      v->u = r.get<uint32_t>(key);
      v->i = int64_t(v->u);
      v->f = double(v->u);
      return;
    case GgufType::I32:
      v->i = r.get<int32_t>(key);
      v->f = double(v->i);
      return;
    case GgufType::U64:
      v->u = r.get<uint64_t>(key);
      v->f = double(v->u);
      return;
    case GgufType::I64:
      v->i = r.get<int64_t>(key);
      v->f = double(v->i);
      return;
    case GgufType::F32:
      v->f = r.get<float>(key);
      return;
    case GgufType::F64:
      v->f = r.get<double>(key);
      return;
    case GgufType::Bool: {
      uint8_t b = r.get<uint8_t>(key);
      if (b > 1)
        bad(r.source, "metadata " + quoted(key) + " is a bool stored as " + std::to_string(b) + " (must be 0 or 1)");
      v->i = b;
      v->u = b;
      return;
    }
    case GgufType::String:
      v->s = r.str("metadata " + quoted(key), kMaxStringBytes);
      return;
    case GgufType::Array: {
      if (depth >= kMaxArrayDepth)
        bad(r.source, "metadata " + quoted(key) + " nests arrays deeper than " + std::to_string(kMaxArrayDepth));
      const uint32_t et = r.get<uint32_t>("metadata " + quoted(key) + " array type");
      if (!valid_type(et))
        bad(r.source, "metadata " + quoted(key) + " is an array of unknown type " + std::to_string(et));
      v->elem = GgufType(et);
      v->count = r.get<uint64_t>("metadata " + quoted(key) + " array length");
      // Every element takes at least this many bytes, so a count the file cannot hold is a lie.
      const size_t min_elem = v->elem == GgufType::String ? 8 : v->elem == GgufType::Array ? 12 : scalar_size(v->elem);
      if (v->count > r.left() / min_elem)
        bad(r.source, "metadata " + quoted(key) + " claims " + std::to_string(v->count) + " " +
                          gguf_type_name(v->elem) + " elements but only " + std::to_string(r.left()) + " bytes remain");
      if (v->elem == GgufType::String) {
        v->strings.reserve(size_t(v->count));
        for (uint64_t k = 0; k < v->count; ++k)
          v->strings.push_back(r.str("metadata " + quoted(key) + " element", kMaxStringBytes));
      } else if (v->elem == GgufType::Array) {
        *nested += v->count;
        if (*nested > kMaxNestedItems)
          bad(r.source,
              "metadata " + quoted(key) + " holds more than " + std::to_string(kMaxNestedItems) + " nested arrays");
        v->items.resize(size_t(v->count));
        for (auto& item : v->items) read_value(r, GgufType::Array, &item, key, depth + 1, nested);
      } else {
        v->raw = r.data + r.pos;
        r.pos += size_t(v->count * min_elem);
        if (v->elem == GgufType::Bool)
          for (uint64_t k = 0; k < v->count; ++k)
            if (v->raw[k] > 1)
              bad(r.source, "metadata " + quoted(key) + " has a bool element stored as " + std::to_string(v->raw[k]));
      }
      return;
    }
  }
  bad(r.source, "metadata " + quoted(key) + " has unknown value type " + std::to_string(uint32_t(type)));
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8:
      return "uint8";
    case GgufType::I8:
      return "int8";
    case GgufType::U16:
      return "uint16";
    case GgufType::I16:
      return "int16";
    case GgufType::U32:
      return "uint32";
    case GgufType::I32:
      return "int32";
    case GgufType::F32:
      return "float32";
    case GgufType::Bool:
      return "bool";
    case GgufType::String:
      return "string";
    case GgufType::Array:
      return "array";
    case GgufType::U64:
      return "uint64";
    case GgufType::I64:
      return "int64";
    case GgufType::F64:
      return "float64";
  }
  return "?";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::U16:
    case GgufType::I16:
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::U64:
    case GgufType::I64:
      return true;
    default:
      return false;
  }
}

bool GgufValue::as_u64(uint64_t* out) const {
  if (!is_integer()) return false;
  if (type == GgufType::U64) {
    *out = u;
    return true;
  }
  if (i < 0) return false;
  *out = uint64_t(i);
  return true;
}

double GgufValue::number_at(uint64_t k) const {
  if (!raw || k >= count) return 0;
  const uint8_t* p = raw + k * scalar_size(elem);
  auto rd = [p](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  switch (elem) {
    case GgufType::U8:
    case GgufType::Bool:
      return rd(uint8_t());
    case GgufType::I8:
      return rd(int8_t());
    case GgufType::U16:
      return rd(uint16_t());
    case GgufType::I16:
      return rd(int16_t());
    case GgufType::U32:
      return rd(uint32_t());
    case GgufType::I32:
      return rd(int32_t());
    case GgufType::F32:
      return rd(float());
    case GgufType::U64:
      return double(rd(uint64_t()));
    case GgufType::I64:
      return double(rd(int64_t()));
    case GgufType::F64:
      return rd(double());
    default:
      return 0;
  }
}

bool gguf_dtype(uint32_t t, DType* out, const std::string& source, const std::string& tensor) {
  switch (GgmlType(t)) {
    case GgmlType::F32:
      *out = DType::F32;
      return true;
    case GgmlType::F16:
      *out = DType::F16;
      return true;
    case GgmlType::BF16:
      *out = DType::BF16;
      return true;
    case GgmlType::Q4_0:
      *out = DType::Q4_0;
      return true;
    case GgmlType::Q4_1:
      *out = DType::Q4_1;
      return true;
    case GgmlType::Q5_0:
      *out = DType::Q5_0;
      return true;
    case GgmlType::Q5_1:
      *out = DType::Q5_1;
      return true;
    case GgmlType::Q8_0:
      *out = DType::Q8_0;
      return true;
    case GgmlType::Q4_K:
      *out = DType::Q4_K;
      return true;
    case GgmlType::Q5_K:
      *out = DType::Q5_K;
      return true;
    case GgmlType::Q6_K:
      *out = DType::Q6_K;
      return true;
    case GgmlType::Q8_K:
      *out = DType::Q8_K;
      return true;
    case GgmlType::I8:
      *out = DType::I8;
      return true;
    case GgmlType::I16:
      *out = DType::I16;
      return true;
    case GgmlType::I32:
      *out = DType::I32;
      return true;
    case GgmlType::I64:
      *out = DType::I64;
      return true;
    case GgmlType::F64:
      *out = DType::F64;
      return true;
    default:
      break;
  }
  static const char* const names[] = {
      "f32",      "f16",      "q4_0",    "q4_1",  "q4_2",       "q4_3",       "q5_0",       "q5_1",
      "q8_0",     "q8_1",     "q2_K",    "q3_K",  "q4_K",       "q5_K",       "q6_K",       "q8_K",
      "iq2_xxs",  "iq2_xs",   "iq3_xxs", "iq1_s", "iq4_nl",     "iq3_s",      "iq2_s",      "iq4_xs",
      "i8",       "i16",      "i32",     "i64",   "f64",        "iq1_m",      "bf16",       "q4_0_4_4",
      "q4_0_4_8", "q4_0_8_8", "tq1_0",   "tq2_0", "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "mxfp4"};
  if (t < sizeof(names) / sizeof(names[0]) && t != 4 && t != 5)
    fail(Code::ModelUnsupported, source, ": tensor ", quoted(tensor), " is stored as ", names[t],
         ", which this build cannot run; re-quantize the model to q8_0, q5_0, q5_1, q4_0, q4_1, q4_K, q5_K, q6_K, "
         "f16 or f32");
  return false;
}

uint32_t ggml_type_of(DType t) {
  switch (t) {
    case DType::F32:
      return uint32_t(GgmlType::F32);
    case DType::F16:
      return uint32_t(GgmlType::F16);
    case DType::BF16:
      return uint32_t(GgmlType::BF16);
    case DType::Q4_0:
      return uint32_t(GgmlType::Q4_0);
    case DType::Q4_1:
      return uint32_t(GgmlType::Q4_1);
    case DType::Q5_0:
      return uint32_t(GgmlType::Q5_0);
    case DType::Q5_1:
      return uint32_t(GgmlType::Q5_1);
    case DType::Q8_0:
      return uint32_t(GgmlType::Q8_0);
    case DType::Q4_K:
      return uint32_t(GgmlType::Q4_K);
    case DType::Q5_K:
      return uint32_t(GgmlType::Q5_K);
    case DType::Q6_K:
      return uint32_t(GgmlType::Q6_K);
    case DType::Q8_K:
      return uint32_t(GgmlType::Q8_K);
    case DType::I8:
      return uint32_t(GgmlType::I8);
    case DType::I16:
      return uint32_t(GgmlType::I16);
    case DType::I32:
      return uint32_t(GgmlType::I32);
    case DType::I64:
      return uint32_t(GgmlType::I64);
    case DType::F64:
      return uint32_t(GgmlType::F64);
    default:
      return UINT32_MAX;
  }
}

bool is_gguf(const uint8_t* data, size_t size) { return size >= 4 && std::memcmp(data, "GGUF", 4) == 0; }

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  auto mf = MappedFile::open(path);
  auto f = parse(mf->data(), mf->size(), mf, path);
  f->identity_ = mf->identity();
  return f;
}

std::shared_ptr<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, std::shared_ptr<const void> keepalive,
                                          const std::string& source) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->source_ = source;
  f->base_ = data;
  f->size_ = size;
  f->keepalive_ = std::move(keepalive);
  Reader r{data, size, 0, source};

  if (size < 4 || !is_gguf(data, size)) bad(source, "it does not start with the magic bytes 'GGUF'");
  r.pos = 4;
  const uint32_t version = r.get<uint32_t>("the version");
  if (version == 1)
    fail(Code::ModelUnsupported, source,
         ": GGUF version 1 (32-bit counts, 2023 pre-release) is not supported; "
         "convert the model again with a current tool (GGUF v2 or v3)");
  if (version == 0x02000000u || version == 0x03000000u)
    fail(Code::ModelUnsupported, source, ": this is a big-endian GGUF file; only little-endian files are supported");
  if (version != 2 && version != 3)
    fail(Code::ModelUnsupported, source, ": GGUF version ", version, " is newer than this build reads (2 or 3)");
  f->version_ = version;
  const uint64_t n_tensors = r.get<uint64_t>("the tensor count");
  const uint64_t n_kv = r.get<uint64_t>("the metadata count");
  // A key-value pair takes at least 8 + 4 + 1 bytes and a tensor info 8 + 4 + 4 + 8.
  if (n_kv > r.left() / 13)
    bad(source, "the header claims " + std::to_string(n_kv) + " metadata entries, more than the " +
                    std::to_string(r.left()) + " remaining bytes can hold");
  if (n_tensors > r.left() / 24)
    bad(source, "the header claims " + std::to_string(n_tensors) + " tensors, more than the " +
                    std::to_string(r.left()) + " remaining bytes can hold");

  uint64_t nested = 0;
  f->kv_.reserve(size_t(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = r.str("metadata key " + std::to_string(k), kMaxNameBytes);
    if (key.empty()) bad(source, "metadata key " + std::to_string(k) + " is empty");
    if (!valid_utf8(key)) bad(source, "metadata key " + std::to_string(k) + " is not UTF-8");
    if (f->kv_index_.count(key)) bad(source, "metadata key " + quoted(key) + " appears twice");
    const uint32_t type = r.get<uint32_t>("the type of metadata " + quoted(key));
    if (!valid_type(type)) bad(source, "metadata " + quoted(key) + " has unknown value type " + std::to_string(type));
    GgufValue v;
    read_value(r, GgufType(type), &v, key, 0, &nested);
    f->kv_index_[key] = f->kv_.size();
    f->kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = f->find("general.alignment")) {
    if (a->type != GgufType::U32)
      bad(source, std::string("general.alignment must be a uint32, not ") + gguf_type_name(a->type));
    if (a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > (1u << 24))
      bad(source, "general.alignment " + std::to_string(a->u) + " is not a power of two up to 16 MiB");
    f->alignment_ = a->u;
  }

  f->entries_.reserve(size_t(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufEntry e;
    e.name = r.str("tensor name " + std::to_string(k), kMaxNameBytes);
    if (e.name.empty()) bad(source, "tensor " + std::to_string(k) + " has an empty name");
    if (!valid_utf8(e.name)) bad(source, "tensor name " + std::to_string(k) + " is not UTF-8");
    if (f->index_.count(e.name)) bad(source, "tensor " + quoted(e.name) + " appears twice");
    const uint32_t n_dims = r.get<uint32_t>("the rank of tensor " + quoted(e.name));
    if (n_dims == 0 || n_dims > kMaxDims)
      bad(source, "tensor " + quoted(e.name) + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = r.get<uint64_t>("a dimension of tensor " + quoted(e.name));
      if (ne > (uint64_t(1) << 62) || (ne != 0 && numel > (uint64_t(1) << 62) / ne))
        bad(source, "tensor " + quoted(e.name) + " has dimension " + std::to_string(ne) + ", too many elements");
      numel *= ne;
      e.ne.push_back(ne);
    }
    for (size_t d = e.ne.size(); d-- > 0;) e.shape.push_back(int64_t(e.ne[d]));
    e.ggml_type = r.get<uint32_t>("the type of tensor " + quoted(e.name));
    if (!gguf_dtype(e.ggml_type, &e.dtype, source, e.name))
      bad(source, "tensor " + quoted(e.name) + " has unknown type id " + std::to_string(e.ggml_type));
    e.offset = r.get<uint64_t>("the offset of tensor " + quoted(e.name));
    const int64_t block = dtype_block(e.dtype);
    if (e.ne[0] % uint64_t(block) != 0)
      bad(source, "tensor " + quoted(e.name) + " is " + dtype_name(e.dtype) + " with rows of " +
                      std::to_string(e.ne[0]) + " values, not a multiple of its block size " + std::to_string(block));
    e.nbytes = (numel / uint64_t(block)) * dtype_block_bytes(e.dtype);  // ≤ 2^62 · 292 / 32: no overflow
    if (e.offset % f->alignment_ != 0)
      bad(source, "tensor " + quoted(e.name) + " starts at offset " + std::to_string(e.offset) +
                      ", not a multiple of the alignment " + std::to_string(f->alignment_));
    f->index_[e.name] = f->entries_.size();
    f->entries_.push_back(std::move(e));
  }

  // The data section starts at the next multiple of the alignment (the file may end there when
  // it holds no tensor data).
  const uint64_t pad = (f->alignment_ - r.pos % f->alignment_) % f->alignment_;
  if (f->entries_.empty() && pad > r.left()) {
    f->data_offset_ = size;
    return f;
  }
  if (pad > r.left()) bad(source, "the file ends inside the padding before the tensor data (truncated?)");
  f->data_offset_ = r.pos + pad;
  const uint64_t data_size = size - f->data_offset_;
  for (const auto& e : f->entries_)
    if (e.offset > data_size || e.nbytes > data_size - e.offset)
      bad(source, "tensor " + quoted(e.name) + " (" + dtype_name(e.dtype) + " " + shape_str(e.shape) + ", " +
                      std::to_string(e.nbytes) + " bytes at data offset " + std::to_string(e.offset) +
                      ") runs past the end of the file's " + std::to_string(data_size) +
                      " data bytes (truncated download?)");
  std::vector<const GgufEntry*> by_offset;
  for (const auto& e : f->entries_)
    if (e.nbytes) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufEntry* a, const GgufEntry* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k)
    if (by_offset[k]->offset < by_offset[k - 1]->offset + by_offset[k - 1]->nbytes)
      bad(source,
          "the data of tensor " + quoted(by_offset[k]->name) + " overlaps tensor " + quoted(by_offset[k - 1]->name));
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  const GgufValue* v = find(key);
  return v && v->type == GgufType::String ? v->s : fallback;
}

const GgufEntry& GgufFile::entry(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail(Code::ModelFormat, source_, ": tensor ", quoted(name), " is missing");
  return entries_[it->second];
}

Tensor GgufFile::tensor(const GgufEntry& e) const {
  const uint8_t* p = base_ + data_offset_ + e.offset;
  // Block types are read with memcpy; plain types need their natural alignment for a view.
  const size_t align = dtype_is_block(e.dtype) ? 1 : dtype_size(e.dtype);
  if (reinterpret_cast<uintptr_t>(p) % align == 0) return Tensor::view(e.dtype, e.shape, p, keepalive_);
  Tensor t = Tensor::empty(e.dtype, e.shape);
  std::memcpy(t.raw(), p, size_t(e.nbytes));
  return t;
}

}  // namespace bgn
