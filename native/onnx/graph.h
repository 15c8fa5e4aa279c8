// An ONNX graph prepared for execution: constants folded, Conv+BatchNorm and Conv+activation
// fused, one Kernel per remaining node. A run executes only the nodes the requested outputs
// depend on and frees each value after its last use. It runs on the CPU, or on a Gpu where each
// node's kernel reads its inputs where it says (Kernel::place): GPU-capable nodes on the device,
// shape arithmetic and ops without a GPU path on the host, values copied across only when a
// reader on the other side needs them (each at most once per run).
#pragma once
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "formats/onnx.h"
#include "onnx/kernel.h"

namespace bgn::onnxrt {

// What a run did where (for tests and profiling).
struct RunStats {
  int device_nodes = 0;  // nodes that computed on the device
  int view_nodes = 0;    // nodes that only re-viewed or measured a device value
  int host_nodes = 0;    // nodes that ran on the CPU
  int uploads = 0, downloads = 0;
  size_t upload_bytes = 0, download_bytes = 0;
  std::map<std::string, int> device_ops;  // op type -> nodes computed on the device
};

class Graph {
 public:
  // Parses, validates (every op supported, every value defined before use) and prepares.
  // Errors: E_MODEL_NOT_FOUND, E_MODEL_FORMAT, E_MODEL_UNSUPPORTED (naming the ops).
  static std::shared_ptr<const Graph> load(const std::string& path);
  static std::shared_ptr<const Graph> prepare(onnx::Model model, const std::string& origin);

  const std::vector<onnx::ValueInfo>& inputs() const { return inputs_; }
  const std::vector<onnx::ValueInfo>& outputs() const { return outputs_; }
  size_t node_count() const { return steps_.size(); }

  // Runs where `exec` says: on its pool, and on its Gpu when it has one (holding gpu->lock() for
  // the whole run). `inputs` (host tensors) in graph-input order; returns the outputs listed in
  // `which` (indices into outputs()) as host tensors. Checks `cancel` between nodes (E_CANCELLED).
  // The Gpu's copies of the constant weights belong to exec.owner (Gpu::weight; a Segmenter
  // passes itself and releases them when destroyed). Null is the Gpu's unowned token: those copies
  // stay until gpu->release_weights(nullptr) or drop_weights(). (Not the graph's own address: the
  // graph cannot release them when it dies, and a later graph at that address would inherit them.)
  // `bf16`: on the CPU, the constant-weight products compute in bf16 (weights rounded and packed
  // once per graph, activations rounded as they are packed, sums in f32; the caller checked the
  // CPU has it); f32 otherwise, and always on a Gpu.
  std::vector<Tensor> run(const Exec& exec, const std::vector<Tensor>& inputs, const std::vector<int>& which,
                          const std::atomic<bool>* cancel = nullptr, RunStats* stats = nullptr,
                          bool bf16 = false) const;

 private:
  struct Step {
    std::string op, name;
    std::vector<int> in, out;  // value slots; -1 = omitted
    std::unique_ptr<Kernel> kernel;
  };
  std::string origin_;
  std::vector<onnx::ValueInfo> inputs_, outputs_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<Tensor> constants_;  // by slot; undefined where computed at run time
  std::vector<bool> is_constant_;
  bool static_inputs_ = false;  // every input dimension is fixed by the model
  std::vector<Step> steps_;
  int slots_ = 0;
};

}  // namespace bgn::onnxrt
