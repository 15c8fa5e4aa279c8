// ConvTranspose (2-D, NCHW, f32): per image and group one GEMM, W^T (O/g*KH*KW, C/g) @ x (C/g,
// H*W), whose columns are then added into the output at their strided, dilated, padded places.
// Output size from the attributes, or from output_shape with the padding derived from it.
#include <algorithm>
#include <cstring>

#include "backend/cpu/ops.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

struct Attrs {
  int64_t group = 1;
  int64_t s[2] = {1, 1}, d[2] = {1, 1}, pb[2] = {0, 0}, pe[2] = {0, 0}, opad[2] = {0, 0};
  std::vector<int64_t> output_shape;
  std::string auto_pad = "NOTSET";
};

class ConvTransposeKernel : public Kernel {
 public:
  explicit ConvTransposeKernel(const NodeInfo& info) {
    const auto& n = info.node;
    a_.group = n.attr_int("group", 1);
    if (a_.group <= 0) info.bad("group must be positive");
    auto two = [&](const char* k, std::vector<int64_t> def) {
      auto v = n.attr_ints(k, def);
      if (v.size() != def.size()) info.unsupported(std::string(k) + " of the wrong length (only 2-D is supported)");
      return v;
    };
    auto st = two("strides", {1, 1}), dl = two("dilations", {1, 1}), op = two("output_padding", {0, 0});
    auto pads = two("pads", {0, 0, 0, 0});
    auto ks = n.attr_ints("kernel_shape");
    if (!ks.empty() && ks.size() != 2) info.unsupported("only 2-D ConvTranspose is supported");
    for (int i = 0; i < 2; ++i) {
      a_.s[i] = st[i];
      a_.d[i] = dl[i];
      a_.opad[i] = op[i];
      a_.pb[i] = pads[i];
      a_.pe[i] = pads[i + 2];
      if (a_.s[i] <= 0 || a_.d[i] <= 0 || a_.pb[i] < 0 || a_.pe[i] < 0 || a_.opad[i] < 0)
        info.bad("non-positive stride or dilation, or negative padding");
      if (a_.opad[i] >= std::max(a_.s[i], a_.d[i]))
        info.bad("output_padding must be smaller than the stride or dilation");
    }
    a_.output_shape = n.attr_ints("output_shape");
    if (!a_.output_shape.empty() && a_.output_shape.size() != 2 && a_.output_shape.size() != 4)
      info.bad("output_shape must list 2 (or 4) sizes");
    a_.auto_pad = n.attr_string("auto_pad", "NOTSET");
    if (a_.auto_pad != "NOTSET" && a_.auto_pad != "SAME_UPPER" && a_.auto_pad != "SAME_LOWER" && a_.auto_pad != "VALID")
      info.bad("unknown auto_pad '" + a_.auto_pad + "'");
  }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const char* op = "ConvTranspose";
    const Tensor& x = need(in, 0, op);
    const Tensor& w = need(in, 1, op);
    const Tensor* b = in.size() > 2 ? in[2] : nullptr;
    if (x.rank() != 4 || x.dtype() != DType::F32)
      fail(Code::BadInput, op, ": expected a 4-D float input, got ", shape_str(x.shape()));
    if (w.rank() != 4 || w.dtype() != DType::F32)
      fail(Code::BadInput, op, ": weights must be 4-D float, got ", shape_str(w.shape()));
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), G = a_.group;
    if (w.dim(0) != C || C % G)
      fail(Code::BadInput, op, ": input with ", C, " channels does not fit weights ", shape_str(w.shape()));
    const int64_t Og = w.dim(1), O = Og * G, KH = w.dim(2), KW = w.dim(3), Cg = C / G;
    if (b && (b->dtype() != DType::F32 || b->numel() != O)) fail(Code::BadInput, op, ": bias must hold ", O, " floats");
    const int64_t in_sz[2] = {H, W}, k[2] = {KH, KW};
    int64_t out_sz[2], pb[2], pe[2];
    for (int i = 0; i < 2; ++i) {
      const int64_t span = (k[i] - 1) * a_.d[i] + 1, full = a_.s[i] * (in_sz[i] - 1) + a_.opad[i] + span;
      pb[i] = a_.pb[i];
      pe[i] = a_.pe[i];
      int64_t target = -1;
      if (!a_.output_shape.empty())
        target = a_.output_shape[a_.output_shape.size() - 2 + i];
      else if (a_.auto_pad == "SAME_UPPER" || a_.auto_pad == "SAME_LOWER")
        target = in_sz[i] * a_.s[i];
      if (target >= 0) {
        const int64_t total = full - target;
        if (total < 0) fail(Code::BadInput, op, ": output size ", target, " is larger than the kernel can reach");
        const bool upper = a_.auto_pad == "SAME_UPPER";
        pb[i] = upper ? total / 2 : total - total / 2;
        pe[i] = total - pb[i];
      } else if (a_.auto_pad == "VALID") {
        pb[i] = pe[i] = 0;
      }
      out_sz[i] = full - pb[i] - pe[i];
      if (out_sz[i] <= 0) fail(Code::BadInput, op, ": padding leaves no output");
    }
    const int64_t OH = out_sz[0], OW = out_sz[1], HW = H * W, KK = Og * KH * KW;
    Tensor y = new_output(DType::F32, {N, O, OH, OW}, op);
    check_elements({KK, HW}, op);
    std::vector<float> col(size_t(KK * HW));
    float* yp = y.data<float>();
    std::memset(yp, 0, y.nbytes());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t g = 0; g < G; ++g) {
        // col (Og*KH*KW, HW) = W_g^T, W_g being (Cg, Og*KH*KW)
        cpu::sgemm(ctx.pool, true, false, KK, HW, Cg, 1.f, w.data<float>() + g * Cg * KK, KK,
                   x.data<float>() + (n * C + g * Cg) * HW, HW, 0.f, col.data(), HW);
        float* yg = yp + (n * O + g * Og) * OH * OW;
        ctx.pool.parallel_for(Og, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t o = lo; o < hi; ++o)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const float* c = col.data() + ((o * KH + kh) * KW + kw) * HW;
                float* yo = yg + o * OH * OW;
                for (int64_t h = 0; h < H; ++h) {
                  const int64_t oh = h * a_.s[0] - pb[0] + kh * a_.d[0];
                  if (oh < 0 || oh >= OH) continue;
                  for (int64_t ww = 0; ww < W; ++ww) {
                    const int64_t ow = ww * a_.s[1] - pb[1] + kw * a_.d[1];
                    if (ow >= 0 && ow < OW) yo[oh * OW + ow] += c[h * W + ww];
                  }
                }
              }
        });
      }
    if (b)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t o = 0; o < O; ++o) {
          float* p = yp + (n * O + o) * OH * OW;
          const float bv = b->data<float>()[o];
          for (int64_t i = 0; i < OH * OW; ++i) p[i] += bv;
        }
    ctx.flops += 2.0 * double(N) * double(C) * double(KK) * double(HW);
    return {y};
  }

 private:
  Attrs a_;
};

}  // namespace

void register_conv_transpose_kernels(std::map<std::string, KernelFactory>& r) {
  r["ConvTranspose"] = [](const NodeInfo& i) { return std::make_unique<ConvTransposeKernel>(i); };
}

}  // namespace bgn::onnxrt
