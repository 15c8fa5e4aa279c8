/**
 * Model profiles: how each family of salient-object networks wants its input prepared and its
 * output read, as the family's authors define it. Inferred from the file name and the graph's
 * signature (input and output names and shapes); never from one checkpoint.
 *
 * Input tensors are NCHW float32, RGB, built from 8-bit pixels x:
 *   'centered':  (x − mean) / std per channel, in 0–255 units      (imgly ISNet: 128 / 256)
 *   'unit':      (x/255 − mean) / std
 *   'max-unit':  (x / max(x) − mean) / std, max over the image       (rembg: ISNet 0.5 / 1.0,
 *                                                                      U²-Net ImageNet stats)
 * Outputs: 'as-is' (already a probability, clamped to [0, 1]), 'minmax' (rescaled to [0, 1]),
 * 'sigmoid' (logits → probability; an output that already lies in [0, 1] is taken as one, for
 * exports that end in the sigmoid) or 'threshold' (SAM's mask logits: > 0 is the subject).
 *
 *   family    profile       input                                   output   refine precision
 *   ISNet     isnet-imgly   1024², (x − 128) / 256                    as-is    yes    f32
 *   ISNet     isnet         1024², x/max − 0.5 (rembg)                minmax   yes    f32
 *   U²-Net    u2net         320², x/max, ImageNet mean/std (rembg)    minmax   yes    f32
 *   BiRefNet  birefnet      1024², x/255, ImageNet mean/std           sigmoid  no     auto
 *   BiRefNet  birefnet-hr   2048², x/255, ImageNet mean/std           sigmoid  no     auto
 *   BEN2      ben2          1024², x/255, ImageNet mean/std           as-is    no     auto
 *   SAM       sam           longest side 1024, ImageNet mean/std,     threshold yes   auto
 *                           padded to 1024² (or the graph's own preprocessing: HWC 0–255 input)
 * BiRefNet and RMBG-2.0 (same architecture) take ImageNet statistics on x/255 and give logits
 * (their authors apply a sigmoid); BEN2's reference normalises the same way and its graph ends in
 * a sigmoid. `refine`: whether the guided filter runs on this family's masks by default (it
 * sharpens a mask made at the network's resolution against the full-resolution photo), decided
 * by `npm run eval:segment -- --refine-study` on the synthetic composites with exact truth: the
 * truth degraded as the family's output is (averaged onto the network's grid, edges exact or
 * softened by σ ≈ 1 grid pixel; SAM: its 256-px low-res grid, upsampled, thresholded) and brought
 * to full size with and without the filter (scripts/lib/refine-study.ts):
 *   - SAM's binary masks: MAE 0.0096 → 0.0057, edge MAE 0.049 → 0.028, IoU −0.0015: on.
 *   - a soft mask right at 1024² or 2048² (BiRefNet, RMBG-2.0, BEN2: masks close to the truth at
 *     their grid): MAE +0.003, edge MAE +0.013 to +0.017, IoU −0.005: off.
 *   - ISNet and U²-Net keep it: on the real ISNet's masks, whose errors are not only resolution,
 *     it lowers edge MAE by 0.004 and raises IoU by 0.004 (eval:segment's pipeline − bare).
 * The `refine` option overrides it per call.
 * `precision`: the CPU precision of the network's constant-weight products when the caller names
 * none. 'auto' (bf16 where the CPU has AVX512-BF16) for the transformer families, whose time is in
 * those products: 1.4–1.6× faster on 2 cores (`bench:segment --precision f32|bf16`: Swin-T 1.01 →
 * 0.71 s, Swin-L 5.22 → 3.30 s, SAM ViT-B encoder 2.91 → 2.09 s, HR 29.8 → 13.4 s), their masks
 * 0.43–0.48/255 from f32's on average (4/255 at most, the random-weight Swin-T replica's mid-grey
 * pixels). f32 for ISNet and U²-Net: their time is in 3×3 convolutions that stay f32 (Winograd),
 * so bf16 gains nothing there while moving a few edge pixels by up to 9/255.
 */
import path from 'node:path';

import type { ModelProfileName } from '../options.js';

export type InputScaling = 'centered' | 'unit' | 'max-unit';

