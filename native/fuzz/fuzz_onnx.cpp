// ONNX / protobuf: ModelProto → graph, nodes, attributes, initializers, value infos.
#include "formats/onnx.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bgn_fuzz::guarded([&] {
    bgn::onnx::Model m = bgn::onnx::parse_model(data, size, "fuzz.onnx");
    volatile size_t sum = 0;
    for (const auto& kv : m.initializers) sum = sum + kv.second.nbytes();
    for (const auto& n : m.nodes)
      for (const auto& a : n.attrs) sum = sum + a.second.ints.size() + a.second.floats.size();
  });
}
