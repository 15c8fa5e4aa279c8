// The CLIP tokenizer reproduces transformers' CLIPTokenizer ids exactly (fixture variant A).
#include <cstring>

#include "formats/json.h"
#include "text/clip_tokenizer.h"
#include "text/unicode.h"
#include "testing.h"

using namespace bgn;

namespace {
std::shared_ptr<const ClipTokenizer> fixture_tokenizer() {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) return nullptr;
  static auto tok = ClipTokenizer::load_dir(dir + "/clip-tokenizer");
  return tok;
}
std::vector<int32_t> ints(const json::Value& a) {
  std::vector<int32_t> v;
  for (const auto& x : a.items()) v.push_back(static_cast<int32_t>(x.as_int()));
  return v;
}
}  // namespace

TEST("NFC composes decomposed accents and Hangul jamo") {
  using unicode::U32;
  CHECK(unicode::nfc(U32(U"e\u0301")) == U32(U"\u00e9"));
  CHECK(unicode::nfc(U32(U"\u1100\u1161\u11a8")) == U32(U"\uac01"));
  CHECK(unicode::nfc(U32(U"a\u0323\u0302")) == U32(U"\u1ead"));  // ậ: reordered then composed
  CHECK(unicode::nfc(U32(U"\u212b")) == U32(U"\u00c5"));         // Angstrom sign → Å (singleton)
}

TEST("lowercasing follows Python str.lower, including final sigma") {
  using unicode::U32;
  CHECK(unicode::lower(U32(U"ÅNGSTRÖM")) == U32(U"ångström"));
  CHECK(unicode::lower(U32(U"ΟΔΟΣ")) == U32(U"οδος"));
  CHECK(unicode::lower(U32(U"\u0130")) == U32(U"i\u0307"));
}

TEST("letter and number categories cover non-Latin scripts") {
  CHECK(unicode::is_letter(U'東') && unicode::is_letter(U'ж') && unicode::is_letter(U'ق'));
  CHECK(unicode::is_number(U'½') && unicode::is_number(U'²') && unicode::is_number(U'٣'));
  CHECK(!unicode::is_letter(U'😀') && !unicode::is_number(U'😀'));
  CHECK(unicode::is_other(0x200B) && unicode::is_other(0x07));
}

TEST("a missing tokenizer names the files it needs") {
  try {
    ClipTokenizer::load_dir("/nonexistent-dir-for-test");
    CHECK(false);
  } catch (const Error& e) {
    CHECK(e.code() == Code::ModelNotFound);
    CHECK(std::strstr(e.what(), "vocab.json") && std::strstr(e.what(), "merges.txt"));
  }
}

TEST("every fixture prompt tokenizes to transformers' ids (SD1 and pad-0 variants)") {
  auto tok = fixture_tokenizer();
  if (!tok) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  CHECK(tok->bos_id() == 49406 && tok->eos_id() == 49407);
  CHECK(tok->merges() == 48894);
  json::Value m = json::parse_file(bgn_test::fixtures_dir() + "/cases/tokenizer/manifest.json");
  int n = 0, bad = 0;
  for (const auto& c : m.find("cases")->items()) {
    const std::string& prompt = c.find("prompt")->as_string();
    std::vector<std::string> want_tokens;
    for (const auto& t : c.find("tokens_A")->items()) want_tokens.push_back(t.as_string());
    bool ok = tok->tokenize(prompt) == want_tokens;
    ClipTokenizer::EncodeOptions unpadded, sd1, sd2;
    unpadded.max_length = 0;
    sd2.pad_token = "!";
    ok = ok && tok->encode_padded(prompt, unpadded) == ints(*c.find("ids_A_unpadded"));
    ok = ok && tok->encode_padded(prompt, sd1) == ints(*c.find("input_ids_sd1"));
    ok = ok && tok->encode_padded(prompt, sd2) == ints(*c.find("input_ids_pad0"));
    if (!ok) {
      ++bad;
      std::printf("    mismatch for prompt %s\n      got:", json::dump(*c.find("prompt")).c_str());
      for (const auto& t : tok->tokenize(prompt)) std::printf(" %s", t.c_str());
      std::printf("\n      want:");
      for (const auto& t : want_tokens) std::printf(" %s", t.c_str());
      std::printf("\n");
    }
    ++n;
  }
  std::printf("    %d prompts, %d mismatches\n", n, bad);
  CHECK(bad == 0 && n > 0);
}

int main() { return bgn_test::run_all(); }
