#include "nn/exec.h"

#include <cstring>

#include "tensor/error.h"

namespace bgn::nn {

Act::Act(const Exec& e, int64_t n) : n_(n) {
  BGN_CHECK(n >= 0, Code::Internal, "activation of negative size ", n);
  if (e.gpu) {
    if (n > 0) dev_ = e.gpu->alloc(size_t(n) * sizeof(float));
  } else if (n > 0) {
    const size_t bytes = size_t(n) * sizeof(float);
    BGN_CHECK(bytes / sizeof(float) == size_t(n), Code::OutOfMemory, "activation of ", n, " values is too large");
    host_ = CachedBlock(bytes, "an activation");
    std::memset(host_.as<float>(), 0, bytes);
  }
}

Act upload(const Exec& e, const float* x, int64_t n) {
  Act a(e, n);
  copy_from_host(e, a.data(), x, size_t(n) * sizeof(float));
  return a;
}

std::vector<float> download(const Exec& e, Act&& a) {
  if (!a.on_device()) {
    std::vector<float> h(a.data(), a.data() + a.size());
    a = Act();
    return h;
  }
  std::vector<float> h(size_t(a.size()));
  copy_to_host(e, h.data(), a.data(), h.size() * sizeof(float));
  return h;
}

void append_to_host(const Exec& e, const Act& a, std::vector<float>& out) {
  if (!a.on_device()) {
    out.insert(out.end(), a.data(), a.data() + a.size());
    return;
  }
  const size_t at = out.size();
  out.resize(at + size_t(a.size()));
  copy_to_host(e, out.data() + at, a.data(), size_t(a.size()) * sizeof(float));
}

Act clone(const Exec& e, const Act& a) {
  Act c(e, a.size());
  copy_within(e, c.data(), a.data(), size_t(a.size()) * sizeof(float));
  return c;
}

size_t device_weight_bytes(const WeightSet& ws) {
  size_t total = 0;
  for (const auto& [name, t] : ws.all()) total += size_t(t.numel()) * (t.rank() <= 1 ? 4 : 2);
  return total;
}

size_t device_working_margin(size_t weight_bytes) {
  // A quarter of the weights plus 256 MiB covers an SD pass at 512² in batch 2 (attention is
  // fused, so there are no (T, T) scores); larger passes grow the pool on demand.
  return weight_bytes / 4 + (size_t(256) << 20);
}

void reserve_device(Gpu* gpu, size_t weight_bytes, const std::string& what) {
  if (!gpu) return;
  const size_t margin = device_working_margin(weight_bytes);
  try {
    gpu->reserve(weight_bytes + margin);
  } catch (const Error& err) {
    fail(err.code(), what, " needs ", (weight_bytes + margin) >> 20, " MiB on the GPU (", weight_bytes >> 20,
         " MiB of 16-bit weights + ", margin >> 20, " MiB working memory): ", err.what());
  }
}

}  // namespace bgn::nn
