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

std::shared_ptr<Segmenter> Segmenter::load(const std::string& path, int threads, std::shared_ptr<Gpu> gpu, bool bf16) {
  std::string key = file_identity(path).key();
  std::shared_ptr<const onnxrt::Graph> graph = graph_cache().find(key);
  if (!graph) graph = graph_cache().insert(key, onnxrt::Graph::load(path));
  return from_graph(std::move(graph), path, threads, std::move(gpu), bf16);
}

std::shared_ptr<Segmenter> Segmenter::from_graph(std::shared_ptr<const onnxrt::Graph> graph, const std::string& origin,
                                                 int threads, std::shared_ptr<Gpu> gpu, bool bf16) {
  if (!graph) fail(Code::Internal, "Segmenter::from_graph: no graph for ", origin);
  if (graph->inputs().empty()) fail(Code::ModelUnsupported, origin, " takes no inputs");
  auto s = std::shared_ptr<Segmenter>(new Segmenter());
  s->path_ = origin;
  s->graph_ = std::move(graph);
  s->pool_ = std::make_unique<ThreadPool>(threads);
  s->gpu_ = std::move(gpu);
  s->bf16_ = bf16 && !s->gpu_;
  return s;
}

std::vector<Tensor> Segmenter::run(const Tensor& input, bool all, const std::atomic<bool>* cancel,
                                   onnxrt::RunStats* stats) {
  if (graph_->inputs().size() != 1)
    fail(Code::BadInput, path_, " takes ", graph_->inputs().size(), " inputs; pass them all (runInputs)");
  if (input.rank() != 4 || input.dim(1) != 3 || input.dim(0) < 1)
    fail(Code::BadInput, "the segmenter takes an (N,3,H,W) tensor, got ", shape_str(input.shape()));
  std::vector<int> which;
  size_t n = all ? graph_->outputs().size() : 1;
  for (size_t i = 0; i < n; ++i) which.push_back(int(i));
  // Graph::run holds the Gpu's lock for the whole pass.
  // This handle owns the device copies of the graph's weights it uploads; another handle on the
  // same graph shares those copies, and the last one destroyed frees them.
  return graph_->run(Exec{*pool_, gpu_.get(), this}, {input}, which, cancel, stats, bf16_);
}

std::vector<Tensor> Segmenter::run_inputs(const std::vector<Tensor>& inputs, bool all, const std::atomic<bool>* cancel,
                                          onnxrt::RunStats* stats) {
  const auto& infos = graph_->inputs();
  if (inputs.size() != infos.size())
    fail(Code::BadInput, path_, " takes ", infos.size(), " input(s), got ", inputs.size());
  std::vector<Tensor> typed;
  typed.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    DType want = infos[i].elem_type ? onnx::dtype_from_onnx(infos[i].elem_type, infos[i].name) : inputs[i].dtype();
    if (want != DType::F32 && want != DType::F16 && want != DType::F64 && want != DType::I64 && want != DType::I32)
      fail(Code::ModelUnsupported, path_, ": input '", infos[i].name, "' has element type ", dtype_name(want),
           "; inputs must be float or integer tensors");
    typed.push_back(inputs[i].dtype() == want ? inputs[i] : inputs[i].to(want));
  }
  std::vector<int> which;
  size_t n = all ? graph_->outputs().size() : 1;
  for (size_t i = 0; i < n; ++i) which.push_back(int(i));
  return graph_->run(Exec{*pool_, gpu_.get(), this}, typed, which, cancel, stats, bf16_);
}

Segmenter::~Segmenter() {
  if (gpu_) gpu_->release_weights(this);
}

}  // namespace bgn
