#include "addon/lora_option.h"

#include <cmath>

namespace bgn::addon {

std::string read_lora_option(const Napi::Value& v, std::vector<LoraSpec>& out) {
  out.clear();
  if (v.IsUndefined() || v.IsNull()) return "";
  const char* shape = "loras must be an array of { path: string, scale?: number } (scale from -4 to 4)";
  if (!v.IsArray()) return shape;
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 64) return "at most 64 LoRAs can be merged at once; got " + std::to_string(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    LoraSpec s;
    if (e.IsString()) {
      s.path = e.As<Napi::String>().Utf8Value();
    } else if (e.IsObject() && !e.IsArray()) {
      Napi::Object o = e.As<Napi::Object>();
      Napi::Value p = o.Get("path"), sc = o.Get("scale");
      if (!p.IsString()) return std::string(shape) + "; loras[" + std::to_string(i) + "].path is not a string";
      s.path = p.As<Napi::String>().Utf8Value();
      if (!sc.IsUndefined()) {
        if (!sc.IsNumber()) return "loras[" + std::to_string(i) + "].scale must be a number from -4 to 4";
        const double d = sc.As<Napi::Number>().DoubleValue();
        if (!std::isfinite(d) || d < -4 || d > 4)
          return "loras[" + std::to_string(i) + "].scale must be from -4 to 4; got " + std::to_string(d);
        s.scale = float(d);
      }
    } else {
      return shape;
    }
    if (s.path.empty()) return "loras[" + std::to_string(i) + "].path is empty";
    out.push_back(std::move(s));
  }
  return "";
}

}  // namespace bgn::addon
