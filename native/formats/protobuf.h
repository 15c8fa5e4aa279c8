// A bounds-checked reader of the protobuf wire format. It never reads past the buffer it was
// given; every malformed length, varint or wire type fails with E_MODEL_FORMAT naming `what`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bgn::pb {

enum WireType : uint32_t { Varint = 0, Fixed64 = 1, Len = 2, Fixed32 = 5 };

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::string str() const { return std::string(reinterpret_cast<const char*>(data), size); }
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const char* what) : p_(data), end_(data + size), what_(what) {}
  Reader(Bytes b, const char* what) : Reader(b.data, b.size, what) {}

  // Advances to the next field; false at the end of the message.
  bool next();
  uint32_t field() const { return field_; }
  uint32_t wire() const { return wire_; }

  uint64_t varint();
  int64_t int64() { return static_cast<int64_t>(varint()); }
  uint32_t fixed32();
  uint64_t fixed64();
  float float32();
  double float64();
  Bytes bytes();
  std::string string() { return bytes().str(); }
  void skip();

  // Repeated scalars arrive packed (one Len field) or one per field; both are accepted.
  void append_int64s(std::vector<int64_t>& out);
  void append_floats(std::vector<float>& out);

  [[noreturn]] void malformed(const char* why) const;

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const char* what_;
  uint32_t field_ = 0, wire_ = 0;
};

}  // namespace bgn::pb
