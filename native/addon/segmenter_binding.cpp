// JS class Segmenter: an ONNX network (models/segmenter.h).
//
//   Segmenter.load(path, { threads, device, precision }) → Promise<Segmenter>
//     precision: the CPU's constant-weight matrix products, 'f32' (default) | 'bf16' | 'auto' (bf16
//     where the CPU has AVX512-BF16, else f32; the Segmenter's load option); 'bf16' elsewhere is
//     E_DEVICE_UNAVAILABLE. On a GPU it is f32. seg.precision says which runs.
//   seg.run(input: Float32Array, shape, { outputs: 'first' | 'all' }) → Promise<[{ name, shape, data }]>
//   seg.runInputs([{ data: Float32Array, shape }, ...], { outputs }) for graphs of several inputs
//     (converted to each input's declared type)
//   seg.path, threads, device, precision, inputs, outputs; seg.dispose()
#include <cstring>
#include <memory>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/device.h"
#include "addon/errors.h"
#include "addon/handle_wrap.h"
#include "addon/js_values.h"
#include "models/segmenter.h"
#include "nn/precision.h"

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

// A JS Float32Array + shape array -> a host tensor (copied: the JS buffer may change while the
// worker runs). `what` names the argument in messages.
Tensor read_tensor(Napi::Env env, const Napi::Value& data_v, const Napi::Value& shape_v, const std::string& what) {
  Napi::Float32Array data = f32_view(env, data_v, what + ": data");
  const Shape shape = shape_value(env, shape_v, 0, what + ": shape");
  const int64_t n = guarded(env, [&] { return shape_numel(shape); });
  if (n != int64_t(data.ElementLength()))
    bad_input(env, what + " has " + std::to_string(data.ElementLength()) + " values but shape " + shape_str(shape) +
                       " needs " + std::to_string(n));
  Tensor input = guarded(env, [&] { return Tensor::empty(DType::F32, shape); });
  if (n) std::memcpy(input.raw(), data.Data(), size_t(n) * sizeof(float));
  return input;
}

// options.outputs: every graph output, or the first only.
bool all_outputs(const Napi::CallbackInfo& info, size_t at) {
  return enum_option(info.Env(), options_arg(info, at), "outputs", {"first", "all"}, "first") == "all";
}

Napi::Value outputs_to_js(Napi::Env env, std::vector<Tensor>& outs, const std::vector<onnx::ValueInfo>& out_info) {
  Napi::Array arr = Napi::Array::New(env, outs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    Tensor t = outs[i].dtype() == DType::F32 ? outs[i] : outs[i].to(DType::F32);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", i < out_info.size() ? out_info[i].name : std::string());
    o.Set("shape", shape_js(env, t.shape()));
    o.Set("data", f32_js(env, t.data<float>(), size_t(t.numel())));
    arr.Set(uint32_t(i), o);
  }
  return arr;
}

class SegmenterWrap : public HandleWrap<Segmenter, SegmenterWrap> {
 public:
  static constexpr const char* kName = "Segmenter";
  static constexpr const char* kCreate = "use Segmenter.load(path, options) to create a Segmenter";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, kName,
        {StaticMethod("load", &SegmenterWrap::Load), InstanceMethod("run", &SegmenterWrap::Run),
         InstanceMethod("runInputs", &SegmenterWrap::RunInputs), InstanceMethod("dispose", &SegmenterWrap::Dispose),
         InstanceAccessor("path", &SegmenterWrap::Path, nullptr),
         InstanceAccessor("threads", &SegmenterWrap::Threads, nullptr),
         InstanceAccessor("device", &SegmenterWrap::Device, nullptr),
         InstanceAccessor("precision", &SegmenterWrap::Precision, nullptr),
         InstanceAccessor("inputs", &SegmenterWrap::Inputs, nullptr),
         InstanceAccessor("outputs", &SegmenterWrap::Outputs, nullptr)});
  }

  // What this handle's runs compute their constant-weight products in (resolved at load).

 private:
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      const std::string path = string_arg(info, 0, "Segmenter.load(path, options): path must be a string");
      Napi::Object o = options_arg(info, 1);
      const std::string device = device_option(env, o);
      const int threads = int(int_option(env, o, "threads", 0, 0, 1024));
      // The spelling is the core's to check (nn::resolve_precision): E_BAD_INPUT from the worker.
      const std::string precision = string_option(env, o, "precision", "f32");
      return run_async<std::shared_ptr<Segmenter>>(
          env,
          [path, threads, device, precision] {
            auto gpu = resolve_device(device);
            const bool on_cpu = !gpu;
            const bool bf16 = nn::resolve_precision(precision, on_cpu) == nn::Precision::BF16;
            return Segmenter::load(path, threads, std::move(gpu), bf16);
          },
          [](Napi::Env env, std::shared_ptr<Segmenter>& m) { return SegmenterWrap::wrap(env, m); });
    });
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 2) bad_input(env, "run(input: Float32Array, shape: number[], options?)");
      Tensor input = read_tensor(env, info[0], info[1], "input");
      const bool all = all_outputs(info, 2);
      std::vector<onnx::ValueInfo> out_info = m->graph().outputs();
      return run_async<std::vector<Tensor>>(
          env, [m, input, all] { return m->run(input, all); },
          [out_info](Napi::Env env, std::vector<Tensor>& outs) { return outputs_to_js(env, outs, out_info); });
    });
  }

  Napi::Value RunInputs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      auto m = impl(env);
      if (info.Length() < 1 || !info[0].IsArray())
        bad_input(env, "runInputs(inputs: { data: Float32Array, shape: number[] }[], options?)");
      Napi::Array arr = info[0].As<Napi::Array>();
      if (arr.Length() > 64) bad_input(env, "runInputs: more than 64 inputs");
      std::vector<Tensor> inputs;
      for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value v = arr.Get(i);
        const std::string what = "input #" + std::to_string(i);
        if (!v.IsObject()) bad_input(env, what + " must be { data, shape }");
        Napi::Object o = v.As<Napi::Object>();
        inputs.push_back(read_tensor(env, o.Get("data"), o.Get("shape"), what));
      }
      const bool all = all_outputs(info, 1);
      std::vector<onnx::ValueInfo> out_info = m->graph().outputs();
      return run_async<std::vector<Tensor>>(
          env, [m, inputs, all] { return m->run_inputs(inputs, all); },
          [out_info](Napi::Env env, std::vector<Tensor>& outs) { return outputs_to_js(env, outs, out_info); });
    });
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
  Napi::Value Precision(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::String::New(info.Env(), impl_->bf16() ? "bf16" : "f32") : info.Env().Undefined();
  }
  Napi::Value Inputs(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(infos_to_js(info.Env(), impl_->graph().inputs())) : info.Env().Undefined();
  }
  Napi::Value Outputs(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(infos_to_js(info.Env(), impl_->graph().outputs())) : info.Env().Undefined();
  }
};

}  // namespace

void init_segmenter(Napi::Env env, Napi::Object exports) { SegmenterWrap::export_class(env, exports); }

}  // namespace bgn::addon
