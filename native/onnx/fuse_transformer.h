// Fusions of the patterns transformer exports repeat on every block, applied to a graph's nodes
// after constant folding: LayerNorm written out over the last axis (ReduceMean, Sub, Pow, ReduceMean,
// Add ε, Sqrt, Div, Mul γ, Add β) becomes one LayerNormalization node, the exact GELU written out
// (Div by √2, Erf, Add 1, Mul by x, Mul by 0.5) becomes one Gelu node, a Transpose of the last two
// axes read only as a MatMul's B becomes that MatMul reading B transposed (attribute bgn_trans_b),
// attention's Q·Kᵀ → scale → bias → Softmax → ·V becomes one #ScoredAttention node
// (onnx/kernels_attention.cpp: the scores a block of rows at a time; Q, K, V split out of one
// projection read by strides, the Transpose after it written directly), a Linear's MatMul with a
// constant weight followed by the Add of a constant bias becomes one MatMul that starts from the
// bias (bgn_bias), a MatMul read only by an exact Gelu applies it to each tile as it is finished
// (bgn_gelu), and one read only by an Add of a computed value (a skip connection) adds that to each
// tile (bgn_residual).
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "formats/onnx.h"
#include "tensor/tensor.h"

namespace bgn::onnxrt {

// Marks fused-away nodes in `removed` (op_type "#removed", no inputs or outputs) and rewrites the
// nodes that take their place. Values listed in `graph_outputs` are never fused away.
void fuse_transformer_patterns(std::vector<onnx::Node>& nodes, std::vector<bool>& removed,
                               const std::map<std::string, Tensor>& constants,
                               const std::set<std::string>& graph_outputs);

}  // namespace bgn::onnxrt
