// The core objects behind UNet, Vae and TinyVae JS objects, for functions that take them as arguments
// (pipelineTrace). Each refuses with E_BAD_INPUT ("<what> must be a UNet") what is not one, and a
// disposed one.
#pragma once
#include <napi.h>

#include <memory>

#include "models/taesd.h"
#include "models/unet.h"
#include "models/vae.h"

namespace bgn::addon {

std::shared_ptr<UNetModel> unet_of(Napi::Env env, const Napi::Value& v, const char* what);  // unet_binding.cpp
std::shared_ptr<VaeModel> vae_of(Napi::Env env, const Napi::Value& v, const char* what);    // vae_binding.cpp
std::shared_ptr<TaesdModel> tiny_vae_of(Napi::Env env, const Napi::Value& v,
                                        const char* what);  // tiny_vae_binding.cpp

}  // namespace bgn::addon
