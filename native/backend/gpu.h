// Gpu: a device the nn layers can run on. backend/cuda implements it (on an NVIDIA GPU, or on the
// CPU emulation of the CUDA execution model that the kernel tests use); a build without CUDA
// links backend/gpu_absent.cpp, whose open_cuda() says why there is none.
//
// Every pointer an op takes is device memory. Activations are f32; matrix and convolution
// weights are 16-bit (F16, or BF16 when the file is bf16) and products accumulate in f32.
// The ops carry the names and argument order of backend/cpu (the test oracle for each one).
// Ops are queued on the device's stream; download() waits for them. Nothing here throws from
// a kernel: launch and allocation failures become bgn::Error (E_OUT_OF_MEMORY when the device
// is full, E_INTERNAL otherwise).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "backend/cpu/nn_ops.h"
#include "backend/cpu/ops.h"
#include "tensor/device_buffer.h"
#include "tensor/tensor.h"

namespace bgn {

struct GpuInfo {
  std::string name;  // "NVIDIA H200", "CUDA emulator (CPU)"
  int index = 0;     // device ordinal
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;  // bytes on the device
  size_t free_memory = 0;   // bytes free when asked
  std::string gemm;         // the GEMM path live: "cublasLt", "cublas" or "tensor-core kernel"
  bool emulated = false;
};

class Gpu : public DeviceAllocator {
 public:
  virtual ~Gpu() = default;
  virtual GpuInfo info() = 0;
  // One forward pass at a time per device: a caller holds this lock around a whole pass (the
  // ops share the device's stream and scratch memory).
  virtual std::unique_lock<std::recursive_mutex> lock() = 0;

  // ---- memory --------------------------------------------------------------------------------
  // From the device pool; E_OUT_OF_MEMORY (naming the size and what is free) when it cannot.
  virtual DeviceBuffer alloc(size_t bytes) = 0;
  void release(void* p, size_t bytes) override = 0;  // DeviceBuffer's deleter
  // Raises the pool's limit up front (model weights + activations); E_OUT_OF_MEMORY when the
  // device cannot hold that much, so a caller can fall back before any work starts.
  virtual void reserve(size_t bytes) = 0;
  virtual size_t bytes_in_use() const = 0;
  virtual size_t peak_bytes() const = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;    // host → device
  virtual void download(void* dst, const void* src, size_t bytes) = 0;  // device → host; waits
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;      // device → device
  virtual void synchronize() = 0;

  // The device copy of a weight tensor, made on first use and kept until every owner that asked
  // for it has released it. F32 → the f32 data (norm parameters, biases); any float or GGUF block
  // type → 16-bit (bf16 stays bf16, everything else becomes f16). Returns the device pointer and
  // its dtype. `owner` is an opaque token (a model's `this`, a Segmenter's `this`; null is a
  // token too): one copy per (tensor, wide) serves every owner, so a tensor two handles use is
  // uploaded once. The copy keeps the host tensor alive, so its address cannot be reused by
  // another tensor while the copy is cached.
  struct Weight {
    const void* p = nullptr;
    DType dtype = DType::F16;
  };
  virtual Weight weight(const Tensor& t, bool wide, const void* owner) = 0;  // wide: keep/convert to F32
  // Drops `owner` from every cached copy and frees the copies no other owner still uses (a model's
  // destructor calls it, so the other models on the device keep their weights resident). Never
  // throws.
  virtual void release_weights(const void* owner) = 0;
  virtual size_t weight_bytes() const = 0;  // every cached copy, once each
  // The bytes of the copies `owner` uses (a copy shared with other owners counts for each).
  virtual size_t weight_bytes(const void* owner) const = 0;
  virtual void drop_weights() = 0;  // frees every cached copy, whoever owns it (tests, full release)

