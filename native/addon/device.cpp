#include "addon/device.h"

#include "addon/errors.h"

namespace bgn::addon {

namespace {
// 'cuda' → 0, 'cuda:3' → 3, anything else → -1.
int cuda_index(const std::string& d) {
  if (d == "cuda") return 0;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return -1;
  int v = 0;
  for (size_t i = 5; i < d.size(); ++i) {
    if (d[i] < '0' || d[i] > '9') return -1;
    v = v * 10 + (d[i] - '0');
  }
  return v;
}
}  // namespace

std::string device_spelling_error(const std::string& device) {
  if (device == "auto" || device == "cpu" || cuda_index(device) >= 0) return "";
  return "device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; got '" + device + "'";
}

std::string device_option(Napi::Env env, const Napi::Object& options) {
  Napi::Value v = options.Get("device");
  if (v.IsUndefined()) return "auto";
  if (!v.IsString()) throw make_error(env, "E_BAD_INPUT", "device must be a string");
  std::string d = v.As<Napi::String>().Utf8Value();
  const std::string bad = device_spelling_error(d);
  if (!bad.empty()) throw make_error(env, "E_BAD_INPUT", bad);
  return d;
}

std::shared_ptr<Gpu> resolve_device(const std::string& device) {
  if (device == "cpu") return nullptr;
  if (device == "auto") return cuda_unavailable_reason(0).empty() ? open_cuda(0) : nullptr;
  return open_cuda(cuda_index(device));
}

}  // namespace bgn::addon
