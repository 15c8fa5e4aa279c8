#include "models/segmenter.h"

#include <map>
#include <mutex>

#include "formats/mapped_file.h"
#include "tensor/error.h"

namespace bgn {

namespace {
std::mutex g_cache_mu;
std::map<std::string, std::weak_ptr<const onnxrt::Graph>> g_cache;  // FileIdentity::key() -> graph
}  // namespace

size_t segmenter_cache_size() {
  std::lock_guard<std::mutex> lock(g_cache_mu);
  size_t n = 0;
  for (auto& kv : g_cache) n += kv.second.expired() ? 0 : 1;
  return n;
}

std::shared_ptr<Segmenter> Segmenter::load(const std::string& path, int threads) {
  std::string key = file_identity(path).key();
  std::shared_ptr<const onnxrt::Graph> graph;
  {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) graph = it->second.lock();
  }
  if (!graph) {
    graph = onnxrt::Graph::load(path);
    std::lock_guard<std::mutex> lock(g_cache_mu);
    auto& slot = g_cache[key];
    if (auto existing = slot.lock()) graph = existing;  // another thread won the race
    else slot = graph;
  }
  if (graph->inputs().size() != 1)
    fail(Code::ModelUnsupported, path, " takes ", graph->inputs().size(),
         " inputs; a segmentation model takes one image tensor");
  auto s = std::shared_ptr<Segmenter>(new Segmenter());
  s->path_ = path;
  s->graph_ = std::move(graph);
  s->pool_ = std::make_unique<ThreadPool>(threads);
  return s;
}

std::vector<Tensor> Segmenter::run(const Tensor& input, bool all, const std::atomic<bool>* cancel) {
  if (input.rank() != 4 || input.dim(1) != 3 || input.dim(0) < 1)
    fail(Code::BadInput, "the segmenter takes an (N,3,H,W) tensor, got ", shape_str(input.shape()));
  std::vector<int> which;
  size_t n = all ? graph_->outputs().size() : 1;
  for (size_t i = 0; i < n; ++i) which.push_back(int(i));
  return graph_->run(*pool_, {input}, which, cancel);
}

}  // namespace bgn
