/**
 * Key/shape tables of single-file Stable Diffusion checkpoints in the original LDM layout
 * (CompVis `ldm` modules, as A1111, ComfyUI and stable-diffusion.cpp load them), built from the
 * architectures' published configurations, and a streaming safetensors writer that fills them
 * with seeded random weights.
 *
 *   model.diffusion_model.*   openaimodel.UNetModel        (configs/stable-diffusion/v1-inference.yaml,
 *                                                           v1-inpainting-inference.yaml, v2-inference.yaml)
 *   first_stage_model.*       AutoencoderKL (Encoder/Decoder of ldm.modules.diffusionmodules.model)
 *   cond_stage_model.*        SD 1.x: transformers CLIPTextModel (openai/clip-vit-large-patch14)
 *                              under cond_stage_model.transformer.text_model.*;
 *                             SD 2.x: OpenCLIP ViT-H-14 text tower under cond_stage_model.model.*
 *   conditioner.embedders.*   SDXL (sgm, configs/inference/sd_xl_base.yaml): embedders.0 = CLIP ViT-L
 *                              under .0.transformer.text_model.*, embedders.1 = OpenCLIP ViT-bigG-14
 *                              under .1.model.*; the UNet's label_emb.0.{0,2} takes
 *                              adm_in_channels = pooled (1280) + 6 size/crop ids × 256
 *
 * Nothing here is a dump of a real checkpoint: every name and shape follows from the module
 * constructors' arithmetic on the config (channel multipliers, residual blocks per level,
 * attention resolutions, transformer depth, context width, linear vs 1×1-conv projections).
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';

// ---- architectures ---------------------------------------------------------------------------

/** openaimodel.UNetModel parameters (the `unet_config.params` block of the LDM yaml). */
export interface UnetArch {
  inChannels: number;
  outChannels: number;
  modelChannels: number;
  channelMult: number[];
  numResBlocks: number;
  /** Downsampling factors (1, 2, 4, …) at which a SpatialTransformer follows each ResBlock. */
  attentionResolutions: number[];
  /** SD 1.x: fixed head count; SD 2.x: fixed head width. Heads do not change shapes. */
  numHeads?: number;
  numHeadChannels?: number;
  /** Transformer blocks per SpatialTransformer: one number, or one per level (SDXL: [0, 2, 10]). */
  transformerDepth: number | number[];
  /** The middle block's depth (default: the last level's). */
  transformerDepthMiddle?: number;
  contextDim: number;
  /** SDXL: label_emb input width (pooled text + 6 × addition time embedding); absent for SD 1.x/2.x. */
  admInChannels?: number;
  /** SD 2.x: proj_in/proj_out are Linear (matrices) instead of 1×1 convolutions. */
  useLinearInTransformer: boolean;
}

/** AutoencoderKL `ddconfig` + embed_dim. */
export interface VaeArch {
  ch: number;
  chMult: number[];
  numResBlocks: number;
  zChannels: number;
  embedDim: number;
  inChannels: number;
  outCh: number;
}

export interface TextArch {
  /** 'clip': transformers CLIPTextModel names (SD 1.x); 'openclip': OpenCLIP text tower (SD 2.x). */
  kind: 'clip' | 'openclip';
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  vocab: number;
  positions: number;
}

export interface ModelArch {
  unet: UnetArch;
  vae: VaeArch;
  text: TextArch;
  /**
   * SDXL: the second text encoder (OpenCLIP, with text_projection); the pair lives under conditioner.embedders.{0,1}.
   */
  text2?: TextArch;
}

export type ArchName = 'sd15' | 'sd15-inpaint' | 'sd2' | 'sdxl' | 'sdxl-inpaint';
export const ARCH_NAMES: readonly ArchName[] = ['sd15', 'sd15-inpaint', 'sd2', 'sdxl', 'sdxl-inpaint'];

/** The first-stage model shared by SD 1.x and 2.x (kl-f8, 4 latent channels). */
const KL_F8: VaeArch = {
  ch: 128,
  chMult: [1, 2, 4, 4],
  numResBlocks: 2,
  zChannels: 4,
  embedDim: 4,
  inChannels: 3,
  outCh: 3,
};

