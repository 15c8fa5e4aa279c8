#include "text/unicode.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "text/unicode_tables.h"

namespace bgn::unicode {

using namespace tables;

U32 from_utf8(std::string_view s) {
  U32 out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (cc & 0x3F);
    }
    static const char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out += cp;
      i += len;
    } else {
      out += U'\uFFFD';
      ++i;
    }
  }
  return out;
}

std::string to_utf8(const U32& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

namespace {

uint32_t category_class(char32_t c) {
  const CategoryRange* end = kCategoryRanges + kCategoryRanges_size;
  const CategoryRange* it = std::upper_bound(kCategoryRanges, end, static_cast<uint32_t>(c),
                                             [](uint32_t v, const CategoryRange& r) { return v < r.first; });
  if (it == kCategoryRanges) return 0;
  --it;
  return c <= it->last ? it->cls : 0;
}

const Decomposition* find_decomposition(char32_t c) {
  const Decomposition* end = kDecompositions + kDecompositions_size;
  const Decomposition* it = std::lower_bound(kDecompositions, end, static_cast<uint32_t>(c),
                                             [](const Decomposition& d, uint32_t v) { return d.cp < v; });
  return (it != end && it->cp == c) ? it : nullptr;
}

// Hangul syllable arithmetic (Unicode §3.12).
constexpr char32_t SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
constexpr int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

void decompose(char32_t c, U32& out) {
  if (c >= SBase && c < SBase + SCount) {
    int s = static_cast<int>(c - SBase);
    out += static_cast<char32_t>(LBase + s / NCount);
    out += static_cast<char32_t>(VBase + (s % NCount) / TCount);
    if (s % TCount) out += static_cast<char32_t>(TBase + s % TCount);
    return;
  }
  const Decomposition* d = find_decomposition(c);
  if (!d) {
    out += c;
    return;
  }
  decompose(d->first, out);
  if (d->second) decompose(d->second, out);
}

const std::unordered_map<uint64_t, char32_t>& composites() {
  static const std::unordered_map<uint64_t, char32_t> map = [] {
    std::unordered_map<uint64_t, char32_t> m;
    for (size_t i = 0; i < kDecompositions_size; ++i) {
      const Decomposition& d = kDecompositions[i];
      if (d.composable) m[(static_cast<uint64_t>(d.first) << 21) | d.second] = d.cp;
    }
    return m;
  }();
  return map;
}

bool compose(char32_t a, char32_t b, char32_t* out) {
  if (a >= LBase && a < LBase + LCount && b >= VBase && b < VBase + VCount) {
    *out = SBase + ((a - LBase) * VCount + (b - VBase)) * TCount;
    return true;
  }
  if (a >= SBase && a < SBase + SCount && (a - SBase) % TCount == 0 && b > TBase && b < TBase + TCount) {
    *out = a + (b - TBase);
    return true;
  }
  const auto& m = composites();
  auto it = m.find((static_cast<uint64_t>(a) << 21) | b);
  if (it == m.end()) return false;
  *out = it->second;
  return true;
}

const Lowercase* find_lower(char32_t c) {
  const Lowercase* end = kLowercase + kLowercase_size;
  const Lowercase* it = std::lower_bound(kLowercase, end, static_cast<uint32_t>(c),
                                         [](const Lowercase& d, uint32_t v) { return d.cp < v; });
  return (it != end && it->cp == c) ? it : nullptr;
}

}  // namespace

bool is_letter(char32_t c) { return category_class(c) == 1; }
bool is_number(char32_t c) { return category_class(c) == 2; }
bool is_space_separator(char32_t c) { return category_class(c) == 3; }
bool is_other(char32_t c) { return c > 0x10FFFF || category_class(c) == 4; }
bool is_mark(char32_t c) { return category_class(c) == 5; }

bool is_python_space(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F) || c == 0x85 || c == 0x2028 || c == 0x2029 ||
         is_space_separator(c);
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

uint8_t combining_class(char32_t c) {
  const CombiningClass* end = kCombiningClasses + kCombiningClasses_size;
  const CombiningClass* it = std::lower_bound(kCombiningClasses, end, static_cast<uint32_t>(c),
                                              [](const CombiningClass& d, uint32_t v) { return d.cp < v; });
  return (it != end && it->cp == c) ? static_cast<uint8_t>(it->ccc) : 0;
}

U32 nfc(const U32& s) {
  // 1. Full canonical decomposition.
  U32 d;
  d.reserve(s.size());
  for (char32_t c : s) decompose(c, d);
  // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  // 3. Canonical composition: a character joins the last starter unless blocked by a
  //    character in between of class 0 or of a class >= its own.
  U32 out;
  out.reserve(d.size());
  long starter = -1;
  int last_cc = 0;
  for (char32_t c : d) {
    int cc = combining_class(c);
    char32_t composed;
    if (starter >= 0 && (last_cc < cc || last_cc == 0) && compose(out[starter], c, &composed)) {
      out[starter] = composed;
      continue;
    }
    if (cc == 0) starter = static_cast<long>(out.size());
    last_cc = cc;
    out += c;
  }
  return out;
}

U32 lower(const U32& s) {
  U32 out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c == 0x03A3) {
      // Final_Sigma, approximated with letters as "cased" and marks as "case-ignorable".
      long p = static_cast<long>(i) - 1;
      while (p >= 0 && is_mark(s[p])) --p;
      size_t q = i + 1;
      while (q < s.size() && is_mark(s[q])) ++q;
      bool final_sigma = p >= 0 && is_letter(s[p]) && !(q < s.size() && is_letter(s[q]));
      out += final_sigma ? char32_t(0x03C2) : char32_t(0x03C3);
      continue;
    }
    const Lowercase* l = find_lower(c);
    if (!l) {
      out += c;
      continue;
    }
    out += static_cast<char32_t>(l->l0);
    if (l->l1) out += static_cast<char32_t>(l->l1);
    if (l->l2) out += static_cast<char32_t>(l->l2);
  }
  return out;
}

}  // namespace bgn::unicode
