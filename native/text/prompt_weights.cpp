#include "text/prompt_weights.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "tensor/error.h"
#include "tensor/knobs.h"
#include "tensor/limits.h"

namespace bgn {

namespace {

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1 / 1.1;
constexpr int kChunkTokens = ClipTokenizer::kContextLength - 2;  // 75

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (static_cast<unsigned char>(c) >= 0x80);
}

// ":" <spaces> [+-]?[.0-9]+ <spaces> ")" at s[i]; returns the length matched and the number.
size_t match_weight(std::string_view s, size_t i, double* w, bool* valid) {
  size_t j = i + 1;
  while (j < s.size() && is_space(s[j])) ++j;
  size_t num = j;
  if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
  size_t digits = j;
  while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
  if (j == digits) return 0;
  std::string number(s.substr(num, j - num));
  while (j < s.size() && is_space(s[j])) ++j;
  if (j >= s.size() || s[j] != ')') return 0;
  char* end = nullptr;
  *w = std::strtod(number.c_str(), &end);
  *valid = end && *end == '\0';
  return j + 1 - i;
}

// Appends literal text, splitting it at BREAK words (with the spaces around them).
void add_text(std::vector<PromptPiece>& out, std::string_view text) {
  size_t start = 0;
  for (size_t i = 0; i + 5 <= text.size(); ++i) {
    if (text.compare(i, 5, "BREAK") != 0) continue;
    bool left = i == 0 || !is_word(text[i - 1]);
    bool right = i + 5 == text.size() || !is_word(text[i + 5]);
    if (!left || !right) continue;
    size_t a = i, b = i + 5;
    while (a > start && is_space(text[a - 1])) --a;
    while (b < text.size() && is_space(text[b])) ++b;
    out.push_back({std::string(text.substr(start, a - start)), 1.0, false});
    out.push_back({"", -1.0, true});
    start = b;
    i = b - 1;
  }
  out.push_back({std::string(text.substr(start)), 1.0, false});
}

}  // namespace

std::vector<PromptPiece> parse_prompt_weights(std::string_view s) {
  std::vector<PromptPiece> res;
  std::vector<size_t> round, square;  // index in res where each open bracket started
  auto multiply = [&](size_t from, double m) {
    for (size_t p = from; p < res.size(); ++p)
      if (!res[p].is_break) res[p].weight *= m;
  };
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 < s.size() &&
          (s[i + 1] == '(' || s[i + 1] == ')' || s[i + 1] == '[' || s[i + 1] == ']' || s[i + 1] == '\\')) {
        res.push_back({std::string(1, s[i + 1]), 1.0, false});
        i += 2;
      } else {
        ++i;  // a lone backslash is dropped
      }
      continue;
    }
    if (c == '(') {
      round.push_back(res.size());
      ++i;
      continue;
    }
    if (c == '[') {
      square.push_back(res.size());
      ++i;
      continue;
    }
    if (c == ':') {
      double w = 1.0;
      bool valid = false;
      size_t len = match_weight(s, i, &w, &valid);
      if (len && valid && !round.empty()) {
        multiply(round.back(), w);
        round.pop_back();
        i += len;
        continue;
      }
      if (len && !round.empty()) {  // "(x:1.2.3)": keep the text, close the bracket as ×1.1
        add_text(res, s.substr(i, len - 1));
        multiply(round.back(), kRoundMultiplier);
        round.pop_back();
        i += len;
        continue;
      }
      if (len) {  // no open bracket: literal text
        add_text(res, s.substr(i, len));
        i += len;
        continue;
      }
      res.push_back({":", 1.0, false});
      ++i;
      continue;
    }
    if (c == ')' && !round.empty()) {
      multiply(round.back(), kRoundMultiplier);
      round.pop_back();
      ++i;
      continue;
    }
    if (c == ']' && !square.empty()) {
      multiply(square.back(), kSquareMultiplier);
      square.pop_back();
      ++i;
      continue;
    }
    if (c == ')' || c == ']') {
      res.push_back({std::string(1, c), 1.0, false});
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] != '\\' && s[j] != '(' && s[j] != ')' && s[j] != '[' && s[j] != ']' && s[j] != ':') ++j;
    add_text(res, s.substr(i, j - i));
    i = j;
  }
  for (size_t p : round) multiply(p, kRoundMultiplier);
  for (size_t p : square) multiply(p, kSquareMultiplier);
  if (res.empty()) res.push_back({"", 1.0, false});
  // Merge neighbours of equal weight.
  std::vector<PromptPiece> merged;
  for (auto& p : res) {
    if (!merged.empty() && !p.is_break && !merged.back().is_break && merged.back().weight == p.weight)
      merged.back().text += p.text;
    else
      merged.push_back(std::move(p));
  }
  return merged;
}

std::vector<PromptChunk> encode_weighted_prompt(const ClipTokenizer& tok, std::string_view prompt,
                                                const std::string& pad_token) {
  const uint64_t max_chars = knobs::max_prompt_chars(), chars = utf8_length(prompt);
  if (chars > max_chars)
    fail(Code::BadInput, "the prompt is ", chars, " characters long, more than the limit of ", max_chars,
         "; shorten it (or raise BG_MAX_PROMPT_CHARS)");
  const int32_t pad_id = tok.token_id(pad_token);
  if (pad_id < 0) fail(Code::BadInput, "pad token '", pad_token, "' is not in the tokenizer's vocabulary");
  std::vector<PromptChunk> chunks;
  std::vector<int32_t> ids;
  std::vector<float> weights;
  auto close_chunk = [&] {
    PromptChunk c;
    c.ids.push_back(tok.bos_id());
    c.weights.push_back(1.0f);
    c.ids.insert(c.ids.end(), ids.begin(), ids.end());
    c.weights.insert(c.weights.end(), weights.begin(), weights.end());
    c.ids.push_back(tok.eos_id());
    c.weights.push_back(1.0f);
    while (c.ids.size() < static_cast<size_t>(ClipTokenizer::kContextLength)) {
      c.ids.push_back(pad_id);
      c.weights.push_back(1.0f);
    }
    chunks.push_back(std::move(c));
    ids.clear();
    weights.clear();
  };
  for (const auto& piece : parse_prompt_weights(prompt)) {
    if (piece.is_break) {
      close_chunk();
      continue;
    }
    for (int32_t id : tok.encode(piece.text, pad_token)) {
      if (static_cast<int>(ids.size()) == kChunkTokens) close_chunk();
      ids.push_back(id);
      weights.push_back(static_cast<float>(piece.weight));
    }
  }
  if (!ids.empty() || chunks.empty()) close_chunk();
  return chunks;
}

void apply_prompt_weights(float* hidden, const float* weights, int64_t T, int64_t C) {
  bool all_one = true;
  for (int64_t t = 0; t < T; ++t) all_one = all_one && weights[t] == 1.0f;
  if (all_one || T <= 0 || C <= 0) return;
  double before = 0.0, after = 0.0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      float& v = hidden[t * C + c];
      before += v;
      v *= weights[t];
      after += v;
    }
  if (after == 0.0 || !std::isfinite(after)) return;
  const float scale = float(before / after);  // mean_before / mean_after over the same count
  for (int64_t i = 0; i < T * C; ++i) hidden[i] *= scale;
}

}  // namespace bgn
