// Elementwise arithmetic, activations and matrix products. Float Add/Sub/Mul/Div, Relu, Sigmoid
// and MatMul (16-bit operands, f32 accumulation) also run on the Gpu when their inputs arrive on
// the device.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "backend/cpu/gelu.h"
#include "backend/cpu/gemm_bf16.h"
#include "backend/cpu/gemm_packed.h"
#include "backend/cpu/ops.h"
#include "backend/exec.h"
#include "onnx/bf16_weight.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

int64_t wrap(uint64_t bits) { return static_cast<int64_t>(bits); }

// Integer broadcasting binary op (shape arithmetic; small tensors).
Tensor binary_int(const Tensor& a, const Tensor& b, cpu::BinaryOp op, const char* name) {
  Shape out = broadcast_shapes(a.shape(), b.shape(), name);
  std::vector<int64_t> av = a.as_i64(), bv = b.as_i64();
  Tensor y = Tensor::empty(DType::I64, out);
  int r = int(out.size());
  std::vector<int64_t> idx(r, 0);
  auto offset = [&](const Tensor& t) {
    int64_t off = 0, stride = 1;
    for (int d = r - 1, td = t.rank() - 1; d >= 0 && td >= 0; --d, --td) {
      if (t.dim(td) != 1) off += idx[d] * stride;
      stride *= t.dim(td);
    }
    return off;
  };
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t u = av[offset(a)], v = bv[offset(b)], res = 0;
    switch (op) {
      // Two's-complement wrap-around, as integer tensors behave in the reference runtime.
      case cpu::BinaryOp::Add:
        res = wrap(uint64_t(u) + uint64_t(v));
        break;
      case cpu::BinaryOp::Sub:
        res = wrap(uint64_t(u) - uint64_t(v));
        break;
      case cpu::BinaryOp::Mul:
        res = wrap(uint64_t(u) * uint64_t(v));
        break;
      case cpu::BinaryOp::Div:
        if (v == 0) fail(Code::BadInput, name, ": integer division by zero");
        res = v == -1 ? wrap(0 - uint64_t(u)) : u / v;
        break;
    }
    y.data<int64_t>()[o] = res;
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return a.dtype() == DType::I64 ? y : y.to(a.dtype());
}

Out binary(RunContext& ctx, const Inputs& in, cpu::BinaryOp op, const char* name) {
  const Tensor& a = need(in, 0, name);
  const Tensor& b = need(in, 1, name);
  if (a.dtype() != b.dtype())
    fail(Code::BadInput, name, ": operand dtypes differ (", dtype_name(a.dtype()), " vs ", dtype_name(b.dtype()), ")");
  if (a.dtype() != DType::F32) return {binary_int(a, b, op, name)};
  Shape out = broadcast_shapes(a.shape(), b.shape(), name);
  if (a.on_device() || b.on_device()) {
    Gpu& gpu = need_gpu(ctx, name);
    if (!a.on_device() || !b.on_device()) fail(Code::Internal, name, ": operands split between host and device");
    Tensor y = device_empty(gpu, DType::F32, out);
    gpu.binary(op, a.data<float>(), a.shape().data(), a.rank(), b.data<float>(), b.shape().data(), b.rank(),
               y.data<float>(), out.data(), int(out.size()));
    return {y};
  }
  // The result overwrites an operand of its shape that is read for the last time (elementwise,
  // each element read before it is written).
  Tensor y = donated(ctx, 0) && a.shape() == out   ? a
             : donated(ctx, 1) && b.shape() == out ? b
                                                   : Tensor::empty(DType::F32, out);
  cpu::binary(ctx.pool, op, a.data<float>(), a.shape().data(), a.rank(), b.data<float>(), b.shape().data(), b.rank(),
              y.data<float>(), out.data(), int(out.size()));
  return {y};
}