/** CLIP ViT-L/14 text model (openai/clip-vit-large-patch14 config.json). */
const CLIP_L: TextArch = {
  kind: 'clip',
  hidden: 768,
  layers: 12,
  heads: 12,
  intermediate: 3072,
  vocab: 49408,
  positions: 77,
};

/** OpenCLIP ViT-H-14 text tower (open_clip ViT-H-14.json: width 1024, layers 24, heads 16, mlp_ratio 4). */
const OPENCLIP_H: TextArch = {
  kind: 'openclip',
  hidden: 1024,
  layers: 24,
  heads: 16,
  intermediate: 4096,
  vocab: 49408,
  positions: 77,
};

const SD1_UNET: UnetArch = {
  inChannels: 4,
  outChannels: 4,
  modelChannels: 320,
  channelMult: [1, 2, 4, 4],
  numResBlocks: 2,
  attentionResolutions: [4, 2, 1],
  numHeads: 8,
  transformerDepth: 1,
  contextDim: 768,
  useLinearInTransformer: false,
};

/**
 * OpenCLIP ViT-bigG-14 text tower (open_clip ViT-bigG-14.json: width 1280, layers 32, heads 20, mlp_ratio 4, embed_dim
 * 1280).
 */
const OPENCLIP_BIGG: TextArch = {
  kind: 'openclip',
  hidden: 1280,
  layers: 32,
  heads: 20,
  intermediate: 5120,
  vocab: 49408,
  positions: 77,
};

/**
 * sd_xl_base.yaml network_config: 3 levels, attention at ds 2 and 4 with depth 2 and 10, 64-wide heads, 2048 context.
 */
const SDXL_UNET: UnetArch = {
  inChannels: 4,
  outChannels: 4,
  modelChannels: 320,
  channelMult: [1, 2, 4],
  numResBlocks: 2,
  attentionResolutions: [4, 2],
  numHeadChannels: 64,
  transformerDepth: [1, 2, 10],
  transformerDepthMiddle: 10,
  contextDim: 2048,
  useLinearInTransformer: true,
  admInChannels: 2816,
};

/**
 * Tiny SDXL-shaped models for tests (`--tiny`): the same key layout and conditioning (two
 * encoders, label_emb, per-level depth 0/1/2, 9-channel inpainting) with 32-wide layers, so a
 * whole checkpoint is a few MB and a 64×64 generation takes a fraction of a second. The pooled
 * width is 32 and each time id gets 8 values: adm_in_channels = 32 + 6·8 = 80.
 */
const TINY_TEXT: TextArch = {
  kind: 'clip',
  hidden: 32,
  layers: 2,
  heads: 1,
  intermediate: 64,
  vocab: 49408,
  positions: 77,
};
const TINY_SDXL: ModelArch = {
  unet: {
    inChannels: 4,
    outChannels: 4,
    modelChannels: 32,
    channelMult: [1, 1, 2],
    numResBlocks: 1,
    attentionResolutions: [4, 2],
    numHeadChannels: 32,
    transformerDepth: [0, 1, 2],
    transformerDepthMiddle: 2,
    contextDim: 64,
    useLinearInTransformer: true,
    admInChannels: 80,
  },
  vae: { ch: 32, chMult: [1, 1], numResBlocks: 1, zChannels: 4, embedDim: 4, inChannels: 3, outCh: 3 },
  text: TINY_TEXT,
  text2: { ...TINY_TEXT, kind: 'openclip' },
};

/** The tiny variant of an architecture (`--tiny`); only the SDXL ones have one. */
export function tinyArch(name: ArchName): ModelArch {
  if (name === 'sdxl') return TINY_SDXL;
  if (name === 'sdxl-inpaint') return { ...TINY_SDXL, unet: { ...TINY_SDXL.unet, inChannels: 9 } };
  throw new Error(`--tiny is offered for sdxl and sdxl-inpaint; got '${name}'`);
}

