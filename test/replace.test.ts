/**
 * replaceBackground judged by its pictures. Synthetic photos made here (a textured red product
 * with anti-aliased edges on a green backdrop) are cut out by the tiny real ONNX model of
 * test/helpers/tiny-models.ts (red = subject) and put on new backgrounds; the tests measure what a
 * photographer would look at: the old backdrop's colour in the edge band, the product's pixels,
 * the new background, the colour match, the shadow, the frame, determinism.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { clearSegmenters, replaceBackground, type ReplaceOptions } from '../src/index.js';
import { srgbToLab } from '../src/compose/color.js';
import { snapshotEnv } from './helpers/env.js';
import { readGrey } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir();
afterAll(async () => {
  await clearSegmenters();
  tmp.remove();
});
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const threads = 1;

interface Photo {
  png: Buffer;
  rgb: Uint8Array;
  width: number;
  height: number;
}

/**
 * A red product (a box with a fine texture, so "unchanged" means something) on a green backdrop,
 * its edges anti-aliased over ~2 px: the edge pixels are a red/green mix, as in a real photo.
 */
async function productPhoto(
  width = 320,
  height = 240,
  backdrop: [number, number, number] = [30, 170, 60],
): Promise<Photo> {
  const rgb = new Uint8Array(width * height * 3);
  const x0 = width * 0.32;
  const x1 = width * 0.68;
  const y0 = height * 0.2;
  const y1 = height * 0.7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const cov = (a: number, b: number, p: number) =>
        Math.min(1, Math.max(0, Math.min(p + 0.5 - a, b - (p - 0.5)) / 1)); // 1-px ramps
      const c = Math.min(cov(x0, x1, x), cov(y0, y1, y));
      const tex = ((x * 7 + y * 13) % 23) - 11; // −11..11
      const red = [220 + tex, 20 + (tex >> 2) + 3, 25 - (tex >> 2)];
      const i = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) rgb[i + k] = Math.round(c * red[k]! + (1 - c) * backdrop[k]!);
    }
  }
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return { png, rgb, width, height };
}

