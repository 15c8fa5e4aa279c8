// The Gpu of one CUDA device (backend/gpu.h): its own non-blocking stream, the caching pool, a
// weight cache, the GEMM engine and one growing scratch buffer. Every op forwards to the
// launcher of the same name in kernels.h on the device's stream; nothing here synchronises but
// download(), upload() and synchronize().
#include <algorithm>
#include <atomic>
#include <cstring>
#include <iterator>
#include <unordered_map>
#include <vector>

#include "backend/cuda/device_pool.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/runtime.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

// Weights are converted on the host this many elements at a time (a multiple of every GGUF block
// size), so a 2 GB checkpoint never needs a second full-size host copy.
constexpr int64_t kConvertChunk = int64_t(1) << 20;

// The scratch a GEMM or convolution uses for one call; grows, never shrinks (until drop).
class Scratch final : public Workspace {
 public:
  explicit Scratch(DevicePool& pool) : pool_(pool) {}
  ~Scratch() override { drop(); }
  void* scratch(size_t bytes) override {
    if (bytes <= cap_ && p_) return p_;
    // Give the old block back first so the pool can reuse or free it for the larger one; the
    // stream orders the kernels that used it before any that will use its successor.
    drop();
    p_ = pool_.alloc(bytes);
    cap_ = bytes;
    return p_;
  }
  void drop() {
    pool_.release(p_);
    p_ = nullptr;
    cap_ = 0;
  }

 private:
  DevicePool& pool_;
  void* p_ = nullptr;
  size_t cap_ = 0;
};

bool weight_dtype_ok(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64 || dtype_is_block(t);
}

// n elements of t starting at element `off` → f32 (block types: off and n multiples of the block).
void host_to_f32(const Tensor& t, int64_t off, int64_t n, float* dst) {
  const char* src = static_cast<const char*>(t.raw()) + dtype_bytes(t.dtype(), off);
  if (t.dtype() == DType::F64) {
    const double* d = reinterpret_cast<const double*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(d[i]);
    return;
  }
  convert_to_f32(t.dtype(), src, dst, n);
}

// A cached copy is found by the host data's address and what the device holds of it. The source
// dtype and length are part of the key: two views of one buffer (an f32 tensor and an f16 view of
// the same bytes) are different weights, each with its own copy and owners.
struct WeightKey {
  const void* raw;
  bool wide;
  DType src;
  int64_t numel;
  bool operator==(const WeightKey& o) const {
    return raw == o.raw && wide == o.wide && src == o.src && numel == o.numel;
  }
};
struct WeightKeyHash {
  size_t operator()(const WeightKey& k) const {
    size_t h = std::hash<const void*>()(k.raw);
    h = h * 31 + std::hash<int64_t>()(k.numel);
    return h * 64 + static_cast<size_t>(k.src) * 2 + k.wide;
  }
};
struct WeightCopy {
  // Shares the host tensor's storage: while the copy is cached that memory cannot be freed and
  // its address reused by another tensor (which would otherwise be served this stale copy).
  Tensor host;
  void* p = nullptr;
  DType dtype = DType::F16;  // on the device
  size_t bytes = 0;
  // Who asked for it (each once); the copy is freed when the last one releases it. Few per copy
  // (the handles of one model or graph), so a vector.
  std::vector<const void*> owners;
};

class CudaGpu final : public Gpu {
 public:
  CudaGpu(int index, const cudaDeviceProp& prop) : index_(index), prop_(prop), pool_(index) {
    check(cudaSetDevice(index_), "cudaSetDevice");
    // Non-blocking: other code's work on the legacy default stream never serialises with ours.
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    gemm_ = std::make_unique<GemmEngine>(stream_);
  }

  ~CudaGpu() override {
    cudaSetDevice(index_);
    cudaStreamSynchronize(stream_);
    for (auto& w : weights_) pool_.release(w.second.p);
    weights_.clear();
    scratch_.drop();
    gemm_.reset();
    cudaStreamDestroy(stream_);
    cudaGetLastError();
  }

