// The CUDA runtime behind the Gpu interface: one shared Gpu per device, readable reasons when a
// device cannot be used, the caching pool (reuse, accounting, the memory limit, out-of-memory as
// E_OUT_OF_MEMORY with sizes and a Gpu that still works afterwards), the weight cache (every
// dtype converted exactly as the CPU converts it; copies shared by owners and freed when the last
// owner releases them), transfers, and ops through the interface.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/gpu.h"
#include "cuda_testing.h"
#include "tensor/knobs.h"
#include "tensor/quant.h"
#include "tensor/tensor.h"
#include "testing.h"

using namespace bgn;

namespace {

constexpr size_t kMiB = 1024 * 1024;

std::shared_ptr<Gpu> gpu() { return open_cuda(0); }

using bgn_test::randn;

template <class T>
std::vector<T> download(Gpu& g, const void* p, size_t n) {
  std::vector<T> h(n);
  g.download(h.data(), p, n * sizeof(T));
  return h;
}

// The message of the bgn::Error `f` throws with `code` ("" and a failed check otherwise).
template <class F>
std::string error_of(F&& f, Code code) {
  try {
    f();
  } catch (const Error& e) {
    CHECK_MSG(e.code() == code, "threw %s: %s", code_name(e.code()), e.what());
    return e.what();
  }
  CHECK_MSG(false, "did not throw");
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sets BGN_CUDA_MEMORY_LIMIT_MB for one scope.
struct MemoryLimit {
  explicit MemoryLimit(const char* mb) { bgn::knobs::set_for_test("BGN_CUDA_MEMORY_LIMIT_MB", mb); }
  ~MemoryLimit() { bgn::knobs::reset_for_test("BGN_CUDA_MEMORY_LIMIT_MB"); }
};

Tensor tensor_f32(const std::vector<float>& v, Shape shape) {
  Tensor t = Tensor::empty(DType::F32, std::move(shape));
  std::memcpy(t.raw(), v.data(), v.size() * 4);
  return t;
}

}  // namespace

// ---- devices ---------------------------------------------------------------------------------------

TEST("opening the same device twice gives the same Gpu") {
  auto a = open_cuda(0);
  auto b = open_cuda(0);
  CHECK(a && a.get() == b.get());
  CHECK(cuda_compiled());
  CHECK(cuda_unavailable_reason(0).empty());
}

TEST("a device index that does not exist is E_DEVICE_UNAVAILABLE naming how many there are") {
  std::string why = cuda_unavailable_reason(64);
  CHECK_MSG(contains(why, "CUDA device 64 does not exist (") && contains(why, "found)"), "%s", why.c_str());
  std::string msg = error_of([] { open_cuda(64); }, Code::DeviceUnavailable);
  CHECK_MSG(contains(msg, "device 'cuda' is not available: CUDA device 64 does not exist"), "%s", msg.c_str());
  CHECK(contains(cuda_unavailable_reason(-1), "CUDA device -1 does not exist"));
}

TEST("info() names the device, its compute capability, memory and GEMM path") {
  GpuInfo i = gpu()->info();
  CHECK(!i.name.empty());
  CHECK(i.index == 0);
  CHECK(i.cc_major * 10 + i.cc_minor >= 75);
  CHECK(i.total_memory > 0 && i.free_memory <= i.total_memory);
  CHECK_MSG(i.gemm == "cublasLt" || i.gemm == "cublas" || i.gemm == "tensor-core kernel", "%s", i.gemm.c_str());
  CHECK(i.emulated == cuda_emulated());
  if (cuda_emulated()) CHECK(i.gemm == "tensor-core kernel");
}

TEST("a malformed BGN_CUDA_MEMORY_LIMIT_MB is E_CONFIG naming the value") {
  MemoryLimit limit("12GB");
  std::string msg = error_of([] { gpu()->alloc(1000); }, Code::Config);
  CHECK_MSG(contains(msg, "BGN_CUDA_MEMORY_LIMIT_MB") && contains(msg, "'12GB'"), "%s", msg.c_str());
}

// ---- the pool ----------------------------------------------------------------------------------------

TEST("freed blocks are reused and bytes_in_use returns to where it was") {
  auto g = gpu();
  const size_t base = g->bytes_in_use();
  void* small = nullptr;
  {
    DeviceBuffer b = g->alloc(1000);
    CHECK(b.get() && b.bytes() == 1000);
    CHECK(g->bytes_in_use() == base + 1024);  // 512 B granularity below 1 MiB
    CHECK(g->peak_bytes() >= base + 1024);
    small = b.get();
  }
  CHECK(g->bytes_in_use() == base);
  {
    DeviceBuffer b = g->alloc(700);  // rounds to 1024 as well: the same block
    CHECK(b.get() == small);
  }
  void* large = nullptr;
  {
    DeviceBuffer b = g->alloc(3 * kMiB + 1);  // 2 MiB granularity above
    CHECK(g->bytes_in_use() == base + 4 * kMiB);
    CHECK(g->peak_bytes() >= base + 4 * kMiB);
    large = b.get();
  }
  {
    DeviceBuffer b = g->alloc(4 * kMiB);
    CHECK(b.get() == large);
    DeviceBuffer c = g->alloc(100 * 1024);  // never a 4 MiB block for 100 KiB
    CHECK(c.get() != large && c.get() != nullptr);
    DeviceBuffer moved = std::move(c);  // ownership moves, the block is released once
    CHECK(moved.get() && !c.get());
  }
  CHECK(g->bytes_in_use() == base);
  DeviceBuffer none = g->alloc(0);
  CHECK(none.get() == nullptr && g->bytes_in_use() == base);
}

TEST("BGN_CUDA_MEMORY_LIMIT_MB makes reserve and alloc fail with E_OUT_OF_MEMORY and sizes") {
  auto g = gpu();
  const size_t base = g->bytes_in_use();
  MemoryLimit limit("16");
  std::string msg = error_of([&] { g->reserve(32 * kMiB); }, Code::OutOfMemory);
  CHECK_MSG(contains(msg, "the GPU is out of memory: 32.0 MiB requested") && contains(msg, "in use by bg-native") &&
                contains(msg, "free of 16.0 MiB") && contains(msg, "BGN_CUDA_MEMORY_LIMIT_MB=16"),
            "%s", msg.c_str());
  std::printf("    reserve: %s\n", msg.c_str());
  msg = error_of([&] { g->alloc(20 * kMiB); }, Code::OutOfMemory);
  CHECK_MSG(contains(msg, "20.0 MiB requested"), "%s", msg.c_str());
  CHECK(g->bytes_in_use() == base);
  // What fits still works, up to the limit counting what is held.
  g->reserve(4 * kMiB);
  DeviceBuffer a = g->alloc(6 * kMiB);
  CHECK(a.get() && g->bytes_in_use() == base + 6 * kMiB);
  CHECK_THROWS_CODE(g->alloc(12 * kMiB), Code::OutOfMemory);
  DeviceBuffer b = g->alloc(2 * kMiB);
  CHECK(b.get());
}

TEST("a request larger than the device is E_OUT_OF_MEMORY, and the Gpu works afterwards") {
  auto g = gpu();
  const size_t base = g->bytes_in_use();
  const size_t total = g->info().total_memory;
  std::string msg = error_of([&] { g->reserve(total + kMiB); }, Code::OutOfMemory);
  CHECK_MSG(contains(msg, "requested") && contains(msg, "free of"), "%s", msg.c_str());
  msg = error_of([&] { g->alloc(total + 64 * kMiB); }, Code::OutOfMemory);
  CHECK_MSG(contains(msg, "the GPU is out of memory: ") && contains(msg, "MiB in use by bg-native"), "%s", msg.c_str());
  std::printf("    alloc: %s\n", msg.c_str());
  CHECK(g->bytes_in_use() == base);
  std::vector<float> x = randn(513, 1);
  DeviceBuffer d = g->alloc(x.size() * 4);
  g->upload(d.get(), x.data(), x.size() * 4);
  CHECK(download<float>(*g, d.get(), x.size()) == x);
}

TEST("buffers allocated and freed from several threads at once are all accounted for") {
  auto g = gpu();
  const size_t base = g->bytes_in_use();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&g, t] {
      for (int i = 0; i < 200; ++i) {
        DeviceBuffer a = g->alloc(512 * (1 + (i + t) % 7)), b = g->alloc(3000);
        std::swap(a, b);
      }
    });
  for (auto& th : threads) th.join();
  CHECK(g->bytes_in_use() == base);
}