export const ARCHS: Readonly<Record<ArchName, ModelArch>> = {
  sd15: { unet: SD1_UNET, vae: KL_F8, text: CLIP_L },
  // v1-inpainting-inference.yaml: in_channels 9 (4 noisy latents + 1 mask + 4 masked-image latents).
  'sd15-inpaint': { unet: { ...SD1_UNET, inChannels: 9 }, vae: KL_F8, text: CLIP_L },
  // v2-inference.yaml: 64-channel heads, linear projections, 1024-wide OpenCLIP context.
  sd2: {
    unet: {
      ...SD1_UNET,
      numHeads: undefined,
      numHeadChannels: 64,
      contextDim: 1024,
      useLinearInTransformer: true,
    },
    vae: KL_F8,
    text: OPENCLIP_H,
  },
  // sd_xl_base.yaml: the SDXL VAE has the kl-f8 architecture (its weights and scale 0.13025 differ).
  sdxl: { unet: SDXL_UNET, vae: KL_F8, text: CLIP_L, text2: OPENCLIP_BIGG },
  // sd_xl_base inpainting variants: in_channels 9 (4 noisy latents + 1 mask + 4 masked-image latents).
  'sdxl-inpaint': { unet: { ...SDXL_UNET, inChannels: 9 }, vae: KL_F8, text: CLIP_L, text2: OPENCLIP_BIGG },
};

// ---- key tables ------------------------------------------------------------------------------

/**
 * How a tensor is initialised: `normal` with standard deviation `std`, constant 1 or 0 (norm
 * weights / biases), a constant `value`, or 0..n-1 (int64 position ids).
 */
export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'ones' }
  | { kind: 'zeros' }
  | { kind: 'const'; value: number }
  | { kind: 'arange' };

export interface TensorSpec {
  name: string;
  shape: number[];
  init: Init;
  /** Integer tensors keep their own dtype; float tensors take the file's dtype. */
  intDtype?: 'I64';
}

/** Weights: N(0, 1/fan_in) keeps activations at unit scale layer after layer (finite in f16/f32). */
function weight(name: string, shape: number[]): TensorSpec {
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return { name, shape, init: { kind: 'normal', std: 1 / Math.sqrt(Math.max(1, fanIn)) } };
}
const zeros = (name: string, shape: number[]): TensorSpec => ({ name, shape, init: { kind: 'zeros' } });
const ones = (name: string, shape: number[]): TensorSpec => ({ name, shape, init: { kind: 'ones' } });

function conv(p: string, out: number, inp: number, k: number, bias = true): TensorSpec[] {
  const t = [weight(`${p}.weight`, [out, inp, k, k])];
  if (bias) t.push(zeros(`${p}.bias`, [out]));
  return t;
}
function linear(p: string, out: number, inp: number, bias = true): TensorSpec[] {
  const t = [weight(`${p}.weight`, [out, inp])];
  if (bias) t.push(zeros(`${p}.bias`, [out]));
  return t;
}
function norm(p: string, c: number): TensorSpec[] {
  return [ones(`${p}.weight`, [c]), zeros(`${p}.bias`, [c])];
}

// openaimodel.ResBlock: in_layers (GroupNorm, SiLU, conv), emb_layers (SiLU, Linear),
// out_layers (GroupNorm, SiLU, Dropout, conv), skip_connection (1×1 conv when channels change).
function unetResBlock(p: string, inp: number, out: number, embDim: number): TensorSpec[] {
  return [
    ...norm(`${p}.in_layers.0`, inp),
    ...conv(`${p}.in_layers.2`, out, inp, 3),
    ...linear(`${p}.emb_layers.1`, out, embDim),
    ...norm(`${p}.out_layers.0`, out),
    ...conv(`${p}.out_layers.3`, out, out, 3),
    ...(inp !== out ? conv(`${p}.skip_connection`, out, inp, 1) : []),
  ];
}