  GpuInfo info() override {
    auto l = enter();
    GpuInfo i;
    i.name = prop_.name;
    i.index = index_;
    i.cc_major = prop_.major;
    i.cc_minor = prop_.minor;
    check(cudaMemGetInfo(&i.free_memory, &i.total_memory), "cudaMemGetInfo");
    i.gemm = gemm_->path();
    i.emulated = cuda_emulated();
    return i;
  }

  std::unique_lock<std::recursive_mutex> lock() override { return std::unique_lock<std::recursive_mutex>(mu_); }

  // ---- memory ----------------------------------------------------------------------------------
  DeviceBuffer alloc(size_t bytes) override { return DeviceBuffer(this, pool_.alloc(bytes), bytes); }
  void release(void* p, size_t) override { pool_.release(p); }
  void reserve(size_t bytes) override { pool_.reserve(bytes); }
  size_t bytes_in_use() const override { return pool_.in_use(); }
  size_t peak_bytes() const override { return pool_.peak(); }

  // upload/download are synchronous: the caller may reuse `src` / read `dst` once they return.
  void upload(void* dst, const void* src, size_t bytes) override {
    transfer(dst, src, bytes, cudaMemcpyHostToDevice, "upload", true);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    transfer(dst, src, bytes, cudaMemcpyDeviceToHost, "download", true);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    transfer(dst, src, bytes, cudaMemcpyDeviceToDevice, "copy", false);
  }
  void transfer(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what, bool wait) {
    if (bytes == 0) return;
    BGN_CHECK(dst && src, Code::Internal, "Gpu::", what, " of ", bytes, " bytes with a null pointer");
    auto l = enter();
    check(cudaMemcpyAsync(dst, src, bytes, kind, stream_), what);
    if (wait) check(cudaStreamSynchronize(stream_), what);
  }
  void synchronize() override {
    auto l = enter();
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  }

  // ---- weights ---------------------------------------------------------------------------------
  Weight weight(const Tensor& t, bool wide, const void* owner) override {
    BGN_CHECK(weight_dtype_ok(t.dtype()), Code::ModelUnsupported, "a weight of dtype ", dtype_name(t.dtype()),
              " cannot be used on the GPU (float or GGUF block types only)");
    DType out = wide ? DType::F32 : t.dtype() == DType::BF16 ? DType::BF16 : DType::F16;
    if (t.numel() == 0) return Weight{nullptr, out};
    BGN_CHECK(t.raw(), Code::Internal, "Gpu::weight of a tensor without data");
    auto l = enter();
    WeightKey key{t.raw(), wide, t.dtype(), t.numel()};
    auto it = weights_.find(key);
    if (it != weights_.end()) {
      add_owner(it->second, owner);
      return Weight{it->second.p, out};
    }
    WeightCopy c;
    c.host = t;
    c.dtype = out;
    c.bytes = static_cast<size_t>(t.numel()) * dtype_size(out);
    c.owners.push_back(owner);
    c.p = pool_.alloc(c.bytes);
    try {
      upload_weight(t, c);
    } catch (...) {
      pool_.release(c.p);
      throw;
    }
    weights_.emplace(key, c);
    weight_bytes_ += c.bytes;
    return Weight{c.p, out};
  }
  // Never throws: destructors call it. (No checked cudaSetDevice as in enter(); a device that
  // fails here has already failed the work that used these copies.)
  void release_weights(const void* owner) override {
    std::lock_guard<std::recursive_mutex> l(mu_);
    cudaSetDevice(index_);
    for (auto it = weights_.begin(); it != weights_.end();) {
      std::vector<const void*>& o = it->second.owners;
      o.erase(std::remove(o.begin(), o.end(), owner), o.end());
      it = o.empty() ? forget(it) : std::next(it);
    }
  }
  size_t weight_bytes() const override { return weight_bytes_; }
  size_t weight_bytes(const void* owner) const override {
    std::lock_guard<std::recursive_mutex> l(mu_);
    size_t n = 0;
    for (const auto& w : weights_) {
      const std::vector<const void*>& o = w.second.owners;
      if (std::find(o.begin(), o.end(), owner) != o.end()) n += w.second.bytes;
    }
    return n;
  }
  void drop_weights() override {
    auto l = enter();
    while (!weights_.empty()) forget(weights_.begin());
  }

