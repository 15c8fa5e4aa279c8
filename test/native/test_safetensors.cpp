// The safetensors reader accepts valid files and refuses every kind of lie with E_MODEL_FORMAT.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <memory>
#include <string>

#include "formats/json.h"
#include "formats/mapped_file.h"
#include "formats/safetensors.h"
#include "testing.h"

using namespace bgn;

namespace {

// Builds a file image: 8-byte length, header, data.
std::shared_ptr<std::string> image(const std::string& header, const std::string& data) {
  auto s = std::make_shared<std::string>();
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  *s += header;
  *s += data;
  return s;
}

std::shared_ptr<SafetensorsFile> parse(const std::shared_ptr<std::string>& img) {
  return SafetensorsFile::parse(reinterpret_cast<const uint8_t*>(img->data()), img->size(), img, "test.safetensors");
}

std::string message_of(const std::shared_ptr<std::string>& img) {
  try {
    parse(img);
  } catch (const Error& e) {
    return std::string(code_name(e.code())) + ": " + e.what();
  }
  return "";
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(&s[0], v.begin(), s.size());
  return s;
}

}  // namespace

TEST("a valid file gives views with dtype, shape and data") {
  auto img = image(
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F16","shape":[],"data_offsets":[16,18]}})",
      floats({1, 2, 3, 4}) + std::string("\x00\x3c", 2));
  auto f = parse(img);
  CHECK(f->entries().size() == 2 && f->metadata().at("format") == "pt");
  Tensor w = f->tensor("w");
  CHECK(w.dtype() == DType::F32 && w.shape() == Shape({2, 2}) && w.data<float>()[3] == 4.0f);
  Tensor b = f->tensor("b");
  CHECK(b.dtype() == DType::F16 && b.rank() == 0 && b.to(DType::F32).data<float>()[0] == 1.0f);
}

TEST("misaligned data is copied, not read unaligned") {
  // Header of odd length puts the data at an odd address.
  std::string h = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  auto img = image(h + " ", floats({5}));
  auto f = parse(img);
  Tensor x = f->tensor("x");
  CHECK(reinterpret_cast<uintptr_t>(x.raw()) % 4 == 0 && x.data<float>()[0] == 5.0f);
}

TEST("a file shorter than 8 bytes is a format error") {
  auto img = std::make_shared<std::string>("abc");
  CHECK_THROWS_CODE(parse(img), Code::ModelFormat);
}

TEST("a header length past the end of the file is a format error naming the file") {
  auto img = image(R"({})", "");
  (*img)[0] = 100;
  CHECK_THROWS_CODE(parse(img), Code::ModelFormat);
  CHECK(message_of(img).find("test.safetensors") != std::string::npos);
}

TEST("malformed JSON headers are format errors") {
  CHECK_THROWS_CODE(parse(image(R"({"x":{"dtype":"F32",})", "")), Code::ModelFormat);
  CHECK_THROWS_CODE(parse(image(R"({"x":1,"x":2})", "")), Code::ModelFormat);
  CHECK_THROWS_CODE(parse(image(R"([1,2])", "")), Code::ModelFormat);
}

TEST("an unknown dtype is a format error; a known but unsupported one is E_MODEL_UNSUPPORTED") {
  CHECK_THROWS_CODE(parse(image(R"({"x":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", floats({1}))),
                    Code::ModelFormat);
  CHECK_THROWS_CODE(parse(image(R"({"x":{"dtype":"U32","shape":[1],"data_offsets":[0,4]}})", floats({1}))),
                    Code::ModelUnsupported);
}

