// Convolution, pooling, normalisation and resizing kernels (2-D, NCHW). Each runs on the CPU, or
// on the Gpu when its data input arrives on the device (weights through Gpu::weight: 16-bit
// convolution weights, f32 biases and norm parameters, cached by the Gpu).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "backend/cpu/conv_bf16.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/qconv.h"
#include "backend/exec.h"
#include "onnx/bf16_weight.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"
#include "tensor/knobs.h"

namespace bgn::onnxrt {

namespace {

struct Window2d {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  std::string auto_pad = "NOTSET";
};

Window2d read_window(const NodeInfo& info, int64_t kh, int64_t kw) {
  const auto& n = info.node;
  Window2d w;
  w.kh = kh;
  w.kw = kw;
  auto strides = n.attr_ints("strides", {1, 1});
  auto dil = n.attr_ints("dilations", {1, 1});
  auto pads = n.attr_ints("pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4)
    info.unsupported("only 2-D windows are supported (strides/dilations/pads of the wrong length)");
  w.sh = strides[0];
  w.sw = strides[1];
  w.dh = dil[0];
  w.dw = dil[1];
  w.pt = pads[0];
  w.pl = pads[1];
  w.pb = pads[2];
  w.pr = pads[3];
  if (w.sh <= 0 || w.sw <= 0 || w.dh <= 0 || w.dw <= 0 || w.pt < 0 || w.pl < 0 || w.pb < 0 || w.pr < 0 || w.kh <= 0 ||
      w.kw <= 0)
    info.bad("non-positive stride, dilation or kernel, or negative padding");
  w.auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" && w.auto_pad != "VALID")
    info.bad("unknown auto_pad '" + w.auto_pad + "'");
  return w;
}

// Resolves auto_pad for an input size: returns the (begin, end) padding of one axis.
void resolve_pad(const std::string& mode, int64_t in, int64_t k, int64_t s, int64_t d, int64_t& begin, int64_t& end) {
  if (mode == "VALID") {
    begin = end = 0;
    return;
  }
  if (mode == "NOTSET") return;
  int64_t out = (in + s - 1) / s;
  int64_t total = std::max<int64_t>(0, (out - 1) * s + d * (k - 1) + 1 - in);
  begin = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
  end = total - begin;
}

void check_rank4(const Tensor& x, const char* op) {
  if (x.rank() != 4) fail(Code::BadInput, op, ": expected a 4-D NCHW tensor, got ", shape_str(x.shape()));
  if (x.dtype() != DType::F32) fail(Code::BadInput, op, ": expected float data, got ", dtype_name(x.dtype()));
}

// Convolution parameters for an input of H x W and a KH x KW kernel: padding resolved, output size
// checked (E_BAD_INPUT naming `op` when the input is smaller than the kernel).
struct ConvGeometry {
  cpu::Conv2dParams p;
  int64_t OH = 0, OW = 0;
};

ConvGeometry conv_geometry(const Window2d& win, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t groups,
                           const char* op) {
  ConvGeometry g;
  cpu::Conv2dParams& p = g.p;
  p.stride_h = win.sh;
  p.stride_w = win.sw;
  p.dilation_h = win.dh;
  p.dilation_w = win.dw;
  p.pad_top = win.pt;
  p.pad_left = win.pl;
  p.pad_bottom = win.pb;
  p.pad_right = win.pr;
  resolve_pad(win.auto_pad, H, KH, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom);
  resolve_pad(win.auto_pad, W, KW, p.stride_w, p.dilation_w, p.pad_left, p.pad_right);
  p.groups = groups;
  g.OH = cpu::conv_out_size(H, KH, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h);
  g.OW = cpu::conv_out_size(W, KW, p.stride_w, p.pad_left, p.pad_right, p.dilation_w);
  if (g.OH <= 0 || g.OW <= 0) fail(Code::BadInput, op, ": a ", H, "x", W, " input is smaller than the kernel");
  return g;
}

// ---- Conv ----------------------------------------------------------------------------------------
class ConvKernel : public Kernel {
 public:
  explicit ConvKernel(const NodeInfo& info) {
    const auto& n = info.node;
    group_ = n.attr_int("group", 1);
    if (group_ <= 0) info.bad("group must be positive");
    // A fused Concat: inputs 0..parts-1 are concatenated along channels, then W and B.
    parts_ = n.attr_int("bgn_concat_parts", 1);
    if (parts_ < 1 || parts_ + 1 > int64_t(n.inputs.size())) info.bad("malformed fused concat");
    auto ks = n.attr_ints("kernel_shape");
    if (!ks.empty() && ks.size() != 2) info.unsupported("only 2-D convolution is supported");
    act_ = cpu::Activation::None;
    std::string a = n.attr_string("bgn_activation", "");
    if (a == "Relu") act_ = cpu::Activation::Relu;
    if (a == "Sigmoid") act_ = cpu::Activation::Sigmoid;
    int64_t kh = ks.size() == 2 ? ks[0] : 1, kw = ks.size() == 2 ? ks[1] : 1;
    if (info.constants.size() > size_t(parts_) && info.constants[parts_]) {
      const Tensor& w = *info.constants[parts_];
      if (w.rank() != 4)
        info.unsupported("weights of shape " + shape_str(w.shape()) + ": only 2-D convolution is supported");
      if (w.dtype() != DType::F32) info.bad("weights must be floating point");
      if (w.dim(0) % group_) info.bad("output channels not divisible by group");
      kh = w.dim(2);
      kw = w.dim(3);
    }
    window_ = read_window(info, kh, kw);
    // The GPU path hands weights and bias to Gpu::weight, which keeps a device copy per tensor
    // for the Gpu's lifetime: only load-time constants may go there.
    bool w_const = info.constants.size() > size_t(parts_) && info.constants[parts_];
    bool b_const = !info.has_input(size_t(parts_ + 1)) ||
                   (info.constants.size() > size_t(parts_ + 1) && info.constants[parts_ + 1]);
    gpu_capable_ = w_const && b_const;
    bf16_capable_ = w_const && group_ == 1;
  }

  // x parts on the device, weights and bias (constants) on the host for Gpu::weight.
  Place place(size_t i) const override { return gpu_capable_ && i < size_t(parts_) ? Place::Device : Place::Host; }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const Tensor& x = need(in, 0, "Conv");
    const Tensor& w = need(in, size_t(parts_), "Conv");
    const Tensor* b = in.size() > size_t(parts_ + 1) ? in[parts_ + 1] : nullptr;
    check_rank4(x, "Conv");
    if (w.rank() != 4 || w.dtype() != DType::F32)
      fail(Code::BadInput, "Conv: weights must be 4-D float, got ", shape_str(w.shape()));
    int64_t N = x.dim(0), H = x.dim(2), W = x.dim(3), C = 0;
    std::vector<const float*> ptrs;
    std::vector<int64_t> chans;
    for (int64_t i = 0; i < parts_; ++i) {
      const Tensor& xi = need(in, size_t(i), "Conv");
      check_rank4(xi, "Conv");
      if (xi.dim(0) != N || xi.dim(2) != H || xi.dim(3) != W)
        fail(Code::BadInput, "Concat: shapes ", shape_str(x.shape()), " and ", shape_str(xi.shape()),
             " differ off the axis");
      ptrs.push_back(xi.data<float>());
      chans.push_back(xi.dim(1));
      C += xi.dim(1);
    }
    int64_t O = w.dim(0), KH = w.dim(2), KW = w.dim(3);
    if (C != w.dim(1) * group_ || O % group_)
      fail(Code::BadInput, "Conv: input with ", C, " channels does not fit weights ", shape_str(w.shape()),
           " with group ", group_);
    if (b && b->numel() != O) fail(Code::BadInput, "Conv: bias has ", b->numel(), " values for ", O, " channels");
    auto [p, OH, OW] = conv_geometry(window_, H, W, KH, KW, group_, "Conv");
    p.activation = act_;
    Tensor y;
    if (x.on_device()) {
      y = run_gpu(need_gpu(ctx, "Conv"), ctx.owner, in, ptrs, chans, N, C, H, W, w, b, p, OH, OW);
    } else {
      y = Tensor::empty(DType::F32, {N, O, OH, OW});
      // bf16 runs: constant weights of a plain convolution packed once in bf16; 3×3 convolutions
      // that take Winograd's transforms stay f32 (a quarter of the multiplies beats twice the rate).
      const int64_t K = C * KH * KW;
      const bool winograd = cpu::winograd_applies(C, O, KH, KW, p, OH, OW) && !knobs::no_winograd();
      if (ctx.bf16 && bf16_capable_ && K > 0 && !winograd) {
        const cpu::Bf16Weights& wb = bf16_w_.get(ctx.pool, cpu::Bf16Weights::Side::Left, w.data<float>(), O, K);
        cpu::conv2d_bf16(ctx.pool, cpu::ConvInput(ptrs, chans), N, C, H, W, wb, O, KH, KW,
                         b ? b->data<float>() : nullptr, p, y.data<float>(), OH, OW);
      } else {
        cpu::conv2d(ctx.pool, cpu::ConvInput(ptrs, chans), N, C, H, W, w.data<float>(), O, KH, KW,
                    b ? b->data<float>() : nullptr, p, y.data<float>(), OH, OW);
      }
    }
    double flops = 2.0 * double(N * O * OH * OW) * double(C / group_ * KH * KW);
    ctx.flops += flops;
    if (ctx.detail) {
      char key[160];
      std::snprintf(key, sizeof key, "Conv C=%ld O=%ld %ldx%ld k%ld s%ld d%ld%s", long(C), long(O), long(OH), long(OW),
                    long(KH), long(p.stride_h), long(p.dilation_h), parts_ > 1 ? " +concat" : "");
      ctx.detail->emplace_back(key, flops);
    }
    return {y};
  }

 private:
  // parts (N, C_i, H, W) on the device, concatenated first when there are several; w (O, C/g, KH,
  // KW) and bias (O) host constants (device copies owned by `owner`) -> y (N, O, OH, OW) on the device.
  Tensor run_gpu(Gpu& gpu, const void* owner, const Inputs& in, const std::vector<const float*>& ptrs,
                 const std::vector<int64_t>& chans, int64_t N, int64_t C, int64_t H, int64_t W, const Tensor& w,
                 const Tensor* b, const cpu::Conv2dParams& p, int64_t OH, int64_t OW) const {
    for (int64_t i = 0; i < parts_; ++i)
      if (!in[size_t(i)]->on_device()) fail(Code::Internal, "Conv: input parts split between host and device");
    if (w.on_device() || (b && b->on_device())) fail(Code::Internal, "Conv: weights must be host constants");
    const float* x = ptrs[0];
    Tensor cat;
    if (parts_ > 1) {
      cat = device_empty(gpu, DType::F32, {N, C, H, W});
      std::vector<const void*> src(ptrs.begin(), ptrs.end());
      std::vector<int64_t> bytes;
      for (int64_t c : chans) bytes.push_back(c * H * W * int64_t(sizeof(float)));
      gpu.concat(src.data(), bytes.data(), int(parts_), N, cat.raw());
      x = cat.data<float>();
    }
    Gpu::Weight wd = gpu.weight(w, false, owner);
    const float* bias = b ? static_cast<const float*>(gpu.weight(*b, true, owner).p) : nullptr;
    int64_t O = w.dim(0);
    Tensor y = device_empty(gpu, DType::F32, {N, O, OH, OW});
    gpu.conv2d(x, N, C, H, W, wd.p, wd.dtype, O, w.dim(2), w.dim(3), bias, p, y.data<float>(), OH, OW);
    return y;
  }

  int64_t group_ = 1, parts_ = 1;
  cpu::Activation act_;
  Window2d window_;
  bool gpu_capable_ = false;
  bool bf16_capable_ = false;  // constant weights, one group: bf16 runs may pack them
  Bf16Weight bf16_w_;
};

// ---- ConvInteger: integer convolution (uint8/int8 operands, int32 result) -------------------------
// uint8 activations run on exact int8 dot products (backend/cpu/qconv.h) where the CPU has
// AVX512-VNNI. Elsewhere, and for grouped or int8-activation convolutions, it is a float
// convolution of the zero-point-shifted operands: every product and partial sum is an integer,
// exact while sums stay below 2^24, far below the precision the following dequantisation keeps.
class ConvIntegerKernel : public Kernel {
 public:
  explicit ConvIntegerKernel(const NodeInfo& info) {
    const auto& n = info.node;
    group_ = n.attr_int("group", 1);
    if (group_ <= 0) info.bad("group must be positive");
    if (!(info.constants.size() > 1 && info.constants[1]))
      info.unsupported("weights computed at run time are not supported");
    const Tensor& w = *info.constants[1];
    if (w.rank() != 4) info.unsupported("only 2-D integer convolution is supported");
    if (w.dtype() != DType::U8 && w.dtype() != DType::I8) info.bad("weights must be uint8 or int8");
    int64_t O = w.dim(0);
    std::vector<int64_t> wzp(1, 0);
    if (info.has_input(3)) {
      if (!info.constants[3]) info.unsupported("a weight zero point computed at run time is not supported");
      wzp = info.constants[3]->as_i64();
      if (wzp.size() != 1 && int64_t(wzp.size()) != O) info.bad("weight zero point must be a scalar or per channel");
    }
    std::vector<int64_t> wv = w.as_i64();
    if (group_ == 1 && cpu::qconv_available())
      qweights_ = std::make_shared<cpu::QConvWeights>(
          cpu::qconv_prepare(wv, O, w.dim(1), w.dim(2), w.dim(3), wzp, w.dtype() == DType::I8));
    weights_ = Tensor::empty(DType::F32, w.shape());
    int64_t per = w.numel() / std::max<int64_t>(O, 1);
    for (int64_t i = 0; i < w.numel(); ++i)
      weights_.data<float>()[i] = float(wv[i] - wzp[wzp.size() == 1 ? 0 : i / per]);
    window_ = read_window(info, w.dim(2), w.dim(3));
  }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const Tensor& x = need(in, 0, "ConvInteger");
    if (x.rank() != 4 || (x.dtype() != DType::U8 && x.dtype() != DType::I8))
      fail(Code::BadInput, "ConvInteger: expected a 4-D uint8/int8 tensor, got ", shape_str(x.shape()));
    int64_t xzp = 0;
    if (in.size() > 2 && in[2]) {
      auto z = in[2]->as_i64();
      if (z.size() != 1) fail(Code::ModelUnsupported, "ConvInteger: per-channel input zero points are not supported");
      xzp = z[0];
    }
    const Tensor& w = weights_;
    int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    int64_t O = w.dim(0), KH = w.dim(2), KW = w.dim(3);
    if (C != w.dim(1) * group_)
      fail(Code::BadInput, "ConvInteger: input ", shape_str(x.shape()), " does not fit weights ", shape_str(w.shape()));
    if (qweights_ && x.dtype() == DType::U8) {
      const auto [q, OH, OW] = conv_geometry(window_, H, W, KH, KW, group_, "ConvInteger");
      if (xzp < 0 || xzp > 255) fail(Code::BadInput, "ConvInteger: input zero point ", xzp, " is out of range");
      Tensor y = Tensor::empty(DType::I32, {N, O, OH, OW});
      cpu::qconv2d_u8(ctx.pool, x.data<uint8_t>(), N, H, W, int32_t(xzp), *qweights_, q, y.data<int32_t>(), OH, OW);
      return {y};
    }
    Tensor xf = Tensor::empty(DType::F32, x.shape());
    float* xp = xf.data<float>();
    if (x.dtype() == DType::U8) {
      const uint8_t* src = x.data<uint8_t>();
      ctx.pool.parallel_for(x.numel(), 1 << 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) xp[i] = float(int64_t(src[i]) - xzp);
      });
    } else {
      const int8_t* src = x.data<int8_t>();
      ctx.pool.parallel_for(x.numel(), 1 << 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) xp[i] = float(int64_t(src[i]) - xzp);
      });
    }
    auto [p, OH, OW] = conv_geometry(window_, H, W, KH, KW, group_, "ConvInteger");
    p.exact = true;
    Tensor yf = Tensor::empty(DType::F32, {N, O, OH, OW});
    cpu::conv2d(ctx.pool, cpu::ConvInput(xp, C), N, C, H, W, w.data<float>(), O, KH, KW, nullptr, p, yf.data<float>(),
                OH, OW);
    Tensor y = Tensor::empty(DType::I32, yf.shape());
    const float* yp = yf.data<float>();
    int32_t* yi = y.data<int32_t>();
    ctx.pool.parallel_for(y.numel(), 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) yi[i] = static_cast<int32_t>(std::nearbyint(yp[i]));
    });
    return {y};
  }

 private:
  int64_t group_ = 1;
  Tensor weights_;
  std::shared_ptr<const cpu::QConvWeights> qweights_;  // exact int8 path (AVX512-VNNI), when available
  Window2d window_;
};

