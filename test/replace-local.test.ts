/**
 * replaceBackground with the local engine: the native diffusion runtime inpaints the background
 * of a synthetic product photo with the tiny random-weight SD 1.x checkpoint of the shared
 * fixtures (its pictures are noise, but sizes, masks, seeds and metadata are real).
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { createContext } from '../src/context/create.js';
import { clearDiffusionModels, clearSegmenters, replaceBackground, type ReplaceOptions } from '../src/index.js';
import { SegmenterCache } from '../src/models/segmenters.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { readGrey } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir();
afterAll(async () => {
  await clearSegmenters();
  await clearDiffusionModels();
  tmp.remove();
});
const segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());

/** A red square on green, 480×320 (so generation at 96×64 is a real downscale). */
async function photo(): Promise<{ png: Buffer; rgb: Buffer }> {
  const w = 480;
  const h = 320;
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const red = x >= 180 && x < 300 && y >= 80 && y < 240;
      rgb.set(red ? [210, 25, 30] : [40, 160, 70], (y * w + x) * 3);
    }
  }
  return {
    png: await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
    rgb,
  };
}

const base = (input: Buffer): ReplaceOptions => ({
  input,
  engine: 'local',
  model: { segmentation: segModel, diffusion: sd1Tiny, tokenizer: tokenizerDir },
  threads: 2,
  steps: 2,
  seed: 11,
  matchColors: false,
  shadow: false,
  featherEdges: false,
  overrides: { generation: { resolution: { width: 96, height: 64 } } },
});

describe.skipIf(!fixturesPresent)('replaceBackground with the local engine', () => {
  it('inpaints at the generation size and returns the photo at full size with the product untouched', async () => {
    const { png, rgb } = await photo();
    const steps: number[] = [];
    const result = await replaceBackground({
      ...base(png),
      onProgress: (p) => p.step !== undefined && steps.push(p.step),
    });
    expect(result.engine).toBe('local');
    expect(result.engineReason).toMatch(/requested/);
    expect(result.engineInfo).toMatchObject({ resolution: [96, 64], steps: 2, layout: expect.any(String) });
    expect(result.prompt).toMatch(/studio/);
    expect([result.width, result.height]).toEqual([480, 320]);
    expect(steps).toEqual([1, 2]);
    const out = await sharp(result.artifacts.output as Buffer)
      .raw()
      .toBuffer();
    const mask = await readGrey(result.artifacts.mask);
    let interior = 0;
    let changed = 0;
    // Interior: α ≥ 254 (the tiny model tops out at 254 on this red), where 1/255 is the allowed change.
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i]! < 254) continue;
      interior++;
      for (let k = 0; k < 3; k++) if (Math.abs(out[i * 3 + k]! - rgb[i * 3 + k]!) > 1) changed++;
    }
    expect(interior).toBeGreaterThan(8_000); // of the 19 200 px box
    expect(changed).toBe(0);
    // The green backdrop is gone: the generated background is not the old one.
    let green = 0;
    let bg = 0;
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] !== 0) continue;
      bg++;
      if (out[i * 3]! === 40 && out[i * 3 + 1]! === 160 && out[i * 3 + 2]! === 70) green++;
    }
    expect(green / bg).toBeLessThan(0.01);
  }, 120_000);

  it('is deterministic for a seed: the same PNG twice', async () => {
    const { png } = await photo();
    const a = await replaceBackground(base(png));
    const b = await replaceBackground(base(png));
    expect(Buffer.compare(a.artifacts.output as Buffer, b.artifacts.output as Buffer)).toBe(0);
  }, 120_000);

  it('lets the segmentation models go while it generates, unless BGN_KEEP_WEIGHTS_RESIDENT is set', async () => {
    class CountingSegmenters extends SegmenterCache {
      letGo = 0;
      override letGoIdle(): void {
        this.letGo++;
        super.letGoIdle();
      }
    }
    const segmenters = new CountingSegmenters();
    const ctx = createContext({}, { segmenters });
    try {
      const { png } = await photo();
      const first = await ctx.replaceBackground(base(png));
      expect(segmenters.letGo).toBe(1);
      process.env.BGN_KEEP_WEIGHTS_RESIDENT = '1';
      try {
        const second = await ctx.replaceBackground(base(png)); // the segmenter loaded again: same result
        expect(Buffer.compare(first.artifacts.output as Buffer, second.artifacts.output as Buffer)).toBe(0);
      } finally {
        delete process.env.BGN_KEEP_WEIGHTS_RESIDENT;
      }
      expect(segmenters.letGo).toBe(1);
    } finally {
      await ctx.close();
    }
  }, 120_000);

  it('an unusable checkpoint under auto falls back to studio and says why', async () => {
    const { png } = await photo();
    const bad = `${tmp.dir}/broken.safetensors`;
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, Buffer.from('not a checkpoint')));
    const result = await replaceBackground({
      ...base(png),
      engine: 'auto',
      model: { segmentation: segModel, diffusion: bad, tokenizer: tokenizerDir },
    });
    expect(result.engine).toBe('studio');
    expect(result.skipped[0]).toMatchObject({ engine: 'local', code: 'E_MODEL_FORMAT' });
    expect(result.skipped[0]!.reason).toMatch(/broken\.safetensors/);
  }, 60_000);
});
