#include "tensor/limits.h"

namespace bgn {

uint64_t utf8_length(std::string_view text) {
  uint64_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace bgn
