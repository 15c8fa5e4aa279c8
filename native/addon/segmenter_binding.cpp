// JS class Segmenter: Segmenter.load(path, { threads, device }) -> Promise<Segmenter>;
// seg.run(Float32Array, shape, { outputs }) -> Promise<[{ name, shape, data }]>;
// seg.runInputs([{ data: Float32Array, shape }, ...], { outputs }) for graphs of several inputs
// (converted to each input's declared type); seg.dispose().
#include <cstring>
#include <memory>

#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/device.h"
#include "addon/js_values.h"
#include "models/segmenter.h"

namespace bgn::addon {

namespace {

Napi::Array infos_to_js(Napi::Env env, const std::vector<onnx::ValueInfo>& infos) {
  Napi::Array a = Napi::Array::New(env, infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", infos[i].name);
    o.Set("shape", shape_js(env, infos[i].dims));
    o.Set("elemType", Napi::Number::New(env, infos[i].elem_type));
    a.Set(uint32_t(i), o);
  }
  return a;
}

class SegmenterWrap : public Napi::ObjectWrap<SegmenterWrap> {
 public:
  static Napi::FunctionReference* ctor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Segmenter",
                       {StaticMethod("load", &SegmenterWrap::Load), InstanceMethod("run", &SegmenterWrap::Run),
                        InstanceMethod("runInputs", &SegmenterWrap::RunInputs),
                        InstanceMethod("dispose", &SegmenterWrap::Dispose),
                        InstanceAccessor("path", &SegmenterWrap::Path, nullptr),
                        InstanceAccessor("threads", &SegmenterWrap::Threads, nullptr),
                        InstanceAccessor("device", &SegmenterWrap::Device, nullptr),
                        InstanceAccessor("inputs", &SegmenterWrap::Inputs, nullptr),
                        InstanceAccessor("outputs", &SegmenterWrap::Outputs, nullptr)});
  }