// ---- Pools ---------------------------------------------------------------------------------------
class PoolKernel : public Kernel {
 public:
  PoolKernel(const NodeInfo& info, bool max) : max_(max) {
    const auto& n = info.node;
    auto ks = n.attr_ints("kernel_shape");
    if (ks.size() != 2) info.unsupported("only 2-D pooling is supported");
    window_ = read_window(info, ks[0], ks[1]);
    ceil_ = n.attr_int("ceil_mode", 0) != 0;
    count_include_pad_ = n.attr_int("count_include_pad", 0) != 0;
    if (max && n.outputs.size() > 1 && !n.outputs[1].empty()) info.unsupported("the Indices output is not supported");
  }

  Place place(size_t i) const override { return i == 0 ? Place::Device : Place::Host; }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const Tensor& x = need(in, 0, max_ ? "MaxPool" : "AveragePool");
    check_rank4(x, max_ ? "MaxPool" : "AveragePool");
    int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    cpu::Pool2dParams p;
    p.kernel_h = window_.kh;
    p.kernel_w = window_.kw;
    p.stride_h = window_.sh;
    p.stride_w = window_.sw;
    p.dilation_h = window_.dh;
    p.dilation_w = window_.dw;
    p.pad_top = window_.pt;
    p.pad_left = window_.pl;
    p.pad_bottom = window_.pb;
    p.pad_right = window_.pr;
    resolve_pad(window_.auto_pad, H, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom);
    resolve_pad(window_.auto_pad, W, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right);
    p.ceil_mode = ceil_;
    int64_t OH, OW;
    if (window_.auto_pad == "SAME_UPPER" || window_.auto_pad == "SAME_LOWER") {
      OH = (H + p.stride_h - 1) / p.stride_h;
      OW = (W + p.stride_w - 1) / p.stride_w;
    } else {
      OH = cpu::pool_out_size(H, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h, ceil_);
      OW = cpu::pool_out_size(W, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w, ceil_);
    }
    if (OH <= 0 || OW <= 0) fail(Code::BadInput, "pool: input ", shape_str(x.shape()), " is smaller than the window");
    if (x.on_device()) {
      Gpu& gpu = need_gpu(ctx, "pool");
      Tensor y = device_empty(gpu, DType::F32, {N, C, OH, OW});
      if (max_)
        gpu.maxpool2d(x.data<float>(), N * C, H, W, p, y.data<float>(), OH, OW);
      else
        gpu.avgpool2d(x.data<float>(), N * C, H, W, p, count_include_pad_, y.data<float>(), OH, OW);
      return {y};
    }
    Tensor y = Tensor::empty(DType::F32, {N, C, OH, OW});
    if (max_)
      cpu::maxpool2d(ctx.pool, x.data<float>(), N * C, H, W, p, y.data<float>(), OH, OW);
    else
      cpu::avgpool2d(ctx.pool, x.data<float>(), N * C, H, W, p, count_include_pad_, y.data<float>(), OH, OW);
    return {y};
  }

 private:
  bool max_;
  Window2d window_;
  bool ceil_ = false, count_include_pad_ = false;
};

