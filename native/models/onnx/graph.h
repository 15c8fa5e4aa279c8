// An ONNX graph prepared for execution on the CPU: constants folded, Conv+BatchNorm and
// Conv+activation fused, one Kernel per remaining node. A run executes only the nodes the
// requested outputs depend on and frees each value after its last use.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "formats/onnx.h"
#include "models/onnx/kernel.h"

namespace bgn::onnxrt {

class Graph {
 public:
  // Parses, validates (every op supported, every value defined before use) and prepares.
  // Errors: E_MODEL_NOT_FOUND, E_MODEL_FORMAT, E_MODEL_UNSUPPORTED (naming the ops).
  static std::shared_ptr<const Graph> load(const std::string& path);
  static std::shared_ptr<const Graph> prepare(onnx::Model model, const std::string& origin);

  const std::vector<onnx::ValueInfo>& inputs() const { return inputs_; }
  const std::vector<onnx::ValueInfo>& outputs() const { return outputs_; }
  size_t node_count() const { return steps_.size(); }

  // Runs on `pool`. `inputs` in graph-input order; returns the outputs listed in `which`
  // (indices into outputs()). Checks `cancel` between nodes (E_CANCELLED).
  std::vector<Tensor> run(ThreadPool& pool, const std::vector<Tensor>& inputs, const std::vector<int>& which,
                          const std::atomic<bool>* cancel = nullptr) const;

 private:
  struct Step {
    std::string op, name;
    std::vector<int> in, out;  // value slots; -1 = omitted
    std::unique_ptr<Kernel> kernel;
  };
  std::string origin_;
  std::vector<onnx::ValueInfo> inputs_, outputs_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<Tensor> constants_;      // by slot; undefined where computed at run time
  std::vector<bool> is_constant_;
  bool static_inputs_ = false;         // every input dimension is fixed by the model
  std::vector<Step> steps_;
  int slots_ = 0;
};

}  // namespace bgn::onnxrt