template <class F>
std::unique_ptr<Kernel> unary(const char* name, F f) {
  return make_fn_kernel([name, f](RunContext& ctx, const Inputs& in) {
    const Tensor& x = need(in, 0, name);
    if (x.dtype() != DType::F32) fail(Code::BadInput, name, ": expected float data, got ", dtype_name(x.dtype()));
    Tensor y = Tensor::empty(DType::F32, x.shape());
    const float* src = x.data<float>();
    float* dst = y.data<float>();
    ctx.pool.parallel_for(x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) dst[i] = f(src[i]);
    });
    return Out{y};
  });
}

// Relu / Sigmoid: on the device when x is there, else the CPU function `f`.
template <class F>
std::unique_ptr<Kernel> gpu_unary(const char* name, bool sigmoid, F f) {
  auto host = unary(name, f);
  std::shared_ptr<Kernel> host_kernel(std::move(host));
  return make_fn_kernel(
      [name, sigmoid, host_kernel](RunContext& ctx, const Inputs& in) {
        const Tensor& x = need(in, 0, name);
        if (!x.on_device()) return host_kernel->run(ctx, in);
        Gpu& gpu = need_gpu(ctx, name);
        Tensor y = device_empty(gpu, DType::F32, x.shape());
        if (sigmoid)
          gpu.sigmoid(x.data<float>(), y.data<float>(), x.numel());
        else
          gpu.relu(x.data<float>(), y.data<float>(), x.numel());
        return Out{y};
      },
      Placement::first(Place::Device));
}

// The epilogue of one batch entry whose result starts `offset` floats into the output.
cpu::GemmEpilogue entry_epilogue(cpu::GemmEpilogue ep, int64_t offset) {
  if (ep.residual) ep.residual += offset;
  return ep;
}

