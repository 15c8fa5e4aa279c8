// Quantisation kernels: (Dynamic)QuantizeLinear and DequantizeLinear, uint8/int8.
// Rounding is half-to-even and saturating, as the ONNX specification and onnxruntime do.
#include <algorithm>
#include <cmath>
#include <vector>

#include "onnx/kernel.h"
#include "tensor/error.h"

namespace bgn::onnxrt {

namespace {

using Out = std::vector<Tensor>;

// Per-tensor or per-axis parameter lookup: index of the parameter for element i.
struct AxisParam {
  int64_t count = 1, inner = 1;
  int64_t at(int64_t i) const { return count == 1 ? 0 : (i / inner) % count; }
};

AxisParam axis_param(const Tensor& x, const Tensor& param, int64_t axis_attr, const char* op) {
  AxisParam p;
  p.count = param.numel();
  if (p.count == 1) return p;
  if (x.rank() == 0) fail(Code::BadInput, op, ": ", p.count, " scales for a scalar");
  int64_t axis = normalize_axis(axis_attr, x.rank(), op);
  if (x.dim(int(axis)) != p.count)
    fail(Code::BadInput, op, ": ", p.count, " scales for axis ", axis, " of size ", x.dim(int(axis)));
  for (int d = int(axis) + 1; d < x.rank(); ++d) p.inner *= x.dim(d);
  return p;
}

Out dequantize(const Inputs& in, int64_t axis) {
  const Tensor& x = need(in, 0, "DequantizeLinear");
  Tensor scale = need(in, 1, "DequantizeLinear").to(DType::F32);
  std::vector<int64_t> zp(scale.numel(), 0);
  if (in.size() > 2 && in[2]) {
    zp = in[2]->as_i64();
    if (zp.size() != size_t(scale.numel())) fail(Code::BadInput, "DequantizeLinear: zero point / scale sizes differ");
  }
  AxisParam ap = axis_param(x, scale, axis, "DequantizeLinear");
  std::vector<int64_t> xv = x.as_i64();
  Tensor y = Tensor::empty(DType::F32, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t k = ap.at(i);
    y.data<float>()[i] = float(xv[i] - zp[k]) * scale.data<float>()[k];
  }
  return {y};
}

Out quantize(const Inputs& in, int64_t axis) {
  const Tensor& x = need(in, 0, "QuantizeLinear");
  Tensor scale = need(in, 1, "QuantizeLinear").to(DType::F32);
  DType out_type = DType::U8;
  std::vector<int64_t> zp(scale.numel(), 0);
  if (in.size() > 2 && in[2]) {
    out_type = in[2]->dtype();
    zp = in[2]->as_i64();
  }
  if (out_type != DType::U8 && out_type != DType::I8)
    fail(Code::ModelUnsupported, "QuantizeLinear: only uint8/int8 outputs");
  int64_t lo = out_type == DType::U8 ? 0 : -128, hi = out_type == DType::U8 ? 255 : 127;
  AxisParam ap = axis_param(x, scale, axis, "QuantizeLinear");
  Tensor y = Tensor::empty(out_type, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t k = ap.at(i);
    int64_t q = static_cast<int64_t>(std::nearbyint(x.data<float>()[i] / scale.data<float>()[k])) + zp[k];
    q = std::clamp(q, lo, hi);
    if (out_type == DType::U8)
      y.data<uint8_t>()[i] = uint8_t(q);
    else
      y.data<int8_t>()[i] = int8_t(q);
  }
  return {y};
}

// Round half to even for |v| < 2^22 without leaving the vector unit: adding and subtracting
// 1.5 * 2^23 makes the FPU round in the default (nearest-even) mode. Needs -ffp-contract=off
// and no -ffast-math, which this file is built with.
inline float round_even(float v) {
  const float magic = 12582912.0f;  // without -ffast-math the compiler may not fold this away
  return (v + magic) - magic;
}

// y (u8), y_scale, y_zero_point from x: the range of x (widened to include 0) mapped onto 0..255,
// with the arithmetic onnxruntime uses (division by the scale, round half to even, saturate).
Out dynamic_quantize(RunContext& ctx, const Inputs& in) {
  const Tensor& x = need(in, 0, "DynamicQuantizeLinear");
  if (x.dtype() != DType::F32) fail(Code::BadInput, "DynamicQuantizeLinear: float input expected");
  const float* p = x.data<float>();
  const int64_t n = x.numel();
  const int64_t chunk = 1 << 16, chunks = (n + chunk - 1) / chunk;
  std::vector<float> lo_part(chunks, 0.f), hi_part(chunks, 0.f);
  std::vector<char> bad_part(chunks, 0);
  ctx.pool.parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const float* q = p + k * chunk;
      const int64_t m = std::min(chunk, n - k * chunk);
      float lo = 0.f, hi = 0.f, acc = 0.f;
      for (int64_t i = 0; i < m; ++i) {
        lo = q[i] < lo ? q[i] : lo;
        hi = q[i] > hi ? q[i] : hi;
        acc += q[i] * 0.f;  // NaN or Inf anywhere makes this NaN
      }
      lo_part[k] = lo;
      hi_part[k] = hi;
      bad_part[k] = acc != acc;
    }
  });
  float lo = 0.f, hi = 0.f;
  for (int64_t k = 0; k < chunks; ++k) {
    if (bad_part[k]) fail(Code::Numeric, "DynamicQuantizeLinear: the input holds NaN or Inf");
    lo = std::min(lo, lo_part[k]);
    hi = std::max(hi, hi_part[k]);
  }
  float scale = hi == lo ? 1.f : (hi - lo) / 255.f;
  float zp_f = std::clamp(0.f - lo / scale, 0.f, 255.f);
  uint8_t zp = static_cast<uint8_t>(std::nearbyint(zp_f));
  Tensor y = Tensor::empty(DType::U8, x.shape());
  uint8_t* q = y.data<uint8_t>();
  const float zpf = float(zp);
  ctx.pool.parallel_for(n, 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float v = round_even(p[i] / scale) + zpf;
      v = v < 0.f ? 0.f : (v > 255.f ? 255.f : v);
      q[i] = static_cast<uint8_t>(v);
    }
  });
  Tensor s = Tensor::scalar_f32(scale);
  Tensor z = Tensor::empty(DType::U8, {});
  z.data<uint8_t>()[0] = zp;
  return {y, s, z};
}

}  // namespace

void register_quant_kernels(std::map<std::string, KernelFactory>& r) {
  r["DequantizeLinear"] = [](const NodeInfo& i) {
    int64_t axis = i.node.attr_int("axis", 1);
    return make_fn_kernel([axis](RunContext&, const Inputs& in) { return dequantize(in, axis); });
  };
  r["QuantizeLinear"] = [](const NodeInfo& i) {
    int64_t axis = i.node.attr_int("axis", 1);
    return make_fn_kernel([axis](RunContext&, const Inputs& in) { return quantize(in, axis); });
  };
  r["DynamicQuantizeLinear"] = [](const NodeInfo&) {
    return make_fn_kernel([](RunContext& c, const Inputs& in) { return dynamic_quantize(c, in); });
  };
}

}  // namespace bgn::onnxrt
