// Native values handed to JavaScript, written once for every binding file: a shape as an array
// of numbers, floats as a Float32Array (copied).
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace bgn::addon {

inline Napi::Array shape_js(Napi::Env env, const std::vector<int64_t>& s) {
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); ++i) a.Set(uint32_t(i), Napi::Number::New(env, double(s[i])));
  return a;
}

inline Napi::Float32Array f32_js(Napi::Env env, const float* p, size_t n) {
  Napi::Float32Array a = Napi::Float32Array::New(env, n);
  if (n) std::memcpy(a.Data(), p, n * sizeof(float));
  return a;
}

inline Napi::Float32Array f32_js(Napi::Env env, const std::vector<float>& v) { return f32_js(env, v.data(), v.size()); }

}  // namespace bgn::addon
