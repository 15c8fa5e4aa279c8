#include "addon/args.h"

#include <cmath>
#include <iomanip>
#include <random>
#include <sstream>

#include "addon/errors.h"
#include "tensor/error.h"

namespace bgn::addon {

void bad_input(Napi::Env env, const std::string& message) { throw make_error(env, "E_BAD_INPUT", message); }

bool is_typed(const Napi::Value& v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

namespace {
bool absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }
}  // namespace

// ---- positional arguments -------------------------------------------------------------------------

Napi::Object options_arg(const Napi::CallbackInfo& info, size_t at, const char* message) {
  if (info.Length() <= at || absent(info[at])) return Napi::Object::New(info.Env());
  if (!info[at].IsObject()) bad_input(info.Env(), message);
  return info[at].As<Napi::Object>();
}

std::string string_arg(const Napi::CallbackInfo& info, size_t at, const std::string& message) {
  if (info.Length() <= at || !info[at].IsString()) bad_input(info.Env(), message);
  return info[at].As<Napi::String>().Utf8Value();
}

// ---- fields of an options object ------------------------------------------------------------------

std::string string_option(Napi::Env env, const Napi::Object& o, const char* key, const std::string& def) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return def;
  if (!v.IsString()) bad_input(env, std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::string enum_option(Napi::Env env, const Napi::Object& o, const char* key, const std::vector<std::string>& choices,
                        const std::string& def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    for (const std::string& c : choices)
      if (s == c) return s;
  }
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i)
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + ("'" + choices[i] + "'");
  bad_input(env, std::string(key) + " must be " + list);
}

int64_t int_value(Napi::Env env, const Napi::Value& v, const char* key, int64_t lo, int64_t hi) {
  if (!v.IsNumber()) bad_input(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  std::ostringstream got;
  got << std::setprecision(17) << d;
  if (!std::isfinite(d) || d != std::floor(d))
    bad_input(env, std::string(key) + " must be an integer; got " + got.str());
  if (d < double(lo) || d > double(hi))
    bad_input(env, std::string(key) + " must be from " + std::to_string(lo) + " to " + std::to_string(hi) + "; got " +
                       got.str());
  return int64_t(d);
}

int64_t int_option(Napi::Env env, const Napi::Object& o, const char* key, int64_t def, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  return v.IsUndefined() ? def : int_value(env, v, key, lo, hi);
}

double number_option(Napi::Env env, const Napi::Object& o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) bad_input(env, std::string(key) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) bad_input(env, std::string(key) + " must be a finite number");
  return d;
}

bool bool_option(Napi::Env env, const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsBoolean()) bad_input(env, std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>();
}

uint64_t seed_option(Napi::Env env, const Napi::Object& o, const char* key) {
  const int64_t max = (int64_t(1) << 53) - 1;  // exactly representable in JS
  Napi::Value v = o.Get(key);
  if (!absent(v)) return uint64_t(int_value(env, v, key, 0, max));
  std::random_device rd;
  const uint64_t hi = rd(), lo = rd();
  return ((hi << 32) | lo) & uint64_t(max);
}

std::string json_option(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return "{}";
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (!v.IsObject()) bad_input(env, std::string(key) + " must be an object or a JSON string");
  Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
  return json.Get("stringify").As<Napi::Function>().Call(json, {v}).As<Napi::String>().Utf8Value();
}

std::vector<float> f32_option(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return absent(v) ? std::vector<float>() : f32_value(env, v, -1, key);
}

std::vector<uint8_t> bytes_option(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return {};
  if (!is_typed(v, napi_uint8_array) && !is_typed(v, napi_uint8_clamped_array))
    bad_input(env, std::string(key) + " must be a Uint8Array of RGB bytes (width·height·3)");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (a.ElementLength() == 0) bad_input(env, std::string(key) + " is empty");
  const uint8_t* p = static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  return std::vector<uint8_t>(p, p + a.ElementLength());
}

std::vector<float> mask_option(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (absent(v)) return {};
  if (is_typed(v, napi_float32_array)) {
    std::vector<float> m = f32_value(env, v, -1, key);
    if (m.empty()) bad_input(env, std::string(key) + " is empty");
    return m;
  }
  const std::vector<uint8_t> b = bytes_option(env, o, key);
  std::vector<float> m(b.size());
  for (size_t i = 0; i < b.size(); ++i) m[i] = float(b[i]) / 255.f;
  return m;
}