// (..., M, K) @ (..., K, N) with batch broadcasting.
// tb_rank > 0: B arrives untransposed from a fused Transpose of its last two axes written for
// rank tb_rank (fuse_transformer.h); the product reads it transposed. gelu: the exact GELU of
// the result (a fused Gelu node), applied on the CPU to each tile as it is finished.
// residual: a fused Add of input 3 to the result (after GELU), on the CPU added to each finished
// tile when it has the result's shape, else added as the Add node would.
// bf16_b: where B is a load-time constant, its bf16 packing, used by bf16 runs (ctx.bf16) for a
// B shared by every batch entry; null otherwise.
Out matmul(RunContext& ctx, const Inputs& in, bool with_bias, int64_t tb_rank, bool gelu, bool with_residual,
           const Bf16Weight* bf16_b) {
  Tensor a = need(in, 0, "MatMul"), b = need(in, 1, "MatMul");
  if (a.dtype() != DType::F32 || b.dtype() != DType::F32) fail(Code::BadInput, "MatMul: float operands expected");
  const bool tb = tb_rank > 0;
  if (tb && b.rank() != tb_rank) fail(Code::BadInput, "Transpose: perm length ", tb_rank, " for rank ", b.rank());
  bool a1 = a.rank() == 1, b1 = !tb && b.rank() == 1;
  if (a1) a = a.reshaped({1, a.dim(0)});
  if (b1) b = b.reshaped({b.dim(0), 1});
  if (a.rank() < 2 || b.rank() < 2) fail(Code::BadInput, "MatMul: scalar operand");
  int64_t M = a.dim(-2), K = a.dim(-1), N = tb ? b.dim(-2) : b.dim(-1);
  const int64_t ldb = tb ? K : N;
  if ((tb ? b.dim(-1) : b.dim(-2)) != K)
    fail(Code::BadInput, "MatMul: ", shape_str(a.shape()), " @ ", shape_str(b.shape()), tb ? " transposed" : "");
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ab, bb, "MatMul");
  Shape out = batch;
  out.push_back(M);
  out.push_back(N);
  check_elements(out, "MatMul");
  const bool device = a.on_device() || b.on_device();
  if (device && (!a.on_device() || !b.on_device()))
    fail(Code::Internal, "MatMul: operands split between host and device");
  Gpu* gpu = device ? &need_gpu(ctx, "MatMul") : nullptr;
  Tensor y = device ? device_empty(*gpu, DType::F32, out) : Tensor::empty(DType::F32, out);
  if (device && K == 0 && y.numel()) y = to_device(*gpu, Tensor::zeros(DType::F32, out));  // an empty sum
  int64_t nb = shape_numel(batch);
  // Operand offsets (in matrices) of each batch entry.
  const std::vector<int64_t> oa = batch_matrix_index(ab, batch), ob = batch_matrix_index(bb, batch);
  bool b_shared = true;
  for (int64_t i = 0; i < nb; ++i) b_shared = b_shared && ob[size_t(i)] == 0 && oa[size_t(i)] == i;
  const float* A = a.data<float>();
  const float* B = b.data<float>();
  float* Y = y.data<float>();
  // A fused Linear bias (fuse_transformer.h): (N) added to every row; on the CPU the products
  // start from it (beta = 1).
  const Tensor* bias = with_bias && in.size() > 2 ? in[2] : nullptr;
  if (bias && (bias->dtype() != DType::F32 || bias->rank() != 1 || bias->dim(0) != N || bias->on_device() != device))
    fail(Code::BadInput, "MatMul: bias of shape ", shape_str(bias->shape()), " for ", N, " columns");
  // On the CPU the sums start from the bias and GELU maps each finished tile (GemmEpilogue).
  cpu::GemmEpilogue ep;
  if (bias && !device) ep.bias = bias->data<float>();
  if (gelu) ep.map = cpu::gelu_block;
  const Tensor* residual = with_residual && in.size() > 3 ? in[3] : nullptr;
  const bool residual_in_tiles = residual && !device && !a1 && !b1 && residual->dtype() == DType::F32 &&
                                 !residual->on_device() && residual->shape() == out;
  if (residual_in_tiles) {
    ep.residual = residual->data<float>();
    ep.ldr = N;
  }
  const float beta = 0.f;
  if (device) {
    if (K > 0 && M * N > 0)
      for (int64_t i = 0; i < nb; ++i)
        gpu->sgemm(false, tb, M, N, K, 1.f, A + oa[size_t(i)] * M * K, K, B + ob[size_t(i)] * K * N, ldb, 0.f,
                   Y + i * M * N, N);
    if (bias && y.numel())
      gpu->binary(cpu::BinaryOp::Add, Y, out.data(), int(out.size()), bias->data<float>(), bias->shape().data(), 1, Y,
                  out.data(), int(out.size()));
    if (gelu) {
      // No GELU on the device: the result comes back, as the unfused Gelu node would take it.
      y = to_host(*gpu, y);
      cpu::gelu(ctx.pool, y.data<float>(), y.data<float>(), y.numel());
    }
  } else if (b_shared && bf16_b && ctx.bf16 && K > 0) {
    // bf16 run: one product over all rows on B's bf16 packing (made on the first bf16 run, kept).
    const cpu::Bf16Weights& wb = bf16_b->right_of(ctx.pool, B, tb, K, N);
    cpu::gemm_bf16_right_ex(ctx.pool, A, K, nb * M, wb, Y, N, ep);
  } else if (b_shared) {
    // Every entry of A against one B (a Linear on batched tokens): one GEMM over all rows. (A
    // constant B is packed per call: a packed copy kept across runs would add the weights' size
    // to the peak, past a 24 GB machine for the HR model beside onnxruntime.)
    cpu::sgemm_ex(ctx.pool, false, tb, nb * M, N, K, 1.f, A, K, B, ldb, nullptr, beta, Y, N, ep);
  } else if (nb > 1 && double(M) * double(N) * double(K) < double(1 << 21)) {
    // Many small products (window attention): whole products per thread.
    const int64_t work = std::max<int64_t>(1, M * N * std::max<int64_t>(K, 1));
    const int64_t grain = std::max<int64_t>(1, int64_t(1 << 18) / work);
    ctx.pool.parallel_for(nb, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        cpu::sgemm_ex_serial(false, tb, M, 0, N, K, 1.f, A + oa[size_t(i)] * M * K, K, B + ob[size_t(i)] * K * N, ldb,
                             nullptr, beta, Y + i * M * N, N, entry_epilogue(ep, i * M * N));
    });
  } else {
    for (int64_t i = 0; i < nb; ++i)
      cpu::sgemm_ex(ctx.pool, false, tb, M, N, K, 1.f, A + oa[size_t(i)] * M * K, K, B + ob[size_t(i)] * K * N, ldb,
                    nullptr, beta, Y + i * M * N, N, entry_epilogue(ep, i * M * N));
  }
  if (ctx.detail) {
    char key[160];
    std::snprintf(key, sizeof key, "MatMul %ldx [%ldx%ld] @ [%ldx%ld]%s%s%s", long(nb), long(M), long(K), long(K),
                  long(N),
                  b_shared && bf16_b && ctx.bf16 ? " (bf16)"
                  : b_shared && nb > 1           ? (tb ? " (one GEMM, B transposed)" : " (one GEMM)")
                  : tb                           ? " (B transposed)"
                                                 : "",
                  gelu ? " +gelu" : "", residual_in_tiles ? " +residual" : "");
    ctx.detail->emplace_back(key, 2.0 * double(nb) * double(M) * double(N) * double(K));
  }
  if (a1 || b1) {
    Shape s = batch;
    if (!a1) s.push_back(M);
    if (!b1) s.push_back(N);
    y = y.reshaped(s);
  }
  if (residual && !residual_in_tiles) {
    // The MatMul's own inputs may be donated, not these two: nothing is written over.
    const uint64_t donatable = ctx.donatable;
    ctx.donatable = 0;
    Out sum = binary(ctx, {&y, residual}, cpu::BinaryOp::Add, "Add");
    ctx.donatable = donatable;
    return sum;
  }
  return {y};
}

}  // namespace

