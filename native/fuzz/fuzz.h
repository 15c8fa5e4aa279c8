// Shared by the libFuzzer harnesses (built with -DBGN_FUZZ=ON; run with npm run fuzz).
// A reader may refuse any input with a bgn::Error: that is the contract. Anything else is a
// finding: another exception type, a crash, a sanitizer report, a leak or a timeout.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "tensor/error.h"

namespace bgn_fuzz {

template <class F>
int guarded(F&& body) {
  try {
    body();
  } catch (const bgn::Error&) {
    // Refused with a typed error: fine.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: a reader threw %s instead of bgn::Error\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "finding: a reader threw a non-std exception\n");
    std::abort();
  }
  return 0;
}

inline std::string_view text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace bgn_fuzz
