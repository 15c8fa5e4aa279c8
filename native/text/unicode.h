// The Unicode operations the CLIP tokenizer needs, over UTF-32 code point strings.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/utf8.h"

namespace bgn::unicode {

using U32 = std::u32string;

// Decodes UTF-8; invalid bytes become U+FFFD (as Python's errors="replace" would).
U32 from_utf8(std::string_view s);
std::string to_utf8(const U32& s);
using bgn::append_utf8;  // formats/utf8.h

bool is_letter(char32_t c);           // \p{L}
bool is_number(char32_t c);           // \p{N}
bool is_mark(char32_t c);             // \p{M}
bool is_space_separator(char32_t c);  // Zs
bool is_other(char32_t c);            // \p{C}: Cc, Cf, Cs, Co and unassigned
// Python's str.isspace() for the characters that survive BERT-style cleaning.
bool is_python_space(char32_t c);
// The CJK ideograph blocks BERT's BasicTokenizer pads with spaces.
bool is_cjk_ideograph(char32_t c);

uint8_t combining_class(char32_t c);
// Canonical composition (NFC), including Hangul.
U32 nfc(const U32& s);
// Python's str.lower(): full lowercase mappings; capital sigma becomes final sigma (ς) when it
// ends a word (preceded by a letter, not followed by one, ignoring combining marks).
U32 lower(const U32& s);

}  // namespace bgn::unicode
