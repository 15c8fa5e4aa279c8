// DiffusionModel: whole-model text-to-image / image-to-image / inpainting (diffusion/diffusion_model.h).
//
//   DiffusionModel.load(pathOrDir, { threads?, device?: 'auto'|'cpu'|'cuda'|'cuda:N', tokenizer?,
//                                    predictionType?: 'epsilon'|'v_prediction'|'sample',
//                                    loras?: [{ path, scale? = 1 }], tokenizerData?: { vocab, merges },
//                                    precision?: 'f32' | 'bf16' | 'auto' = 'f32' })
//     → Promise<DiffusionModel>
//     tokenizerData: vocab.json and merges.txt contents, used when no tokenizer option, model
//     tokenizer/ or BG_CLIP_TOKENIZER names one (the library passes its built-in CLIP vocabulary)
//     loras: merged into the UNet and text encoders (models/lora.h), scale from -4 to 4
//     precision: the UNet's CPU compute (nn/precision.h): 'auto' = bf16 where the CPU has
//     AVX512-BF16, else f32; 'bf16' elsewhere is E_DEVICE_UNAVAILABLE. model.precision says which runs.
//   model.generate({ prompt, negativePrompt?, width?, height?, steps?, guidanceScale?, sampler?, seed?,
//                    strength?, clipSkip?, initImage?: Uint8Array (H·W·3 RGB), mask?: Uint8Array (H·W, ≥128
//                    repaints) | Float32Array (H·W in [0,1], ≥0.5 repaints), noise?: Float32Array,
//                    pasteBack? = true, tiled?: 'auto' | true | false = 'auto', tileSize? = 64,
//                    tileOverlap? = 16, loras?: [{ path, scale? }],
//                    timestepSpacing?: 'leading' | 'linspace' | 'trailing' (default: the model's scheduler config),
//                    vae?: 'full' | 'taesd' | path = 'full', previewEvery? = 0, previewVae?: 'taesd' | path },
//                  { onProgress?({ step, steps, preview?: { pixels, width, height } }), signal?: AbortSignal })
//     → Promise<{ pixels: Uint8Array (H·W·3 RGB), width, height, seed }>
//   model.dispose(); model.path, layout, family ('sd1' | 'sd2' | 'sdxl'), precision, inChannels, latentChannels,
//   downscale, contextDim
//   width / height default to the family's native size: 1024 for SDXL, 512 otherwise.
//   DiffusionModel.cachedModels() → number of models alive in the process-wide cache
//
// tiled / tileSize / tileOverlap: VAE tiling (models/vae_tiling.h), sizes in latent pixels
// (64 / 16 = 512 / 128 image pixels for SD). 'auto' tiles images larger in area than one tile
// (SD: above 512×512), which bounds the VAE's memory; true tiles any image that does not fit one
// tile; false never tiles.
//
// loras in generate(): this generation's LoRA set instead of the load's ([] = none); a different
// set is merged into a second instance of the model (a load's worth of time and the merged
// tensors' memory), kept for the following generations until another set is asked for.
//
// vae: 'taesd' or a path decodes the result with the tiny autoencoder (draft quality, a fraction
// of the VAE's time; diffusion/tiny_vae_source.h says where 'taesd' is looked for). previewEvery N:
// every N-th step's progress call (not the last's) carries preview: the tiny decode of the
// denoised estimate, RGB bytes with the longer side <= 256 px; without a tiny autoencoder named or
// found beside the model there are none. previewVae names one for previews only.
//
// generate() always returns a Promise: invalid arguments reject with E_BAD_INPUT rather than
// throwing. The work runs on a libuv worker thread; onProgress is called on the JS thread once
// per denoising step, and every call is delivered before the Promise settles. Aborting the
// signal stops the run before its next step (E_CANCELLED). Concurrent generate() calls share
// the model's weights.
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "addon/args.h"
#include "addon/async.h"
#include "addon/bindings.h"
#include "addon/device.h"
#include "addon/errors.h"
#include "addon/handle_wrap.h"
#include "diffusion/diffusion_model.h"

namespace bgn::addon {

namespace {

// Everything one generate() call shares between the JS thread and its worker.
struct GenState {
  explicit GenState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  std::shared_ptr<std::atomic<bool>> abort = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool> callback_failed{false};
  std::optional<Napi::ThreadSafeFunction> progress;
  bool worker_done = false, progress_done = true, settled = false;
  std::unique_ptr<GenerateResult> result;
  CapturedError error;
  Napi::ObjectReference signal;
  Napi::FunctionReference listener;
  Napi::Reference<Napi::Value> callback_error;  // what onProgress threw