// ---- transfers and ops -------------------------------------------------------------------------------

TEST("upload, copy and download round-trip bit for bit") {
  auto g = gpu();
  std::vector<float> x = randn(4099, 2);
  DeviceBuffer a = g->alloc(x.size() * 4), b = g->alloc(x.size() * 4);
  g->upload(a.get(), x.data(), x.size() * 4);
  g->copy(b.get(), a.get(), x.size() * 4);
  g->synchronize();
  CHECK(download<float>(*g, b.get(), x.size()) == x);
  // A sub-range at an offset.
  std::vector<float> part(100);
  g->download(part.data(), a.as<float>() + 17, 400);
  CHECK(std::memcmp(part.data(), x.data() + 17, 400) == 0);
  g->upload(nullptr, nullptr, 0);  // nothing to do
}

TEST("add through the Gpu interface equals a + b, in place too") {
  auto g = gpu();
  const int64_t n = 1027;  // not a multiple of any block or vector width
  std::vector<float> a = randn(n, 3), b = randn(n, 4);
  DeviceBuffer da = g->alloc(n * 4), db = g->alloc(n * 4), dy = g->alloc(n * 4);
  g->upload(da.get(), a.data(), n * 4);
  g->upload(db.get(), b.data(), n * 4);
  auto lock = g->lock();  // ops take the device lock again (recursive)
  g->add(da.as<float>(), db.as<float>(), dy.as<float>(), n);
  g->add(da.as<float>(), db.as<float>(), da.as<float>(), n);
  std::vector<float> y = download<float>(*g, dy.get(), n), y2 = download<float>(*g, da.get(), n);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += y[i] != a[i] + b[i] || y2[i] != a[i] + b[i];
  CHECK_MSG(bad == 0, "%d of %lld sums differ", bad, (long long)n);
}