TEST("a shape that disagrees with the byte range names the tensor") {
  auto img = image(R"({"layer.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", floats({1, 2, 3, 4}));
  CHECK_THROWS_CODE(parse(img), Code::ModelFormat);
  CHECK(message_of(img).find("layer.weight") != std::string::npos);
}

TEST("data past the end of the file (truncated download) is a format error") {
  CHECK_THROWS_CODE(parse(image(R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", floats({1, 2}))),
                    Code::ModelFormat);
}

TEST("overlapping tensors are a format error") {
  auto img = image(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      floats({1, 2, 3}));
  CHECK_THROWS_CODE(parse(img), Code::ModelFormat);
}

TEST("negative, fractional or huge dimensions are format errors") {
  CHECK_THROWS_CODE(parse(image(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", floats({1}))),
                    Code::ModelFormat);
  CHECK_THROWS_CODE(parse(image(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", floats({1}))),
                    Code::ModelFormat);
  CHECK_THROWS_CODE(
      parse(image(R"({"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", floats({1}))),
      Code::ModelFormat);
}

TEST("asking for a missing tensor names it") {
  auto f = parse(image(R"({})", ""));
  CHECK_THROWS_CODE(f->tensor("nope"), Code::ModelFormat);
}

TEST("a missing file is E_MODEL_NOT_FOUND") {
  CHECK_THROWS_CODE(SafetensorsFile::open("/nonexistent/model.safetensors"), Code::ModelNotFound);
}

TEST("every fixture safetensors file opens") {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  auto f = SafetensorsFile::open(dir + "/models/sd1-tiny.safetensors");
  CHECK(f->entries().size() > 100);
  for (const auto& e : f->entries()) CHECK(f->tensor(e).numel() == shape_numel(e.shape));
}

TEST("JSON: strict syntax with Python's non-finite literals") {
  CHECK(json::parse("-Infinity", "t").as_double() < -1e308);
  CHECK(json::parse(R"({"a":[1,2.5,"\u00e9\ud83d\ude00"]})", "t").find("a")->items()[2].as_string() ==
        "\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(json::parse("9007199254740993", "t").as_int() == 9007199254740993LL);
  CHECK_THROWS_CODE(json::parse("[1,]", "t"), Code::ModelFormat);
  CHECK_THROWS_CODE(json::parse("01", "t"), Code::ModelFormat);
  CHECK_THROWS_CODE(json::parse("\"\\ud800\"", "t"), Code::ModelFormat);
  CHECK_THROWS_CODE(json::parse("\"\xff\"", "t"), Code::ModelFormat);
  CHECK_THROWS_CODE(json::parse("{} x", "t"), Code::ModelFormat);
  CHECK_THROWS_CODE(json::parse(std::string(300, '['), "t"), Code::ModelFormat);
}

namespace {
// This process's resident file-backed pages (RssFile in /proc/self/status), in KiB; -1 if unknown.
long rss_file_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssFile:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}
}  // namespace

TEST("weights borrowed inside a residency scope are recorded, and releasing drops their pages but not their values") {
  // A 32 MiB single-tensor safetensors file on disk, mapped like a checkpoint.
  const size_t n = 8u << 20;  // floats
  std::string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + std::to_string(n) + "],\"data_offsets\":[0," +
                       std::to_string(n * 4) + "]}}";
  while ((8 + header.size()) % 8) header += ' ';
  char path[] = "/tmp/bgn-residency-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  {
    std::string bytes;
    uint64_t hl = header.size();
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((hl >> (8 * i)) & 0xFF));
    bytes += header;
    std::string data(n * 4, '\0');
    for (size_t i = 0; i < n; ++i) {
      float v = float(i % 1000);
      std::memcpy(&data[i * 4], &v, 4);
    }
    bytes += data;
    CHECK(write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()));
    close(fd);
  }
  auto file = SafetensorsFile::open(path);
  ResidentRanges pages;
  Tensor w;
  {
    ResidencyScope scope(&pages);
    w = file->tensor("w");
  }
  Tensor outside = file->tensor("w");  // made outside the scope: not recorded
  CHECK(pages.ranges.size() == 1);
  CHECK(pages.bytes() == n * 4);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += w.data<float>()[i];  // touch every page
  const long touched = rss_file_kib();
  pages.release();
  const long released = rss_file_kib();
  if (touched >= 0) CHECK(touched - released > 24 * 1024);  // most of the 32 MiB left the resident set
  double again = 0;
  for (size_t i = 0; i < n; ++i) again += w.data<float>()[i];  // read back from the file
  CHECK(again == sum);
  CHECK(outside.data<float>()[n - 1] == float((n - 1) % 1000));
  std::remove(path);
}

int main() { return bgn_test::run_all(); }
