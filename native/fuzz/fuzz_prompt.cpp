// Prompts: emphasis syntax ((word:1.3), [word], BREAK, escapes) and CLIP tokenization of the
// pieces into 77-token chunks. Uses the CLIP tokenizer in $BGN_FUZZ_TOKENIZER (a folder with
// vocab.json + merges.txt; npm run fuzz points it at the shared fixtures when present), else a
// small built-in byte-level vocabulary.
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>

#include "fuzz.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_weights.h"

namespace {

std::shared_ptr<const bgn::ClipTokenizer> make_tokenizer() {
  const char* dir = std::getenv("BGN_FUZZ_TOKENIZER");
  if (dir && *dir) return bgn::ClipTokenizer::load_dir(dir);
  // Built-in: every printable ASCII character (alone and as a word end) and a few merges.
  std::string vocab = "{\"<|startoftext|>\":0,\"<|endoftext|>\":1";
  int id = 2;
  for (int c = '!'; c <= '~'; ++c) {
    std::string ch = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : std::string(1, char(c));
    vocab += ",\"" + ch + "\":" + std::to_string(id++);
    vocab += ",\"" + ch + "</w>\":" + std::to_string(id++);
  }
  vocab += ",\"ca\":" + std::to_string(id) + ",\"cat</w>\":" + std::to_string(id + 1) + "}";
  std::string merges = "#version: 0.2\nc a\nca t</w>\n";
  return bgn::ClipTokenizer::parse(vocab, merges, "builtin vocab.json", "builtin merges.txt");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::shared_ptr<const bgn::ClipTokenizer> tok = make_tokenizer();
  return bgn_fuzz::guarded([&] {
    std::string_view prompt = bgn_fuzz::text(data, size);
    auto pieces = bgn::parse_prompt_weights(prompt);
    if (pieces.empty()) std::abort();
    auto chunks = bgn::encode_weighted_prompt(*tok, prompt);
    if (chunks.empty()) std::abort();
    for (const auto& c : chunks) {
      if (c.ids.size() != 77 || c.weights.size() != 77) std::abort();
      for (int32_t id : c.ids)
        if (id < 0 || static_cast<size_t>(id) >= tok->vocab_size() + 2) std::abort();
    }
    // Emphasis on a small fake hidden state of the first chunk.
    float hidden[77 * 2];
    for (int i = 0; i < 77 * 2; ++i) hidden[i] = 0.01f * static_cast<float>(i % 13) - 0.05f;
    bgn::apply_prompt_weights(hidden, chunks[0].weights.data(), 77, 2);
  });
}