async function rawRgb(img: Buffer | string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(img).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Plain compositing: no colour match, feather or shadow, a solid new background. */
function plain(input: Buffer, color = '#1040e0'): ReplaceOptions {
  return {
    input,
    model: { segmentation: model },
    threads,
    engine: 'studio',
    matchColors: false,
    featherEdges: false,
    shadow: false,
    seed: 1,
    overrides: { background: { type: 'solid', color } },
  };
}

async function resultPixels(options: ReplaceOptions) {
  const result = await replaceBackground(options);
  const out = await rawRgb(result.artifacts.output as Buffer);
  const mask = await readGrey(result.artifacts.mask);
  return { result, out, mask };
}

describe('replaceBackground: the pictures', () => {
  it('leaves no green cast from the old backdrop in the edge band of a red product put on blue', async () => {
    const photo = await productPhoto();
    const greenIn = async (decontaminate: boolean) => {
      const { out, mask } = await resultPixels({ ...plain(photo.png), decontaminate });
      let g = 0;
      let n = 0;
      for (let i = 0; i < mask.data.length; i++) {
        const a = mask.data[i]!;
        if (a > 12 && a < 243) {
          g += out.data[i * 3 + 1]!;
          n++;
        }
      }
      return { meanGreen: g / n, n };
    };
    const clean = await greenIn(true);
    const raw = await greenIn(false);
    expect(clean.n).toBeGreaterThan(100); // there is an edge band to judge
    // Red (G≈20) over blue (G=64): without the backdrop the band's green stays below ~64.
    expect(clean.meanGreen).toBeLessThan(64);
    // Compositing the raw photo drags the backdrop's G=170 in: decontamination removes most of it.
    expect(raw.meanGreen - clean.meanGreen).toBeGreaterThan(15);
  });

  it("keeps the product's interior pixels exactly when colour matching is off", async () => {
    const photo = await productPhoto();
    const { out, mask } = await resultPixels(plain(photo.png));
    let inside = 0;
    let worst = 0;
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] !== 255) continue;
      inside++;
      for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(out.data[i * 3 + k]! - photo.rgb[i * 3 + k]!));
    }
    expect(inside).toBeGreaterThan(0.05 * mask.data.length);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('replaces the whole background with the new one', async () => {
    const photo = await productPhoto();
    const { out, mask } = await resultPixels(plain(photo.png, '#1040e0'));
    let bgPixels = 0;
    let off = 0;
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] !== 0) continue;
      bgPixels++;
      if (
        Math.abs(out.data[i * 3]! - 0x10) +
          Math.abs(out.data[i * 3 + 1]! - 0x40) +
          Math.abs(out.data[i * 3 + 2]! - 0xe0) >
        3
      )
        off++;
    }
    expect(bgPixels).toBeGreaterThan(0.5 * mask.data.length);
    expect(off).toBe(0);
  });

  it("moves the product's Lab mean toward the background's by the configured fraction", async () => {
    const photo = await productPhoto();
    const bg = '#80b0f0'; // lighter, bluer and less red than the product: every Lab channel moves
    const labMean = (data: Uint8Array, pick: (i: number) => boolean) => {
      const sum = [0, 0, 0];
      const lab = new Float64Array(3);
      let n = 0;
      for (let i = 0; i * 3 < data.length; i++) {
        if (!pick(i)) continue;
        srgbToLab(data[i * 3]!, data[i * 3 + 1]!, data[i * 3 + 2]!, lab);
        for (let k = 0; k < 3; k++) sum[k]! += lab[k]!;
        n++;
      }
      return sum.map((s) => s / n);
    };
    const { out, mask } = await resultPixels({ ...plain(photo.png, bg), matchColors: 0.5 });
    const interior = (i: number) => mask.data[i] === 255;
    const before = labMean(photo.rgb, interior);
    const after = labMean(out.data, interior);
    const target = labMean(out.data, (i) => mask.data[i] === 0);
    for (let k = 0; k < 3; k++) {
      const moved = (after[k]! - before[k]!) / (target[k]! - before[k]!);
      expect(moved).toBeGreaterThan(0.4);
      expect(moved).toBeLessThan(0.6);
    }
  });

  it('casts a shadow below the product, inside the frame, and nowhere above it', async () => {
    const photo = await productPhoto();
    const { out, mask } = await resultPixels({
      ...plain(photo.png, '#f0f0f0'),
      shadow: { kind: 'contact', opacity: 0.5, softness: 20, distance: 8 },
    });
    const { width, height } = out;
    let top = height;
    let bottom = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (mask.data[y * width + x]! >= 128) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
        }
      }
    }
    // Mean darkening of the background (α < 16) in a row, across the product's columns.
    const x0 = Math.round(width * 0.36);
    const x1 = Math.round(width * 0.64);
    const darkness = (y: number) => {
      let d = 0;
      let n = 0;
      for (let x = x0; x < x1; x++) {
        if (mask.data[y * width + x]! >= 16) continue;
        d += 0xf0 - out.data[(y * width + x) * 3 + 1]!;
        n++;
      }
      return n ? d / n : 0;
    };
    const below = darkness(Math.min(height - 1, bottom + 6));
    const above = darkness(Math.max(0, top - 10));
    expect(below).toBeGreaterThan(10);
    expect(above).toBeLessThan(below / 10);
    expect(out.width).toBe(photo.width);
    expect(out.height).toBe(photo.height);
  });

  it('gives byte-identical PNGs for a fixed seed, and a different picture for another seed', async () => {
    const photo = await productPhoto();
    const opts = (seed: number): ReplaceOptions => ({
      input: photo.png,
      model: { segmentation: model },
      threads,
      engine: 'studio',
      seed,
      overrides: {
        background: { type: 'texture', pattern: 'concrete', colors: ['#b0b0b0', '#8a8a8a'], scale: 40, intensity: 0.6 },
      },
    });
    const a = await replaceBackground(opts(7));
    const b = await replaceBackground(opts(7));
    const c = await replaceBackground(opts(8));
    expect(Buffer.compare(a.artifacts.output as Buffer, b.artifacts.output as Buffer)).toBe(0);
    expect(Buffer.compare(a.artifacts.mask, b.artifacts.mask)).toBe(0);
    expect(Buffer.compare(a.artifacts.output as Buffer, c.artifacts.output as Buffer)).not.toBe(0);
    expect(a.seed).toBe(7);
  });

  it('frames the product: exact output size, margins kept, product centred', async () => {
    const photo = await productPhoto();
    const { out, mask, result } = await resultPixels({
      ...plain(photo.png),
      framing: { padding: 0.1, outputSize: '300x400' },
    });
    expect([result.width, result.height]).toEqual([300, 400]);
    expect([out.width, out.height]).toEqual([300, 400]);
    let x0 = 300;
    let x1 = -1;
    let y0 = 400;
    let y1 = -1;
    for (let y = 0; y < 400; y++) {
      for (let x = 0; x < 300; x++) {
        if (mask.data[y * 300 + x]! >= 128) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y);
        }
      }
    }
    // Fits inside the 10 % margins and is centred both ways.
    expect(x0).toBeGreaterThanOrEqual(28);
    expect(x1).toBeLessThanOrEqual(271);
    expect(y0).toBeGreaterThanOrEqual(38);
    expect(y1).toBeLessThanOrEqual(361);
    expect(Math.abs((x0 + x1) / 2 - 149.5)).toBeLessThan(3);
    expect(Math.abs((y0 + y1) / 2 - 199.5)).toBeLessThan(3);
  });
});

