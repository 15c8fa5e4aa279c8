#include "formats/protobuf.h"

#include <cstring>

#include "tensor/error.h"

namespace bgn::pb {

void Reader::malformed(const char* why) const { fail(Code::ModelFormat, "malformed ", what_, ": ", why); }

bool Reader::next() {
  if (p_ >= end_) return false;
  uint64_t key = varint();
  field_ = static_cast<uint32_t>(key >> 3);
  wire_ = static_cast<uint32_t>(key & 7);
  if (field_ == 0) malformed("field number 0");
  if (wire_ != Varint && wire_ != Fixed64 && wire_ != Len && wire_ != Fixed32) malformed("unknown wire type");
  return true;
}

uint64_t Reader::varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ >= end_) malformed("truncated varint");
    uint8_t b = *p_++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  malformed("varint longer than 10 bytes");
}

uint32_t Reader::fixed32() {
  if (end_ - p_ < 4) malformed("truncated fixed32");
  uint32_t v;
  std::memcpy(&v, p_, 4);
  p_ += 4;
  return v;
}

uint64_t Reader::fixed64() {
  if (end_ - p_ < 8) malformed("truncated fixed64");
  uint64_t v;
  std::memcpy(&v, p_, 8);
  p_ += 8;
  return v;
}

float Reader::float32() {
  uint32_t u = fixed32();
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

double Reader::float64() {
  uint64_t u = fixed64();
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

Bytes Reader::bytes() {
  uint64_t n = varint();
  if (n > static_cast<uint64_t>(end_ - p_)) malformed("length runs past the end of the data");
  Bytes b{p_, static_cast<size_t>(n)};
  p_ += n;
  return b;
}

void Reader::skip() {
  switch (wire_) {
    case Varint:
      varint();
      break;
    case Fixed64:
      fixed64();
      break;
    case Fixed32:
      fixed32();
      break;
    case Len:
      bytes();
      break;
    default:
      malformed("unknown wire type");
  }
}

void Reader::append_int64s(std::vector<int64_t>& out) {
  if (wire_ == Len) {
    Reader r(bytes(), what_);
    while (r.p_ < r.end_) out.push_back(static_cast<int64_t>(r.varint()));
  } else if (wire_ == Varint) {
    out.push_back(int64());
  } else {
    malformed("integer field with a non-integer wire type");
  }
}

void Reader::append_floats(std::vector<float>& out) {
  if (wire_ == Len) {
    Bytes b = bytes();
    if (b.size % 4) malformed("packed floats not a multiple of 4 bytes");
    size_t n = b.size / 4;
    size_t at = out.size();
    out.resize(at + n);
    if (n) std::memcpy(out.data() + at, b.data, b.size);
  } else if (wire_ == Fixed32) {
    out.push_back(float32());
  } else {
    malformed("float field with a non-float wire type");
  }
}

}  // namespace bgn::pb
