// ONNX graphs: ModelProto → prepared graph (every node's attributes checked, constant operands
// folded through the kernels), then one pass on a zero input when the graph's one float input is
// small. Outputs are capped at 2^16 elements, so a hostile shape is refused, not allocated.
#include <numeric>

#include "formats/onnx.h"
#include "fuzz.h"
#include "onnx/graph.h"
#include "onnx/tensor_ops.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limited = (bgn::onnxrt::set_output_element_limit(int64_t(1) << 16), true);
  (void)limited;
  return bgn_fuzz::guarded([&] {
    auto graph = bgn::onnxrt::Graph::prepare(bgn::onnx::parse_model(data, size, "fuzz.onnx"), "fuzz.onnx");
    if (graph->inputs().size() != 1 || graph->inputs()[0].elem_type != 1) return;
    const auto& dims = graph->inputs()[0].dims;
    if (dims.empty() || dims.size() > 6) return;
    bgn::Shape shape;
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d <= 0 || d > 256) return;
      n *= d;
      if (n > 4096) return;
      shape.push_back(d);
    }
    static bgn::ThreadPool pool(1);
    std::vector<int> which(graph->outputs().size());
    std::iota(which.begin(), which.end(), 0);
    graph->run(bgn::Exec{pool}, {bgn::Tensor::zeros(bgn::DType::F32, shape)}, which);
  });
}
