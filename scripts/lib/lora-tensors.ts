/**
 * Key/shape table of a kohya / sd-scripts single-file LoRA (networks.lora) for a Stable Diffusion
 * architecture of scripts/lib/sd-checkpoint.ts, for random-weight benchmark files.
 *
 * Modules, as sd-scripts' default LoRA targets them:
 *   lora_unet_*   every Transformer2DModel of the UNet, in diffusers module names joined by '_':
 *                 proj_in, proj_out, and per transformer block attn1/attn2 to_q, to_k, to_v,
 *                 to_out_0, ff_net_0_proj, ff_net_2 (down_blocks.L.attentions.R, mid_block.attentions.0,
 *                 up_blocks.(levels-1-L).attentions.I)
 *   lora_te_*     SD 1.x CLIP text model: text_model_encoder_layers_N_self_attn_{q,k,v,out}_proj, mlp_fc1/fc2
 *   lora_te1_* / lora_te2_*   SDXL: the same names for its two text encoders (transformers naming)
 * Each module has `.lora_down.weight` (rank, in[, 1, 1]), `.lora_up.weight` (out, rank[, 1, 1]) and
 * `.alpha` (a scalar); 1×1 convolutions (SD 1.x proj_in / proj_out) keep their kernel dimensions.
 *
 * Down factors are N(0, 1/fan_in) and up factors N(0, 0.1²/rank), so at scale 1 and alpha = rank a
 * merged delta has about a tenth of the base weight's standard deviation: the model stays finite.
 */
import type { ModelArch, TensorSpec, TextArch, UnetArch } from './sd-checkpoint.js';

export interface LoraShape {
  rank: number;
  /** Stored per module in `.alpha`; the merge multiplies by alpha / rank. */
  alpha: number;
}

/** One LoRA module: its kohya name, the base layer's out × in, and a 1×1 kernel for convolutions. */
export interface LoraModule {
  name: string;
  out: number;
  inp: number;
  conv1x1: boolean;
}

function moduleTensors(m: LoraModule, s: LoraShape): TensorSpec[] {
  const k = m.conv1x1 ? [1, 1] : [];
  return [
    {
      name: `${m.name}.lora_down.weight`,
      shape: [s.rank, m.inp, ...k],
      init: { kind: 'normal', std: 1 / Math.sqrt(m.inp) },
    },
    {
      name: `${m.name}.lora_up.weight`,
      shape: [m.out, s.rank, ...k],
      init: { kind: 'normal', std: 0.1 / Math.sqrt(s.rank) },
    },
    { name: `${m.name}.alpha`, shape: [], init: { kind: 'const', value: s.alpha } },
  ];
}

/** The LoRA modules of one Transformer2DModel (diffusers path `p`, already in underscores). */
function transformerModules(p: string, ch: number, depth: number, u: UnetArch): LoraModule[] {
  const conv1x1 = !u.useLinearInTransformer;
  const out: LoraModule[] = [
    { name: `${p}_proj_in`, out: ch, inp: ch, conv1x1 },
    { name: `${p}_proj_out`, out: ch, inp: ch, conv1x1 },
  ];
  for (let d = 0; d < depth; ++d) {
    const b = `${p}_transformer_blocks_${d}`;
    for (const attn of ['attn1', 'attn2']) {
      const ctx = attn === 'attn2' ? u.contextDim : ch;
      out.push(
        { name: `${b}_${attn}_to_q`, out: ch, inp: ch, conv1x1: false },
        { name: `${b}_${attn}_to_k`, out: ch, inp: ctx, conv1x1: false },
        { name: `${b}_${attn}_to_v`, out: ch, inp: ctx, conv1x1: false },
        { name: `${b}_${attn}_to_out_0`, out: ch, inp: ch, conv1x1: false },
      );
    }
    out.push(
      { name: `${b}_ff_net_0_proj`, out: ch * 8, inp: ch, conv1x1: false },
      { name: `${b}_ff_net_2`, out: ch, inp: ch * 4, conv1x1: false },
    );
  }
  return out;
}

/** Every Transformer2DModel of the UNet in diffusers naming, with its LoRA modules. */
export function unetLoraModules(u: UnetArch): LoraModule[] {
  const P = 'lora_unet';
  const mc = u.modelChannels;
  const levels = u.channelMult.length;
  const depthAt = (level: number) =>
    Array.isArray(u.transformerDepth) ? u.transformerDepth[level]! : u.transformerDepth;
  const attnAt = (level: number) => u.attentionResolutions.includes(2 ** level) && depthAt(level) > 0;
  const out: LoraModule[] = [];
  for (let level = 0; level < levels; ++level) {
    if (!attnAt(level)) continue;
    const ch = mc * u.channelMult[level]!;
    for (let r = 0; r < u.numResBlocks; ++r)
      out.push(...transformerModules(`${P}_down_blocks_${level}_attentions_${r}`, ch, depthAt(level), u));
  }
  const deepest = mc * u.channelMult[levels - 1]!;
  out.push(
    ...transformerModules(`${P}_mid_block_attentions_0`, deepest, u.transformerDepthMiddle ?? depthAt(levels - 1), u),
  );
  for (let level = levels - 1; level >= 0; --level) {
    if (!attnAt(level)) continue;
    const ch = mc * u.channelMult[level]!;
    for (let i = 0; i <= u.numResBlocks; ++i)
      out.push(...transformerModules(`${P}_up_blocks_${levels - 1 - level}_attentions_${i}`, ch, depthAt(level), u));
  }
  return out;
}

/** A CLIP text model's attention and MLP projections in transformers naming, under `prefix`. */
export function textLoraModules(t: TextArch, prefix: string): LoraModule[] {
  const out: LoraModule[] = [];
  const C = t.hidden;
  for (let l = 0; l < t.layers; ++l) {
    const L = `${prefix}_text_model_encoder_layers_${l}`;
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj'])
      out.push({ name: `${L}_self_attn_${p}`, out: C, inp: C, conv1x1: false });
    out.push(
      { name: `${L}_mlp_fc1`, out: t.intermediate, inp: C, conv1x1: false },
      { name: `${L}_mlp_fc2`, out: C, inp: t.intermediate, conv1x1: false },
    );
  }
  return out;
}

/** Every module of a LoRA for `arch`: the UNet's, then the text encoder(s)'. */
export function loraModules(arch: ModelArch): LoraModule[] {
  if (arch.text.kind !== 'clip')
    throw new Error('--lora is offered for SD 1.x and SDXL (CLIP text encoders in transformers naming)');
  const text = arch.text2
    ? [...textLoraModules(arch.text, 'lora_te1'), ...textLoraModules(arch.text2, 'lora_te2')]
    : textLoraModules(arch.text, 'lora_te');
  return [...unetLoraModules(arch.unet), ...text];
}

/** The LoRA file's tensors: down, up and alpha per module. */
export function loraTensors(arch: ModelArch, shape: LoraShape): TensorSpec[] {
  return loraModules(arch).flatMap((m) => moduleTensors(m, shape));
}

/** sd-scripts' metadata keys for a file of this shape. */
export function loraMetadata(arch: ModelArch, shape: LoraShape): Record<string, string> {
  return {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(shape.rank),
    ss_network_alpha: String(shape.alpha),
    ss_base_model_version: arch.text2 ? 'sdxl_base_v1-0' : 'sd_v1',
  };
}
