// Prompt emphasis and long prompts, as users know them from AUTOMATIC1111's web UI and
// stable-diffusion.cpp.
//
// Emphasis syntax (weights multiply when nested):
//   (text)        weight × 1.1               ((text)) → × 1.21
//   [text]        weight ÷ 1.1
//   (text:1.3)    weight × 1.3 (any decimal number, also < 1 or negative)
//   \( \) \[ \] \\  literal brackets / backslash (a lone '\' before anything else is dropped)
//   BREAK         (upper case, a separate word) ends the current 75-token chunk
// Unbalanced brackets are forgiving: an unclosed "(" or "[" applies to the rest of the prompt,
// a stray ")" or "]" is literal text, and "(text:abc)" keeps ":abc" as text with weight 1.1.
// Adjacent pieces with equal weights are merged before tokenizing.
//
// Long prompts: the weighted tokens are laid out in chunks of 75; each chunk is encoded as
// BOS + 75 tokens + EOS, padded to 77 with the pad token (EOS for SD 1.x, "!" for SD 2.x).
// So a prompt of at most 75 tokens without emphasis gives exactly diffusers' input_ids. The text
// encoder runs once per chunk and the hidden states are concatenated along the sequence
// (77·k tokens); per-token weights scale the hidden states, after which the mean is restored
// to its unweighted value (A1111's convention). BOS/EOS/padding have weight 1. There is no
// comma-aware re-chunking: chunks are cut at exactly 75 tokens.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/clip_tokenizer.h"

namespace bgn {

struct PromptPiece {
  std::string text;
  double weight = 1.0;
  bool is_break = false;  // a BREAK marker (text empty)
};

// Splits a prompt into pieces with weights. An empty prompt gives one piece ("", 1.0).
std::vector<PromptPiece> parse_prompt_weights(std::string_view prompt);

struct PromptChunk {
  std::vector<int32_t> ids;    // 77 token ids
  std::vector<float> weights;  // 77 weights
  std::vector<int32_t> ids2;   // SDXL: the same chunk padded for the second tokenizer; empty otherwise
};

// Tokenizes a weighted prompt into 77-token chunks (at least one).
std::vector<PromptChunk> encode_weighted_prompt(const ClipTokenizer& tok, std::string_view prompt,
                                                const std::string& pad_token = "<|endoftext|>");

// Emphasis on one chunk's encoder output, A1111's way: hidden (T, C) row t is multiplied by
// weights[t], then the whole chunk is rescaled so its mean equals the unweighted mean. A chunk
// whose weights are all 1 is left untouched (bit-identical to the plain encoder output); a
// weighted mean of exactly 0 skips the rescale.
void apply_prompt_weights(float* hidden, const float* weights, int64_t T, int64_t C);

}  // namespace bgn
