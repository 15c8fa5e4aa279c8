// Errors the core reports. Every failure that can reach JavaScript carries a stable code;
// the addon turns bgn::Error into a JS Error with `code` set.
#pragma once
#include <stdexcept>
#include <string>
#include <sstream>

namespace bgn {

enum class Code {
  ModelFormat,        // E_MODEL_FORMAT: the file is not what it claims (truncated, corrupt, lying sizes)
  ModelUnsupported,   // E_MODEL_UNSUPPORTED: a valid file this build cannot run (op, dtype, layout)
  ModelNotFound,      // E_MODEL_NOT_FOUND
  BadInput,           // E_BAD_INPUT: caller passed something invalid
  OutOfMemory,        // E_OUT_OF_MEMORY
  Cancelled,          // E_CANCELLED
  Numeric,            // E_NUMERIC: NaN/Inf appeared
  Io,                 // E_IO: the OS refused (open, read, mmap)
  Internal,           // E_INTERNAL: a bug in this library
  Config,             // E_CONFIG: a setting (environment variable) has an invalid value
  DeviceUnavailable,  // E_DEVICE_UNAVAILABLE: the device asked for is not in this build or machine
};

const char* code_name(Code c);

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// fail(Code::BadInput, "width ", w, " is not a multiple of 8")
template <class... A>
[[noreturn]] void fail(Code code, const A&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(code, os.str());
}

#define BGN_CHECK(cond, code, ...)               \
  do {                                           \
    if (!(cond)) ::bgn::fail(code, __VA_ARGS__); \
  } while (0)

}  // namespace bgn