  explicit SegmenterWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SegmenterWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      throw make_error(info.Env(), "E_BAD_INPUT", "use Segmenter.load(path, options) to create a Segmenter");
    impl_ = *info[0].As<Napi::External<std::shared_ptr<Segmenter>>>().Data();
  }

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      throw make_error(env, "E_BAD_INPUT", "Segmenter.load(path, options): path must be a string");
    std::string path = info[0].As<Napi::String>();
    int threads = 0;
    std::string device = "auto";
    if (info.Length() > 1 && info[1].IsObject()) {
      device = device_option(env, info[1].As<Napi::Object>());
      Napi::Value t = info[1].As<Napi::Object>().Get("threads");
      if (!t.IsUndefined()) {
        if (!t.IsNumber()) throw make_error(env, "E_BAD_INPUT", "threads must be a number");
        double v = t.As<Napi::Number>().DoubleValue();
        if (!(v >= 0 && v <= 1024) || v != double(int(v)))
          throw make_error(env, "E_BAD_INPUT", "threads must be an integer from 0 (all cores) to 1024");
        threads = int(v);
      }
    }
    return run_async<std::shared_ptr<Segmenter>>(
        env, [path, threads, device] { return Segmenter::load(path, threads, resolve_device(device)); },
        [](Napi::Env env, std::shared_ptr<Segmenter>& s) -> Napi::Value {
          auto ext = Napi::External<std::shared_ptr<Segmenter>>::New(env, &s);
          return ctor->New({ext});
        });
  }

  // A JS Float32Array + shape array -> a host tensor (copied: the JS buffer may change while the
  // worker runs). `what` names the argument in messages.
  static Tensor read_tensor(Napi::Env env, Napi::Value data_v, Napi::Value shape_v, const std::string& what) {
    if (!data_v.IsTypedArray() || data_v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        !shape_v.IsArray())
      throw make_error(env, "E_BAD_INPUT", what + ": data must be a Float32Array and shape an array of numbers");
    Napi::Float32Array data = data_v.As<Napi::Float32Array>();
    Napi::Array js_shape = shape_v.As<Napi::Array>();
    if (js_shape.Length() > 8) throw make_error(env, "E_BAD_INPUT", what + ": shape has more than 8 dimensions");
    Shape shape;
    for (uint32_t i = 0; i < js_shape.Length(); ++i) {
      Napi::Value v = js_shape.Get(i);
      if (!v.IsNumber()) throw make_error(env, "E_BAD_INPUT", what + ": shape must hold numbers");
      double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= 1 && d <= 65536) || d != double(int64_t(d)))
        throw make_error(env, "E_BAD_INPUT", what + ": shape dimensions must be integers from 1 to 65536");
      shape.push_back(int64_t(d));
    }
    int64_t n = guarded(env, [&] { return shape_numel(shape); });
    if (n != int64_t(data.ElementLength()))
      throw make_error(env, "E_BAD_INPUT", what + " has " + std::to_string(data.ElementLength()) +
                                               " values but shape " + shape_str(shape) + " needs " + std::to_string(n));
    Tensor input = guarded(env, [&] { return Tensor::empty(DType::F32, shape); });
    if (n) std::memcpy(input.raw(), data.Data(), size_t(n) * sizeof(float));
    return input;
  }

  static bool all_outputs(const Napi::CallbackInfo& info, size_t at) {
    if (info.Length() <= at || !info[at].IsObject()) return false;
    Napi::Value o = info[at].As<Napi::Object>().Get("outputs");
    return o.IsString() && o.As<Napi::String>().Utf8Value() == "all";
  }

  static Napi::Value outputs_to_js(Napi::Env env, std::vector<Tensor>& outs, const std::vector<onnx::ValueInfo>& out_info) {
    Napi::Array arr = Napi::Array::New(env, outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      Tensor t = outs[i].dtype() == DType::F32 ? outs[i] : outs[i].to(DType::F32);
      Napi::Float32Array f = Napi::Float32Array::New(env, size_t(t.numel()));
      if (t.numel()) std::memcpy(f.Data(), t.raw(), t.nbytes());
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", i < out_info.size() ? out_info[i].name : std::string());
      o.Set("shape", shape_js(env, t.shape()));
      o.Set("data", f);
      arr.Set(uint32_t(i), o);
    }
    return arr;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto impl = impl_;
    if (!impl) throw make_error(env, "E_BAD_INPUT", "this Segmenter was disposed");
    if (info.Length() < 2 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[1].IsArray())
      throw make_error(env, "E_BAD_INPUT", "run(input: Float32Array, shape: number[], options?)");
    Tensor input = read_tensor(env, info[0], info[1], "input");
    bool all = all_outputs(info, 2);
    std::vector<onnx::ValueInfo> out_info = impl->graph().outputs();
    return run_async<std::vector<Tensor>>(
        env, [impl, input, all] { return impl->run(input, all); },
        [out_info](Napi::Env env, std::vector<Tensor>& outs) { return outputs_to_js(env, outs, out_info); });
  }

  Napi::Value RunInputs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto impl = impl_;
    if (!impl) throw make_error(env, "E_BAD_INPUT", "this Segmenter was disposed");
    if (info.Length() < 1 || !info[0].IsArray())
      throw make_error(env, "E_BAD_INPUT", "runInputs(inputs: { data: Float32Array, shape: number[] }[], options?)");
    Napi::Array arr = info[0].As<Napi::Array>();
    if (arr.Length() > 64) throw make_error(env, "E_BAD_INPUT", "runInputs: more than 64 inputs");
    std::vector<Tensor> inputs;
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      std::string what = "input #" + std::to_string(i);
      if (!v.IsObject()) throw make_error(env, "E_BAD_INPUT", what + " must be { data, shape }");
      Napi::Object o = v.As<Napi::Object>();
      inputs.push_back(read_tensor(env, o.Get("data"), o.Get("shape"), what));
    }
    bool all = all_outputs(info, 1);
    std::vector<onnx::ValueInfo> out_info = impl->graph().outputs();
    return run_async<std::vector<Tensor>>(
        env, [impl, inputs, all] { return impl->run_inputs(inputs, all); },
        [out_info](Napi::Env env, std::vector<Tensor>& outs) { return outputs_to_js(env, outs, out_info); });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    impl_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Path(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::String::New(info.Env(), impl_->path()) : info.Env().Undefined();
  }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Number::New(info.Env(), impl_->threads()) : info.Env().Undefined();
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::String::New(info.Env(), impl_->device()) : info.Env().Undefined();
  }
  Napi::Value Inputs(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(infos_to_js(info.Env(), impl_->graph().inputs())) : info.Env().Undefined();
  }
  Napi::Value Outputs(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(infos_to_js(info.Env(), impl_->graph().outputs())) : info.Env().Undefined();
  }

  std::shared_ptr<Segmenter> impl_;
};

Napi::FunctionReference* SegmenterWrap::ctor = nullptr;

}  // namespace

void init_segmenter(Napi::Env env, Napi::Object exports) {
  Napi::Function f = SegmenterWrap::Define(env);
  SegmenterWrap::ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("Segmenter", f);
}

}  // namespace bgn::addon
