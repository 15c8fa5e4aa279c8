// Nearest upsampling (the torch rule) and ONNX-style nearest / bilinear resize of (NC, H, W) planes.
// The source coordinates are computed with the CPU twin's exact single-precision expressions (no
// multiply-add pairs for the compiler to fuse), so the chosen source pixels agree bit for bit and
// nearest results are exact.
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "tensor/error.h"

namespace bgn::cuda {

namespace {

constexpr unsigned kThreads = 256;

__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// Both kernels give one block to each output row (blocks stride over rows when the grid is capped)
// and its threads to the row's columns: the row's source index is found once per row, and each
// value costs one index computation along x instead of a full 64-bit decomposition.
unsigned threads_for_width(int64_t OW) {
  const int64_t t = (OW + 31) / 32 * 32;
  return static_cast<unsigned>(t < kThreads ? t : kThreads);
}

// ---- nearest upsampling ---------------------------------------------------------------------------
// x (NC, H, W) → y (NC, OH, OW): source index floor(dst · in / out), clamped.
__global__ void upsample_nearest_kernel(const float* __restrict__ x, int64_t NC, int64_t H, int64_t W,
                                        float* __restrict__ y, int64_t OH, int64_t OW) {
  for (int64_t r = blockIdx.x; r < NC * OH; r += gridDim.x) {
    const int64_t c = r / OH, oy = r - c * OH;
    const float* xr = x + (c * H + imin(H - 1, (oy * H) / OH)) * W;
    float* yr = y + r * OW;
    for (int64_t ox = threadIdx.x; ox < OW; ox += blockDim.x) yr[ox] = xr[imin(W - 1, (ox * W) / OW)];
  }
}

// ---- resize ---------------------------------------------------------------------------------------
// Where output index o samples along one axis: the lower and upper source indices and the distances
// to them (the lower sample is weighted by d2, the upper by d1). Nearest: i1 == i2, d1 = 0, d2 = 1.
struct Tap {
  int64_t i1, i2;
  float d1, d2;
};

// The source coordinate of output index o, as onnxruntime computes it in single precision: with
// output sizes given the ratio is applied as (o · in) / out, with scales given as o / scale.
__device__ float source_coord(float o, int64_t in_len, int64_t out_len, float scale, bool from_sizes,
                              cpu::CoordMode mode) {
  const float fin = static_cast<float>(in_len), fout = static_cast<float>(out_len);
  auto apply = [&](float v) { return from_sizes ? (v * fin) / fout : v / scale; };
  switch (mode) {
    case cpu::CoordMode::HalfPixel:
      return apply(o + 0.5f) - 0.5f;
    case cpu::CoordMode::PytorchHalfPixel:
      return out_len > 1 ? apply(o + 0.5f) - 0.5f : 0.0f;
    case cpu::CoordMode::AlignCorners:
      return out_len == 1 ? 0.0f : o * static_cast<float>(in_len - 1) / static_cast<float>(out_len - 1);
    case cpu::CoordMode::Asymmetric:
      return apply(o);
    case cpu::CoordMode::TfHalfPixelForNn:
      return apply(o + 0.5f);
  }
  return 0.0f;
}

// std::round: halves away from zero. v − floor(v) is exact in f32, so no addition can round the
// decision the wrong way (floor(v + 0.5) does for v = 0.49999997).
__device__ __forceinline__ float round_half_away(float v) {
  if (v >= 0.f) {
    const float f = floorf(v);
    return v - f >= 0.5f ? f + 1.f : f;
  }
  const float c = ceilf(v);
  return c - v >= 0.5f ? c - 1.f : c;
}

__device__ int64_t nearest_index(float v, cpu::NearestMode m, int64_t in_len) {
  const bool tie = v == static_cast<float>(static_cast<int64_t>(v)) + 0.5f;
  float r;
  switch (m) {
    case cpu::NearestMode::RoundPreferFloor:
      r = tie ? floorf(v) : round_half_away(v);
      break;
    case cpu::NearestMode::RoundPreferCeil:
      r = tie ? ceilf(v) : round_half_away(v);
      break;
    case cpu::NearestMode::Ceil:
      r = ceilf(v);
      break;
    default:
      r = floorf(v);
      break;
  }
  const int64_t i = static_cast<int64_t>(r);
  return i < 0 ? 0 : (i > in_len - 1 ? in_len - 1 : i);
}

__device__ Tap tap_at(int64_t o, int64_t in_len, int64_t out_len, float scale_given, cpu::ResizeMode mode,
                      cpu::CoordMode coord, cpu::NearestMode nearest) {
  const float scale = scale_given > 0.f ? scale_given : static_cast<float>(out_len) / static_cast<float>(in_len);
  const bool identity = scale_given > 0.f ? scale_given == 1.0f : in_len == out_len;
  float s = identity ? static_cast<float>(o)
                     : source_coord(static_cast<float>(o), in_len, out_len, scale, scale_given <= 0.f, coord);
  Tap t;
  if (mode == cpu::ResizeMode::Nearest) {
    t.i1 = t.i2 = nearest_index(s, nearest, in_len);
    t.d1 = 0.f;
    t.d2 = 1.f;
    return t;
  }
  s = fmaxf(0.0f, fminf(s, static_cast<float>(in_len - 1)));
  const int64_t lo = imin(static_cast<int64_t>(s), in_len - 1);
  const int64_t hi = imin(lo + 1, in_len - 1);
  t.i1 = lo;
  t.i2 = hi;
  t.d1 = fabsf(s - static_cast<float>(lo));
  t.d2 = fabsf(s - static_cast<float>(hi));
  if (lo == hi) t.d1 = t.d2 = 0.5f;
  return t;
}

// x (NC, H, W) → y (NC, OH, OW); p is passed by value (plain data).
__global__ void resize2d_kernel(const float* __restrict__ x, int64_t NC, int64_t H, int64_t W, cpu::ResizeParams p,
                                float* __restrict__ y, int64_t OH, int64_t OW) {
  for (int64_t r = blockIdx.x; r < NC * OH; r += gridDim.x) {
    const int64_t c = r / OH, oy = r - c * OH;
    const Tap ty = tap_at(oy, H, OH, p.scale_h, p.mode, p.coord, p.nearest);
    const float* r1 = x + (c * H + ty.i1) * W;
    const float* r2 = x + (c * H + ty.i2) * W;
    float* yr = y + r * OW;
    for (int64_t ox = threadIdx.x; ox < OW; ox += blockDim.x) {
      const Tap tx = tap_at(ox, W, OW, p.scale_w, p.mode, p.coord, p.nearest);
      if (p.mode == cpu::ResizeMode::Nearest) {
        yr[ox] = r1[tx.i1];
        continue;
      }
      const float x11 = r1[tx.i1], x21 = r1[tx.i2], x12 = r2[tx.i1], x22 = r2[tx.i2];
      yr[ox] = tx.d2 * ty.d2 * x11 + tx.d1 * ty.d2 * x21 + tx.d2 * ty.d1 * x12 + tx.d1 * ty.d1 * x22;
    }
  }
}

void check_planes(const char* what, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  if (NC < 0 || H <= 0 || W <= 0 || OH < 0 || OW < 0)
    fail(Code::Internal, what, ": bad shape (", NC, ", ", H, ", ", W, ") → (", OH, ", ", OW, ")");
}

}  // namespace

void upsample_nearest(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, float* y, int64_t OH,
                      int64_t OW) {
  check_planes("upsample_nearest", NC, H, W, OH, OW);
  const int64_t n = NC * OH * OW;
  if (n == 0) return;
  BGN_LAUNCH(upsample_nearest_kernel, grid_for(NC * OH, 1), threads_for_width(OW), 0, s)
  (x, NC, H, W, y, OH, OW);
  check_launch("upsample_nearest");
}

void resize2d(cudaStream_t s, const float* x, int64_t NC, int64_t H, int64_t W, const cpu::ResizeParams& p, float* y,
              int64_t OH, int64_t OW) {
  check_planes("resize2d", NC, H, W, OH, OW);
  const int64_t n = NC * OH * OW;
  if (n == 0) return;
  BGN_LAUNCH(resize2d_kernel, grid_for(NC * OH, 1), threads_for_width(OW), 0, s)(x, NC, H, W, p, y, OH, OW);
  check_launch("resize2d");
}

}  // namespace bgn::cuda
