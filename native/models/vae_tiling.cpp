#include "models/vae_tiling.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "tensor/error.h"

namespace bgn {

void validate_vae_tiling(const VaeTileOptions& o) {
  if (o.tile < 8 || o.tile > 4096) fail(Code::BadInput, "tileSize must be from 8 to 4096 latent pixels; got ", o.tile);
  if (o.overlap < 0 || o.overlap >= o.tile)
    fail(Code::BadInput, "tileOverlap must be from 0 to tileSize − 1 (", o.tile - 1, ") latent pixels; got ",
         o.overlap);
}

bool vae_uses_tiles(const VaeTileOptions& o, int64_t h, int64_t w) {
  switch (o.mode) {
    case VaeTiling::Off:
      return false;
    case VaeTiling::On:
      return h > o.tile || w > o.tile;
    case VaeTiling::Auto:
      return h * w > o.tile * o.tile;
  }
  return false;
}

std::vector<int64_t> vae_tile_starts(int64_t n, int64_t tile, int64_t overlap) {
  if (n <= tile) return {0};
  const int64_t stride = tile - overlap, span = n - tile;
  const int64_t k = (span + stride - 1) / stride + 1;
  std::vector<int64_t> s(static_cast<size_t>(k));
  // floor(i·span/(k−1)): consecutive starts differ by at most ceil(span/(k−1)) <= stride.
  for (int64_t i = 0; i < k; ++i) s[size_t(i)] = i * span / (k - 1);
  return s;
}

namespace {

float smoothstep(float t) {
  t = std::min(1.f, std::max(0.f, t));
  return t * t * (3.f - 2.f * t);
}

// Blend weights along one axis for tile i of `starts` (latent px, each `len` long), in output
// pixels (scale per latent px). Ramps up over the overlap with tile i−1, down over the overlap
// with tile i+1; 1 elsewhere (including the outer edges of the first and last tile).
std::vector<float> axis_weights(const std::vector<int64_t>& starts, size_t i, int64_t len, int64_t scale) {
  const int64_t s = starts[i] * scale, e = (starts[i] + len) * scale;
  std::vector<float> wt(size_t(e - s), 1.f);
  if (i > 0) {
    const int64_t prev_end = (starts[i - 1] + len) * scale;  // > s: tiles overlap
    const int64_t L = prev_end - s;
    for (int64_t x = s; x < prev_end; ++x) wt[size_t(x - s)] *= smoothstep((float(x - s) + 0.5f) / float(L));
  }
  if (i + 1 < starts.size()) {
    const int64_t next_start = starts[i + 1] * scale;
    const int64_t L = e - next_start;
    for (int64_t x = next_start; x < e; ++x) wt[size_t(x - s)] *= smoothstep((float(e - x) - 0.5f) / float(L));
  }
  return wt;
}

// Runs `fn` on overlapping tiles of `in` (N, cin, h·si, w·si) and blends its outputs
// (N, cout, th·so, tw·so) into (N, cout, h·so, w·so). Tiles are placed on the h×w latent grid.
using TileFn = std::function<std::vector<float>(const float* x, int64_t N, int64_t H, int64_t W)>;

std::vector<float> run_tiled(const TileFn& fn, const float* in, int64_t N, int64_t cin, int64_t cout, int64_t h,
                             int64_t w, int64_t si, int64_t so, const VaeTileOptions& o) {
  const std::vector<int64_t> ys = vae_tile_starts(h, o.tile, o.overlap), xs = vae_tile_starts(w, o.tile, o.overlap);
  const int64_t th = std::min(h, o.tile), tw = std::min(w, o.tile);
  const int64_t Hi = h * si, Wi = w * si, Ho = h * so, Wo = w * so;
  const int64_t thi = th * si, twi = tw * si, tho = th * so, two = tw * so;
  std::vector<float> acc(size_t(N * cout * Ho * Wo), 0.f), wsum(size_t(Ho * Wo), 0.f);
  std::vector<float> tile_in(size_t(N * cin * thi * twi));
  for (size_t ty = 0; ty < ys.size(); ++ty) {
    const std::vector<float> wy = axis_weights(ys, ty, th, so);
    for (size_t tx = 0; tx < xs.size(); ++tx) {
      const std::vector<float> wx = axis_weights(xs, tx, tw, so);
      const int64_t y0 = ys[ty] * si, x0 = xs[tx] * si;
      for (int64_t p = 0; p < N * cin; ++p)
        for (int64_t y = 0; y < thi; ++y)
          std::memcpy(&tile_in[size_t((p * thi + y) * twi)], in + (p * Hi + y0 + y) * Wi + x0, size_t(twi) * 4);
      std::vector<float> out = fn(tile_in.data(), N, thi, twi);
      BGN_CHECK(int64_t(out.size()) == N * cout * tho * two, Code::Internal, "a VAE tile came back with ", out.size(),
                " values; expected ", N * cout * tho * two);
      const int64_t Y0 = ys[ty] * so, X0 = xs[tx] * so;
      for (int64_t y = 0; y < tho; ++y)
        for (int64_t x = 0; x < two; ++x) wsum[size_t((Y0 + y) * Wo + X0 + x)] += wy[size_t(y)] * wx[size_t(x)];
      for (int64_t p = 0; p < N * cout; ++p)
        for (int64_t y = 0; y < tho; ++y) {
          float* dst = &acc[size_t((p * Ho + Y0 + y) * Wo + X0)];
          const float* src = &out[size_t((p * tho + y) * two)];
          const float a = wy[size_t(y)];
          for (int64_t x = 0; x < two; ++x) dst[x] += a * wx[size_t(x)] * src[x];
        }
    }
  }
  for (int64_t p = 0; p < N * cout; ++p)
    for (int64_t i = 0; i < Ho * Wo; ++i) acc[size_t(p * Ho * Wo + i)] /= wsum[size_t(i)];
  return acc;
}

}  // namespace

std::vector<float> vae_decode(const VaeModel& vae, const float* latents, int64_t N, int64_t h, int64_t w,
                              const VaeTileOptions& o) {
  validate_vae_tiling(o);
  if (!vae_uses_tiles(o, h, w)) return vae.decode(latents, N, h, w);
  if (N < 1 || h < 1 || w < 1) fail(Code::BadInput, "VAE decode needs non-empty latents");
  const VaeConfig& c = vae.config();
  return run_tiled([&vae](const float* x, int64_t n, int64_t H, int64_t W) { return vae.decode(x, n, H, W); }, latents,
                   N, c.latent_channels, c.image_channels, h, w, 1, c.downscale, o);
}

std::vector<float> vae_encode(const VaeModel& vae, const float* image, int64_t N, int64_t H, int64_t W,
                              const VaeTileOptions& o) {
  validate_vae_tiling(o);
  const VaeConfig& c = vae.config();
  const int64_t f = c.downscale;
  if (N < 1 || H < 1 || W < 1 || H % f || W % f)
    fail(Code::BadInput, "VAE encode needs an image (N, ", c.image_channels, ", H, W) with H and W multiples of ", f,
         "; got (", N, ", ", c.image_channels, ", ", H, ", ", W, ")");
  if (!vae_uses_tiles(o, H / f, W / f)) return vae.encode(image, N, H, W);
  return run_tiled([&vae](const float* x, int64_t n, int64_t hh, int64_t ww) { return vae.encode(x, n, hh, ww); },
                   image, N, c.image_channels, 2 * c.latent_channels, H / f, W / f, f, 1, o);
}

}  // namespace bgn