  // Runs on the JS thread once the worker has finished and every progress call was delivered.
  void maybe_settle(Napi::Env env) {
    if (settled || !worker_done || !progress_done) return;
    settled = true;
    Napi::HandleScope scope(env);
    if (!signal.IsEmpty() && !listener.IsEmpty()) {
      try {
        Napi::Object s = signal.Value();
        Napi::Value remove = s.Get("removeEventListener");
        if (remove.IsFunction())
          remove.As<Napi::Function>().Call(s, {Napi::String::New(env, "abort"), listener.Value()});
      } catch (const Napi::Error&) {
        // a signal whose removeEventListener throws keeps its listener; nothing else to do
      }
    }
    if (!callback_error.IsEmpty()) {
      deferred.Reject(callback_error.Value());
    } else if (error.set) {
      deferred.Reject(make_error(env, error.code, error.message).Value());
    } else {
      GenerateResult& r = *result;
      Napi::Object out = Napi::Object::New(env);
      Napi::Uint8Array px = Napi::Uint8Array::New(env, r.pixels.size());
      if (!r.pixels.empty()) std::memcpy(px.Data(), r.pixels.data(), r.pixels.size());
      out.Set("pixels", px);
      out.Set("width", Napi::Number::New(env, double(r.width)));
      out.Set("height", Napi::Number::New(env, double(r.height)));
      out.Set("seed", Napi::Number::New(env, double(r.seed)));
      deferred.Resolve(out);
    }
  }
};

// A step preview: RGB (height, width, 3) bytes; empty when the step has none.
struct StepPreview {
  std::vector<uint8_t> rgb;
  int64_t width = 0, height = 0;
};
struct StepProgress {
  int step = 0, total = 0;
  StepPreview preview;
};

class GenerateWorker : public Napi::AsyncWorker {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<const DiffusionModel> model, std::shared_ptr<GenState> st,
                 GenerateRequest req)
      : Napi::AsyncWorker(env), model_(std::move(model)), st_(std::move(st)), req_(std::move(req)) {
    GenState* s = st_.get();
    auto flag = s->abort;
    req_.cancelled = [flag, s] { return flag->load() || s->callback_failed.load(); };
    if (s->progress) {
      // A preview (on_preview runs just before on_step of its step, on this worker thread) rides
      // along with that step's progress call.
      auto preview = std::make_shared<StepPreview>();
      if (req_.preview_every > 0)
        req_.on_preview = [preview](int, const std::vector<uint8_t>& rgb, int64_t w, int64_t h) {
          preview->rgb = rgb;
          preview->width = w;
          preview->height = h;
        };
      req_.on_step = [s, preview](int step, int total) {
        auto* data = new StepProgress{step, total, std::move(*preview)};
        *preview = StepPreview();
        napi_status status = s->progress->BlockingCall(data, [s](Napi::Env env, Napi::Function fn, StepProgress* d) {
          std::unique_ptr<StepProgress> own(d);
          if (s->callback_failed.load() || static_cast<napi_env>(env) == nullptr) return;
          Napi::Object p = Napi::Object::New(env);
          p.Set("step", Napi::Number::New(env, own->step));
          p.Set("steps", Napi::Number::New(env, own->total));
          if (!own->preview.rgb.empty()) {
            Napi::Object pv = Napi::Object::New(env);
            Napi::Uint8Array px = Napi::Uint8Array::New(env, own->preview.rgb.size());
            std::memcpy(px.Data(), own->preview.rgb.data(), own->preview.rgb.size());
            pv.Set("pixels", px);
            pv.Set("width", Napi::Number::New(env, double(own->preview.width)));
            pv.Set("height", Napi::Number::New(env, double(own->preview.height)));
            p.Set("preview", pv);
          }
          try {
            fn.Call({p});
          } catch (const Napi::Error& e) {
            // The callback threw: stop the run and reject with what it threw.
            s->callback_error = Napi::Persistent(e.Value().As<Napi::Value>());
            s->callback_failed = true;
          }
        });
        if (status != napi_ok) delete data;
      };
    }
  }

  void Execute() override {
    try {
      st_->result = std::make_unique<GenerateResult>(model_->generate(req_));
    } catch (...) {
      st_->error.capture(std::current_exception());
    }
    if (st_->progress) st_->progress->Release();
  }

  void OnOK() override { finish(); }
  void OnError(const Napi::Error&) override { finish(); }