// y (M, out) = x (M, in) · w (out, in)ᵀ + bias with f16 weights: against a double sum of the
// f16-rounded operands; only the f32 summation order differs (|Δ| ≤ 1e-4 · Σ|x·w|), while a wrong
// stride, transpose or missing bias is off by O(1).
TEST("linear through the Gpu interface, with its scratch, matches the f16-rounded product") {
  auto g = gpu();
  const int64_t M = 5, in = 40, out = 7;
  std::vector<float> x = randn(M * in, 5), w = randn(out * in, 6, 0.2f), bias = randn(out, 7);
  Tensor wt = tensor_f32(w, {out, in}), bt = tensor_f32(bias, {out});
  Gpu::Weight dw = g->weight(wt, false, nullptr), db = g->weight(bt, true, nullptr);
  CHECK(dw.dtype == DType::F16 && db.dtype == DType::F32);
  DeviceBuffer dx = g->alloc(x.size() * 4), dy = g->alloc(M * out * 4);
  g->upload(dx.get(), x.data(), x.size() * 4);
  g->linear(dx.as<float>(), M, in, dw.p, dw.dtype, static_cast<const float*>(db.p), out, dy.as<float>());
  std::vector<float> y = download<float>(*g, dy.get(), M * out);
  double worst = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t o = 0; o < out; ++o) {
      double s = bias[o], mag = std::fabs(bias[o]);
      for (int64_t k = 0; k < in; ++k) {
        double p = double(f16_to_f32(f32_to_f16(x[m * in + k]))) * f16_to_f32(f32_to_f16(w[o * in + k]));
        s += p;
        mag += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(y[m * out + o] - s) / mag);
    }
  CHECK_MSG(worst <= 1e-4, "max |Δ| / Σ|x·w| = %g", worst);
  std::printf("    linear: max |Δ| / Σ|x·w| = %.3g\n", worst);
}

// ---- the weight cache ----------------------------------------------------------------------------------

