// backends(): what this build and this machine can run.
#include <thread>

#include "addon/bindings.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/threads.h"

#ifndef BGN_GEMM_NAME
#define BGN_GEMM_NAME "builtin"
#endif

namespace bgn::addon {

namespace {

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("name", "cpu");
  cpu.Set("compiled", true);
  cpu.Set("available", true);
  cpu.Set("threads", ThreadPool::hardware_threads());
  cpu.Set("gemm", cpu::gemm_backend());
  list.Set(0u, cpu);

  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("name", "cuda");
#if defined(BGN_WITH_CUDA)
  cuda.Set("compiled", true);
  cuda.Set("available", false);
  cuda.Set("reason", "the CUDA kernels are not implemented in this version");
#else
  cuda.Set("compiled", false);
  cuda.Set("available", false);
  cuda.Set("reason", "built without CUDA (rebuild with BGN_CUDA=1 and nvcc installed)");
#endif
  list.Set(1u, cuda);
  return list;
}

}  // namespace

void init_backends(Napi::Env env, Napi::Object exports) {
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
}

}  // namespace bgn::addon
