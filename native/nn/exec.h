// The activations of the nn layers where a pass runs (Exec, backend/exec.h). On the CPU they are
// host vectors; with a Gpu every activation lives in device memory and every nn function queues
// device ops. Models keep their public forwards host-pointer in/out: they upload inputs at entry
// and download the result at exit, so a whole UNet / VAE / CLIP pass stays on the device in
// between.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "backend/exec.h"
#include "backend/gpu.h"
#include "nn/weights.h"
#include "tensor/allocator.h"

namespace bgn::nn {

// An f32 activation of n values: zero-filled host memory on the CPU (as the CPU layers always had
// it), device memory on a Gpu (uninitialised: every op writes its whole output). Host blocks come
// from the tensor allocator's cache (tensor/allocator.h): a pass allocates and frees the same
// large sizes layer after layer, and fresh pages would cost a fault per 4 KiB each time.
class Act {
 public:
  Act() = default;
  Act(const Exec& e, int64_t n);
  Act(Act&&) noexcept = default;
  Act& operator=(Act&&) noexcept = default;
  Act(const Act&) = delete;
  Act& operator=(const Act&) = delete;

  float* data() { return dev_.get() ? dev_.as<float>() : host_.as<float>(); }
  const float* data() const { return dev_.get() ? dev_.as<float>() : host_.as<float>(); }
  int64_t size() const { return n_; }
  bool on_device() const { return dev_.get() != nullptr; }

 private:
  CachedBlock host_;
  DeviceBuffer dev_;
  int64_t n_ = 0;
};

// x (n) host → an activation where e runs.
Act upload(const Exec& e, const float* x, int64_t n);
// a → host vector (a download on a Gpu, waiting for the queued ops; a move on the CPU).
std::vector<float> download(const Exec& e, Act&& a);
// Appends a's values to the host vector out.
void append_to_host(const Exec& e, const Act& a, std::vector<float>& out);
// A copy of a where e runs.
Act clone(const Exec& e, const Act& a);

// Device bytes the tensors of ws take as the Gpu caches them: 16-bit for matrices and kernels,
// f32 for vectors (biases, norm parameters).
size_t device_weight_bytes(const WeightSet& ws);
// Working memory (activations) reserved beside weights of this size.
size_t device_working_margin(size_t weight_bytes);
// Reserves weight_bytes plus the working margin on gpu (when not null), so a model that cannot
// fit fails with E_OUT_OF_MEMORY at load, before any step; `what` names it in the message.
void reserve_device(Gpu* gpu, size_t weight_bytes, const std::string& what);

}  // namespace bgn::nn