std::vector<Tensor> global_pool(RunContext& ctx, const Inputs& in, bool max) {
  const Tensor& x = need(in, 0, max ? "GlobalMaxPool" : "GlobalAveragePool");
  check_rank4(x, "GlobalPool");
  int64_t NC = x.dim(0) * x.dim(1), S = x.dim(2) * x.dim(3);
  if (x.on_device()) {
    // One window covering the whole plane.
    Gpu& gpu = need_gpu(ctx, "GlobalPool");
    if (S == 0) fail(Code::BadInput, "GlobalPool: empty input ", shape_str(x.shape()));
    cpu::Pool2dParams p;
    p.kernel_h = x.dim(2);
    p.kernel_w = x.dim(3);
    Tensor y = device_empty(gpu, DType::F32, {x.dim(0), x.dim(1), 1, 1});
    if (max)
      gpu.maxpool2d(x.data<float>(), NC, x.dim(2), x.dim(3), p, y.data<float>(), 1, 1);
    else
      gpu.avgpool2d(x.data<float>(), NC, x.dim(2), x.dim(3), p, false, y.data<float>(), 1, 1);
    return {y};
  }
  Tensor y = Tensor::empty(DType::F32, {x.dim(0), x.dim(1), 1, 1});
  ctx.pool.parallel_for(NC, 16, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const float* p = x.data<float>() + c * S;
      float acc = max ? -INFINITY : 0.f;
      for (int64_t i = 0; i < S; ++i) acc = max ? std::max(acc, p[i]) : acc + p[i];
      y.data<float>()[c] = max ? acc : acc / float(S);
    }
  });
  return {y};
}

