// A foreground segmentation network (ISNet / U²-Net family, ONNX weights) ready to run:
// a prepared graph shared through a process-wide cache keyed by file identity, plus the
// thread pool of this handle.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "backend/cpu/threads.h"
#include "models/onnx/graph.h"

namespace bgn {

class Segmenter {
 public:
  // Loads (or reuses from the cache) the graph at `path`; threads <= 0 means all cores.
  static std::shared_ptr<Segmenter> load(const std::string& path, int threads);

  const std::string& path() const { return path_; }
  int threads() const { return pool_->size(); }
  const onnxrt::Graph& graph() const { return *graph_; }

  // input (1,3,H,W) f32 -> the requested outputs (all when `all`, else the first).
  std::vector<Tensor> run(const Tensor& input, bool all, const std::atomic<bool>* cancel = nullptr);

 private:
  std::string path_;
  std::shared_ptr<const onnxrt::Graph> graph_;
  std::unique_ptr<ThreadPool> pool_;
};

// Graphs currently alive in the cache (for tests of sharing).
size_t segmenter_cache_size();

}  // namespace bgn