void register_math_kernels(std::map<std::string, KernelFactory>& r) {
  r["Add"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return binary(c, in, cpu::BinaryOp::Add, "Add"); },
                          Placement::all(Place::Device));
  };
  r["Sub"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return binary(c, in, cpu::BinaryOp::Sub, "Sub"); },
                          Placement::all(Place::Device));
  };
  r["Mul"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return binary(c, in, cpu::BinaryOp::Mul, "Mul"); },
                          Placement::all(Place::Device));
  };
  r["Div"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return binary(c, in, cpu::BinaryOp::Div, "Div"); },
                          Placement::all(Place::Device));
  };
  r["Relu"] = [](const NodeInfo&) { return gpu_unary("Relu", false, [](float x) { return x > 0.f ? x : 0.f; }); };
  r["Sigmoid"] = [](const NodeInfo&) {
    return gpu_unary("Sigmoid", true, [](float x) { return 1.f / (1.f + std::exp(-x)); });
  };
  r["Tanh"] = [](const NodeInfo&) { return unary("Tanh", [](float x) { return std::tanh(x); }); };
  r["Exp"] = [](const NodeInfo&) { return unary("Exp", [](float x) { return std::exp(x); }); };
  r["Log"] = [](const NodeInfo&) { return unary("Log", [](float x) { return std::log(x); }); };
  r["Sqrt"] = [](const NodeInfo&) { return unary("Sqrt", [](float x) { return std::sqrt(x); }); };
  r["Neg"] = [](const NodeInfo&) { return unary("Neg", [](float x) { return -x; }); };
  r["Abs"] = [](const NodeInfo&) { return unary("Abs", [](float x) { return std::fabs(x); }); };
  r["Floor"] = [](const NodeInfo&) { return unary("Floor", [](float x) { return std::floor(x); }); };
  r["Ceil"] = [](const NodeInfo&) { return unary("Ceil", [](float x) { return std::ceil(x); }); };
  r["Reciprocal"] = [](const NodeInfo&) { return unary("Reciprocal", [](float x) { return 1.f / x; }); };
  r["Erf"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& ctx, const Inputs& in) {
      const Tensor& x = need(in, 0, "Erf");
      if (x.dtype() != DType::F32) fail(Code::BadInput, "Erf: expected float data, got ", dtype_name(x.dtype()));
      Tensor y = donated(ctx, 0) ? x : Tensor::empty(DType::F32, x.shape());
      cpu::erf(ctx.pool, x.data<float>(), y.data<float>(), x.numel());
      return Out{y};
    });
  };
  r["LeakyRelu"] = [](const NodeInfo& i) {
    float alpha = i.node.attr_float("alpha", 0.01f);
    return unary("LeakyRelu", [alpha](float x) { return x >= 0.f ? x : alpha * x; });
  };
  r["HardSigmoid"] = [](const NodeInfo& i) {
    float alpha = i.node.attr_float("alpha", 0.2f), beta = i.node.attr_float("beta", 0.5f);
    return unary("HardSigmoid", [alpha, beta](float x) { return std::clamp(alpha * x + beta, 0.f, 1.f); });
  };
  r["MatMul"] = [](const NodeInfo& i) {
    const bool bias = i.node.attr_int("bgn_bias", 0) == 1 && i.has_input(2);
    const bool gelu = i.node.attr_int("bgn_gelu", 0) == 1;
    const bool residual = i.node.attr_int("bgn_residual", 0) == 1 && i.has_input(3);
    const int64_t tb_rank = i.node.attr_int("bgn_trans_b", 0);
    if (tb_rank < 0 || tb_rank == 1) i.bad("bgn_trans_b must be a rank of at least 2");
    // A constant B gets a bf16 packing for bf16 runs (kept with the kernel once made).
    std::shared_ptr<const Bf16Weight> bf16_b;
    if (i.constants.size() > 1 && i.constants[1] && i.constants[1]->dtype() == DType::F32)
      bf16_b = std::make_shared<const Bf16Weight>();
    return make_fn_kernel(
        [bias, tb_rank, gelu, residual, bf16_b](RunContext& c, const Inputs& in) {
          return matmul(c, in, bias, tb_rank, gelu, residual, bf16_b.get());
        },
        Placement::all(Place::Device));
  };
  r["Gemm"] = [](const NodeInfo& i) {
    float alpha = i.node.attr_float("alpha", 1.f), beta = i.node.attr_float("beta", 1.f);
    bool ta = i.node.attr_int("transA", 0) != 0, tb = i.node.attr_int("transB", 0) != 0;
    return make_fn_kernel([=](RunContext& ctx, const Inputs& in) {
      const Tensor& a = need(in, 0, "Gemm");
      const Tensor& b = need(in, 1, "Gemm");
      if (a.rank() != 2 || b.rank() != 2) fail(Code::BadInput, "Gemm: 2-D operands expected");
      int64_t M = ta ? a.dim(1) : a.dim(0), K = ta ? a.dim(0) : a.dim(1);
      int64_t N = tb ? b.dim(0) : b.dim(1), Kb = tb ? b.dim(1) : b.dim(0);
      if (K != Kb) fail(Code::BadInput, "Gemm: inner dimensions differ");
      Tensor y = Tensor::zeros(DType::F32, {M, N});
      if (in.size() > 2 && in[2] && beta != 0.f) {
        const Tensor& c = *in[2];
        Shape cs = broadcast_shapes(c.shape(), y.shape(), "Gemm");
        (void)cs;
        cpu::binary(ctx.pool, cpu::BinaryOp::Add, y.data<float>(), y.shape().data(), 2, c.data<float>(),
                    c.shape().data(), c.rank(), y.data<float>(), y.shape().data(), 2);
        if (beta != 1.f)
          for (int64_t k = 0; k < y.numel(); ++k) y.data<float>()[k] *= beta;
      }
      cpu::sgemm(ctx.pool, ta, tb, M, N, K, alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1), 1.f,
                 y.data<float>(), N);
      return Out{y};
    });
  };
}

}  // namespace bgn::onnxrt