describe('replaceBackground: full resolution', () => {
  it('returns a 12-MP photo at 12 MP with a full-size mask', async () => {
    const photo = await productPhoto(4000, 3000);
    const jpeg = await sharp(photo.rgb, { raw: { width: 4000, height: 3000, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    const result = await replaceBackground({
      input: jpeg,
      model: { segmentation: model },
      threads,
      format: 'jpeg',
      seed: 3,
    });
    expect([result.width, result.height]).toEqual([4000, 3000]);
    const meta = await sharp(result.artifacts.output as Buffer).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([4000, 3000, 'jpeg']);
    const mask = await sharp(result.artifacts.mask).metadata();
    expect([mask.width, mask.height, mask.channels]).toEqual([4000, 3000, 1]);
    for (const stage of ['decode', 'infer', 'refine', 'generate', 'decontaminate', 'composite', 'encode']) {
      expect(result.metrics.stages[stage], stage).toBeGreaterThanOrEqual(0);
    }
  }, 60_000);

  it('keeps the event loop free during a 12-MP job: the per-pixel work runs on worker threads', async () => {
    const photo = await productPhoto(4000, 3000);
    const jpeg = await sharp(photo.rgb, { raw: { width: 4000, height: 3000, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    let last = performance.now();
    let worst = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    try {
      await replaceBackground({ input: jpeg, model: { segmentation: model }, threads, format: 'jpeg', seed: 3 });
    } finally {
      clearInterval(tick);
    }
    // Refinement, painting and compositing each take ~0.2–0.7 s at 12 MP: any of them on the main
    // thread would stall the timer for that long. What remains there is bookkeeping (~20–160 ms).
    expect(worst).toBeLessThan(500);
  }, 60_000);
});

describe('replaceBackground: engines and metadata', () => {
  it('uses the studio engine when no diffusion model is configured, and says why', async () => {
    const photo = await productPhoto();
    const saved = snapshotEnv(['BG_DIFFUSION_MODEL', 'MODEL_PATH', 'MODEL_ID', 'RUNWAY_API_KEY', 'BG_ENGINE'], {
      clear: true,
    });
    try {
      const result = await replaceBackground({
        input: photo.png,
        model: { segmentation: model },
        threads,
        preset: 'vitrinealu',
        promptType: 'garden',
      });
      expect(result.engine).toBe('studio');
      expect(result.engineReason).toMatch(/no diffusion model or Runway key is configured.*procedural/);
      expect(result.skipped.map((s) => s.engine)).toEqual(['local', 'runway']);
      expect(result.skipped[0]!.reason).toMatch(/no diffusion model configured/);
      expect(result.preset).toBe('vitrinealu');
      expect(result.promptType).toBe('garden');
      expect(Number.isInteger(result.seed)).toBe(true);
      expect(result.metrics.elapsed_ms).toBeGreaterThan(0);
      expect(result.engineInfo).toMatchObject({ background: 'blurred-original' }); // garden's own background
    } finally {
      saved.restore();
    }
  });

  it('falls back from a missing diffusion model to studio under auto, recording the failure', async () => {
    const photo = await productPhoto();
    const result = await replaceBackground({
      input: photo.png,
      model: { segmentation: model, diffusion: path.join(tmp.dir, 'no-such-model.safetensors') },
      threads,
      engine: 'auto',
    });
    expect(result.engine).toBe('studio');
    expect(result.skipped[0]).toMatchObject({ engine: 'local', code: 'E_MODEL_NOT_FOUND' });
  });

  it("accepts the seeds' engine names: SDXL without a model is a configuration error naming the setting", async () => {
    const photo = await productPhoto();
    await expect(
      replaceBackground({ input: photo.png, model: { segmentation: model }, threads, engine: 'SDXL' }),
    ).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringMatching(/BG_DIFFUSION_MODEL/),
    });
  });

  it('reports progress from 0 to 1 in order, through every stage', async () => {
    const photo = await productPhoto();
    const seen: { stage: string; progress: number }[] = [];
    await replaceBackground({ ...plain(photo.png), onProgress: (p) => seen.push(p) });
    const values = seen.map((p) => p.progress);
    expect(values[0]).toBe(0);
    expect(values[values.length - 1]).toBe(1);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
    expect(new Set(seen.map((p) => p.stage))).toEqual(new Set(['segment', 'generate', 'compose', 'done']));
  });
});

describe('replaceBackground: bad input', () => {
  it('names the valid presets when the preset is unknown', async () => {
    const photo = await productPhoto();
    await expect(replaceBackground({ input: photo.png, preset: 'sunset-beach' })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/Valid presets: .*product-studio.*vitrinealu/),
    });
  });

  it('refuses an invalid colour in overrides, naming the field', async () => {
    const photo = await productPhoto();
    await expect(replaceBackground({ ...plain(photo.png, 'blurple') })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/background\.color/),
    });
  });

  it('refuses sizes out of range: a zero output size and a negative feather', async () => {
    const photo = await productPhoto();
    await expect(replaceBackground({ ...plain(photo.png), framing: { outputSize: '0x100' } })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
    await expect(replaceBackground({ ...plain(photo.png), featherEdges: -2 })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/featherEdges/),
    });
  });

  it('says no subject was found, with advice, when the mask is empty', async () => {
    const grey = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#30a040' } })
      .png()
      .toBuffer();
    await expect(replaceBackground(plain(grey))).rejects.toMatchObject({
      code: 'E_NO_SUBJECT',
      message: expect.stringMatching(/No subject was found.*model/),
    });
  });

  it('says there is no background to replace when the subject fills the photo', async () => {
    const red = await sharp({ create: { width: 200, height: 150, channels: 3, background: '#e01010' } })
      .png()
      .toBuffer();
    await expect(replaceBackground(plain(red))).rejects.toMatchObject({
      code: 'E_NO_BACKGROUND',
      message: expect.stringMatching(/padding/),
    });
  });

  it('refuses an output in a missing folder or under a file, before any work, and writes nothing', async () => {
    const photo = await productPhoto();
    const dir = path.join(tmp.dir, 'outs');
    mkdirSync(dir);
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(
      replaceBackground({ ...plain(photo.png), output: path.join(dir, 'missing', 'out.png') }),
    ).rejects.toMatchObject({ code: 'E_IO' });
    await expect(replaceBackground({ ...plain(photo.png), output: path.join(file, 'out.png') })).rejects.toMatchObject({
      code: 'E_IO',
    });
    expect(readdirSync(dir)).toEqual(['a-file']);
  });

  it('stops when cancelled and leaves no output behind', async () => {
    const photo = await productPhoto();
    const out = path.join(tmp.dir, 'cancelled.png');
    const ac = new AbortController();
    ac.abort();
    await expect(replaceBackground({ ...plain(photo.png), output: out, signal: ac.signal })).rejects.toMatchObject({
      code: 'E_CANCELLED',
    });
    expect(existsSync(out)).toBe(false);
  });
});