// attention.SpatialTransformer: GroupNorm, proj_in, BasicTransformerBlock × depth, proj_out.
// inner = heads · head_dim = the block's channels in every SD config.
function spatialTransformer(p: string, ch: number, u: UnetArch, depth: number): TensorSpec[] {
  const inner = ch;
  const proj = (q: string, out: number, inp: number) =>
    u.useLinearInTransformer ? linear(q, out, inp) : conv(q, out, inp, 1);
  const t: TensorSpec[] = [...norm(`${p}.norm`, ch), ...proj(`${p}.proj_in`, inner, ch)];
  for (let d = 0; d < depth; ++d) {
    const b = `${p}.transformer_blocks.${d}`;
    t.push(
      // CrossAttention: q/k/v without bias, to_out.0 with bias. attn1 is self-attention.
      ...linear(`${b}.attn1.to_q`, inner, inner, false),
      ...linear(`${b}.attn1.to_k`, inner, inner, false),
      ...linear(`${b}.attn1.to_v`, inner, inner, false),
      ...linear(`${b}.attn1.to_out.0`, inner, inner),
      // FeedForward with GEGLU: proj to 2 · 4 · inner, then 4 · inner back to inner.
      ...linear(`${b}.ff.net.0.proj`, inner * 8, inner),
      ...linear(`${b}.ff.net.2`, inner, inner * 4),
      ...linear(`${b}.attn2.to_q`, inner, inner, false),
      ...linear(`${b}.attn2.to_k`, inner, u.contextDim, false),
      ...linear(`${b}.attn2.to_v`, inner, u.contextDim, false),
      ...linear(`${b}.attn2.to_out.0`, inner, inner),
      ...norm(`${b}.norm1`, inner),
      ...norm(`${b}.norm2`, inner),
      ...norm(`${b}.norm3`, inner),
    );
  }
  t.push(...proj(`${p}.proj_out`, ch, inner));
  return t;
}

/** openaimodel.UNetModel.__init__, walked the same way: names under `prefix`. */
export function unetTensors(u: UnetArch, prefix = 'model.diffusion_model.'): TensorSpec[] {
  const P = prefix;
  const mc = u.modelChannels;
  const emb = mc * 4;
  const t: TensorSpec[] = [...linear(`${P}time_embed.0`, emb, mc), ...linear(`${P}time_embed.2`, emb, emb)];
  // SDXL: label_emb = Sequential(Sequential(Linear(adm_in, emb), SiLU, Linear(emb, emb))).
  if (u.admInChannels)
    t.push(...linear(`${P}label_emb.0.0`, emb, u.admInChannels), ...linear(`${P}label_emb.0.2`, emb, emb));
  const depthAt = (level: number) =>
    Array.isArray(u.transformerDepth) ? u.transformerDepth[level]! : u.transformerDepth;
  const hasAttn = (ds: number, level: number) => u.attentionResolutions.includes(ds) && depthAt(level) > 0;
  t.push(...conv(`${P}input_blocks.0.0`, mc, u.inChannels, 3));
  const chans = [mc];
  let ch = mc;
  let ds = 1;
  let block = 1;
  u.channelMult.forEach((mult, level) => {
    for (let r = 0; r < u.numResBlocks; ++r) {
      const out = mult * mc;
      t.push(...unetResBlock(`${P}input_blocks.${block}.0`, ch, out, emb));
      ch = out;
      if (hasAttn(ds, level)) t.push(...spatialTransformer(`${P}input_blocks.${block}.1`, ch, u, depthAt(level)));
      chans.push(ch);
      block++;
    }
    if (level !== u.channelMult.length - 1) {
      // Downsample with conv_resample: a stride-2 3×3 conv named "op".
      t.push(...conv(`${P}input_blocks.${block}.0.op`, ch, ch, 3));
      chans.push(ch);
      ds *= 2;
      block++;
    }
  });
  t.push(
    ...unetResBlock(`${P}middle_block.0`, ch, ch, emb),
    ...spatialTransformer(`${P}middle_block.1`, ch, u, u.transformerDepthMiddle ?? depthAt(u.channelMult.length - 1)),
    ...unetResBlock(`${P}middle_block.2`, ch, ch, emb),
  );
  block = 0;
  for (let level = u.channelMult.length - 1; level >= 0; --level) {
    const mult = u.channelMult[level]!;
    for (let i = 0; i <= u.numResBlocks; ++i) {
      const skip = chans.pop()!;
      const out = mc * mult;
      t.push(...unetResBlock(`${P}output_blocks.${block}.0`, ch + skip, out, emb));
      ch = out;
      let layer = 1;
      if (hasAttn(ds, level))
        t.push(...spatialTransformer(`${P}output_blocks.${block}.${layer++}`, ch, u, depthAt(level)));
      if (level > 0 && i === u.numResBlocks) {
        // Upsample: nearest 2× then a 3×3 conv named "conv".
        t.push(...conv(`${P}output_blocks.${block}.${layer}.conv`, ch, ch, 3));
        ds /= 2;
      }
      block++;
    }
  }
  t.push(...norm(`${P}out.0`, ch), ...conv(`${P}out.2`, u.outChannels, mc, 3));
  return t;
}

