// A segmentation network (ISNet / U²-Net / BiRefNet / BEN families, SAM's encoder and prompt
// decoder; ONNX weights) ready to run:
// a prepared graph shared through a process-wide cache keyed by file identity, plus the
// thread pool of this handle, and the device it runs on (the CPU, or a Gpu shared by every
// handle on that device: the graph is device-agnostic, each run places its nodes), and the
// precision of its CPU matrix products.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "backend/gpu.h"
#include "onnx/graph.h"

namespace bgn {

class Segmenter {
 public:
  // Loads (or reuses from the cache) the graph at `path`; threads <= 0 means all cores (for the
  // nodes that run on the CPU). With a `gpu` (open_cuda) the graph runs there: the nodes that
  // have a GPU path on the device, the rest (shape arithmetic, rare ops) on the CPU. `bf16`: on the
  // CPU, this handle's runs compute the constant-weight products in bf16 (Graph::run; the caller
  // checked the CPU has it, nn::resolve_precision); ignored on a GPU (f32). Handles of one graph
  // may differ in precision: the graph keeps both forms of a weight it was asked for.
  static std::shared_ptr<Segmenter> load(const std::string& path, int threads, std::shared_ptr<Gpu> gpu = nullptr,
                                         bool bf16 = false);
  // A handle on a graph already prepared (`origin` names it in messages), as load() makes one.
  static std::shared_ptr<Segmenter> from_graph(std::shared_ptr<const onnxrt::Graph> graph, const std::string& origin,
                                               int threads, std::shared_ptr<Gpu> gpu = nullptr, bool bf16 = false);
  // Frees this handle's device weight copies that no other handle (on the same graph) still uses.
  ~Segmenter();

  const std::string& path() const { return path_; }
  int threads() const { return pool_->size(); }
  const onnxrt::Graph& graph() const { return *graph_; }
  // "cuda" when the graph runs on a Gpu, else "cpu".
  const char* device() const { return gpu_ ? "cuda" : "cpu"; }
  Gpu* gpu() const { return gpu_.get(); }
  // Whether this handle's runs compute the constant-weight products in bf16 (only on the CPU).
  bool bf16() const { return bf16_; }

  // input (1,3,H,W) f32 -> the requested outputs (all when `all`, else the first), host tensors.
  // On a Gpu the run holds the device's lock. `stats` (optional) says what ran where.
  std::vector<Tensor> run(const Tensor& input, bool all, const std::atomic<bool>* cancel = nullptr,
                          onnxrt::RunStats* stats = nullptr);
  // Every graph input, in graph-input order (a prompt decoder takes several), each converted to
  // the input's declared element type; shapes are checked against the graph's.
  std::vector<Tensor> run_inputs(const std::vector<Tensor>& inputs, bool all, const std::atomic<bool>* cancel = nullptr,
                                 onnxrt::RunStats* stats = nullptr);

 private:
  std::string path_;
  std::shared_ptr<const onnxrt::Graph> graph_;
  std::unique_ptr<ThreadPool> pool_;
  std::shared_ptr<Gpu> gpu_;
  bool bf16_ = false;
};

// Graphs currently alive in the cache (for tests of sharing).
size_t segmenter_cache_size();

}  // namespace bgn
