// GGUF: header, metadata key/values (every type, nested arrays), tensor infos, alignment,
// offsets; then every tensor is read (first and last byte touched, in bounds under ASan).
#include "formats/gguf.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bgn_fuzz::guarded([&] {
    auto f = bgn::GgufFile::parse(data, size, nullptr, "fuzz.gguf");
    volatile uint64_t sum = f->get_string("general.architecture").size();
    for (const auto& e : f->entries()) {
      bgn::Tensor t = f->tensor(e);
      const uint8_t* p = static_cast<const uint8_t*>(t.raw());
      size_t n = t.nbytes();
      if (n) sum = sum + p[0] + p[n - 1];
    }
  });
}