// ldm.modules.diffusionmodules.model.ResnetBlock (no temb in the autoencoder).
function vaeResBlock(p: string, inp: number, out: number): TensorSpec[] {
  return [
    ...norm(`${p}.norm1`, inp),
    ...conv(`${p}.conv1`, out, inp, 3),
    ...norm(`${p}.norm2`, out),
    ...conv(`${p}.conv2`, out, out, 3),
    ...(inp !== out ? conv(`${p}.nin_shortcut`, out, inp, 1) : []),
  ];
}
// AttnBlock: GroupNorm + q/k/v/proj_out as 1×1 convolutions.
function vaeAttn(p: string, c: number): TensorSpec[] {
  return [
    ...norm(`${p}.norm`, c),
    ...conv(`${p}.q`, c, c, 1),
    ...conv(`${p}.k`, c, c, 1),
    ...conv(`${p}.v`, c, c, 1),
    ...conv(`${p}.proj_out`, c, c, 1),
  ];
}
function vaeMid(p: string, c: number): TensorSpec[] {
  return [
    ...vaeResBlock(`${p}.mid.block_1`, c, c),
    ...vaeAttn(`${p}.mid.attn_1`, c),
    ...vaeResBlock(`${p}.mid.block_2`, c, c),
  ];
}

/** AutoencoderKL (Encoder + Decoder + quant convs) under `prefix`. */
export function vaeTensors(v: VaeArch, prefix = 'first_stage_model.'): TensorSpec[] {
  const P = prefix;
  const t: TensorSpec[] = [];
  const L = v.chMult.length;
  // Encoder: in_ch_mult = (1,) + ch_mult; num_res_blocks per level; downsample on all but the last.
  t.push(...conv(`${P}encoder.conv_in`, v.ch, v.inChannels, 3));
  let blockIn = v.ch;
  for (let i = 0; i < L; ++i) {
    blockIn = v.ch * (i === 0 ? 1 : v.chMult[i - 1]!);
    const blockOut = v.ch * v.chMult[i]!;
    for (let b = 0; b < v.numResBlocks; ++b) {
      t.push(...vaeResBlock(`${P}encoder.down.${i}.block.${b}`, blockIn, blockOut));
      blockIn = blockOut;
    }
    if (i !== L - 1) t.push(...conv(`${P}encoder.down.${i}.downsample.conv`, blockIn, blockIn, 3));
  }
  t.push(...vaeMid(`${P}encoder`, blockIn), ...norm(`${P}encoder.norm_out`, blockIn));
  t.push(...conv(`${P}encoder.conv_out`, 2 * v.zChannels, blockIn, 3));
  t.push(...conv(`${P}quant_conv`, 2 * v.embedDim, 2 * v.zChannels, 1));
  t.push(...conv(`${P}post_quant_conv`, v.zChannels, v.embedDim, 1));
  // Decoder: from the deepest level up, num_res_blocks + 1 per level, upsample on all but level 0;
  // self.up.insert(0, …) keeps the level index i in the name.
  blockIn = v.ch * v.chMult[L - 1]!;
  t.push(...conv(`${P}decoder.conv_in`, blockIn, v.zChannels, 3), ...vaeMid(`${P}decoder`, blockIn));
  for (let i = L - 1; i >= 0; --i) {
    const blockOut = v.ch * v.chMult[i]!;
    for (let b = 0; b <= v.numResBlocks; ++b) {
      t.push(...vaeResBlock(`${P}decoder.up.${i}.block.${b}`, blockIn, blockOut));
      blockIn = blockOut;
    }
    if (i !== 0) t.push(...conv(`${P}decoder.up.${i}.upsample.conv`, blockIn, blockIn, 3));
  }
  t.push(...norm(`${P}decoder.norm_out`, blockIn), ...conv(`${P}decoder.conv_out`, v.outCh, blockIn, 3));
  return t;
}

