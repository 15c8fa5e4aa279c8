// DeformConv (opset 19; 2-D, NCHW, f32): every kernel tap samples the input at its regular
// position plus a learned offset, bilinearly (zero outside the image), scaled by the optional
// mask; the samples form a column matrix that one GEMM per image and group multiplies by the
// weights. Offsets are (N, offset_group*KH*KW*2, OH, OW) as (dy, dx) pairs per tap, the mask
// (N, offset_group*KH*KW, OH, OW); every shape is checked against the weights and attributes.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/ops.h"
#include "onnx/kernel.h"
#include "onnx/tensor_ops.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

// Bilinear sample of plane p (H, W) at (y, x); zero outside (-1, H) x (-1, W), and each corner
// outside the image counts as zero.
inline float sample(const float* p, int64_t H, int64_t W, float y, float x) {
  if (!(y > -1.f && y < float(H) && x > -1.f && x < float(W))) return 0.f;
  const float fy = std::floor(y), fx = std::floor(x);
  const int64_t y0 = int64_t(fy), x0 = int64_t(fx), y1 = y0 + 1, x1 = x0 + 1;
  const float ly = y - fy, lx = x - fx, hy = 1.f - ly, hx = 1.f - lx;
  float v00 = 0.f, v01 = 0.f, v10 = 0.f, v11 = 0.f;
  if (y0 >= 0 && x0 >= 0) v00 = p[y0 * W + x0];
  if (y0 >= 0 && x1 < W) v01 = p[y0 * W + x1];
  if (y1 < H && x0 >= 0) v10 = p[y1 * W + x0];
  if (y1 < H && x1 < W) v11 = p[y1 * W + x1];
  return hy * hx * v00 + hy * lx * v01 + ly * hx * v10 + ly * lx * v11;
}

class DeformConvKernel : public Kernel {
 public:
  explicit DeformConvKernel(const NodeInfo& info) {
    const auto& n = info.node;
    group_ = n.attr_int("group", 1);
    offset_group_ = n.attr_int("offset_group", 1);
    if (group_ <= 0 || offset_group_ <= 0) info.bad("group and offset_group must be positive");
    auto two = [&](const char* k, std::vector<int64_t> def) {
      auto v = n.attr_ints(k, def);
      if (v.size() != def.size()) info.unsupported(std::string(k) + " of the wrong length (only 2-D is supported)");
      return v;
    };
    auto st = two("strides", {1, 1}), dl = two("dilations", {1, 1}), pads = two("pads", {0, 0, 0, 0});
    ks_ = n.attr_ints("kernel_shape");
    if (!ks_.empty() && ks_.size() != 2) info.unsupported("only 2-D DeformConv is supported");
    for (int i = 0; i < 2; ++i) {
      s_[i] = st[i];
      d_[i] = dl[i];
      pb_[i] = pads[i];
      pe_[i] = pads[i + 2];
      if (s_[i] <= 0 || d_[i] <= 0 || pb_[i] < 0 || pe_[i] < 0)
        info.bad("non-positive stride or dilation, or negative padding");
    }
    if (n.inputs.size() < 3 || !info.has_input(2)) info.bad("needs X, W and offset");
  }

