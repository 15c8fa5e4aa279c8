#include "models/segmenter.h"

#include "formats/mapped_file.h"
#include "formats/shared_cache.h"
#include "tensor/error.h"

namespace bgn {

namespace {
SharedCache<onnxrt::Graph>& graph_cache() {  // FileIdentity::key() -> graph
  static SharedCache<onnxrt::Graph> cache;
  return cache;
}
}  // namespace

size_t segmenter_cache_size() { return graph_cache().size(); }

std::shared_ptr<Segmenter> Segmenter::load(const std::string& path, int threads) {
  std::string key = file_identity(path).key();
  std::shared_ptr<const onnxrt::Graph> graph = graph_cache().find(key);
  if (!graph) graph = graph_cache().insert(key, onnxrt::Graph::load(path));
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