/** The text encoder under cond_stage_model.* (see TextArch.kind for the two namings). */
export function textTensors(a: TextArch, prefix = 'cond_stage_model.'): TensorSpec[] {
  const t: TensorSpec[] = [];
  const C = a.hidden;
  if (a.kind === 'clip') {
    const P = `${prefix}transformer.text_model.`;
    t.push(
      { name: `${P}embeddings.token_embedding.weight`, shape: [a.vocab, C], init: { kind: 'normal', std: 0.02 } },
      {
        name: `${P}embeddings.position_embedding.weight`,
        shape: [a.positions, C],
        init: { kind: 'normal', std: 0.01 },
      },
      { name: `${P}embeddings.position_ids`, shape: [1, a.positions], init: { kind: 'arange' }, intDtype: 'I64' },
    );
    for (let l = 0; l < a.layers; ++l) {
      const L = `${P}encoder.layers.${l}`;
      t.push(
        ...linear(`${L}.self_attn.q_proj`, C, C),
        ...linear(`${L}.self_attn.k_proj`, C, C),
        ...linear(`${L}.self_attn.v_proj`, C, C),
        ...linear(`${L}.self_attn.out_proj`, C, C),
        ...norm(`${L}.layer_norm1`, C),
        ...linear(`${L}.mlp.fc1`, a.intermediate, C),
        ...linear(`${L}.mlp.fc2`, C, a.intermediate),
        ...norm(`${L}.layer_norm2`, C),
      );
    }
    t.push(...norm(`${P}final_layer_norm`, C));
    return t;
  }
  // OpenCLIP text tower (the visual tower is deleted by FrozenOpenCLIPEmbedder).
  const P = `${prefix}model.`;
  t.push(
    { name: `${P}token_embedding.weight`, shape: [a.vocab, C], init: { kind: 'normal', std: 0.02 } },
    { name: `${P}positional_embedding`, shape: [a.positions, C], init: { kind: 'normal', std: 0.01 } },
  );
  for (let l = 0; l < a.layers; ++l) {
    const R = `${P}transformer.resblocks.${l}`;
    t.push(
      ...norm(`${R}.ln_1`, C),
      // nn.MultiheadAttention: fused q/k/v rows.
      weight(`${R}.attn.in_proj_weight`, [3 * C, C]),
      zeros(`${R}.attn.in_proj_bias`, [3 * C]),
      ...linear(`${R}.attn.out_proj`, C, C),
      ...norm(`${R}.ln_2`, C),
      ...linear(`${R}.mlp.c_fc`, a.intermediate, C),
      ...linear(`${R}.mlp.c_proj`, C, a.intermediate),
    );
  }
  t.push(
    ...norm(`${P}ln_final`, C),
    weight(`${P}text_projection`, [C, C]),
    // log(1 / 0.07), OpenCLIP's initial logit scale.
    { name: `${P}logit_scale`, shape: [], init: { kind: 'const', value: Math.log(1 / 0.07) } },
  );
  return t;
}

