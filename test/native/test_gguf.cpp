// The GGUF reader: metadata of every type, tensor infos, alignment and data views of valid files;
// every lie (counts, lengths, offsets, dims, types) refused with E_MODEL_FORMAT, never a crash.
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "tensor/quant.h"
#include "testing.h"

using namespace bgn;

namespace {

// Writes GGUF images field by field.
struct Img {
  std::string b;
  template <class T>
  Img& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
    return *this;
  }
  Img& str(const std::string& s) {
    put<uint64_t>(s.size());
    b += s;
    return *this;
  }
  Img& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    b += "GGUF";
    return put<uint32_t>(version).put<uint64_t>(tensors).put<uint64_t>(kvs);
  }
  Img& kv_u32(const std::string& k, uint32_t v) { return str(k).put<uint32_t>(4).put<uint32_t>(v); }
  Img& kv_str(const std::string& k, const std::string& v) { return str(k).put<uint32_t>(8).str(v); }
  Img& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(uint32_t(ne.size()));
    for (uint64_t d : ne) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Img& pad(size_t align) {
    while (b.size() % align) b.push_back('\0');
    return *this;
  }
  Img& bytes(size_t n, char c = '\0') {
    b.append(n, c);
    return *this;
  }
};

std::shared_ptr<GgufFile> parse(const std::string& s) {
  auto keep = std::make_shared<std::string>(s);
  return GgufFile::parse(reinterpret_cast<const uint8_t*>(keep->data()), keep->size(), keep, "test.gguf");
}

