// readSafetensors(path) → Promise<{ metadata, tensors: { [name]: { dtype, shape, data } } }>: a
// .safetensors file (formats/safetensors.h) as typed arrays — F32 (F16 / BF16 widened), F64,
// I64 (BigInt64Array), I32, I16, I8, U8 / BOOL — for the fixture runner and the tests.
#include <cstring>
#include <memory>
#include <string>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/js_values.h"
#include "formats/safetensors.h"

namespace bgn::addon {

namespace {

Napi::Value tensor_data_js(Napi::Env env, const Tensor& t) {
  size_t n = size_t(t.numel());
  switch (t.dtype()) {
    case DType::F64: {
      Napi::Float64Array a = Napi::Float64Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I64: {
      auto a = Napi::TypedArrayOf<int64_t>::New(env, n, napi_bigint64_array);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I32: {
      Napi::Int32Array a = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I16: {
      Napi::Int16Array a = Napi::Int16Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::I8: {
      Napi::Int8Array a = Napi::Int8Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    case DType::U8:
    case DType::Bool: {
      Napi::Uint8Array a = Napi::Uint8Array::New(env, n);
      if (n) std::memcpy(a.Data(), t.raw(), t.nbytes());
      return a;
    }
    default: {  // F32, and F16/BF16 widened to float32
      Tensor f = t.dtype() == DType::F32 ? t : t.to(DType::F32);
      return f32_js(env, f.data<float>(), n);
    }
  }
}

Napi::Value ReadSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return with_promise(env, [&] {
    const std::string path = string_arg(info, 0, "readSafetensors(path): path must be a string");
    using Ptr = std::shared_ptr<SafetensorsFile>;
    return run_async<Ptr>(
        env, [path] { return SafetensorsFile::open(path); },
        [](Napi::Env env, Ptr& f) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          Napi::Object meta = Napi::Object::New(env);
          for (const auto& kv : f->metadata()) meta.Set(kv.first, kv.second);
          Napi::Object tensors = Napi::Object::New(env);
          for (const auto& e : f->entries()) {
            Napi::Object t = Napi::Object::New(env);
            t.Set("dtype", e.dtype_str);
            t.Set("shape", shape_js(env, e.shape));
            t.Set("data", tensor_data_js(env, f->tensor(e)));
            tensors.Set(e.name, t);
          }
          r.Set("metadata", meta);
          r.Set("tensors", tensors);
          return r;
        });
  });
}

}  // namespace

void init_read_safetensors(Napi::Env env, Napi::Object exports) {
  exports.Set("readSafetensors", Napi::Function::New(env, ReadSafetensors, "readSafetensors"));
}

}  // namespace bgn::addon