/** Every tensor of a full single-file checkpoint: UNet, VAE and text encoder(s). */
export function checkpointTensors(arch: ModelArch): TensorSpec[] {
  if (arch.text2)
    return [
      ...unetTensors(arch.unet),
      ...vaeTensors(arch.vae),
      ...textTensors(arch.text, 'conditioner.embedders.0.'),
      ...textTensors(arch.text2, 'conditioner.embedders.1.'),
    ];
  return [...unetTensors(arch.unet), ...vaeTensors(arch.vae), ...textTensors(arch.text)];
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---- safetensors writer ------------------------------------------------------------------------

export type FloatDType = 'f16' | 'f32' | 'bf16';
const ST_DTYPE: Record<FloatDType, string> = { f16: 'F16', f32: 'F32', bf16: 'BF16' };
const ITEMSIZE: Record<FloatDType, number> = { f16: 2, f32: 4, bf16: 2 };

export interface WriteOptions {
  dtype: FloatDType;
  seed?: number;
  /** 'random' (default) fills the data; 'sparse' leaves every byte 0 without writing it (a sparse file). */
  fill?: 'random' | 'sparse';
  metadata?: Record<string, string>;
  /** Called with (bytes written, total bytes) after each chunk. */
  onProgress?: (done: number, total: number) => void;
}

export interface Layout {
  /** Tensors in file order with their byte ranges inside the data buffer. */
  entries: { spec: TensorSpec; dtype: string; begin: number; end: number }[];
  header: Buffer;
  dataBytes: number;
}

/**
 * File order and header: int64 tensors first, then tensors whose byte size is a multiple of 8
 * (all the large ones), then the rest (a few odd-sized biases and scalars), each group by name;
 * so every tensor starts at a multiple of its element size and all large ones 8-byte aligned,
 * with no holes (the safetensors format forbids them). The header JSON is padded with spaces
 * so the data buffer starts at an 8-byte boundary.
 */
export function layout(specs: TensorSpec[], dtype: FloatDType, metadata: Record<string, string> = {}): Layout {
  const size = (s: TensorSpec) => numel(s.shape) * (s.intDtype ? 8 : ITEMSIZE[dtype]);
  const group = (s: TensorSpec) => (s.intDtype ? 0 : size(s) % 8 === 0 ? 1 : 2);
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new Error(`duplicate tensor name ${s.name}`);
    seen.add(s.name);
  }
  const sorted = [...specs].sort((a, b) => group(a) - group(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries: Layout['entries'] = [];
  let offset = 0;
  for (const spec of sorted) {
    const n = size(spec);
    entries.push({ spec, dtype: spec.intDtype ?? ST_DTYPE[dtype], begin: offset, end: offset + n });
    offset += n;
  }
  const json: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  for (const e of entries) json[e.spec.name] = { dtype: e.dtype, shape: e.spec.shape, data_offsets: [e.begin, e.end] };
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8);
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { entries, header, dataBytes: offset };
}

// Seeded generator: mulberry32 (32 bits per call), one stream per tensor (seed ⊕ hash of name).
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; ++i) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
/** IEEE half bits of x, round to nearest even (overflow → ±inf). */
export function f32ToF16Bits(x: number): number {
  f32buf[0] = x;
  const b = u32buf[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}
/** bfloat16 bits of x, round to nearest even. */
export function f32ToBf16Bits(x: number): number {
  f32buf[0] = x;
  const b = u32buf[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * 65 536 standard-normal values (Box–Muller from a fixed stream). Each random element takes one
 * of them, picked by 16 random bits and scaled by the tensor's std: a normal distribution
 * quantised to 2^16 levels, at the cost of a table lookup per element.
 */
let normalTable: Float64Array | undefined;
function normals(): Float64Array {
  if (normalTable) return normalTable;
  const rng = mulberry32(0x5eed);
  const t = new Float64Array(65536);
  for (let i = 0; i < t.length; i += 2) {
    const u1 = (rng() + 1) / 4294967297;
    const u2 = rng() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u1));
    t[i] = r * Math.cos(2 * Math.PI * u2);
    t[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  normalTable = t;
  return t;
}

/** Per-(dtype, std) tables of encoded values, so the inner loop is a lookup and a store. */
const lutCache = new Map<string, Uint16Array | Float32Array>();
function lut(dtype: FloatDType, std: number): Uint16Array | Float32Array {
  const key = `${dtype}:${std}`;
  let l = lutCache.get(key);
  if (l) return l;
  const n = normals();
  if (dtype === 'f32') l = Float32Array.from(n, (v) => v * std);
  else {
    const enc = dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
    l = Uint16Array.from(n, (v) => enc(v * std));
  }
  lutCache.set(key, l);
  return l;
}

function constBits(dtype: FloatDType, v: number): number {
  return dtype === 'f16' ? f32ToF16Bits(v) : f32ToBf16Bits(v);
}

const CHUNK_BYTES = 8 << 20;

/**
 * Writes `specs` as a safetensors file at `path`, streaming: memory stays at one 8-MiB chunk
 * whatever the file size. Returns the layout written.
 */
export function writeCheckpoint(path: string, specs: TensorSpec[], opts: WriteOptions): Layout {
  const { dtype } = opts;
  const seed = (opts.seed ?? 0) >>> 0;
  const lay = layout(specs, dtype, opts.metadata);
  const total = lay.header.length + lay.dataBytes;
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, lay.header, 0, lay.header.length, 0);
    if (opts.fill === 'sparse') {
      ftruncateSync(fd, total);
      opts.onProgress?.(total, total);
      return lay;
    }
    const chunk = new ArrayBuffer(CHUNK_BYTES);
    const bytes = new Uint8Array(chunk);
    let pos = lay.header.length;
    let done = pos;
    for (const e of lay.entries) {
      const n = numel(e.spec.shape);
      const item = e.spec.intDtype ? 8 : ITEMSIZE[dtype];
      const per = Math.floor(CHUNK_BYTES / item);
      const rng = mulberry32(seed ^ hashName(e.spec.name));
      for (let i0 = 0; i0 < n; i0 += per) {
        const m = Math.min(per, n - i0);
        fillChunk(chunk, e.spec, dtype, i0, m, rng);
        writeSync(fd, bytes, 0, m * item, pos);
        pos += m * item;
        done += m * item;
        opts.onProgress?.(done, total);
      }
    }
  } finally {
    closeSync(fd);
  }
  return lay;
}

/** Normal samples from a 65536-entry table, two table indices per 32-bit random number. */
function fillFromTable<T extends Float32Array | Uint16Array>(out: T, table: T, rng: () => number): void {
  const m = out.length;
  let i = 0;
  for (; i + 1 < m; i += 2) {
    const r = rng();
    out[i] = table[r & 0xffff]!;
    out[i + 1] = table[r >>> 16]!;
  }
  if (i < m) out[i] = table[rng() & 0xffff]!;
}

/** Elements [i0, i0 + m) of one tensor into the start of `chunk`. */
function fillChunk(
  chunk: ArrayBuffer,
  spec: TensorSpec,
  dtype: FloatDType,
  i0: number,
  m: number,
  rng: () => number,
): void {
  const init = spec.init;
  if (spec.intDtype) {
    const out = new BigInt64Array(chunk, 0, m);
    for (let i = 0; i < m; ++i) out[i] = init.kind === 'arange' ? BigInt(i0 + i) : 0n;
    return;
  }
  const value = init.kind === 'ones' ? 1 : init.kind === 'const' ? init.value : init.kind === 'arange' ? NaN : 0;
  if (dtype === 'f32') {
    const out = new Float32Array(chunk, 0, m);
    if (init.kind === 'normal') fillFromTable(out, lut(dtype, init.std) as Float32Array, rng);
    else if (init.kind === 'arange') for (let i = 0; i < m; ++i) out[i] = i0 + i;
    else out.fill(value);
    return;
  }
  const out = new Uint16Array(chunk, 0, m);
  if (init.kind === 'normal') fillFromTable(out, lut(dtype, init.std) as Uint16Array, rng);
  else if (init.kind === 'arange') for (let i = 0; i < m; ++i) out[i] = constBits(dtype, i0 + i);
  else out.fill(constBits(dtype, value));
}

/**
 * A tensor's seeded random values as f32, read in order `count` at a time (for writers of other
 * formats, e.g. GGUF via scripts/lib/gguf-writer.ts). Float tensors only.
 */
export function valueStream(spec: TensorSpec, seed: number): (start: number, count: number) => Float32Array {
  const rng = mulberry32((seed >>> 0) ^ hashName(spec.name));
  return (start, count) => {
    const buf = new ArrayBuffer(count * 4);
    fillChunk(buf, spec, 'f32', start, count, rng);
    return new Float32Array(buf);
  };
}
