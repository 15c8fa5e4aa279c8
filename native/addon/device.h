// The `device` option of the load calls: 'auto' | 'cpu' | 'cuda' | 'cuda:N'.
#pragma once
#include <memory>
#include <string>

#include <napi.h>

#include "backend/gpu.h"

namespace bgn::addon {

// Checks the spelling only (on the JS thread): a message for E_BAD_INPUT, or "" when valid.
std::string device_spelling_error(const std::string& device);
// options.device of a load call ('auto' when absent), spelling checked: throws a JS E_BAD_INPUT.
std::string device_option(Napi::Env env, const Napi::Object& options);
// Where a model loads (on a worker thread): null for the CPU; 'cuda' fails with
// E_DEVICE_UNAVAILABLE and the reason when no CUDA device can run it; 'auto' takes the GPU
// when one answers and the CPU otherwise (the library turns 'auto' into BGN_DEVICE's choice
// before it gets here when that is set).
std::shared_ptr<Gpu> resolve_device(const std::string& device);

}  // namespace bgn::addon
