// backends(): what this build and this machine can run, one entry per backend.
#include "addon/bindings.h"
#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/threads.h"
#include "backend/gpu.h"

namespace bgn::addon {

namespace {

Napi::Object cpu_entry(Napi::Env env) {
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("name", "cpu");
  cpu.Set("compiled", true);
  cpu.Set("available", true);
  cpu.Set("threads", ThreadPool::hardware_threads());
  cpu.Set("gemm", cpu::gemm_backend());
  // The kernel precision 'bf16' runs on here: AMX tiles, AVX512-BF16, or none (f32 only).
  std::string bf16 = "none";
  if (cpu::bf16_gemm_supported()) {
    try {
      bf16 = cpu::bf16_kernel_name(cpu::bf16_kernel());
    } catch (const Error& e) {  // a BGN_BF16_KERNEL this machine cannot honour
      bf16 = std::string("none (") + e.what() + ")";
    }
  }
  cpu.Set("bf16", bf16);
  return cpu;
}

// Opening the device is what proves it usable (driver, capability, a context); the Gpu is shared
// with the models, so this costs nothing later.
Napi::Object cuda_entry(Napi::Env env) {
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("name", "cuda");
  cuda.Set("compiled", cuda_compiled());
  std::string reason = cuda_unavailable_reason(0);
  std::shared_ptr<Gpu> gpu;
  if (reason.empty()) {
    try {
      gpu = open_cuda(0);
    } catch (const Error& e) {
      reason = e.what();
    }
  }
  cuda.Set("available", gpu != nullptr);
  if (!gpu) {
    cuda.Set("reason", reason);
    return cuda;
  }
  const GpuInfo info = gpu->info();
  cuda.Set("device", info.name);
  cuda.Set("index", info.index);
  cuda.Set("computeCapability", std::to_string(info.cc_major) + "." + std::to_string(info.cc_minor));
  cuda.Set("memoryBytes", double(info.total_memory));
  cuda.Set("freeBytes", double(info.free_memory));
  cuda.Set("gemm", info.gemm);
  cuda.Set("inUseBytes", double(gpu->bytes_in_use()));
  cuda.Set("peakBytes", double(gpu->peak_bytes()));
  if (info.emulated) cuda.Set("emulated", true);
  return cuda;
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);
  list.Set(0u, cpu_entry(env));
  list.Set(1u, cuda_entry(env));
  return list;
}

}  // namespace

void init_backends(Napi::Env env, Napi::Object exports) {
  exports.Set("backends", Napi::Function::New(env, Backends, "backends"));
}

}  // namespace bgn::addon
