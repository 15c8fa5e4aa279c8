// Composite layers shared by the UNet and the VAE, under diffusers names:
// ResnetBlock2D, BasicTransformerBlock (GEGLU feed-forward), Transformer2DModel (the spatial
// transformer), the VAE's single-head mid attention, and down/up sampling.
#pragma once
#include <string>
#include <vector>

#include "nn/layers.h"

namespace bgn::nn {

// ResnetBlock2D: norm1 → SiLU → conv1 (+ time_emb_proj(SiLU(temb))) → norm2 → SiLU → conv2,
// plus x (through conv_shortcut when the channel count changes).
struct ResBlock {
  Norm norm1, norm2;
  Conv2d conv1, conv2, shortcut;
  Linear temb;
  bool has_temb = false, has_shortcut = false;
  int64_t in = 0, out = 0;
};
// temb_dim < 0: no time embedding (VAE).
ResBlock load_resblock(WeightSet& ws, const std::string& prefix, int64_t in, int64_t groups, float eps,
                       int64_t temb_dim);
// x is (N, in, H, W), temb is (N, temb_dim) or null; returns y (N, out, H, W). The output is made
// only once the first convolution's input is freed, and the shortcut reuses the second's input, so
// at most three activations of the block's size are alive at once (x among them).
Act resblock(Exec& e, const ResBlock& r, const float* x, int64_t N, int64_t H, int64_t W, const float* temb);

// BasicTransformerBlock: x += attn1(norm1 x); x += attn2(norm2 x, ctx); x += ff(norm3 x)
struct TransformerBlock {
  Norm norm1, norm2, norm3;
  Attention attn1, attn2;
  Linear ff_in, ff_out;  // ff_in (2F, C) GEGLU, ff_out (C, F)
};
// Transformer2DModel: GroupNorm → proj_in (1×1 conv or linear) → blocks → proj_out → + x
struct SpatialTransformer {
  Norm norm;
  bool linear_proj = false;
  Conv2d proj_in_conv, proj_out_conv;
  Linear proj_in_lin, proj_out_lin;
  std::vector<TransformerBlock> blocks;
  int64_t channels = 0, inner = 0;
};
// heads: attention heads of this level; context_dim: width of the text conditioning.
SpatialTransformer load_spatial_transformer(WeightSet& ws, const std::string& prefix, int64_t channels, int64_t heads,
                                            int64_t context_dim, int64_t groups);
// x is (N, C, H, W), ctx is (N, S, context_dim), y is (N, C, H, W)
void spatial_transformer(Exec& e, const SpatialTransformer& t, const float* x, int64_t N, int64_t H, int64_t W,
                         const float* ctx, int64_t S, float* y);

// VAE mid-block attention: GroupNorm → single-head self-attention over the H·W positions → + x
struct VaeAttention {
  Norm norm;
  Attention attn;
  int64_t channels = 0;
};
VaeAttention load_vae_attention(WeightSet& ws, const std::string& prefix, int64_t channels, int64_t groups);
// x is (N, C, H, W), y is (N, C, H, W)
void vae_attention(Exec& e, const VaeAttention& a, const float* x, int64_t N, int64_t H, int64_t W, float* y);

// Nearest-neighbour resize of x (N, C, H, W) to (N, C, OH, OW) followed by the 3×3 conv.
void upsample(Exec& e, const Conv2d& conv, const float* x, int64_t N, int64_t H, int64_t W, int64_t OH, int64_t OW,
              float* y);

}  // namespace bgn::nn
