// Device discovery and open_cuda (backend/gpu.h): readable reasons when no device can be used,
// and one shared Gpu per device per process.
#include "backend/cuda/runtime.h"

#include <map>
#include <mutex>

#include "backend/cuda/device_pool.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn {

namespace cuda {

namespace {

// The kernels use sm_75+ features (f16 tensor cores with f32 accumulation, larger shared memory).
constexpr int kMinCc = 75;

std::string version_str(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

// Why the driver refuses: missing, or older than the runtime this was built with.
std::string driver_reason() {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  cudaGetLastError();
  if (driver == 0) return "no NVIDIA driver (libcuda.so.1 could not be loaded)";
  return "the NVIDIA driver supports CUDA " + version_str(driver) + " but bg-native was built with CUDA " +
         version_str(runtime) + "; update the NVIDIA driver";
}

std::string cuda_reason(cudaError_t e, const char* what) {
  return std::string(what) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

// The device count, or why there is none. Asked once: drivers do not appear mid-process.
struct Discovery {
  int count = 0;
  std::string reason;
};

const Discovery& discovery() {
  static const Discovery d = [] {
    Discovery r;
    cudaError_t e = cudaGetDeviceCount(&r.count);
    cudaGetLastError();
    if (e == cudaErrorInsufficientDriver) {
      r.reason = driver_reason();
    } else if (e == cudaErrorNoDevice || (e == cudaSuccess && r.count <= 0)) {
      r.reason = "no CUDA device";
    } else if (e != cudaSuccess) {
      r.reason = cuda_reason(e, "cudaGetDeviceCount");
    }
    if (!r.reason.empty()) r.count = 0;
    return r;
  }();
  return d;
}

}  // namespace

std::string probe_device(int index, cudaDeviceProp* prop) {
  const Discovery& d = discovery();
  if (!d.reason.empty()) return d.reason;
  if (index < 0 || index >= d.count)
    return "CUDA device " + std::to_string(index) + " does not exist (" + std::to_string(d.count) + " found)";
  cudaDeviceProp p{};
  cudaError_t e = cudaGetDeviceProperties(&p, index);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return cuda_reason(e, "cudaGetDeviceProperties");
  }
  if (p.major * 10 + p.minor < kMinCc)
    return "CUDA device " + std::to_string(index) + " (" + p.name + ") has compute capability " +
           std::to_string(p.major) + "." + std::to_string(p.minor) +
           "; bg-native's CUDA kernels need 7.5 or newer (Turing and later)";
  if (prop) *prop = p;
  return "";
}

}  // namespace cuda

std::string cuda_unavailable_reason(int index) { return cuda::probe_device(index, nullptr); }

std::shared_ptr<Gpu> open_cuda(int index) {
  static std::mutex mu;
  static std::map<int, std::weak_ptr<Gpu>> open;
  std::lock_guard<std::mutex> g(mu);
  if (auto gpu = open[index].lock()) return gpu;
  cudaDeviceProp prop{};
  std::string why = cuda::probe_device(index, &prop);
  if (!why.empty()) fail(Code::DeviceUnavailable, "device 'cuda' is not available: ", why);
  knobs::cuda_memory_limit_bytes();  // a malformed BGN_CUDA_MEMORY_LIMIT_MB fails here, before any work
  std::shared_ptr<Gpu> gpu = cuda::make_gpu(index, prop);
  open[index] = gpu;
  return gpu;
}

bool cuda_compiled() { return true; }

bool cuda_emulated() {
#if defined(BGN_CUDA_EMULATE)
  return true;
#else
  return false;
#endif
}

}  // namespace bgn
