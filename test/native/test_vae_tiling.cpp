// Tile placement and option handling of the tiled VAE (models/vae_tiling.h); the blending itself
// is tested through the addon (test/vae-tiling.test.ts).
#include <algorithm>

#include "models/vae_tiling.h"
#include "testing.h"

using namespace bgn;

TEST("tile starts cover the axis, start at 0, end at n, and overlap by at least `overlap`") {
  for (int64_t tile : {8, 16, 64})
    for (int64_t overlap = 0; overlap < tile; overlap += 3)
      for (int64_t n = 1; n <= 5 * tile; ++n) {
        const std::vector<int64_t> s = vae_tile_starts(n, tile, overlap);
        const int64_t len = std::min(n, tile);
        CHECK(!s.empty() && s.front() == 0 && s.back() + len == n);
        for (size_t i = 1; i < s.size(); ++i) {
          CHECK(s[i] > s[i - 1]);
          CHECK_MSG(s[i - 1] + len - s[i] >= overlap, "n ", n, " tile ", tile, " overlap ", overlap);
        }
        if (n <= tile) CHECK(s.size() == 1);
        // No more tiles than needed: one fewer could not keep the overlap.
        if (s.size() > 1) CHECK(int64_t(s.size() - 2) * (tile - overlap) + tile < n);
      }
}

TEST("the defaults tile a 128-latent axis (1024 px for SD) in 3 tiles") {
  const std::vector<int64_t> s = vae_tile_starts(128, 64, 16);
  CHECK(s.size() == 3 && s[0] == 0 && s[1] == 32 && s[2] == 64);
}

TEST("modes: Off never tiles, On when the latent does not fit a tile, Auto above a tile's area") {
  VaeTileOptions o;
  o.tile = 64;
  o.overlap = 16;
  o.mode = VaeTiling::Off;
  CHECK(!vae_uses_tiles(o, 512, 512));
  o.mode = VaeTiling::On;
  CHECK(!vae_uses_tiles(o, 64, 64));
  CHECK(vae_uses_tiles(o, 32, 65));
  o.mode = VaeTiling::Auto;
  CHECK(!vae_uses_tiles(o, 64, 64));
  CHECK(!vae_uses_tiles(o, 32, 128));  // same area as 64×64
  CHECK(vae_uses_tiles(o, 64, 72));
}

TEST("bad options are E_BAD_INPUT") {
  auto opts = [](int64_t t, int64_t ov) {
    VaeTileOptions o;
    o.mode = VaeTiling::On;
    o.tile = t;
    o.overlap = ov;
    return o;
  };
  validate_vae_tiling(opts(64, 16));
  validate_vae_tiling(opts(8, 0));
  validate_vae_tiling(opts(8, 7));
  CHECK_THROWS_CODE(validate_vae_tiling(opts(0, 0)), Code::BadInput);
  CHECK_THROWS_CODE(validate_vae_tiling(opts(-16, 0)), Code::BadInput);
  CHECK_THROWS_CODE(validate_vae_tiling(opts(7, 0)), Code::BadInput);
  CHECK_THROWS_CODE(validate_vae_tiling(opts(4097, 0)), Code::BadInput);
  CHECK_THROWS_CODE(validate_vae_tiling(opts(16, 16)), Code::BadInput);
  CHECK_THROWS_CODE(validate_vae_tiling(opts(16, -1)), Code::BadInput);
}

int main() { return bgn_test::run_all(); }