std::string error_of(const std::string& s) {
  try {
    parse(s);
  } catch (const Error& e) {
    return std::string(code_name(e.code())) + ": " + e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A valid file: metadata of every scalar type, a string, arrays (numbers, strings, nested),
// alignment 64, and three tensors (f32 (2,3), q8_0 (2,32), f16 (4)).
std::string valid_file() {
  Img m;
  m.header(3, 3, 17);
  m.str("general.architecture").put<uint32_t>(8).str("stable-diffusion");
  m.str("general.alignment").put<uint32_t>(4).put<uint32_t>(64);
  m.str("u8").put<uint32_t>(0).put<uint8_t>(200);
  m.str("i8").put<uint32_t>(1).put<int8_t>(-5);
  m.str("u16").put<uint32_t>(2).put<uint16_t>(60000);
  m.str("i16").put<uint32_t>(3).put<int16_t>(-30000);
  m.str("i32").put<uint32_t>(5).put<int32_t>(-7);
  m.str("f32").put<uint32_t>(6).put<float>(1.5f);
  m.str("bool").put<uint32_t>(7).put<uint8_t>(1);
  m.str("u64").put<uint32_t>(10).put<uint64_t>(uint64_t(1) << 40);
  m.str("i64").put<uint32_t>(11).put<int64_t>(-(int64_t(1) << 40));
  m.str("f64").put<uint32_t>(12).put<double>(0.25);
  m.str("u32").put<uint32_t>(4).put<uint32_t>(4000000000u);
  m.str("arr.f32").put<uint32_t>(9).put<uint32_t>(6).put<uint64_t>(3).put<float>(1).put<float>(2).put<float>(3);
  m.str("arr.str").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("a").str("bc");
  m.str("arr.nested").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(2);
  m.put<uint32_t>(4).put<uint64_t>(1).put<uint32_t>(9);
  m.put<uint32_t>(7).put<uint64_t>(2).put<uint8_t>(0).put<uint8_t>(1);
  m.str("arr.empty").put<uint32_t>(9).put<uint32_t>(0).put<uint64_t>(0);
  m.tensor("w.f32", {3, 2}, 0, 0);
  m.tensor("w.q8", {32, 2}, 8, 64);
  m.tensor("b.f16", {4}, 1, 192);
  m.pad(64);
  std::string data(256, '\0');
  const float f[6] = {1, 2, 3, 4, 5, 6};
  std::memcpy(&data[0], f, sizeof f);
  for (int r = 0; r < 2; ++r) {
    uint16_t d = f32_to_f16(0.5f);
    std::memcpy(&data[64 + 34 * r], &d, 2);
    for (int i = 0; i < 32; ++i) data[size_t(64 + 34 * r + 2 + i)] = char(i - 16 + r);
  }
  for (int i = 0; i < 4; ++i) {
    uint16_t h = f32_to_f16(float(i) - 1.f);
    std::memcpy(&data[size_t(192 + 2 * i)], &h, 2);
  }
  return m.b + data;
}

}  // namespace

TEST("a valid GGUF v3 file reads metadata of every type, alignment and tensors") {
  auto f = parse(valid_file());
  CHECK(f->version() == 3);
  CHECK(f->alignment() == 64);
  CHECK(f->data_offset() % 64 == 0);
  CHECK(f->get_string("general.architecture") == "stable-diffusion");
  CHECK(f->find("u8")->u == 200 && f->find("i8")->i == -5 && f->find("u16")->u == 60000);
  CHECK(f->find("i16")->i == -30000 && f->find("i32")->i == -7 && f->find("f32")->f == 1.5);
  CHECK(f->find("bool")->i == 1 && f->find("u64")->u == (uint64_t(1) << 40));
  CHECK(f->find("i64")->i == -(int64_t(1) << 40) && f->find("f64")->f == 0.25 && f->find("u32")->u == 4000000000u);
  const GgufValue* a = f->find("arr.f32");
  CHECK(a->type == GgufType::Array && a->elem == GgufType::F32 && a->count == 3 && a->number_at(2) == 3.0);
  const GgufValue* s = f->find("arr.str");
  CHECK(s->strings.size() == 2 && s->strings[1] == "bc");
  const GgufValue* n = f->find("arr.nested");
  CHECK(n->items.size() == 2 && n->items[0].elem == GgufType::U32 && n->items[0].number_at(0) == 9);
  CHECK(n->items[1].elem == GgufType::Bool && n->items[1].number_at(1) == 1);
  CHECK(f->find("arr.empty")->count == 0);
  CHECK(f->metadata().size() == 17 && f->metadata()[0].first == "general.architecture");

  CHECK(f->entries().size() == 3);
  Tensor w = f->tensor("w.f32");
  CHECK(w.dtype() == DType::F32 && w.shape() == Shape({2, 3}) && w.data<float>()[5] == 6.f);
  Tensor q = f->tensor("w.q8");
  CHECK(q.dtype() == DType::Q8_0 && q.shape() == Shape({2, 32}) && q.nbytes() == 68);
  Tensor qf = q.to(DType::F32);
  CHECK(qf.data<float>()[0] == -8.f && qf.data<float>()[32 + 31] == 0.5f * 16);
  Tensor b = f->tensor("b.f16");
  CHECK(b.dtype() == DType::F16 && b.to(DType::F32).data<float>()[3] == 2.f);
  CHECK_THROWS_CODE(f->tensor("nope"), Code::ModelFormat);
}

TEST("GGUF v2 with the default alignment of 32 reads; no tensors is fine") {
  Img m;
  m.header(2, 1, 0).tensor("x", {32}, 2, 0).pad(32).bytes(18);
  auto f = parse(m.b);
  CHECK(f->version() == 2 && f->alignment() == 32 && f->tensor("x").dtype() == DType::Q4_0);
  Img e;
  e.header(3, 0, 1).kv_str("general.name", "empty");
  CHECK(parse(e.b)->entries().empty());
}

TEST("every truncation of a valid file is E_MODEL_FORMAT") {
  const std::string full = valid_file();
  // The last tensor ends 56 bytes before the end of the file (spare data bytes are allowed).
  for (size_t n = 0; n < full.size() - 56; ++n) {
    std::string err = error_of(full.substr(0, n));
    CHECK_MSG(contains(err, "E_MODEL_FORMAT"), "truncated to %zu bytes: '%s'", n, err.c_str());
  }
}

TEST("lying counts, lengths and types are refused with a message naming them") {
  auto expect = [](const std::string& img, const char* code, const char* part) {
    std::string err = error_of(img);
    CHECK_MSG(contains(err, code) && contains(err, part), "wanted %s '%s', got '%s'", code, part, err.c_str());
  };
  expect("GGUX" + std::string(20, '\0'), "E_MODEL_FORMAT", "magic");
  {
    Img m;
    m.header(1, 0, 0);
    expect(m.b, "E_MODEL_UNSUPPORTED", "version 1");
  }
  {
    Img m;
    m.header(0x03000000u, 0, 0);
    expect(m.b, "E_MODEL_UNSUPPORTED", "big-endian");
  }
  {
    Img m;
    m.header(9, 0, 0);
    expect(m.b, "E_MODEL_UNSUPPORTED", "version 9");
  }
  {
    Img m;
    m.header(3, uint64_t(1) << 60, 0);
    expect(m.b, "E_MODEL_FORMAT", "tensors");
  }
  {
    Img m;
    m.header(3, 0, ~uint64_t(0));
    expect(m.b, "E_MODEL_FORMAT", "metadata entries");
  }
  {
    Img m;
    m.header(3, 0, 1).put<uint64_t>(~uint64_t(0)).bytes(16);
    expect(m.b, "E_MODEL_FORMAT", "metadata key 0");
  }
  {
    Img m;
    m.header(3, 0, 1).str("k").put<uint32_t>(13).put<uint32_t>(0);
    expect(m.b, "E_MODEL_FORMAT", "unknown value type 13");
  }
  {
    Img m;
    m.header(3, 0, 1).str("k").put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 62);
    expect(m.b, "E_MODEL_FORMAT", "'k'");
  }
  {
    Img m;
    m.header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(uint64_t(1) << 61).put<uint32_t>(0);
    expect(m.b, "E_MODEL_FORMAT", "claims 2305843009213693952 uint32 elements");
  }
  {
    Img m;
    m.header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(99).put<uint64_t>(1);
    expect(m.b, "E_MODEL_FORMAT", "unknown type 99");
  }
  {
    Img m;
    m.header(3, 0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
    expect(m.b, "E_MODEL_FORMAT", "bool");
  }
  {
    Img m;
    m.header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2);
    expect(m.b, "E_MODEL_FORMAT", "appears twice");
  }
  {
    Img m;
    m.header(3, 0, 1).str("general.alignment").put<uint32_t>(5).put<int32_t>(32);
    expect(m.b, "E_MODEL_FORMAT", "uint32");
  }
  {
    Img m;
    m.header(3, 0, 1).kv_u32("general.alignment", 48);
    expect(m.b, "E_MODEL_FORMAT", "power of two");
  }
  {
    Img m;
    m.header(3, 0, 1).kv_u32("general.alignment", 0);
    expect(m.b, "E_MODEL_FORMAT", "power of two");
  }
  {
    Img m;
    m.header(3, 0, 1).str(std::string("\xff\xfe", 2)).put<uint32_t>(0).put<uint8_t>(0);
    expect(m.b, "E_MODEL_FORMAT", "UTF-8");
  }
  // A nested array bomb: depth beyond 4.
  {
    Img m;
    m.header(3, 0, 1).str("deep");
    m.put<uint32_t>(9);
    for (int d = 0; d < 6; ++d) m.put<uint32_t>(9).put<uint64_t>(1);
    m.bytes(64);
    expect(m.b, "E_MODEL_FORMAT", "nests arrays");
  }
  // Tensor infos.
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data) {
    Img m;
    m.header(3, 1, 0).tensor("t", ne, type, offset).pad(32).bytes(data);
    return m.b;
  };
  expect(one({}, 0, 0, 0), "E_MODEL_FORMAT", "0 dimensions");
  expect(one({1, 1, 1, 1, 1}, 0, 0, 4), "E_MODEL_FORMAT", "5 dimensions");
  expect(one({uint64_t(1) << 40, uint64_t(1) << 40}, 0, 0, 4), "E_MODEL_FORMAT", "too many elements");
  expect(one({4}, 77, 0, 16), "E_MODEL_FORMAT", "unknown type id 77");
  expect(one({4}, 4, 0, 16), "E_MODEL_FORMAT", "unknown type id 4");
  expect(one({256}, 10, 0, 84), "E_MODEL_UNSUPPORTED", "q2_K");
  expect(one({256}, 16, 0, 66), "E_MODEL_UNSUPPORTED", "iq2_xxs");
  expect(one({40}, 8, 0, 68), "E_MODEL_FORMAT", "not a multiple of its block size 32");
  expect(one({4}, 0, 8, 64), "E_MODEL_FORMAT", "not a multiple of the alignment");
  expect(one({4}, 0, 0, 15), "E_MODEL_FORMAT", "runs past the end");
  expect(one({4}, 0, ~uint64_t(0) - 31, 16), "E_MODEL_FORMAT", "runs past the end");
  expect(one({uint64_t(1) << 61}, 8, 0, 64), "E_MODEL_FORMAT", "runs past the end");
  {
    Img m;
    m.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32).pad(32).bytes(64);
    expect(m.b, "E_MODEL_FORMAT", "overlaps");
  }
  {
    Img m;
    m.header(3, 2, 0).tensor("a", {4}, 0, 0).tensor("a", {4}, 0, 32).pad(32).bytes(64);
    expect(m.b, "E_MODEL_FORMAT", "appears twice");
  }
}

TEST("random corruption of a valid file never crashes: it reads or fails with a code") {
  const std::string full = valid_file();
  std::mt19937 g(1234);
  int failures = 0, reads = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = full;
    const int flips = 1 + int(g() % 4);
    for (int k = 0; k < flips; ++k) {
      size_t at = g() % s.size();
      s[at] = char(g() % 3 == 0 ? 0xff : g());
    }
    try {
      auto f = parse(s);
      for (const auto& e : f->entries()) {
        Tensor t = f->tensor(e);
        if (t.numel() < (1 << 20)) (void)t.to(DType::F32);
      }
      ++reads;
    } catch (const Error&) {
      ++failures;
    }
  }
  CHECK(failures > 0 && reads + failures == 3000);
}

int main() { return bgn_test::run_all(); }