TEST("f16 and bf16 weights keep their bits; wide copies equal convert_to_f32") {
  auto g = gpu();
  const int64_t n = 37 * 19;
  std::vector<float> v = randn(n, 8);
  for (DType dt : {DType::F16, DType::BF16}) {
    Tensor t = Tensor::empty(dt, {37, 19});
    for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = dt == DType::F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
    Gpu::Weight narrow = g->weight(t, false, nullptr), wide = g->weight(t, true, nullptr);
    CHECK(narrow.dtype == dt && wide.dtype == DType::F32);
    CHECK(std::memcmp(download<uint16_t>(*g, narrow.p, n).data(), t.raw(), n * 2) == 0);
    std::vector<float> ref(n);
    convert_to_f32(dt, t.raw(), ref.data(), n);
    CHECK(download<float>(*g, wide.p, n) == ref);
  }
}

TEST("f32, f64 and q8_0 weights become f16 as f32_to_f16 rounds them; wide keeps f32") {
  auto g = gpu();
  const int64_t n = 6 * 64;
  std::vector<float> v = randn(n, 9, 3.f);
  Tensor f32 = tensor_f32(v, {6, 64});
  Tensor f64 = Tensor::empty(DType::F64, {6, 64});
  for (int64_t i = 0; i < n; ++i) f64.data<double>()[i] = double(v[i]) + 1e-9;
  Tensor q8 = Tensor::empty(DType::Q8_0, {6, 64});
  quant::quantize(DType::Q8_0, v.data(), q8.raw(), n);
  std::vector<float> deq(n);
  quant::dequantize(DType::Q8_0, q8.raw(), deq.data(), n);
  auto halves = [](const std::vector<float>& f) {
    std::vector<uint16_t> h(f.size());
    for (size_t i = 0; i < f.size(); ++i) h[i] = f32_to_f16(f[i]);
    return h;
  };
  std::vector<float> v64(n);
  for (int64_t i = 0; i < n; ++i) v64[i] = static_cast<float>(f64.data<double>()[i]);
  CHECK(download<uint16_t>(*g, g->weight(f32, false, nullptr).p, n) == halves(v));
  CHECK(download<float>(*g, g->weight(f32, true, nullptr).p, n) == v);
  CHECK(download<uint16_t>(*g, g->weight(f64, false, nullptr).p, n) == halves(v64));
  CHECK(download<float>(*g, g->weight(f64, true, nullptr).p, n) == v64);
  Gpu::Weight q = g->weight(q8, false, nullptr);
  CHECK(q.dtype == DType::F16);
  CHECK(download<uint16_t>(*g, q.p, n) == halves(deq));
  CHECK(download<float>(*g, g->weight(q8, true, nullptr).p, n) == deq);
}

TEST("a weight larger than one conversion chunk converts every chunk") {
  auto g = gpu();
  const int64_t n = (int64_t(1) << 20) + 96;
  Tensor t = Tensor::empty(DType::F16, {n});
  std::mt19937 rng(10);
  for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = f32_to_f16(float(rng() % 2001) / 100.f - 10.f);
  std::vector<float> ref(n);
  convert_to_f32(DType::F16, t.raw(), ref.data(), n);
  CHECK(download<float>(*g, g->weight(t, true, nullptr).p, n) == ref);
  g->drop_weights();
}

TEST("weights are cached per tensor and kind; drop_weights frees them") {
  auto g = gpu();
  g->drop_weights();
  const size_t base = g->bytes_in_use();
  std::vector<float> v = randn(300, 11);
  Tensor t = tensor_f32(v, {300});
  Gpu::Weight a = g->weight(t, false, nullptr), b = g->weight(t, false, nullptr), c = g->weight(t, true, nullptr);
  CHECK(a.p == b.p && a.p != c.p);
  CHECK(g->weight_bytes() == 300 * 2 + 300 * 4);
  CHECK(g->bytes_in_use() > base);
  // Another tensor at the same address (a view of another dtype) is not served the old copy; it
  // gets its own, and the first stays valid beside it.
  Tensor as_f16 = Tensor::view(DType::F16, {600}, t.raw(), nullptr);
  std::vector<uint16_t> raw(600);
  std::memcpy(raw.data(), t.raw(), 1200);
  Gpu::Weight d = g->weight(as_f16, false, nullptr);
  CHECK(d.p != a.p && d.p != c.p);
  CHECK(download<uint16_t>(*g, d.p, 600) == raw);
  CHECK(g->weight_bytes() == 300 * 2 + 600 * 2 + 300 * 4);
  CHECK(g->weight(t, false, nullptr).p == a.p);
  g->drop_weights();
  CHECK(g->weight_bytes() == 0);
  CHECK(g->bytes_in_use() == base);
  Tensor empty = Tensor::empty(DType::F16, {0, 8});
  CHECK(g->weight(empty, false, nullptr).p == nullptr);
}

