// Tiled VAE decode / encode: large images through the VAE with bounded memory and no visible
// seams. Calls VaeModel::decode / VaeModel::encode once per tile; nothing in vae.cpp changes.
//
// Tiles are placed in LATENT pixels, for decode and encode alike: `tile` is a tile's side
// (default 64 = 512 image px for SD's 8× VAE), `overlap` the least overlap of neighbouring tiles
// (default 16 = 128 image px). Along an axis of n latent pixels: n <= tile → one tile; otherwise
// k = ceil((n − tile) / (tile − overlap)) + 1 tiles of side `tile`, spread evenly so that the
// first starts at 0 and the last ends at n (neighbours then overlap by >= overlap). Tile corners
// are always at whole latent pixels, i.e. multiples of the VAE downscale f in image space, so
// image tiles are valid encoder inputs and line up with the latent grid exactly.
//
// Blending: each tile's output is weighted by w(y)·w(x), where along each axis the weight ramps
// up across the region the tile shares with its predecessor and down across the region it
// shares with its successor (smoothstep of (d + 0.5) / L, d = distance into a region of L output
// pixels); the outer edges of border tiles are not ramped (weight 1 up to the image border).
// The result is Σ w·tile / Σ w, so in a two-tile overlap the weights are complementary
// (smoothstep(t) + smoothstep(1 − t) = 1) and outside overlaps a tile's values are copied as is.
// A tile's own edges — where its convolutions saw zero padding instead of the neighbour's
// pixels — thus get weight ≈ 0, and the hand-over is spread smoothly over the whole overlap.
//   decode: latents (N, C, h, w) → image tiles blended in IMAGE space (ramps over overlap·f px).
//   encode: image tiles → latent moments (N, 2C, h, w); the MOMENTS (mean and logvar, both
//           linearly) are blended in latent space with the ramps above, before any sampling.
//           Callers then sample z = mean + exp(logvar/2)·noise from the blended moments as they
//           do for untiled moments, so one noise draw covers the whole latent and seeded runs
//           stay reproducible.
//
// Why tiled ≠ untiled at all: every tile is an independent forward pass. Its group norms
// compute their mean/variance over that tile only (not the whole image), the VAE mid-block
// attention attends within the tile only, and convolutions near a tile edge see zero padding
// where the full pass sees neighbouring content. The overlap hides the edge effects; the norm
// and attention statistics differ per tile everywhere, which shows as small smooth colour/
// contrast shifts between tiles, blended over the overlap (no hard seam). Expect differences of
// a few percent of the output range with real SD VAEs (as with diffusers' enable_tiling).
//
// Modes (VaeTiling):
//   Off  — always the plain, reference-exact pass.
//   On   — tiles whenever the latent does not fit one tile (h > tile or w > tile); a latent that
//          fits is decoded by the plain pass (bit-identical to Off).
//   Auto — tiles when the latent AREA exceeds one tile's (h·w > tile²), so no forward pass ever
//          runs on more than tile² latent pixels. The VAE's activation memory grows linearly with
//          the area it runs on (SD's decoder at 512² holds several 128–256-channel full-resolution
//          tensors of 128–256 MiB each; at 1024² each is 4× that, at 2048² 16×), so Auto bounds
//          the VAE's peak memory by that of one tile (with the defaults: a 512×512 SD decode)
//          whatever the image size; only the (3 + 1)·H·W-float output accumulators grow with it.
//          Images up to 512×512 (SD, defaults) — and any shape of at most that area — take the
//          plain pass, bit-identical to Off. The price of tiling is recomputing the overlaps:
//          e.g. 1024² decodes 9 tiles of 512² (2.25× the plain work), 576² decodes 4 (3.2×);
//          pass a larger tile to trade memory for speed.
// Options are validated by validate_vae_tiling (E_BAD_INPUT): 8 <= tile <= 4096,
// 0 <= overlap < tile.
#pragma once
#include <cstdint>
#include <vector>

#include "models/vae.h"

namespace bgn {

enum class VaeTiling { Off, On, Auto };

struct VaeTileOptions {
  VaeTiling mode = VaeTiling::Off;
  int64_t tile = 64;     // latent pixels per tile side
  int64_t overlap = 16;  // latent pixels shared by neighbouring tiles, at least
};

// E_BAD_INPUT unless 8 <= tile <= 4096 and 0 <= overlap < tile.
void validate_vae_tiling(const VaeTileOptions& o);

// Whether a latent of h×w takes the tiled path under these options (see Modes above).
bool vae_uses_tiles(const VaeTileOptions& o, int64_t h, int64_t w);

// Start positions (latent px) of the tiles along an axis of n latent pixels; each tile is
// min(tile, n) long.
std::vector<int64_t> vae_tile_starts(int64_t n, int64_t tile, int64_t overlap);

// VaeModel::decode / encode with tiling per `o` (validated here). Same shapes and conventions as
// the plain functions: decode (N, C, h, w) → (N, image_channels, h·f, w·f); encode
// (N, image_channels, H, W) → moments (N, 2·latent_channels, H/f, W/f).
std::vector<float> vae_decode(const VaeModel& vae, const float* latents, int64_t N, int64_t h, int64_t w,
                              const VaeTileOptions& o);
std::vector<float> vae_encode(const VaeModel& vae, const float* image, int64_t N, int64_t H, int64_t W,
                              const VaeTileOptions& o);

}  // namespace bgn