export interface ModelProfile {
  name: Exclude<ModelProfileName, 'auto'>;
  family: 'isnet' | 'u2net' | 'birefnet' | 'ben2' | 'sam';
  /** Network input size [height, width] used when the graph's input is dynamic. */
  size: readonly [number, number];
  scaling: InputScaling;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  output: 'as-is' | 'minmax' | 'sigmoid' | 'threshold';
  /** The guided-filter refinement runs by default (the `refine` option overrides). */
  refine: boolean;
  /** The CPU precision when the call names none (`segmentation.precision` overrides). */
  precision: 'f32' | 'auto';
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export const PROFILES: Readonly<Record<ModelProfile['name'], ModelProfile>> = {
  'isnet-imgly': {
    name: 'isnet-imgly',
    family: 'isnet',
    size: [1024, 1024],
    scaling: 'centered',
    mean: [128, 128, 128],
    std: [256, 256, 256],
    output: 'as-is',
    refine: true,
    precision: 'f32',
  },
  isnet: {
    name: 'isnet',
    family: 'isnet',
    size: [1024, 1024],
    scaling: 'max-unit',
    mean: [0.5, 0.5, 0.5],
    std: [1, 1, 1],
    output: 'minmax',
    refine: true,
    precision: 'f32',
  },
  u2net: {
    name: 'u2net',
    family: 'u2net',
    size: [320, 320],
    scaling: 'max-unit',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    output: 'minmax',
    refine: true,
    precision: 'f32',
  },
  birefnet: {
    name: 'birefnet',
    family: 'birefnet',
    size: [1024, 1024],
    scaling: 'unit',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    output: 'sigmoid',
    refine: false,
    precision: 'auto',
  },
  'birefnet-hr': {
    name: 'birefnet-hr',
    family: 'birefnet',
    size: [2048, 2048],
    scaling: 'unit',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    output: 'sigmoid',
    refine: false,
    precision: 'auto',
  },
  ben2: {
    name: 'ben2',
    family: 'ben2',
    size: [1024, 1024],
    scaling: 'unit',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    output: 'as-is',
    refine: false,
    precision: 'auto',
  },
  sam: {
    name: 'sam',
    family: 'sam',
    size: [1024, 1024],
    scaling: 'unit',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    output: 'threshold',
    refine: true,
    precision: 'auto',
  },
};

/** What a loaded graph says about itself: its inputs and outputs (names, shapes; -1 = dynamic). */
export interface GraphSignature {
  inputs: readonly { name: string; shape: readonly number[] }[];
  outputs: readonly { name: string; shape: readonly number[] }[];
}

/** A SAM encoder: one image input, an `image_embeddings` output (rembg's export: an HWC 0–255 input). */
export function isSamEncoder(sig: GraphSignature): boolean {
  return sig.inputs.length === 1 && sig.outputs.some((o) => /image_embeddings?/i.test(o.name));
}

/** A SAM prompt decoder: image embeddings and point prompts in. */
export function isSamDecoder(sig: GraphSignature): boolean {
  const names = sig.inputs.map((i) => i.name);
  return names.includes('image_embeddings') && names.includes('point_coords');
}

/**
 * Picks the profile for a model file: an explicit choice wins; else the file name (imgly cache
 * files, rembg's names, BiRefNet / RMBG / BEN2 / SAM release names); else the graph's signature
 * (SAM's inputs and outputs, BiRefNet's `input_image` → `output_image` export, a 2048² input,
 * a 320² input); otherwise ISNet as imgly ships it.
 * `signature` is the loaded graph's (or just the first input's shape, as earlier callers pass).
 */
export function inferProfile(
  modelPath: string,
  signature: readonly number[] | GraphSignature | undefined,
  explicit?: ModelProfileName,
): ModelProfile {
  const sig = signature && !Array.isArray(signature) ? (signature as GraphSignature) : undefined;
  const inputShape = sig ? sig.inputs[0]?.shape : (signature as readonly number[] | undefined);
  const h = inputShape?.[2];
  const w = inputShape?.[3];
  const named = profileByName(modelPath, explicit, h === 2048 || w === 2048);
  if (named) return named;
  if (sig && (isSamEncoder(sig) || isSamDecoder(sig))) return PROFILES.sam;
  if (sig && sig.inputs[0]?.name === 'input_image' && sig.outputs[0]?.name === 'output_image') {
    return h === 2048 || w === 2048 ? PROFILES['birefnet-hr'] : PROFILES.birefnet;
  }
  if (h === 320 || w === 320) return PROFILES.u2net;
  return PROFILES['isnet-imgly'];
}

/**
 * The profile the explicit choice or the file name gives, before the graph is read (undefined when
 * only the graph can tell). `hr`: the graph's input is 2048 wide (a BiRefNet named without "hr").
 */
export function profileByName(modelPath: string, explicit?: ModelProfileName, hr = false): ModelProfile | undefined {
  if (explicit && explicit !== 'auto') return PROFILES[explicit];
  const base = path.basename(modelPath).toLowerCase();
  if (base.includes('imgly')) return PROFILES['isnet-imgly'];
  if (base.includes('isnet')) return PROFILES.isnet;
  if (/u2net|u2netp|silueta/.test(base)) return PROFILES.u2net;
  if (/^sam[_-]|segment[_-]?anything|[._-](en|de)coder([._-]quant)?\.onnx$/.test(base)) return PROFILES.sam;
  if (/birefnet[_-]hr(?!sod)|[_-]2048/.test(base) || (/birefnet|bria|rmbg/.test(base) && hr)) {
    return PROFILES['birefnet-hr'];
  }
  if (/birefnet|bria|rmbg/.test(base)) return PROFILES.birefnet;
  if (/ben2|ben[_-]base/.test(base)) return PROFILES.ben2;
  return undefined;
}

/** The [height, width] to feed: the graph's static size, or the profile's when dynamic. */
export function inputSize(profile: ModelProfile, inputShape: readonly number[] | undefined): [number, number] {
  const h = inputShape?.[2];
  const w = inputShape?.[3];
  return [h !== undefined && h > 0 ? h : profile.size[0], w !== undefined && w > 0 ? w : profile.size[1]];
}

/**
 * Interleaved 8-bit RGB (already resized to the network's size) → planar NCHW float32 tensor.
 */
export function toInputTensor(rgb: Uint8Array, width: number, height: number, profile: ModelProfile): Float32Array {
  const n = width * height;
  if (rgb.length !== n * 3) throw new RangeError(`toInputTensor: ${rgb.length} bytes for ${width}×${height} RGB`);
  const out = new Float32Array(3 * n);
  let scale: number;
  switch (profile.scaling) {
    case 'centered':
      scale = 1;
      break;
    case 'unit':
      scale = 1 / 255;
      break;
    case 'max-unit': {
      let max = 0;
      for (let i = 0; i < rgb.length; i++) if (rgb[i]! > max) max = rgb[i]!;
      scale = max > 0 ? 1 / max : 1;
      break;
    }
  }
  for (let c = 0; c < 3; c++) {
    const m = profile.mean[c]!;
    const k = scale / profile.std[c]!;
    const mk = m / profile.std[c]!;
    const plane = c * n;
    for (let i = 0, s = c; i < n; i++, s += 3) out[plane + i] = rgb[s]! * k - mk;
  }
  return out;
}

/** Network output (one plane) → alpha in [0, 1] per the profile, in place. */
export function toAlpha(data: Float32Array, profile: ModelProfile): Float32Array {
  if (profile.output === 'threshold') {
    for (let i = 0; i < data.length; i++) data[i] = data[i]! > 0 ? 1 : 0;
    return data;
  }
  if (profile.output === 'sigmoid') {
    let inUnit = true;
    for (let i = 0; i < data.length && inUnit; i++) inUnit = data[i]! >= 0 && data[i]! <= 1;
    if (!inUnit) {
      for (let i = 0; i < data.length; i++) {
        const v = data[i]!;
        data[i] = Number.isNaN(v) ? 0 : 1 / (1 + Math.exp(-v));
      }
      return data;
    }
  }
  if (profile.output === 'minmax') {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    const k = range > 1e-12 ? 1 / range : 0;
    for (let i = 0; i < data.length; i++) data[i] = (data[i]! - lo) * k;
  } else {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      // biome-ignore lint/complexity/useMathMinMax: a NaN from the model becomes 0 (background), not NaN
      data[i] = v > 0 ? (v < 1 ? v : 1) : 0;
    }
  }
  return data;
}