 private:
  void finish() {
    st_->worker_done = true;
    st_->maybe_settle(Env());
  }
  std::shared_ptr<const DiffusionModel> model_;
  std::shared_ptr<GenState> st_;
  GenerateRequest req_;
};

// The first argument of generate(): what to generate.
GenerateRequest read_request(Napi::Env env, const DiffusionModel& model, const Napi::Object& o) {
  GenerateRequest req;
  Napi::Value prompt = o.Get("prompt");
  if (!prompt.IsString()) bad_input(env, "prompt must be a string");
  req.prompt = prompt.As<Napi::String>().Utf8Value();
  req.negative_prompt = string_option(env, o, "negativePrompt", "");
  const int64_t native = model.is_sdxl() ? 1024 : 512;
  req.width = int_option(env, o, "width", native, 1, 1 << 20);
  req.height = int_option(env, o, "height", native, 1, 1 << 20);
  req.steps = int(int_option(env, o, "steps", 20, -(1 << 20), 1 << 20));
  req.guidance = float(number_option(env, o, "guidanceScale", 7.5));
  req.sampler = string_option(env, o, "sampler", "euler");
  req.timestep_spacing = string_option(env, o, "timestepSpacing", "");
  req.seed = seed_option(env, o, "seed");
  req.strength = number_option(env, o, "strength", 0.8);
  req.clip_skip = int(int_option(env, o, "clipSkip", 0, 0, 1000));
  req.init_image = bytes_option(env, o, "initImage");
  req.mask = mask_option(env, o, "mask");
  req.noise = f32_option(env, o, "noise");
  req.paste_back = bool_option(env, o, "pasteBack", true);
  // vae: 'full' (the model's) or the tiny autoencoder ('taesd' | path) for a draft decode;
  // previewEvery: previews through previewVae (default: that tiny autoencoder, else 'taesd').
  const std::string vae = string_option(env, o, "vae", "full");
  if (vae.empty()) bad_input(env, "vae must be 'full', 'taesd' or the path of a tiny autoencoder");
  const std::string preview_vae = string_option(env, o, "previewVae", "");
  if (vae != "full") {
    req.tiny_vae = vae;
    req.tiny_decode = true;
  }
  if (!preview_vae.empty()) {
    if (req.tiny_decode && preview_vae != vae)
      bad_input(env, "vae and previewVae name different tiny autoencoders; name one (it serves both)");
    req.tiny_vae = preview_vae;
  }
  req.preview_every = int(int_option(env, o, "previewEvery", 0, 0, 1000));
  req.has_loras = !o.Get("loras").IsUndefined() && !o.Get("loras").IsNull();
  req.loras = loras_option(env, o);
  req.vae_tiling = tiling_option(env, o, req.vae_tiling.mode);
  return req;
}

// The second argument of generate(), { onProgress?, signal? }, hooked up to the run's state. An
// already aborted signal rejects with E_CANCELLED.
void attach_run_options(Napi::Env env, const Napi::Object& ro, const std::shared_ptr<GenState>& st) {
  Napi::Value cb = ro.Get("onProgress");
  const bool has_cb = !cb.IsUndefined() && !cb.IsNull();
  if (has_cb && !cb.IsFunction()) bad_input(env, "onProgress must be a function");
  Napi::Value sig = ro.Get("signal");
  if (!sig.IsUndefined() && !sig.IsNull()) {
    if (!sig.IsObject()) bad_input(env, "signal must be an AbortSignal");
    Napi::Object s = sig.As<Napi::Object>();
    Napi::Value add = s.Get("addEventListener");
    if (!add.IsFunction()) bad_input(env, "signal must be an AbortSignal (no addEventListener)");
    if (s.Get("aborted").ToBoolean()) throw make_error(env, "E_CANCELLED", "generation cancelled before it started");
    auto flag = st->abort;
    Napi::Function listener = Napi::Function::New(
        env, [flag](const Napi::CallbackInfo&) { flag->store(true); }, "onAbort");
    add.As<Napi::Function>().Call(s, {Napi::String::New(env, "abort"), listener});
    st->signal = Napi::Persistent(s);
    st->listener = Napi::Persistent(listener);
  }
  if (has_cb) {
    st->progress_done = false;
    // The finaliser runs on the JS thread after the last queued call has been delivered; it
    // holds the state until then, so the per-call callbacks may use a plain pointer to it.
    st->progress = Napi::ThreadSafeFunction::New(env, cb.As<Napi::Function>(), "DiffusionModel.progress", 0, 1,
                                                 [st](Napi::Env env) {
                                                   st->progress_done = true;
                                                   st->maybe_settle(env);
                                                 });
  }
}

class DiffusionModelWrap : public HandleWrap<const DiffusionModel, DiffusionModelWrap> {
 public:
  static constexpr const char* kName = "DiffusionModel";
  static constexpr const char* kCreate = "use DiffusionModel.load(pathOrDir, options)";
  using HandleWrap::HandleWrap;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, kName,
                       {StaticMethod("load", &DiffusionModelWrap::Load),
                        StaticMethod("cachedModels", &DiffusionModelWrap::CachedModels),
                        InstanceMethod("generate", &DiffusionModelWrap::Generate),
                        InstanceMethod("dispose", &DiffusionModelWrap::Dispose),
                        InstanceAccessor("path", &DiffusionModelWrap::Path, nullptr),
                        InstanceAccessor("layout", &DiffusionModelWrap::Layout, nullptr),
                        InstanceAccessor("device", &DiffusionModelWrap::Device, nullptr),
                        InstanceAccessor("family", &DiffusionModelWrap::Family, nullptr),
                        InstanceAccessor("precision", &DiffusionModelWrap::Precision, nullptr),
                        InstanceAccessor("unetResident", &DiffusionModelWrap::UnetResident, nullptr),
                        InstanceAccessor("inChannels", &DiffusionModelWrap::Dim<0>, nullptr),
                        InstanceAccessor("latentChannels", &DiffusionModelWrap::Dim<1>, nullptr),
                        InstanceAccessor("downscale", &DiffusionModelWrap::Dim<2>, nullptr),
                        InstanceAccessor("contextDim", &DiffusionModelWrap::Dim<3>, nullptr)});
  }

  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      const std::string path =
          string_arg(info, 0, "DiffusionModel.load(pathOrDir, options): pathOrDir must be a string");
      Napi::Object o = options_arg(info, 1);
      DiffusionLoadOptions opts;
      opts.threads = int(int_option(env, o, "threads", 0, 0, 1024));
      opts.tokenizer = string_option(env, o, "tokenizer", "");
      Napi::Value td = o.Get("tokenizerData");
      if (!td.IsUndefined()) {
        Napi::Value tv = td.IsObject() ? td.As<Napi::Object>().Get("vocab") : td;
        Napi::Value tm = td.IsObject() ? td.As<Napi::Object>().Get("merges") : td;
        if (!tv.IsString() || !tm.IsString()) bad_input(env, "tokenizerData must be { vocab: string, merges: string }");
        opts.tokenizer_vocab = tv.As<Napi::String>().Utf8Value();
        opts.tokenizer_merges = tm.As<Napi::String>().Utf8Value();
      }
      opts.prediction_type = string_option(env, o, "predictionType", "");
      opts.precision = string_option(env, o, "precision", "f32");
      const std::string device = device_option(env, o);
      opts.loras = loras_option(env, o);
      return run_async<std::shared_ptr<const DiffusionModel>>(
          env,
          [path, opts, device]() mutable {
            opts.gpu = resolve_device(device);
            return DiffusionModel::load(path, opts);
          },
          &DiffusionModelWrap::wrap);
    });
  }

  static Napi::Value CachedModels(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(diffusion_model_cache_size()));
  }

  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return with_promise(env, [&] {
      std::shared_ptr<const DiffusionModel> model = impl(env);
      if (info.Length() < 1 || !info[0].IsObject()) bad_input(env, "generate({ prompt, ... }, { onProgress, signal })");
      GenerateRequest req = read_request(env, *model, info[0].As<Napi::Object>());
      auto st = std::make_shared<GenState>(env);
      attach_run_options(env, options_arg(info, 1, "the second argument must be { onProgress?, signal? }"), st);
      Napi::Promise p = st->deferred.Promise();
      auto* w = new GenerateWorker(env, model, st, std::move(req));
      w->Queue();
      return p;
    });
  }

  Napi::Value Path(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->path())) : info.Env().Undefined();
  }
  Napi::Value Layout(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->layout())) : info.Env().Undefined();
  }
  Napi::Value Device(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->device())) : info.Env().Undefined();
  }
  Napi::Value Family(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->family())) : info.Env().Undefined();
  }
  Napi::Value Precision(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::String::New(info.Env(), impl_->precision())) : info.Env().Undefined();
  }
  Napi::Value UnetResident(const Napi::CallbackInfo& info) {
    return impl_ ? Napi::Value(Napi::Boolean::New(info.Env(), impl_->unet_resident())) : info.Env().Undefined();
  }
  template <int K>
  Napi::Value Dim(const Napi::CallbackInfo& info) {
    if (!impl_) return info.Env().Undefined();
    const int64_t v[] = {impl_->unet_config().in_channels, impl_->vae().config().latent_channels,
                         impl_->vae().config().downscale, impl_->unet_config().context_dim};
    return Napi::Number::New(info.Env(), double(v[K]));
  }
};

}  // namespace

void init_diffusion_model(Napi::Env env, Napi::Object exports) { DiffusionModelWrap::export_class(env, exports); }

}  // namespace bgn::addon
