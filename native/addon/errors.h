// Turning core errors into JavaScript errors with a stable `code`.
#pragma once
#include <napi.h>

#include <exception>
#include <string>

#include "tensor/error.h"

namespace bgn::addon {

// A JS Error whose `code` property is set (e.g. "E_MODEL_FORMAT").
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

// Converts whatever was caught (bgn::Error, std::bad_alloc, std::exception) into a JS Error.
Napi::Error from_exception(Napi::Env env, const std::exception_ptr& e);

// Runs fn(); rethrows any C++ exception as a JS exception with a code. For synchronous methods.
template <class F>
auto guarded(Napi::Env env, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw from_exception(env, std::current_exception());
  }
}

// Captured in worker threads, where no JS may run: the code and message travel to the JS thread.
struct CapturedError {
  std::string code, message;
  bool set = false;
  void capture(const std::exception_ptr& e);
};

}  // namespace bgn::addon
