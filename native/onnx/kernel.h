// The contract between the ONNX executor and the operator kernels.
//
// A Kernel is built once per graph node at load time (when it can see which inputs are
// constants and prepare them, e.g. widen or reorder weights) and then run any number of times,
// possibly concurrently, so run() must not mutate the kernel.
//
// Runtime dtypes: every floating-point value is held as f32 (f16/bf16/f64 weights are widened
// at load; Cast to f16 rounds to f16 precision but keeps f32 storage). Integer and bool values
// keep their dtype (shape arithmetic is i64).
//
// On a Gpu (the run's Exec has one) the executor places each node by asking its kernel where it
// reads each input (place()): f32 inputs a kernel reads on the Device arrive as device tensors,
// inputs it reads on the Host arrive as host tensors, inputs it only re-views or measures (Any)
// arrive wherever they are. A kernel that got device inputs writes device outputs; every other
// kernel runs on the CPU exactly as without a Gpu.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "backend/exec.h"
#include "formats/onnx.h"
#include "tensor/tensor.h"

namespace bgn::onnxrt {

// A run: where it goes (Exec: the pool, the Gpu or null for the CPU, the owner of the Gpu's
// copies of constant weights), and what it tracks while the kernels run.
struct RunContext : Exec {
  explicit RunContext(const Exec& e) : Exec(e) {}
  double flops = 0;  // multiply-adds x 2 done by the heavy kernels (for profiling)
  // When profiling in detail, kernels append (description, flops) for the step just run.
  std::vector<std::pair<std::string, double>>* detail = nullptr;
  // Bit i: input i is at its last use and its host storage is shared with no other value, so
  // the kernel may write its output there (see donated()).
  uint64_t donatable = 0;
  // Constant-weight products in bf16 (Graph::run's bf16); only on the CPU with AVX512-BF16.
  bool bf16 = false;
};

// The Gpu of a run whose kernel got device inputs; E_INTERNAL when there is none.
Gpu& need_gpu(const RunContext& ctx, const char* op);

// Where a kernel reads one input when the graph runs on a Gpu.
enum class Place : uint8_t {
  Host,    // host memory (shape arithmetic, scales, weights it hands to Gpu::weight itself)
  Device,  // device memory when the value is f32 (other dtypes stay on the host)
  Any,     // wherever the value is: the kernel reads only its shape (Reshape, Shape, ...)
};

// Whether input i's storage may become the kernel's output (same dtype and shape needed).
inline bool donated(const RunContext& ctx, size_t i) { return i < 64 && ((ctx.donatable >> i) & 1) != 0; }

// Inputs as seen by a kernel: a missing optional input is an undefined (default) Tensor.
using Inputs = std::vector<const Tensor*>;

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const = 0;
  // Where input i is read when the graph runs on a Gpu; decided at load time.
  virtual Place place(size_t i) const {
    (void)i;
    return Place::Host;
  }
};

// What a kernel factory sees: the node, the opset of its domain, and the inputs already known
// at load time (nullptr where the input is computed at run time or omitted).
struct NodeInfo {
  const onnx::Node& node;
  int64_t opset;
  const std::vector<const Tensor*>& constants;
  const std::string& origin;  // model file, for messages

  [[noreturn]] void bad(const std::string& why) const;          // E_MODEL_FORMAT naming the node
  [[noreturn]] void unsupported(const std::string& why) const;  // E_MODEL_UNSUPPORTED naming the node
  bool has_input(size_t i) const { return i < node.inputs.size() && !node.inputs[i].empty(); }
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const NodeInfo&)>;

// Registry of supported op types (domain "" / ai.onnx). Each kernels_*.cpp adds its ops.
const std::map<std::string, KernelFactory>& kernel_registry();
void register_nn_kernels(std::map<std::string, KernelFactory>& r);
void register_tensor_kernels(std::map<std::string, KernelFactory>& r);
void register_math_kernels(std::map<std::string, KernelFactory>& r);
void register_quant_kernels(std::map<std::string, KernelFactory>& r);
void register_norm_kernels(std::map<std::string, KernelFactory>& r);
void register_reduce_kernels(std::map<std::string, KernelFactory>& r);
void register_elementwise_kernels(std::map<std::string, KernelFactory>& r);
void register_index_kernels(std::map<std::string, KernelFactory>& r);
void register_einsum_kernels(std::map<std::string, KernelFactory>& r);
void register_conv_transpose_kernels(std::map<std::string, KernelFactory>& r);
void register_deform_kernels(std::map<std::string, KernelFactory>& r);
void register_matmul_integer_kernels(std::map<std::string, KernelFactory>& r);
void register_attention_kernels(std::map<std::string, KernelFactory>& r);

// Small helpers shared by kernels.
int64_t normalize_axis(int64_t axis, int64_t rank, const char* op);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Placement of a kernel's inputs: the first `count` inputs are read at `where`, the rest on the host.
struct Placement {
  Place where = Place::Host;
  size_t count = 0;
  static Placement all(Place p) { return {p, SIZE_MAX}; }
  static Placement first(Place p) { return {p, 1}; }
  Place of(size_t i) const { return i < count ? where : Place::Host; }
};

// A Kernel from a lambda, for ops with no prepared state.
template <class F>
class FnKernel : public Kernel {
 public:
  FnKernel(F f, Placement p) : f_(std::move(f)), placement_(p) {}
  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override { return f_(ctx, in); }
  Place place(size_t i) const override { return placement_.of(i); }

 private:
  F f_;
  Placement placement_;
};
template <class F>
std::unique_ptr<Kernel> make_fn_kernel(F f, Placement p = {}) {
  return std::make_unique<FnKernel<F>>(std::move(f), p);
}

// Input i must be present at run time.
const Tensor& need(const Inputs& in, size_t i, const char* op);

}  // namespace bgn::onnxrt
