// Nearest and bilinear resize of (NC,H,W) planes with the ONNX coordinate conventions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"

namespace bgn::cpu {

namespace {

// Coordinates are computed in single precision with the same expressions onnxruntime uses, and
// this file is compiled without FMA contraction: quantised networks re-quantise resized
// activations, so a last-bit difference here would flip rounding decisions downstream.
// The source coordinate of output index `o`, in single precision as onnxruntime computes it.
// With output sizes given the ratio is applied as (o * in) / out; with scales given, as o / scale.
// The difference shows at ties of the nearest modes (7 -> 4 columns maps column 2 to exactly 3.5).
float source_coord(float o, int64_t in_len, int64_t out_len, float scale, bool from_sizes, CoordMode mode) {
  auto apply = [&](float v) {
    return from_sizes ? (v * static_cast<float>(in_len)) / static_cast<float>(out_len) : v / scale;
  };
  switch (mode) {
    case CoordMode::HalfPixel:
      return apply(o + 0.5f) - 0.5f;
    case CoordMode::PytorchHalfPixel:
      return out_len > 1 ? apply(o + 0.5f) - 0.5f : 0.0f;
    case CoordMode::AlignCorners:
      return out_len == 1 ? 0.0f : o * static_cast<float>(in_len - 1) / static_cast<float>(out_len - 1);
    case CoordMode::Asymmetric:
      return apply(o);
    case CoordMode::TfHalfPixelForNn:
      return apply(o + 0.5f);
  }
  return 0.0f;
}

int64_t nearest_index(float v, NearestMode m, int64_t in_len) {
  float r;
  switch (m) {
    case NearestMode::RoundPreferFloor:
      r = (v == static_cast<float>(static_cast<int64_t>(v)) + 0.5f) ? std::floor(v) : std::round(v);
      break;
    case NearestMode::RoundPreferCeil:
      r = (v == static_cast<float>(static_cast<int64_t>(v)) + 0.5f) ? std::ceil(v) : std::round(v);
      break;
    case NearestMode::Floor:
      r = std::floor(v);
      break;
    case NearestMode::Ceil:
      r = std::ceil(v);
      break;
    default:
      r = std::floor(v);
  }
  return std::clamp<int64_t>(static_cast<int64_t>(r), 0, in_len - 1);
}

// Per output index along one axis: the two source indices and the distances to them
// (d1 to the lower, d2 to the upper; the lower sample is weighted by d2).
struct Axis {
  std::vector<int32_t> i1, i2;  // int32 so the compiler can use vector gathers
  std::vector<float> d1, d2;
};

Axis make_axis(int64_t in_len, int64_t out_len, float scale_given, const ResizeParams& p) {
  Axis a;
  a.i1.resize(out_len);
  a.i2.resize(out_len);
  a.d1.resize(out_len);
  a.d2.resize(out_len);
  float scale = scale_given > 0.f ? scale_given : static_cast<float>(out_len) / static_cast<float>(in_len);
  for (int64_t o = 0; o < out_len; ++o) {
    float s = (scale_given > 0.f ? scale_given == 1.0f : in_len == out_len)
                  ? static_cast<float>(o)
                  : source_coord(static_cast<float>(o), in_len, out_len, scale, scale_given <= 0.f, p.coord);
    if (p.mode == ResizeMode::Nearest) {
      a.i1[o] = a.i2[o] = static_cast<int32_t>(nearest_index(s, p.nearest, in_len));
      a.d1[o] = 0.f;
      a.d2[o] = 1.f;
    } else {
      s = std::max(0.0f, std::min(s, static_cast<float>(in_len - 1)));
      int64_t lo = std::min(static_cast<int64_t>(s), in_len - 1);
      int64_t hi = std::min(lo + 1, in_len - 1);
      a.i1[o] = static_cast<int32_t>(lo);
      a.i2[o] = static_cast<int32_t>(hi);
      a.d1[o] = std::fabs(s - static_cast<float>(lo));
      a.d2[o] = std::fabs(s - static_cast<float>(hi));
      if (lo == hi) a.d1[o] = a.d2[o] = 0.5f;
    }
  }
  return a;
}

}  // namespace

void resize2d(ThreadPool& pool, const float* x, int64_t NC, int64_t H, int64_t W, const ResizeParams& p, float* y,
              int64_t OH, int64_t OW) {
  Axis ay = make_axis(H, OH, p.scale_h, p), ax = make_axis(W, OW, p.scale_w, p);
  pool.parallel_for(NC * OH, 8, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      int64_t c = t / OH, oy = t % OH;
      const float* r1 = x + c * H * W + ay.i1[oy] * W;
      const float* r2 = x + c * H * W + ay.i2[oy] * W;
      float* out = y + c * OH * OW + oy * OW;
      const int32_t* __restrict i1 = ax.i1.data();
      const int32_t* __restrict i2 = ax.i2.data();
      if (p.mode == ResizeMode::Nearest) {
        for (int64_t ox = 0; ox < OW; ++ox) out[ox] = r1[i1[ox]];
      } else {
        const float dy1 = ay.d1[oy], dy2 = ay.d2[oy];
        const float* __restrict d1 = ax.d1.data();
        const float* __restrict d2 = ax.d2.data();
        for (int64_t ox = 0; ox < OW; ++ox) {
          const float dx1 = d1[ox], dx2 = d2[ox];
          const float x11 = r1[i1[ox]], x21 = r1[i2[ox]], x12 = r2[i1[ox]], x22 = r2[i2[ox]];
          out[ox] = dx2 * dy2 * x11 + dx1 * dy2 * x21 + dx2 * dy1 * x12 + dx1 * dy1 * x22;
        }
      }
    }
  });
}

}  // namespace bgn::cpu