// ---- BatchNormalization (inference) ----------------------------------------------------------------
std::vector<Tensor> batchnorm(RunContext& ctx, const Inputs& in, float eps) {
  const Tensor& x = need(in, 0, "BatchNormalization");
  if (x.rank() < 2 || x.dtype() != DType::F32)
    fail(Code::BadInput, "BatchNormalization: bad input ", shape_str(x.shape()));
  int64_t N = x.dim(0), C = x.dim(1), S = x.numel() / std::max<int64_t>(N * C, 1);
  for (int k = 1; k <= 4; ++k)
    if (need(in, k, "BatchNormalization").numel() != C)
      fail(Code::BadInput, "BatchNormalization: parameter size mismatch");
  if (x.on_device()) {
    // Parameters computed at run time arrive on the device; constants go through the Gpu's cache.
    Gpu& gpu = need_gpu(ctx, "BatchNormalization");
    const float* prm[4];
    for (int k = 1; k <= 4; ++k) {
      if (in[k]->dtype() != DType::F32) fail(Code::BadInput, "BatchNormalization: parameters must be float");
      prm[k - 1] =
          in[k]->on_device() ? in[k]->data<float>() : static_cast<const float*>(gpu.weight(*in[k], true, ctx.owner).p);
    }
    Tensor y = device_empty(gpu, DType::F32, x.shape());
    gpu.batchnorm(x.data<float>(), N, C, S, prm[0], prm[1], prm[2], prm[3], eps, y.data<float>());
    return {y};
  }
  Tensor y = Tensor::empty(DType::F32, x.shape());
  cpu::batchnorm(ctx.pool, x.data<float>(), N, C, S, in[1]->data<float>(), in[2]->data<float>(), in[3]->data<float>(),
                 in[4]->data<float>(), eps, y.data<float>());
  return {y};
}

