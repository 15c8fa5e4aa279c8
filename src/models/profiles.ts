/**
 * Model profiles: how each family of salient-object networks wants its input prepared and its
 * output read. Inferred from the file name and the graph's input shape; never from one checkpoint.
 *
 * Input tensors are NCHW float32, RGB, built from 8-bit pixels x:
 *   'centered':  (x − mean) / std per channel, in 0–255 units      (imgly ISNet: 128 / 256)
 *   'unit':      (x/255 − mean) / std
 *   'max-unit':  (x / max(x) − mean) / std, max over the image       (rembg: ISNet 0.5 / 1.0,
 *                                                                      U²-Net ImageNet stats)
 * Outputs: 'as-is' (already a probability, clamped to [0, 1]) or 'minmax' (rescaled to [0, 1]).
 */
import path from 'node:path';

import type { ModelProfileName } from '../options.js';

export type InputScaling = 'centered' | 'unit' | 'max-unit';

export interface ModelProfile {
  name: Exclude<ModelProfileName, 'auto'>;
  /** Network input size [height, width] used when the graph's input is dynamic. */
  size: readonly [number, number];
  scaling: InputScaling;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  output: 'as-is' | 'minmax';
}

export const PROFILES: Readonly<Record<ModelProfile['name'], ModelProfile>> = {
  'isnet-imgly': { name: 'isnet-imgly', size: [1024, 1024], scaling: 'centered', mean: [128, 128, 128], std: [256, 256, 256], output: 'as-is' },
  isnet: { name: 'isnet', size: [1024, 1024], scaling: 'max-unit', mean: [0.5, 0.5, 0.5], std: [1, 1, 1], output: 'minmax' },
  u2net: { name: 'u2net', size: [320, 320], scaling: 'max-unit', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], output: 'minmax' },
};

/**
 * Picks the profile for a model file: an explicit choice wins; else the file name (imgly cache
 * files, rembg's names); else the graph's input size (320 → U²-Net, otherwise ISNet as imgly ships it).
 */
export function inferProfile(modelPath: string, inputShape: readonly number[] | undefined, explicit?: ModelProfileName): ModelProfile {
  if (explicit && explicit !== 'auto') return PROFILES[explicit];
  const base = path.basename(modelPath).toLowerCase();
  if (base.includes('imgly')) return PROFILES['isnet-imgly'];
  if (base.includes('isnet')) return PROFILES.isnet;
  if (/u2net|u2netp|silueta/.test(base)) return PROFILES.u2net;
  const h = inputShape?.[2];
  const w = inputShape?.[3];
  if (h === 320 || w === 320) return PROFILES.u2net;
  return PROFILES['isnet-imgly'];
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
      data[i] = v > 0 ? (v < 1 ? v : 1) : 0;
    }
  }
  return data;
}