  // ---- ops -------------------------------------------------------------------------------------
  void linear(const float* x, int64_t M, int64_t in, const void* w, DType wdtype, const float* bias, int64_t out,
              float* y) override {
    auto l = enter();
    cuda::linear(*gemm_, scratch_, stream_, x, M, in, w, wdtype, bias, out, y);
  }
  void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
             const float* B, int64_t ldb, float beta, float* C, int64_t ldc) override {
    auto l = enter();
    cuda::sgemm(*gemm_, scratch_, stream_, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void conv2d(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const void* w, DType wdtype, int64_t O,
              int64_t KH, int64_t KW, const float* bias, const cpu::Conv2dParams& p, float* y, int64_t OH,
              int64_t OW) override {
    auto l = enter();
    cuda::conv2d(*gemm_, scratch_, stream_, x, N, C, H, W, w, wdtype, O, KH, KW, bias, p, y, OH, OW);
  }
  void group_norm(const float* x, int64_t N, int64_t C, int64_t S, int64_t groups, const float* gamma,
                  const float* beta, float eps, bool silu, float* y) override {
    auto l = enter();
    cuda::group_norm(stream_, x, N, C, S, groups, gamma, beta, eps, silu, y);
  }
  void layer_norm(const float* x, int64_t M, int64_t C, const float* gamma, const float* beta, float eps,
                  float* y) override {
    auto l = enter();
    cuda::layer_norm(stream_, x, M, C, gamma, beta, eps, y);
  }
  void activation(cpu::Act act, const float* x, float* y, int64_t n) override {
    auto l = enter();
    cuda::activation(stream_, act, x, y, n);
  }
  void relu(const float* x, float* y, int64_t n) override {
    auto l = enter();
    cuda::relu(stream_, x, y, n);
  }
  void sigmoid(const float* x, float* y, int64_t n) override {
    auto l = enter();
    cuda::sigmoid(stream_, x, y, n);
  }
  void geglu(const float* x, int64_t M, int64_t F, float* y) override {
    auto l = enter();
    cuda::geglu(stream_, x, M, F, y);
  }
  void add(const float* a, const float* b, float* y, int64_t n) override {
    auto l = enter();
    cuda::add(stream_, a, b, y, n);
  }
  void add_rows(float* x, const float* v, int64_t R, int64_t S) override {
    auto l = enter();
    cuda::add_rows(stream_, x, v, R, S);
  }
  void binary(cpu::BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
              const int64_t* b_shape, int b_rank, float* y, const int64_t* y_shape, int y_rank) override {
    auto l = enter();
    cuda::binary(stream_, op, a, a_shape, a_rank, b, b_shape, b_rank, y, y_shape, y_rank);
  }
  void batchnorm(const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias,
                 const float* mean, const float* var, float eps, float* y) override {
    auto l = enter();
    cuda::batchnorm(stream_, x, N, C, S, scale, bias, mean, var, eps, y);
  }
  void transpose(const float* x, int64_t B, int64_t R, int64_t C, float* y) override {
    auto l = enter();
    cuda::transpose(stream_, x, B, R, C, y);
  }
  void concat(const void* const* inputs, const int64_t* bytes, int count, int64_t outer, void* y) override {
    auto l = enter();
    cuda::concat(stream_, inputs, bytes, count, outer, y);
  }
  void upsample_nearest(const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW) override {
    auto l = enter();
    cuda::upsample_nearest(stream_, x, NC, H, W, y, OH, OW);
  }
  void resize2d(const float* x, int64_t NC, int64_t H, int64_t W, const cpu::ResizeParams& p, float* y, int64_t OH,
                int64_t OW) override {
    auto l = enter();
    cuda::resize2d(stream_, x, NC, H, W, p, y, OH, OW);
  }
  void maxpool2d(const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p, float* y, int64_t OH,
                 int64_t OW) override {
    auto l = enter();
    cuda::maxpool2d(stream_, x, NC, H, W, p, y, OH, OW);
  }
  void avgpool2d(const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p, bool count_include_pad,
                 float* y, int64_t OH, int64_t OW) override {
    auto l = enter();
    cuda::avgpool2d(stream_, x, NC, H, W, p, count_include_pad, y, OH, OW);
  }
  void attention(const float* q, const float* k, const float* v, float* o, const cpu::AttentionShape& s) override {
    auto l = enter();
    cuda::attention(stream_, q, k, v, o, s);
  }

 private:
  // Every call holds the device lock (recursive: a caller may hold it around a whole pass) and
  // makes this device current on the calling thread (worker threads start on device 0).
  std::unique_lock<std::recursive_mutex> enter() {
    std::unique_lock<std::recursive_mutex> l(mu_);
    check(cudaSetDevice(index_), "cudaSetDevice");
    return l;
  }

  using WeightMap = std::unordered_map<WeightKey, WeightCopy, WeightKeyHash>;

  static void add_owner(WeightCopy& c, const void* owner) {
    if (std::find(c.owners.begin(), c.owners.end(), owner) == c.owners.end()) c.owners.push_back(owner);
  }

  // Frees one copy; the stream orders it after the kernels already queued that read it.
  WeightMap::iterator forget(WeightMap::iterator it) {
    pool_.release(it->second.p);
    weight_bytes_ -= it->second.bytes;
    return weights_.erase(it);
  }

  // The host tensor → c.p: raw bytes when the dtype is kept, else converted on the host in
  // chunks (any float or GGUF block type → f32, then → f16 when narrow).
  void upload_weight(const Tensor& t, const WeightCopy& c) {
    char* dst = static_cast<char*>(c.p);
    if (c.dtype == t.dtype()) {
      upload(dst, t.raw(), c.bytes);
      return;
    }
    BGN_CHECK(!dtype_is_block(t.dtype()) || t.numel() % dtype_block(t.dtype()) == 0, Code::ModelFormat, "a ",
              dtype_name(t.dtype()), " weight of ", t.numel(), " values is not whole blocks of ",
              dtype_block(t.dtype()));
    const int64_t n = t.numel();
    std::vector<float> f32(static_cast<size_t>(std::min(n, kConvertChunk)));
    std::vector<uint16_t> h16(c.dtype == DType::F32 ? 0 : f32.size());
    for (int64_t off = 0; off < n; off += kConvertChunk) {
      int64_t len = std::min(kConvertChunk, n - off);
      host_to_f32(t, off, len, f32.data());
      if (c.dtype == DType::F32) {
        upload(dst + off * 4, f32.data(), static_cast<size_t>(len) * 4);
      } else {
        for (int64_t i = 0; i < len; ++i) h16[i] = f32_to_f16(f32[i]);
        upload(dst + off * 2, h16.data(), static_cast<size_t>(len) * 2);
      }
    }
  }

  const int index_;
  const cudaDeviceProp prop_;
  mutable std::recursive_mutex mu_;  // mutable: const queries of the weight cache hold it too
  DevicePool pool_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<GemmEngine> gemm_;
  Scratch scratch_{pool_};
  WeightMap weights_;
  std::atomic<size_t> weight_bytes_{0};
};

}  // namespace

std::shared_ptr<Gpu> make_gpu(int index, const cudaDeviceProp& prop) { return std::make_shared<CudaGpu>(index, prop); }

}  // namespace bgn::cuda
