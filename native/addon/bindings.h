// One init function per binding file, each named after what it exports; module.cpp calls them all.
// The dialect they all speak (Promises, coded errors) is written down in args.h.
#pragma once
#include <napi.h>

namespace bgn::addon {

// Classes: one file each, <name>_binding.cpp.
void init_segmenter(Napi::Env env, Napi::Object exports);        // Segmenter
void init_clip_tokenizer(Napi::Env env, Napi::Object exports);   // ClipTokenizer
void init_text_encoder(Napi::Env env, Napi::Object exports);     // TextEncoder
void init_unet(Napi::Env env, Napi::Object exports);             // UNet
void init_vae(Napi::Env env, Napi::Object exports);              // Vae
void init_tiny_vae(Napi::Env env, Napi::Object exports);         // TinyVae
void init_diffusion_model(Napi::Env env, Napi::Object exports);  // DiffusionModel

// Functions: one file each, named after the function.
void init_backends(Napi::Env env, Napi::Object exports);              // backends()
void init_parse_prompt_weights(Napi::Env env, Napi::Object exports);  // parsePromptWeights()
void init_scheduler_trace(Napi::Env env, Napi::Object exports);       // schedulerTrace()
void init_pipeline_trace(Napi::Env env, Napi::Object exports);        // pipelineTrace()
void init_read_safetensors(Napi::Env env, Napi::Object exports);      // readSafetensors()

}  // namespace bgn::addon