  std::vector<Tensor> run(RunContext& ctx, const Inputs& in) const override {
    const char* op = "DeformConv";
    const Tensor& x = need(in, 0, op);
    const Tensor& w = need(in, 1, op);
    const Tensor& off = need(in, 2, op);
    const Tensor* b = in.size() > 3 ? in[3] : nullptr;
    const Tensor* mask = in.size() > 4 ? in[4] : nullptr;
    for (const Tensor* t : {&x, &w, &off, mask})
      if (t && (t->rank() != 4 || t->dtype() != DType::F32))
        fail(Code::BadInput, op, ": X, W, offset and mask must be 4-D float, got ", shape_str(t->shape()));
    const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
    const int64_t O = w.dim(0), Cg = w.dim(1), KH = w.dim(2), KW = w.dim(3), G = group_, OG = offset_group_;
    if (!ks_.empty() && (ks_[0] != KH || ks_[1] != KW))
      fail(Code::BadInput, op, ": kernel_shape differs from the weights ", shape_str(w.shape()));
    if (Cg * G != C || O % G || C % OG)
      fail(Code::BadInput, op, ": input with ", C, " channels does not fit weights ", shape_str(w.shape()),
           " with group ", G, " and offset_group ", OG);
    if (b && (b->dtype() != DType::F32 || b->numel() != O)) fail(Code::BadInput, op, ": bias must hold ", O, " floats");
    const int64_t OH = (H + pb_[0] + pe_[0] - ((KH - 1) * d_[0] + 1)) / s_[0] + 1;
    const int64_t OW = (W + pb_[1] + pe_[1] - ((KW - 1) * d_[1] + 1)) / s_[1] + 1;
    if (H + pb_[0] + pe_[0] < (KH - 1) * d_[0] + 1 || W + pb_[1] + pe_[1] < (KW - 1) * d_[1] + 1 || OH <= 0 || OW <= 0)
      fail(Code::BadInput, op, ": a ", H, "x", W, " input is smaller than the kernel");
    const Shape want_off{N, OG * KH * KW * 2, OH, OW}, want_mask{N, OG * KH * KW, OH, OW};
    if (off.shape() != want_off)
      fail(Code::BadInput, op, ": offset of shape ", shape_str(off.shape()), " where ", shape_str(want_off),
           " is needed");
    if (mask && mask->shape() != want_mask)
      fail(Code::BadInput, op, ": mask of shape ", shape_str(mask->shape()), " where ", shape_str(want_mask),
           " is needed");
    Tensor y = new_output(DType::F32, {N, O, OH, OW}, op);
    const int64_t P = OH * OW, KK = KH * KW, rows = C * KK;
    check_elements({rows, P}, op);
    std::vector<float> col(size_t(rows * P));
    const int64_t per_og = C / OG, Og = O / G;
    for (int64_t n = 0; n < N; ++n) {
      const float* xn = x.data<float>() + n * C * H * W;
      const float* on = off.data<float>() + n * OG * KK * 2 * P;
      const float* mn = mask ? mask->data<float>() + n * OG * KK * P : nullptr;
      ctx.pool.parallel_for(rows, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t row = lo; row < hi; ++row) {
          const int64_t c = row / KK, k = row % KK, kh = k / KW, kw = k % KW, g = c / per_og;
          const float* dy = on + ((g * KK + k) * 2) * P;
          const float* dx = dy + P;
          const float* m = mn ? mn + (g * KK + k) * P : nullptr;
          const float* plane = xn + c * H * W;
          float* dst = col.data() + row * P;
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              const int64_t p = oh * OW + ow;
              const float py = float(oh * s_[0] - pb_[0] + kh * d_[0]) + dy[p];
              const float px = float(ow * s_[1] - pb_[1] + kw * d_[1]) + dx[p];
              float v = sample(plane, H, W, py, px);
              dst[p] = m ? v * m[p] : v;
            }
        }
      });
      for (int64_t g = 0; g < G; ++g)
        cpu::sgemm(ctx.pool, false, false, Og, P, Cg * KK, 1.f, w.data<float>() + g * Og * Cg * KK, Cg * KK,
                   col.data() + g * Cg * KK * P, P, 0.f, y.data<float>() + (n * O + g * Og) * P, P);
      if (b)
        for (int64_t o = 0; o < O; ++o) {
          float* p = y.data<float>() + (n * O + o) * P;
          for (int64_t i = 0; i < P; ++i) p[i] += b->data<float>()[o];
        }
    }
    ctx.flops += 2.0 * double(N) * double(O) * double(P) * double(Cg * KK);
    return {y};
  }

 private:
  int64_t group_ = 1, offset_group_ = 1;
  int64_t s_[2] = {1, 1}, d_[2] = {1, 1}, pb_[2] = {0, 0}, pe_[2] = {0, 0};
  std::vector<int64_t> ks_;
};

}  // namespace

void register_deform_kernels(std::map<std::string, KernelFactory>& r) {
  r["DeformConv"] = [](const NodeInfo& i) { return std::make_unique<DeformConvKernel>(i); };
}

}  // namespace bgn::onnxrt