// Two owners of one tensor share one copy; releasing one keeps it (same pointer, same bits) and
// frees only what no other owner uses; releasing the last frees it and the pool is back to where
// it was. A wrong owner count (freeing on the first release, or never) fails the byte checks.
TEST("weights are shared by owners and freed when the last owner releases them") {
  auto g = gpu();
  g->drop_weights();
  const size_t base = g->bytes_in_use();
  const int owner_a = 0, owner_b = 0;
  const void* A = &owner_a;
  const void* B = &owner_b;
  std::vector<float> v = randn(300, 12), u = randn(200, 13);
  Tensor t = tensor_f32(v, {300}), s = tensor_f32(u, {200});
  std::vector<uint16_t> t16(300);
  for (size_t i = 0; i < 300; ++i) t16[i] = f32_to_f16(v[i]);

  Gpu::Weight ta = g->weight(t, false, A), tb = g->weight(t, false, B);
  CHECK(ta.p == tb.p);  // uploaded once
  g->weight(s, true, A);
  g->weight(t, false, A);  // asking twice does not make A a double owner
  CHECK(g->weight_bytes() == 300 * 2 + 200 * 4);
  CHECK(g->weight_bytes(A) == 300 * 2 + 200 * 4);
  CHECK(g->weight_bytes(B) == 300 * 2);
  const size_t both = g->bytes_in_use();
  CHECK(both > base);

  g->release_weights(A);  // s is A's alone: freed; t is still B's: kept
  CHECK(g->weight_bytes() == 300 * 2);
  CHECK(g->weight_bytes(A) == 0);
  CHECK(g->weight_bytes(B) == 300 * 2);
  CHECK(g->bytes_in_use() > base && g->bytes_in_use() < both);
  CHECK(download<uint16_t>(*g, tb.p, 300) == t16);
  CHECK(g->weight(t, false, B).p == tb.p);  // still resident: no new upload
  CHECK(g->weight_bytes() == 300 * 2);
  g->release_weights(A);  // again: nothing of A's left, B's untouched
  CHECK(g->weight_bytes(B) == 300 * 2);

  g->release_weights(B);
  CHECK(g->weight_bytes() == 0);
  CHECK(g->weight_bytes(B) == 0);
  CHECK(g->bytes_in_use() == base);

  // Null is an owner like any other: released by its own token only.
  g->weight(t, false, nullptr);
  g->weight(t, true, A);
  g->release_weights(A);
  CHECK(g->weight_bytes() == 300 * 2);
  CHECK(g->weight_bytes(nullptr) == 300 * 2);
  g->release_weights(nullptr);
  CHECK(g->weight_bytes() == 0);
  CHECK(g->bytes_in_use() == base);

  // drop_weights frees every copy, whoever owns it.
  g->weight(t, false, A);
  g->weight(s, false, B);
  g->drop_weights();
  CHECK(g->weight_bytes() == 0 && g->weight_bytes(A) == 0 && g->weight_bytes(B) == 0);
  CHECK(g->bytes_in_use() == base);
  g->release_weights(A);  // after a drop: nothing to do
  CHECK(g->bytes_in_use() == base);
}

TEST("an integer weight is E_MODEL_UNSUPPORTED naming its dtype") {
  Tensor t = Tensor::zeros(DType::I8, {4});
  std::string msg = error_of([&] { gpu()->weight(t, false, nullptr); }, Code::ModelUnsupported);
  CHECK_MSG(contains(msg, dtype_name(DType::I8)), "%s", msg.c_str());
}

int main() {
  bgn::testing::require_cuda_device("test_cuda_runtime");
  return bgn_test::run_all();
}
