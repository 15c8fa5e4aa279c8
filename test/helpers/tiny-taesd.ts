/**
 * A tiny autoencoder (TAESD layout, diffusers AutoencoderTiny names) that fits the tiny SD 1.x
 * fixture model, whose VAE scales by 2: deterministic pseudo-random weights, 8 channels, one
 * stride-2 level. Its pictures are noise, but it decodes the model's latents at the right size.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { writeSafetensors } from './safetensors-writer.js';

/** n values in [-1, 1) from a linear congruential sequence. */
export function ramp(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = (s / 2147483648) * 2 - 1;
  }
  return a;
}

/**
 * Writes a TAESD folder of the real layout with two levels (2× like the tiny SD1 model's VAE):
 * encoder conv, block, stride-2 conv, block, conv; decoder conv, ReLU, block, upsample, conv,
 * block, conv. Returns `dir`.
 */
export function writeTaesd2x(dir: string): string {
  const c = 8;
  let seed = 5;
  const w = (shape: number[]) => {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const data = ramp(
      shape.reduce((a, b) => a * b, 1),
      seed++,
    ).map((v) => v / Math.sqrt(fanIn));
    return { shape, data };
  };
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  const conv = (p: string, i: number, o: number, bias: boolean) => {
    t[`${p}.weight`] = w([o, i, 3, 3]);
    if (bias) t[`${p}.bias`] = w([o]);
  };
  const block = (p: string) => {
    for (const k of [0, 2, 4]) conv(`${p}.conv.${k}`, c, c, true);
  };
  conv('encoder.layers.0', 3, c, true);
  block('encoder.layers.1');
  conv('encoder.layers.2', c, c, false);
  block('encoder.layers.3');
  conv('encoder.layers.4', c, 4, true);
  conv('decoder.layers.0', 4, c, true);
  block('decoder.layers.2');
  conv('decoder.layers.4', c, c, false);
  block('decoder.layers.5');
  conv('decoder.layers.6', c, 3, true);
  mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), t);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ _class_name: 'AutoencoderTiny', scaling_factor: 1.0 }));
  return dir;
}
