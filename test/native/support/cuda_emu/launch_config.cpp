// Launch configuration checks with CUDA's error codes, and the per-kernel dynamic shared memory
// limit set through cudaFuncSetAttribute.
#include <map>

#include "cuda_emu/internal.h"

namespace bgn::emu {

namespace {
std::mutex g_attr_mutex;
std::map<const void*, size_t>& smem_attrs() {
  static auto* m = new std::map<const void*, size_t>;  // never destroyed, usable at exit
  return *m;
}
}  // namespace

size_t max_dynamic_smem(const void* kernel) {
  std::lock_guard<std::mutex> lk(g_attr_mutex);
  auto it = smem_attrs().find(kernel);
  return it == smem_attrs().end() ? kStaticSmemLimit : it->second;
}

cudaError_t check_launch(const LaunchConfig& cfg) {
  const dim3 g = cfg.grid, b = cfg.block;
  if (g.x == 0 || g.y == 0 || g.z == 0 || b.x == 0 || b.y == 0 || b.z == 0) return cudaErrorInvalidConfiguration;
  if (b.x > 1024 || b.y > 1024 || b.z > 64) return cudaErrorInvalidConfiguration;
  if (static_cast<unsigned long long>(b.x) * b.y * b.z > kMaxThreadsPerBlock) return cudaErrorInvalidConfiguration;
  if (g.x > 0x7FFFFFFFu || g.y > 65535 || g.z > 65535) return cudaErrorInvalidConfiguration;
  if (cfg.smem > kOptinSmemLimit || cfg.smem > max_dynamic_smem(cfg.kernel)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

}  // namespace bgn::emu

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  using namespace bgn::emu;
  if (func == nullptr) {
    set_last_error(cudaErrorInvalidValue);
    return cudaErrorInvalidValue;
  }
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > kOptinSmemLimit) {
      set_last_error(cudaErrorInvalidValue);
      return cudaErrorInvalidValue;
    }
    std::lock_guard<std::mutex> lk(g_attr_mutex);
    smem_attrs()[func] = static_cast<size_t>(value);
  }
  return cudaSuccess;
}