VaeTileOptions tiling_option(Napi::Env env, const Napi::Object& o, VaeTiling def) {
  VaeTileOptions t;
  t.mode = def;
  Napi::Value v = o.Get("tiled");
  if (v.IsBoolean()) {
    t.mode = v.As<Napi::Boolean>().Value() ? VaeTiling::On : VaeTiling::Off;
  } else if (v.IsString() && v.As<Napi::String>().Utf8Value() == "auto") {
    t.mode = VaeTiling::Auto;
  } else if (!v.IsUndefined()) {
    bad_input(env, "tiled must be 'auto', true or false");
  }
  // The range is validate_vae_tiling's; this only keeps the values integral and finite.
  const int64_t big = int64_t(1) << 40;
  t.tile = int_option(env, o, "tileSize", t.tile, -big, big);
  t.overlap = int_option(env, o, "tileOverlap", t.overlap, -big, big);
  try {
    validate_vae_tiling(t);
  } catch (const Error& e) {
    bad_input(env, e.what());
  }
  return t;
}

std::vector<LoraSpec> loras_option(Napi::Env env, const Napi::Object& o) {
  std::vector<LoraSpec> out;
  Napi::Value v = o.Get("loras");
  if (absent(v)) return out;
  const std::string shape = "loras must be an array of { path: string, scale?: number } (scale from -4 to 4)";
  if (!v.IsArray()) bad_input(env, shape);
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 64) bad_input(env, "at most 64 LoRAs can be merged at once; got " + std::to_string(a.Length()));
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string at = "loras[" + std::to_string(i) + "]";
    Napi::Value e = a.Get(i);
    LoraSpec s;
    if (e.IsString()) {
      s.path = e.As<Napi::String>().Utf8Value();
    } else if (e.IsObject() && !e.IsArray()) {
      Napi::Object lora = e.As<Napi::Object>();
      Napi::Value p = lora.Get("path"), sc = lora.Get("scale");
      if (!p.IsString()) bad_input(env, shape + "; " + at + ".path is not a string");
      s.path = p.As<Napi::String>().Utf8Value();
      if (!sc.IsUndefined()) {
        if (!sc.IsNumber()) bad_input(env, at + ".scale must be a number from -4 to 4");
        const double d = sc.As<Napi::Number>().DoubleValue();
        // The core checks the range too (models/lora.h); refusing here names the entry.
        if (!std::isfinite(d) || d < -4 || d > 4)
          bad_input(env, at + ".scale must be from -4 to 4; got " + std::to_string(d));
        s.scale = float(d);
      }
    } else {
      bad_input(env, shape);
    }
    if (s.path.empty()) bad_input(env, at + ".path is empty");
    out.push_back(std::move(s));
  }
  return out;
}

// ---- values ---------------------------------------------------------------------------------------

Shape shape_value(Napi::Env env, const Napi::Value& v, size_t rank, const std::string& what) {
  const std::string integers = rank ? std::to_string(rank) + " integers" : "integers";
  if (!v.IsArray()) bad_input(env, what + " must be an array of " + integers);
  Napi::Array a = v.As<Napi::Array>();
  if (rank && a.Length() != rank) bad_input(env, what + " must have " + std::to_string(rank) + " dimensions");
  if (!rank && a.Length() > 8) bad_input(env, what + " has more than 8 dimensions");
  Shape s;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    const double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 1 && x <= 65536) || x != std::floor(x))
      bad_input(env, what + " dimensions must be integers from 1 to 65536");
    s.push_back(int64_t(x));
  }
  return s;
}

Napi::Float32Array f32_view(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!is_typed(v, napi_float32_array)) bad_input(env, what + " must be a Float32Array");
  return v.As<Napi::Float32Array>();
}

std::vector<float> f32_value(Napi::Env env, const Napi::Value& v, int64_t n, const std::string& what) {
  Napi::Float32Array a = f32_view(env, v, what);
  if (n >= 0 && int64_t(a.ElementLength()) != n)
    bad_input(env,
              what + " has " + std::to_string(a.ElementLength()) + " values; its shape needs " + std::to_string(n));
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<int32_t> i32_value(Napi::Env env, const Napi::Value& v, const std::string& message) {
  if (!is_typed(v, napi_int32_array)) bad_input(env, message);
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<float> numbers_value(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsNumber()) return {v.As<Napi::Number>().FloatValue()};
  if (is_typed(v, napi_float32_array)) return f32_value(env, v, -1, what);
  if (!v.IsArray()) bad_input(env, what + " must be a number, an array of numbers or a Float32Array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<float> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) bad_input(env, what + " must hold numbers");
    out.push_back(e.As<Napi::Number>().FloatValue());
  }
  return out;
}

}  // namespace bgn::addon
