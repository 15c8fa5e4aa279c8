// The caching device allocator (device_pool.h).
#include "backend/cuda/device_pool.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backend/cuda/cuda_kernel.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn::cuda {

namespace {

constexpr size_t kMiB = 1024 * 1024;
constexpr size_t kSmallLimit = 1 * kMiB;  // below: 512 B granularity
constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = 2 * kMiB;
// Refuse requests that could only overflow the rounding (no device has 2^60 bytes).
constexpr size_t kMaxRequest = size_t(1) << 60;

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

}  // namespace

std::string mib(size_t bytes) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return buf;
}

size_t DevicePool::round_size(size_t bytes) {
  if (bytes == 0) return 0;
  return bytes < kSmallLimit ? round_up(bytes, kSmallStep) : round_up(bytes, kLargeStep);
}

DevicePool::~DevicePool() {
  // Teardown may run after the CUDA runtime itself (static destruction): ignore its errors.
  cudaSetDevice(device_);
  cudaDeviceSynchronize();
  for (auto& f : free_) cudaFree(f.second);
  for (auto& l : live_) cudaFree(l.first);
  cudaGetLastError();
}

// Best fit among the cached blocks, within the waste allowed for this size class.
void* DevicePool::take_cached(size_t rounded) {
  auto it = free_.lower_bound(rounded);
  if (it == free_.end()) return nullptr;
  size_t max_size = rounded < kSmallLimit ? 2 * rounded : rounded + rounded / 4;
  if (it->first > max_size) return nullptr;
  void* p = it->second;
  size_t size = it->first;
  free_.erase(it);
  cached_ -= size;
  live_.emplace(p, size);
  in_use_ += size;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void DevicePool::free_cached() {
  if (free_.empty()) return;
  // A cached block may still be read by queued work of the stream that freed it.
  cudaDeviceSynchronize();
  for (auto& f : free_) cudaFree(f.second);
  free_.clear();
  cached_ = 0;
  cudaGetLastError();
}

void DevicePool::out_of_memory(size_t requested, const char* what) {
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  cudaGetLastError();
  size_t limit = knobs::cuda_memory_limit_bytes();
  std::string cap;
  if (limit) {
    // What this process may still take is bounded by the limit as well as by the device.
    size_t room = limit > in_use_ ? limit - in_use_ : 0;
    if (room < free_b) free_b = room;
    total_b = limit;
    cap = " (capped by BGN_CUDA_MEMORY_LIMIT_MB=" + std::to_string(limit / kMiB) + ")";
  }
  fail(Code::OutOfMemory, "the GPU is out of memory: ", mib(requested), " requested", what, ", ", mib(in_use_),
       " in use by bg-native, ", mib(free_b), " free of ", mib(total_b), cap,
       ". Close other programs using the GPU, lower the image size, or use device 'cpu'");
}

void* DevicePool::alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  std::lock_guard<std::mutex> g(mu_);
  if (bytes > kMaxRequest) out_of_memory(bytes, "");
  size_t rounded = round_size(bytes);
  if (void* p = take_cached(rounded)) return p;

  size_t limit = knobs::cuda_memory_limit_bytes();
  if (limit && in_use_ + cached_ + rounded > limit) {
    free_cached();
    if (in_use_ + rounded > limit) out_of_memory(bytes, "");
  }
  cudaSetDevice(device_);
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, rounded);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clear it: the retry decides
    free_cached();
    e = cudaMalloc(&p, rounded);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      out_of_memory(bytes, "");
    }
  }
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail(Code::Internal, "cudaMalloc of ", mib(rounded), " failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e),
         ")");
  }
  live_.emplace(p, rounded);
  in_use_ += rounded;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void DevicePool::release(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> g(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) return;
  size_t size = it->second;
  live_.erase(it);
  in_use_ -= size;
  free_.emplace(size, p);
  cached_ += size;
}

void DevicePool::reserve(size_t bytes) {
  std::lock_guard<std::mutex> g(mu_);
  if (bytes > kMaxRequest) out_of_memory(bytes, " for the model");
  size_t limit = knobs::cuda_memory_limit_bytes();
  if (limit && in_use_ + bytes > limit) out_of_memory(bytes, " for the model");
  cudaSetDevice(device_);
  size_t free_b = 0, total_b = 0;
  cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail(Code::Internal, "cudaMemGetInfo failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
  }
  if (bytes > free_b + cached_) out_of_memory(bytes, " for the model");
}

void DevicePool::trim() {
  std::lock_guard<std::mutex> g(mu_);
  cudaSetDevice(device_);
  free_cached();
}

size_t DevicePool::in_use() const {
  std::lock_guard<std::mutex> g(mu_);
  return in_use_;
}

size_t DevicePool::peak() const {
  std::lock_guard<std::mutex> g(mu_);
  return peak_;
}

size_t DevicePool::cached() const {
  std::lock_guard<std::mutex> g(mu_);
  return cached_;
}

}  // namespace bgn::cuda
