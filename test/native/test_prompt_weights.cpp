// Prompt emphasis and 75-token chunking behave as documented in text/prompt_weights.h.
#include <cmath>

#include "text/prompt_weights.h"
#include "testing.h"

using namespace bgn;

namespace {
bool near(double a, double b) { return std::fabs(a - b) < 1e-9; }
std::shared_ptr<const ClipTokenizer> tok() {
  std::string dir = bgn_test::fixtures_dir();
  if (dir.empty()) return nullptr;
  static auto t = ClipTokenizer::load_dir(dir + "/clip-tokenizer");
  return t;
}
}  // namespace

TEST("plain text has weight 1") {
  auto p = parse_prompt_weights("a cat on a mat");
  CHECK(p.size() == 1 && p[0].text == "a cat on a mat" && p[0].weight == 1.0);
}

TEST("(word) multiplies by 1.1 and nesting compounds") {
  auto p = parse_prompt_weights("a ((cat)) and (dog)");
  CHECK(p.size() == 4);
  CHECK(p[0].text == "a " && near(p[0].weight, 1.0));
  CHECK(p[1].text == "cat" && near(p[1].weight, 1.21));
  CHECK(p[2].text == " and " && near(p[2].weight, 1.0));
  CHECK(p[3].text == "dog" && near(p[3].weight, 1.1));
}

TEST("[word] divides by 1.1") {
  auto p = parse_prompt_weights("[blurry]");
  CHECK(p.size() == 1 && near(p[0].weight, 1 / 1.1));
}

TEST("(word:1.3) sets an explicit multiplier, nested inside others") {
  auto p = parse_prompt_weights("(masterpiece:1.2), ((red:0.5) hat)");
  CHECK(p[0].text == "masterpiece" && near(p[0].weight, 1.2));
  CHECK(p[1].text == ", " && near(p[1].weight, 1.0));
  CHECK(p[2].text == "red" && near(p[2].weight, 0.5 * 1.1));
  CHECK(p[3].text == " hat" && near(p[3].weight, 1.1));
}

TEST("escaped brackets are literal text") {
  auto p = parse_prompt_weights("\\(not emphasis\\) \\[x\\]");
  CHECK(p.size() == 1 && p[0].text == "(not emphasis) [x]" && p[0].weight == 1.0);
}

TEST("unbalanced brackets are forgiven") {
  auto p = parse_prompt_weights("a (cat");
  CHECK(p.size() == 2 && near(p[1].weight, 1.1));
  auto q = parse_prompt_weights("a) cat]");
  CHECK(q.size() == 1 && q[0].text == "a) cat]");
  auto r = parse_prompt_weights("ratio 16:9");
  CHECK(r.size() == 1 && r[0].text == "ratio 16:9");
}

TEST("BREAK starts a new piece") {
  auto p = parse_prompt_weights("red hat BREAK blue shoes");
  CHECK(p.size() == 3 && p[0].text == "red hat" && p[1].is_break && p[2].text == "blue shoes");
  auto q = parse_prompt_weights("BREAKFAST");
  CHECK(q.size() == 1 && !q[0].is_break);
}

TEST("a short unweighted prompt encodes exactly like diffusers (one 77-token chunk)") {
  auto t = tok();
  if (!t) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  auto chunks = encode_weighted_prompt(*t, "a photo of an astronaut riding a horse on mars");
  ClipTokenizer::EncodeOptions o;
  CHECK(chunks.size() == 1 && chunks[0].ids == t->encode_padded("a photo of an astronaut riding a horse on mars", o));
  for (float w : chunks[0].weights) CHECK(w == 1.0f);
}

TEST("emphasis weights land on the emphasised tokens only") {
  auto t = tok();
  if (!t) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  auto chunks = encode_weighted_prompt(*t, "a (cat:1.5)");
  CHECK(chunks.size() == 1);
  CHECK(chunks[0].ids[1] == t->encode("a")[0] && chunks[0].ids[2] == t->encode("cat")[0]);
  CHECK(chunks[0].weights[1] == 1.0f && chunks[0].weights[2] == 1.5f && chunks[0].weights[3] == 1.0f);
}

TEST("prompts longer than 75 tokens continue in further 77-token chunks") {
  auto t = tok();
  if (!t) {
    std::printf("    (fixtures not found; skipped)\n");
    return;
  }
  std::string prompt;
  for (int k = 0; k < 100; ++k) prompt += "word ";
  auto chunks = encode_weighted_prompt(*t, prompt);
  CHECK(chunks.size() == 2);
  for (const auto& c : chunks) CHECK(c.ids.size() == 77 && c.weights.size() == 77 && c.ids[0] == t->bos_id());
  CHECK(chunks[0].ids[76] == t->eos_id() && chunks[0].ids[75] != t->eos_id());
  CHECK(chunks[1].ids[26] == t->eos_id() && chunks[1].ids[25] != t->eos_id());  // 25 tokens left
  ClipTokenizer::EncodeOptions sd2;
  auto pad0 = encode_weighted_prompt(*t, "word", "!");
  CHECK(pad0[0].ids[3] == 0 && pad0[0].ids[76] == 0);
}

int main() { return bgn_test::run_all(); }
