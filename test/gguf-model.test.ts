/**
 * GGUF checkpoints (stable-diffusion.cpp style: the LDM tensor names, weights f16 or block-quantized)
 * load through the same name mapping as .safetensors and generate the same image: the tiny SD 1
 * fixture converted by scripts/lib/gguf-writer.ts at f16 gives the safetensors model's pixels exactly,
 * at q8_0 within a mean of 1.5 / max 12 levels (measured 0.84 / 6), at q4_0 a third of the way to
 * an unrelated image at most (measured mean 12 vs 78 for another seed); broken GGUF files are coded errors.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type GgufTensorType, type GgufTensor, typeFor, writeGguf } from '../scripts/lib/gguf-writer.js';
import { loadAddon, type NativeDiffusionModel, type NativeDiffusionModelClass } from '../src/native.js';
import { readSafetensorsFile } from './fixtures/safetensors.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';

const base = { prompt: 'a red house by a lake', negativePrompt: 'blurry', width: 64, height: 64, steps: 2, seed: 42 };

/** The checkpoint as GGUF: weight matrices whose rows are whole blocks in `type`, others f16/f32. */
function toGguf(src: string, dst: string, type: GgufTensorType): void {
  const tensors: GgufTensor[] = [];
  for (const [name, t] of Object.entries(readSafetensorsFile(src))) {
    if (t.dtype === 'I64') continue; // position_ids: not a weight
    tensors.push({ name, shape: t.shape, type: typeFor(t.shape, type), data: Float32Array.from(t.data) });
  }
  writeGguf(dst, tensors, { metadata: { 'general.name': 'sd1-tiny', 'general.architecture': 'stable-diffusion' } });
}

function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; ++i) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe.runIf(fixturesPresent)('GGUF diffusion checkpoints', () => {
  const tmp = tempDir('bgn-gguf-');
  let DM: NativeDiffusionModelClass;
  let reference: Uint8Array;
  let otherSeed: Uint8Array;
  const file = (type: string) => path.join(tmp.dir, `sd1-tiny-${type}.gguf`);

  beforeAll(async () => {
    DM = loadAddon().DiffusionModel;
    const m: NativeDiffusionModel = await DM.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
    reference = (await m.generate(base)).pixels;
    otherSeed = (await m.generate({ ...base, seed: 43 })).pixels;
    for (const t of ['f16', 'q8_0', 'q4_0'] as const) toGguf(sd1Tiny, file(t), t);
  });
  afterAll(() => tmp.remove());

  it('an f16 GGUF generates the same image as the .safetensors checkpoint', async () => {
    const m = await DM.load(file('f16'), { threads: 2, tokenizer: tokenizerDir });
    const d = diff((await m.generate(base)).pixels, reference);
    expect(d.max).toBe(0);
  });

  it('a q8_0 GGUF is smaller and generates an image close to the f16 one', async () => {
    expect(statSync(file('q8_0')).size).toBeLessThan(statSync(file('f16')).size);
    const m = await DM.load(file('q8_0'), { threads: 2, tokenizer: tokenizerDir });
    const r = await m.generate(base);
    const d = diff(r.pixels, reference);
    expect(d.mean).toBeLessThan(1.5);
    expect(d.max).toBeLessThanOrEqual(12);
    // Deterministic: the same seed gives the same pixels.
    expect(Buffer.from((await m.generate(base)).pixels).equals(Buffer.from(r.pixels))).toBe(true);
  });

  it('a q4_0 GGUF generates an image much nearer the f16 one than another seed is', async () => {
    const m = await DM.load(file('q4_0'), { threads: 2, tokenizer: tokenizerDir });
    const d = diff((await m.generate(base)).pixels, reference);
    expect(d.mean).toBeLessThan(diff(otherSeed, reference).mean / 3);
  });

  it('a truncated GGUF is E_MODEL_FORMAT naming the file', async () => {
    const bytes = readFileSync(file('q8_0'));
    const cut = path.join(tmp.dir, 'cut.gguf');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expect(DM.load(cut, { threads: 1, tokenizer: tokenizerDir })).rejects.toMatchObject({
      code: 'E_MODEL_FORMAT',
      message: expect.stringContaining('cut.gguf'),
    });
  });

  it('a GGUF holding a type this build cannot run is E_MODEL_UNSUPPORTED naming the type', async () => {
    const bytes = Buffer.from(readFileSync(file('q8_0')));
    // Rewrite the first q8_0 tensor info's type id (8) to q2_K (10): find "<name>" + dims + type.
    const name = Buffer.from('model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight');
    const at = bytes.indexOf(name) + name.length;
    const nDims = bytes.readUInt32LE(at);
    const typeAt = at + 4 + 8 * nDims;
    expect(bytes.readUInt32LE(typeAt)).toBe(8);
    bytes.writeUInt32LE(10, typeAt);
    const bad = path.join(tmp.dir, 'q2k.gguf');
    writeFileSync(bad, bytes);
    await expect(DM.load(bad, { threads: 1, tokenizer: tokenizerDir })).rejects.toMatchObject({
      code: 'E_MODEL_UNSUPPORTED',
      message: expect.stringContaining('q2_K'),
    });
  });
});