// ---- Resize / Upsample ----------------------------------------------------------------------------
class ResizeKernel : public Kernel {
 public:
  ResizeKernel(const NodeInfo& info, bool upsample) : upsample_(upsample) {
    const auto& n = info.node;
    std::string mode = n.attr_string("mode", "nearest");
    if (mode == "nearest")
      p_.mode = cpu::ResizeMode::Nearest;
    else if (mode == "linear" || mode == "bilinear")
      p_.mode = cpu::ResizeMode::Linear;
    else
      info.unsupported("resize mode '" + mode + "' is not supported (nearest and linear are)");
    legacy_ = upsample || info.opset < 11;
    if (legacy_) {
      p_.coord = cpu::CoordMode::Asymmetric;
      p_.nearest = cpu::NearestMode::Floor;
    } else {
      std::string c = n.attr_string("coordinate_transformation_mode", "half_pixel");
      if (c == "half_pixel")
        p_.coord = cpu::CoordMode::HalfPixel;
      else if (c == "pytorch_half_pixel")
        p_.coord = cpu::CoordMode::PytorchHalfPixel;
      else if (c == "align_corners")
        p_.coord = cpu::CoordMode::AlignCorners;
      else if (c == "asymmetric")
        p_.coord = cpu::CoordMode::Asymmetric;
      else if (c == "tf_half_pixel_for_nn")
        p_.coord = cpu::CoordMode::TfHalfPixelForNn;
      else if (c == "half_pixel_symmetric")
        info.unsupported("coordinate mode half_pixel_symmetric is not supported");
      else
        info.unsupported("coordinate mode '" + c + "' is not supported");
      std::string nm = n.attr_string("nearest_mode", "round_prefer_floor");
      if (nm == "round_prefer_floor")
        p_.nearest = cpu::NearestMode::RoundPreferFloor;
      else if (nm == "round_prefer_ceil")
        p_.nearest = cpu::NearestMode::RoundPreferCeil;
      else if (nm == "floor")
        p_.nearest = cpu::NearestMode::Floor;
      else if (nm == "ceil")
        p_.nearest = cpu::NearestMode::Ceil;
      else
        info.bad("unknown nearest_mode '" + nm + "'");
      if (n.attr_int("antialias", 0) != 0) info.unsupported("antialiased resize is not supported");
      if (n.has("axes")) info.unsupported("the axes attribute is not supported");
    }
    if (upsample && info.opset < 9) {
      auto it = n.attrs.find("scales");
      if (it != n.attrs.end()) scales_attr_ = it->second.floats;
    }
  }

