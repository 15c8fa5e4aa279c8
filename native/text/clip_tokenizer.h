// CLIP's byte-level BPE tokenizer, reading a model's tokenizer/vocab.json + merges.txt.
//
// Behaviour is that of transformers' CLIPTokenizer (the "slow" tokenizer, without ftfy), which is
// what diffusers' Stable Diffusion pipelines run:
//   1. "<|startoftext|>" / "<|endoftext|>" written in the text are split out as special tokens.
//   2. Each remaining piece is cleaned like BERT's BasicTokenizer: NUL, U+FFFD and control/format
//      characters (category C*) are dropped, whitespace becomes ' ', CJK ideographs are padded
//      with spaces, the text is NFC-normalised, split on whitespace and lowercased.
//   3. Pre-tokenised with  <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//   4. Each piece's UTF-8 bytes map to printable characters (GPT-2 bytes_to_unicode), the last
//      one gets "</w>", and BPE merges the lowest-ranked adjacent pair until none applies.
//      Only the first 48894 merges are used, like CLIPTokenizer.
//   5. Unknown tokens become <|endoftext|>.
// A prompt becomes BOS + ids + EOS; diffusers truncates to 77 (keeping BOS, 75 tokens, EOS) and
// pads with EOS (SD 1.x) or with "!" = id 0 (SD 2.x's tokenizer config). A pad token other than
// EOS is a special token of that tokenizer, so it is also split out of the text: with "!" as
// pad, "wow!" encodes as "wow</w>" + "!" (id 0), exactly as transformers does.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bgn {

class ClipTokenizer {
 public:
  static constexpr int kContextLength = 77;
  static constexpr int kMaxMerges = 49152 - 256 - 2;  // 48894, CLIPTokenizer's cut-off

  // From explicit files. E_MODEL_NOT_FOUND / E_MODEL_FORMAT name the file.
  static std::shared_ptr<const ClipTokenizer> load(const std::string& vocab_json, const std::string& merges_txt);
  // From the files' contents already in memory; the sources name them in errors.
  static std::shared_ptr<const ClipTokenizer> parse(std::string_view vocab_json, std::string_view merges_txt,
                                                    const std::string& vocab_source, const std::string& merges_source);
  // From a folder holding vocab.json + merges.txt, or a diffusers model folder with tokenizer/.
  static std::shared_ptr<const ClipTokenizer> load_dir(const std::string& dir);
  // The tokenizer folder in `dir` (itself or its tokenizer/); E_MODEL_NOT_FOUND says which files
  // are needed when it has none (the library's BG_CLIP_TOKENIZER arrives here as `dir`).
  static std::string resolve_dir(const std::string& dir);

  struct EncodeOptions {
    int max_length = kContextLength;          // <= 0: no padding or truncation
    std::string pad_token = "<|endoftext|>";  // "!" for SD 2.x
    bool truncate = true;
  };

  // BPE tokens (strings such as "cat</w>") of a prompt, without BOS/EOS. `pad_token`, when not
  // BOS/EOS, is split out as a special token too.
  std::vector<std::string> tokenize(std::string_view text, const std::string& pad_token = "<|endoftext|>") const;
  // Token ids of a prompt, without BOS/EOS.
  std::vector<int32_t> encode(std::string_view text, const std::string& pad_token = "<|endoftext|>") const;
  // BOS + ids + EOS; with max_length > 0 truncated to max_length (keeping BOS...EOS) and padded
  // with the pad token to max_length. E_BAD_INPUT when the pad token is not in the vocabulary.
  std::vector<int32_t> encode_padded(std::string_view text, const EncodeOptions& opts) const;

  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }
  size_t vocab_size() const { return vocab_.size(); }
  size_t merges() const { return ranks_.size(); }
  // -1 when the token is not in the vocabulary.
  int32_t token_id(const std::string& token) const;

 private:
  ClipTokenizer() = default;
  void bpe(const std::string& piece, std::vector<std::string>& out) const;
  // Steps 2–3: cleaned, lowercased pieces of text without special tokens.
  std::vector<std::string> pretokenize(std::string_view text) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> ranks_;  // "left right" → merge rank
  std::string byte_chars_[256];                     // byte → UTF-8 of its printable stand-in
  int32_t bos_ = -1, eos_ = -1;
};

}  // namespace bgn
