// Tokenizer files: vocab.json + merges.txt. The input is split at the first NUL byte into the
// two files (no NUL: all vocab.json, with a one-line merges.txt); a tokenizer that loads then
// encodes a fixed prompt and the input's own text.
#include <cstring>

#include "fuzz.h"
#include "text/clip_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bgn_fuzz::guarded([&] {
    std::string_view all = bgn_fuzz::text(data, size);
    size_t nul = all.find('\0');
    std::string_view vocab = all.substr(0, nul);
    std::string_view merges =
        nul == std::string_view::npos ? std::string_view("#version: 0.2\na b\n") : all.substr(nul + 1);
    auto tok = bgn::ClipTokenizer::parse(vocab, merges, "vocab.json", "merges.txt");
    bgn::ClipTokenizer::EncodeOptions o;
    auto ids = tok->encode_padded("a photo of a cat, (studio:1.2) lighting", o);
    auto ids2 = tok->encode(merges.substr(0, 256));
    for (int32_t id : ids)
      if (id < 0) std::abort();
    volatile size_t sink = ids.size() + ids2.size();
    (void)sink;
  });
}