  // The image on the device; roi, scales and sizes on the host.
  Place place(size_t i) const override { return i == 0 ? Place::Device : Place::Host; }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const Tensor& x = need(in, 0, "Resize");
    check_rank4(x, "Resize");
    std::vector<float> scales = scales_attr_;
    std::vector<int64_t> sizes;
    if (scales.empty()) {
      // Upsample-9 / Resize-10: scales is input 1. Resize-11+: roi=1, scales=2, sizes=3.
      size_t si = legacy_ ? 1 : 2;
      if (si < in.size() && in[si] && in[si]->numel() > 0) {
        Tensor s = in[si]->dtype() == DType::F32 ? *in[si] : in[si]->to(DType::F32);
        scales.assign(s.data<float>(), s.data<float>() + s.numel());
      }
      if (!legacy_ && in.size() > 3 && in[3] && in[3]->numel() > 0) sizes = in[3]->as_i64();
    }
    int64_t OH, OW;
    cpu::ResizeParams p = p_;
    if (!sizes.empty()) {
      if (sizes.size() != 4 || sizes[0] != x.dim(0) || sizes[1] != x.dim(1))
        fail(Code::BadInput, "Resize: only spatial (H, W) resizing of 4-D tensors is supported");
      OH = sizes[2];
      OW = sizes[3];
      p.scale_h = p.scale_w = 0.f;  // coordinates from the sizes
    } else if (scales.size() == 4) {
      if (scales[0] != 1.f || scales[1] != 1.f)
        fail(Code::BadInput, "Resize: only spatial (H, W) resizing of 4-D tensors is supported");
      if (!(scales[2] > 0.f) || !(scales[3] > 0.f)) fail(Code::BadInput, "Resize: scales must be positive");
      OH = static_cast<int64_t>(std::floor(double(x.dim(2)) * scales[2]));
      OW = static_cast<int64_t>(std::floor(double(x.dim(3)) * scales[3]));
      p.scale_h = scales[2];
      p.scale_w = scales[3];
    } else {
      fail(Code::BadInput, "Resize: needs 4 scales or 4 sizes");
    }
    if (OH <= 0 || OW <= 0 || OH > (1 << 16) || OW > (1 << 16))
      fail(Code::BadInput, "Resize: output size ", OH, "x", OW, " is out of range");
    check_elements({x.dim(0), x.dim(1), OH, OW}, "Resize");
    if (legacy_ && p.mode == cpu::ResizeMode::Nearest) {
      // Opset < 11 nearest: floor when enlarging, ceil when shrinking.
      p.nearest = (p.scale_h >= 1.f && p.scale_w >= 1.f) ? cpu::NearestMode::Floor : cpu::NearestMode::Ceil;
    }
    if (x.on_device()) {
      Gpu& gpu = need_gpu(ctx, "Resize");
      Tensor y = device_empty(gpu, DType::F32, {x.dim(0), x.dim(1), OH, OW});
      gpu.resize2d(x.data<float>(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), p, y.data<float>(), OH, OW);
      return {y};
    }
    Tensor y = Tensor::empty(DType::F32, {x.dim(0), x.dim(1), OH, OW});
    cpu::resize2d(ctx.pool, x.data<float>(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), p, y.data<float>(), OH, OW);
    return {y};
  }

 private:
  bool upsample_;
  bool legacy_ = false;
  cpu::ResizeParams p_;
  std::vector<float> scales_attr_;
};

}  // namespace

