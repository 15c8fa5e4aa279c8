#include "addon/errors.h"

#include <new>

namespace bgn::addon {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void CapturedError::capture(const std::exception_ptr& e) {
  set = true;
  try {
    std::rethrow_exception(e);
  } catch (const bgn::Error& err) {
    code = code_name(err.code());
    message = err.what();
  } catch (const std::bad_alloc&) {
    code = "E_OUT_OF_MEMORY";
    message = "out of memory";
  } catch (const std::exception& err) {
    code = "E_INTERNAL";
    message = err.what();
  } catch (...) {
    code = "E_INTERNAL";
    message = "unknown native error";
  }
}

Napi::Error from_exception(Napi::Env env, const std::exception_ptr& e) {
  CapturedError c;
  c.capture(e);
  return make_error(env, c.code, c.message);
}

}  // namespace bgn::addon
