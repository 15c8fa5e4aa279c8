#include "text/clip_tokenizer.h"

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

#include "formats/json.h"
#include "text/unicode.h"
#include "tensor/error.h"

namespace bgn {

namespace {

const char kBos[] = "<|startoftext|>";
const char kEos[] = "<|endoftext|>";

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_text(const std::string& path) {
  if (!is_file(path)) fail(Code::ModelNotFound, "tokenizer file not found: ", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Code::Io, "cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
// map to U+0100.. in byte order.
void byte_table(std::string out[256]) {
  bool printable[256] = {};
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    char32_t cp = printable[b] ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
    out[b].clear();
    unicode::append_utf8(out[b], cp);
  }
}

bool is_python_strip_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

std::shared_ptr<const ClipTokenizer> ClipTokenizer::load(const std::string& vocab_path,
                                                         const std::string& merges_path) {
  std::string vocab_text = read_text(vocab_path);
  std::string merges_text = read_text(merges_path);
  return parse(vocab_text, merges_text, vocab_path, merges_path);
}

std::shared_ptr<const ClipTokenizer> ClipTokenizer::parse(std::string_view vocab_text, std::string_view merges_text,
                                                          const std::string& vocab_path,
                                                          const std::string& merges_path) {
  std::shared_ptr<ClipTokenizer> t(new ClipTokenizer());
  byte_table(t->byte_chars_);

  json::Value vocab = json::parse(vocab_text, vocab_path);
  if (!vocab.is_object()) fail(Code::ModelFormat, vocab_path, ": expected a JSON object of token → id");
  t->vocab_.reserve(vocab.size());
  for (const auto& m : vocab.members()) {
    if (!m.second.is_integer() || m.second.as_int() < 0 || m.second.as_int() > INT32_MAX)
      fail(Code::ModelFormat, vocab_path, ": the id of token '", m.first, "' is not a non-negative integer");
    t->vocab_.emplace(m.first, static_cast<int32_t>(m.second.as_int()));
  }
  t->bos_ = t->token_id(kBos);
  t->eos_ = t->token_id(kEos);
  if (t->bos_ < 0 || t->eos_ < 0)
    fail(Code::ModelFormat, vocab_path, ": not a CLIP vocabulary (", kBos, " or ", kEos, " is missing)");

  // merges.txt: a "#version" line, then "left right" per line, best first.
  std::string_view text = merges_text;
  size_t b = 0, e = text.size();
  while (b < e && is_python_strip_space(text[b])) ++b;
  while (e > b && is_python_strip_space(text[e - 1])) --e;
  size_t line_no = 0;
  size_t pos = b;
  while (pos < e && static_cast<int>(t->ranks_.size()) < kMaxMerges) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos || nl > e) nl = e;
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (line_no++ == 0) continue;  // the header (skipped unconditionally, as CLIPTokenizer does)
    std::istringstream ls(line);
    std::string left, right, extra;
    if (!(ls >> left >> right) || (ls >> extra))
      fail(Code::ModelFormat, merges_path, ": line ", line_no, " is not a merge of two symbols: '", line, "'");
    t->ranks_.emplace(left + " " + right, static_cast<int32_t>(t->ranks_.size()));
  }
  if (t->ranks_.empty()) fail(Code::ModelFormat, merges_path, ": no merges found");
  return t;
}

std::string ClipTokenizer::resolve_dir(const std::string& dir) {
  const std::string& d = dir;
  if (d.empty())
    fail(Code::ModelNotFound,
         "no CLIP tokenizer: pass a folder holding vocab.json and merges.txt (or a diffusers model folder "
         "with tokenizer/), or set BG_CLIP_TOKENIZER to one");
  if (is_file(d + "/vocab.json") && is_file(d + "/merges.txt")) return d;
  if (is_file(d + "/tokenizer/vocab.json") && is_file(d + "/tokenizer/merges.txt")) return d + "/tokenizer";
  fail(Code::ModelNotFound, "no CLIP tokenizer in ", d,
       ": it needs vocab.json and merges.txt (or tokenizer/vocab.json and tokenizer/merges.txt)");
}

std::shared_ptr<const ClipTokenizer> ClipTokenizer::load_dir(const std::string& dir) {
  std::string d = resolve_dir(dir);
  return load(d + "/vocab.json", d + "/merges.txt");
}

int32_t ClipTokenizer::token_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

std::vector<std::string> ClipTokenizer::pretokenize(std::string_view text) const {
  using unicode::U32;
  // BasicTokenizer: clean, pad CJK, NFC, split on whitespace, lowercase, re-join.
  U32 in = unicode::from_utf8(text), cleaned;
  for (char32_t c : in) {
    if (c == 0 || c == 0xFFFD) continue;
    bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || unicode::is_space_separator(c);
    if (ws) {
      cleaned += U' ';
      continue;
    }
    if (unicode::is_other(c)) continue;
    if (unicode::is_cjk_ideograph(c)) {
      cleaned += U' ';
      cleaned += c;
      cleaned += U' ';
      continue;
    }
    cleaned += c;
  }
  U32 norm = unicode::nfc(cleaned), joined;
  for (size_t i = 0; i < norm.size();) {
    while (i < norm.size() && unicode::is_python_space(norm[i])) ++i;
    size_t j = i;
    while (j < norm.size() && !unicode::is_python_space(norm[j])) ++j;
    if (j > i) {
      if (!joined.empty()) joined += U' ';
      joined += unicode::lower(norm.substr(i, j - i));
    }
    i = j;
  }

  // The CLIP pattern, leftmost-first.
  static const U32 kSpecial[2] = {U"<|startoftext|>", U"<|endoftext|>"};
  static const U32 kContractions[7] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::string> pieces;
  const U32& s = joined;
  size_t i = 0;
  auto starts = [&](const U32& lit) { return s.compare(i, lit.size(), lit) == 0; };
  while (i < s.size()) {
    char32_t c = s[i];
    size_t len = 0;
    for (const U32& lit : kSpecial)
      if (!len && starts(lit)) len = lit.size();
    for (const U32& lit : kContractions)
      if (!len && starts(lit)) len = lit.size();
    if (!len) {
      if (unicode::is_letter(c)) {
        while (i + len < s.size() && unicode::is_letter(s[i + len])) ++len;
      } else if (unicode::is_number(c)) {
        len = 1;
      } else if (unicode::is_python_space(c)) {
        ++i;
        continue;
      } else {
        while (i + len < s.size() && !unicode::is_letter(s[i + len]) && !unicode::is_number(s[i + len]) &&
               !unicode::is_python_space(s[i + len]))
          ++len;
      }
    }
    pieces.push_back(unicode::to_utf8(s.substr(i, len)));
    i += len;
  }
  return pieces;
}

void ClipTokenizer::bpe(const std::string& piece, std::vector<std::string>& out) const {
  if (piece == kBos || piece == kEos) {  // the reference's BPE cache holds these unchanged
    out.push_back(piece);
    return;
  }
  std::vector<std::string> word;
  for (unsigned char b : piece) word.push_back(byte_chars_[b]);
  if (word.empty()) return;
  word.back() += "</w>";
  while (word.size() > 1) {
    int best = INT32_MAX;
    size_t best_at = 0;
    for (size_t k = 0; k + 1 < word.size(); ++k) {
      auto it = ranks_.find(word[k] + " " + word[k + 1]);
      if (it != ranks_.end() && it->second < best) {
        best = it->second;
        best_at = k;
      }
    }
    if (best == INT32_MAX) break;
    // Merge every occurrence of the best pair, left to right.
    const std::string first = word[best_at], second = word[best_at + 1];
    std::vector<std::string> merged;
    for (size_t k = 0; k < word.size();) {
      if (k + 1 < word.size() && word[k] == first && word[k + 1] == second) {
        merged.push_back(first + second);
        k += 2;
      } else {
        merged.push_back(word[k]);
        ++k;
      }
    }
    word.swap(merged);
  }
  for (auto& w : word) out.push_back(std::move(w));
}

std::vector<std::string> ClipTokenizer::tokenize(std::string_view text, const std::string& pad_token) const {
  std::vector<std::string> specials = {kBos, kEos};
  if (!pad_token.empty() && pad_token != kBos && pad_token != kEos) specials.push_back(pad_token);
  std::vector<std::string> tokens;
  // Special tokens written literally are split out before any cleaning (earliest match first,
  // the longest at the same position).
  size_t pos = 0;
  for (;;) {
    size_t at = std::string_view::npos, len = 0;
    for (const auto& sp : specials) {
      size_t f = text.find(sp, pos);
      if (f < at || (f == at && f != std::string_view::npos && sp.size() > len)) {
        at = f;
        len = sp.size();
      }
    }
    std::string_view chunk = text.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos);
    for (const auto& p : pretokenize(chunk)) bpe(p, tokens);
    if (at == std::string_view::npos) break;
    tokens.emplace_back(text.substr(at, len));
    pos = at + len;
  }
  return tokens;
}

std::vector<int32_t> ClipTokenizer::encode(std::string_view text, const std::string& pad_token) const {
  std::vector<int32_t> ids;
  for (const auto& t : tokenize(text, pad_token)) {
    int32_t id = token_id(t);
    ids.push_back(id >= 0 ? id : eos_);
  }
  return ids;
}

std::vector<int32_t> ClipTokenizer::encode_padded(std::string_view text, const EncodeOptions& opts) const {
  const int max_length = opts.max_length;
  if (max_length > 0 && max_length < 2) fail(Code::BadInput, "max_length must be at least 2");
  int32_t pad_id = token_id(opts.pad_token);
  if (pad_id < 0) fail(Code::BadInput, "pad token '", opts.pad_token, "' is not in the tokenizer's vocabulary");
  std::vector<int32_t> body = encode(text, opts.pad_token);
  if (opts.truncate && max_length > 0 && static_cast<int>(body.size()) > max_length - 2) body.resize(max_length - 2);
  std::vector<int32_t> ids;
  ids.push_back(bos_);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(eos_);
  while (max_length > 0 && static_cast<int>(ids.size()) < max_length) ids.push_back(pad_id);
  return ids;
}

}  // namespace bgn
