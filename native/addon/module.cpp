// Module entry: registers each binding file's exports. Bindings hold no math: they validate
// arguments, move data between JS and the core, and turn core errors into coded JS errors.
#include <napi.h>

#include "addon/bindings.h"

namespace bgn::addon {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  init_backends(env, exports);
  init_segmenter(env, exports);
  init_clip_tokenizer(env, exports);
  init_parse_prompt_weights(env, exports);
  init_scheduler_trace(env, exports);
  init_read_safetensors(env, exports);
  init_text_encoder(env, exports);
  init_unet(env, exports);
  init_vae(env, exports);
  init_pipeline_trace(env, exports);
  init_diffusion_model(env, exports);
  init_tiny_vae(env, exports);
  return exports;
}

}  // namespace bgn::addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return bgn::addon::Init(env, exports); }

NODE_API_MODULE(bg_native, InitModule)