  // ---- ops (shapes as in backend/cpu) ----------------------------------------------------------
  // y (M, out) = x (M, in) · w (out, in)ᵀ + bias (out); w 16-bit of wdtype, bias f32 or null.
  virtual void linear(const float* x, int64_t M, int64_t in, const void* w, DType wdtype, const float* bias,
                      int64_t out, float* y) = 0;
  // C (M, N) = alpha · op(A) · op(B) + beta · C; A, B f32 (rounded to f16 operands), C f32.
  virtual void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) = 0;
  // x (N, C, H, W) f32, w (O, C/groups, KH, KW) 16-bit, bias (O) f32 or null → y (N, O, OH, OW).
  virtual void conv2d(const float* x, int64_t N, int64_t C, int64_t H, int64_t W, const void* w, DType wdtype,
                      int64_t O, int64_t KH, int64_t KW, const float* bias, const cpu::Conv2dParams& p, float* y,
                      int64_t OH, int64_t OW) = 0;
  virtual void group_norm(const float* x, int64_t N, int64_t C, int64_t S, int64_t groups, const float* gamma,
                          const float* beta, float eps, bool silu, float* y) = 0;
  virtual void layer_norm(const float* x, int64_t M, int64_t C, const float* gamma, const float* beta, float eps,
                          float* y) = 0;
  virtual void activation(cpu::Act act, const float* x, float* y, int64_t n) = 0;
  virtual void relu(const float* x, float* y, int64_t n) = 0;
  virtual void sigmoid(const float* x, float* y, int64_t n) = 0;
  virtual void geglu(const float* x, int64_t M, int64_t F, float* y) = 0;
  // y = a + b, n floats (y may alias either).
  virtual void add(const float* a, const float* b, float* y, int64_t n) = 0;
  // x (R, S) += v[r] broadcast along each row (a bias per channel plane). In place.
  virtual void add_rows(float* x, const float* v, int64_t R, int64_t S) = 0;
  // Numpy broadcasting as cpu::binary (shapes on the host, up to 8 dims).
  virtual void binary(cpu::BinaryOp op, const float* a, const int64_t* a_shape, int a_rank, const float* b,
                      const int64_t* b_shape, int b_rank, float* y, const int64_t* y_shape, int y_rank) = 0;
  virtual void batchnorm(const float* x, int64_t N, int64_t C, int64_t S, const float* scale, const float* bias,
                         const float* mean, const float* var, float eps, float* y) = 0;
  // x (B, R, C) → y (B, C, R).
  virtual void transpose(const float* x, int64_t B, int64_t R, int64_t C, float* y) = 0;
  // As cpu::concat: `count` inputs, outer blocks of bytes[i] each, any element type.
  virtual void concat(const void* const* inputs, const int64_t* bytes, int count, int64_t outer, void* y) = 0;
  virtual void upsample_nearest(const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH, int64_t OW) = 0;
  virtual void resize2d(const float* x, int64_t NC, int64_t H, int64_t W, const cpu::ResizeParams& p, float* y,
                        int64_t OH, int64_t OW) = 0;
  virtual void maxpool2d(const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p, float* y,
                         int64_t OH, int64_t OW) = 0;
  virtual void avgpool2d(const float* x, int64_t NC, int64_t H, int64_t W, const cpu::Pool2dParams& p,
                         bool count_include_pad, float* y, int64_t OH, int64_t OW) = 0;
  // Fused (flash-style) attention; memory O(tile), never the (Tq, Tk) scores.
  virtual void attention(const float* q, const float* k, const float* v, float* o, const cpu::AttentionShape& s) = 0;
};

// Why no CUDA device can be used here ("built without CUDA …", "no CUDA device", "CUDA driver …"),
// or "" when open_cuda(index) would succeed.
std::string cuda_unavailable_reason(int index = 0);
// Opens a CUDA device (index as CUDA_VISIBLE_DEVICES numbers them), or fails with
// E_DEVICE_UNAVAILABLE carrying cuda_unavailable_reason(). The same device opened twice gives
// the same Gpu (one pool and one weight cache per device per process).
std::shared_ptr<Gpu> open_cuda(int index = 0);
// True in builds whose CUDA backend was compiled (by nvcc, or as the CPU emulation in tests).
bool cuda_compiled();
// True when the compiled backend is the CPU emulation of the CUDA execution model.
bool cuda_emulated();

}  // namespace bgn
