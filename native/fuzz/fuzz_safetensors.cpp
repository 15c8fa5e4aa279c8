// safetensors: header length, JSON header, dtypes, shapes, offsets; then every tensor is read.
#include "formats/safetensors.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bgn_fuzz::guarded([&] {
    auto f = bgn::SafetensorsFile::parse(data, size, nullptr, "fuzz.safetensors");
    volatile uint64_t sum = 0;
    for (const auto& e : f->entries()) {
      bgn::Tensor t = f->tensor(e);
      const uint8_t* p = static_cast<const uint8_t*>(t.raw());
      size_t n = static_cast<size_t>(e.end - e.begin);
      if (n) sum = sum + p[0] + p[n - 1];  // first and last byte: ASan checks they are in bounds
    }
    for (const auto& kv : f->metadata()) sum = sum + kv.first.size() + kv.second.size();
  });
}