void register_nn_kernels(std::map<std::string, KernelFactory>& r) {
  r["Conv"] = [](const NodeInfo& i) { return std::make_unique<ConvKernel>(i); };
  r["ConvInteger"] = [](const NodeInfo& i) { return std::make_unique<ConvIntegerKernel>(i); };
  r["MaxPool"] = [](const NodeInfo& i) { return std::make_unique<PoolKernel>(i, true); };
  r["AveragePool"] = [](const NodeInfo& i) { return std::make_unique<PoolKernel>(i, false); };
  r["GlobalAveragePool"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return global_pool(c, in, false); },
                          Placement::first(Place::Device));
  };
  r["GlobalMaxPool"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return global_pool(c, in, true); },
                          Placement::first(Place::Device));
  };
  r["BatchNormalization"] = [](const NodeInfo& i) {
    float eps = i.node.attr_float("epsilon", 1e-5f);
    if (i.node.outputs.size() > 1 && !i.node.outputs[1].empty())
      i.unsupported("training-mode outputs are not supported");
    // Constant parameters stay on the host for Gpu::weight; computed ones move with x.
    bool params_const = true;
    for (size_t k = 1; k <= 4; ++k) params_const = params_const && k < i.constants.size() && i.constants[k];
    return make_fn_kernel([eps](RunContext& c, const Inputs& in) { return batchnorm(c, in, eps); },
                          params_const ? Placement::first(Place::Device) : Placement::all(Place::Device));
  };
  r["Resize"] = [](const NodeInfo& i) { return std::make_unique<ResizeKernel>(i, false); };
  r["Upsample"] = [](const NodeInfo& i) { return std::make_unique<ResizeKernel>(i, true); };
}

}  // namespace bgn::onnxrt
