// How the addon speaks to JavaScript (one dialect for every exported class and function), and the
// readers of its arguments, written once.
//
// Asynchronous methods do their work off the event loop and ALWAYS return a Promise. Everything
// that goes wrong — a bad argument, a disposed instance, a core error — REJECTS that Promise with a
// coded error (`code`: E_BAD_INPUT, E_MODEL_FORMAT, … see errors.h); they never throw
// synchronously. Each has the same two-phase shape, written with with_promise() and run_async()
// (async.h):
//   return with_promise(env, [&] {
//     … read the arguments on the JS thread (the readers below throw E_BAD_INPUT) …
//     return run_async<R>(env, work /* on a libuv worker */, done /* builds the result on the JS thread */);
//   });
// They are:
//   Segmenter.load, seg.run, seg.runInputs
//   ClipTokenizer.load
//   TextEncoder.load, te.encode
//   UNet.load, unet.forward
//   Vae.load, vae.encode, vae.decode
//   TinyVae.load, tinyVae.encode, tinyVae.decode
//   DiffusionModel.load, model.generate (its own worker: progress calls and cancellation)
//   pipelineTrace, readSafetensors
//
// Synchronous methods are cheap, or pure parsing and arithmetic on small inputs; they return
// their value and THROW coded errors (through guarded() for core errors):
//   backends()
//   tok.encode, tok.tokenize, tok.encodeWeighted, parsePromptWeights
//   schedulerTrace (the fixture runner's scheduler arithmetic), tinyVae.scaleLatents
//   DiffusionModel.cachedModels
//   every dispose() and every property; `new X()` from JavaScript (throws: X.load creates them)
//
// test/addon-dialect.test.ts walks every export against this list.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/lora.h"
#include "models/vae_tiling.h"
#include "tensor/tensor.h"

namespace bgn::addon {

// Throws a JS error with code E_BAD_INPUT.
[[noreturn]] void bad_input(Napi::Env env, const std::string& message);

bool is_typed(const Napi::Value& v, napi_typedarray_type type);

// ---- positional arguments -------------------------------------------------------------------------

// info[at] as an options object; undefined, null or absent: an empty one; anything else: `message`.
Napi::Object options_arg(const Napi::CallbackInfo& info, size_t at, const char* message = "options must be an object");
// info[at] as a string; anything else: `message`.
std::string string_arg(const Napi::CallbackInfo& info, size_t at, const std::string& message);

// ---- fields of an options object (undefined = absent; the string, array and seed readers also take null) ----

std::string string_option(Napi::Env env, const Napi::Object& o, const char* key, const std::string& def);
// One of `choices` ("key must be 'a', 'b' or 'c'"); `def` when absent.
std::string enum_option(Napi::Env env, const Napi::Object& o, const char* key, const std::vector<std::string>& choices,
                        const std::string& def);
// An integer in [lo, hi]: "key must be a number" / "key must be an integer; got 1.5" /
// "key must be from lo to hi; got n".
int64_t int_option(Napi::Env env, const Napi::Object& o, const char* key, int64_t def, int64_t lo, int64_t hi);
// A required integer: the same checks; "key must be a number" when absent.
int64_t int_value(Napi::Env env, const Napi::Value& v, const char* key, int64_t lo, int64_t hi);
// A finite number.
double number_option(Napi::Env env, const Napi::Object& o, const char* key, double def);
bool bool_option(Napi::Env env, const Napi::Object& o, const char* key, bool def);
// A seed from 0 to 2^53 − 1; absent or null: a random one.
uint64_t seed_option(Napi::Env env, const Napi::Object& o, const char* key);
// A JSON text: a string as it is, an object through JSON.stringify, "{}" when absent.
std::string json_option(Napi::Env env, const Napi::Object& o, const char* key);
// A copy of a Float32Array of any length; empty when absent.
std::vector<float> f32_option(Napi::Env env, const Napi::Object& o, const char* key);
// A copy of a Uint8Array / Uint8ClampedArray of RGB bytes; empty when absent, refused when empty.
std::vector<uint8_t> bytes_option(Napi::Env env, const Napi::Object& o, const char* key);
// A mask as floats in [0, 1]: a Float32Array, or bytes (Uint8Array, / 255); empty when absent.
std::vector<float> mask_option(Napi::Env env, const Napi::Object& o, const char* key);
// { tiled: 'auto' | true | false, tileSize, tileOverlap } (models/vae_tiling.h), validated;
// `def` is the mode when tiled is absent.
VaeTileOptions tiling_option(Napi::Env env, const Napi::Object& o, VaeTiling def);
// The `loras` option of the model loads and of generate(): an array of { path, scale? = 1 } (or
// plain path strings), at most 64; [] when absent.
std::vector<LoraSpec> loras_option(Napi::Env env, const Napi::Object& o);

// ---- values ---------------------------------------------------------------------------------------

// An array of `rank` integers from 1 to 65536 (rank 0: any rank up to 8), named `what` in messages.
Shape shape_value(Napi::Env env, const Napi::Value& v, size_t rank, const std::string& what);
// A Float32Array, not copied: it stays valid while the calling JS frame runs.
Napi::Float32Array f32_view(Napi::Env env, const Napi::Value& v, const std::string& what);
// A copy of a Float32Array; with n >= 0 it must hold exactly n values ("its shape needs n").
std::vector<float> f32_value(Napi::Env env, const Napi::Value& v, int64_t n, const std::string& what);
// A copy of an Int32Array.
std::vector<int32_t> i32_value(Napi::Env env, const Napi::Value& v, const std::string& message);
// A number, an array of numbers or a Float32Array, as floats.
std::vector<float> numbers_value(Napi::Env env, const Napi::Value& v, const std::string& what);

}  // namespace bgn::addon
