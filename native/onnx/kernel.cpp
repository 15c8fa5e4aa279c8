#include "onnx/kernel.h"

#include <algorithm>

#include "tensor/error.h"

namespace bgn::onnxrt {

Gpu& need_gpu(const RunContext& ctx, const char* op) {
  if (!ctx.gpu) fail(Code::Internal, op, ": got device inputs in a run without a Gpu");
  return *ctx.gpu;
}

void NodeInfo::bad(const std::string& why) const {
  fail(Code::ModelFormat, origin, ": node '", node.name, "' (", node.op_type, "): ", why);
}

void NodeInfo::unsupported(const std::string& why) const {
  fail(Code::ModelUnsupported, origin, ": node '", node.name, "' (", node.op_type, "): ", why);
}

const std::map<std::string, KernelFactory>& kernel_registry() {
  static const std::map<std::string, KernelFactory> r = [] {
    std::map<std::string, KernelFactory> m;
    register_nn_kernels(m);
    register_tensor_kernels(m);
    register_math_kernels(m);
    register_quant_kernels(m);
    register_norm_kernels(m);
    register_reduce_kernels(m);
    register_elementwise_kernels(m);
    register_index_kernels(m);
    register_einsum_kernels(m);
    register_conv_transpose_kernels(m);
    register_deform_kernels(m);
    register_matmul_integer_kernels(m);
    register_attention_kernels(m);
    return m;
  }();
  return r;
}

int64_t normalize_axis(int64_t axis, int64_t rank, const char* op) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<int64_t>(rank, 1))
    fail(Code::BadInput, op, ": axis ", axis, " out of range for rank ", rank);
  return a;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      fail(Code::BadInput, op, ": shapes ", shape_str(a), " and ", shape_str(b), " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

const Tensor& need(const Inputs& in, size_t i, const char* op) {
  if (i >= in.size() || in[i] == nullptr) fail(Code::BadInput, op, ": required input #", i, " is missing");
  return *in[i];
}

}  // namespace bgn::onnxrt
