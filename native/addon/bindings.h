// One init function per binding file; module.cpp calls them all.
#pragma once
#include <napi.h>

namespace bgn::addon {

void init_backends(Napi::Env env, Napi::Object exports);   // backends(), version
void init_segmenter(Napi::Env env, Napi::Object exports);  // Segmenter class
void init_diffusion(Napi::Env env, Napi::Object exports);  // ClipTokenizer, schedulerTrace, readSafetensors
void init_models(Napi::Env env, Napi::Object exports);     // TextEncoder, UNet, Vae classes
void init_diffusion_model(Napi::Env env, Napi::Object exports);  // DiffusionModel class
void init_tiny_vae(Napi::Env env, Napi::Object exports);         // TinyVae class

}  // namespace bgn::addon
