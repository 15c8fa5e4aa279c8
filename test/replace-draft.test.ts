/**
 * replaceBackground's draft decode and step previews with the local engine: quality 'draft' (or
 * vae: 'taesd' / a path, or a preset's generation.vae) decodes through the tiny autoencoder, and
 * previewEvery makes onProgress carry small preview images. The tiny SD 1.x fixture model and a
 * tiny TAESD that fits it stand in for the real weights.
 */
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import {
  clearDiffusionModels,
  clearSegmenters,
  replaceBackground,
  resetDefaultContext,
  type ReplaceOptions,
  type ReplaceProgress,
} from '../src/index.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';
import { writeTaesd2x } from './helpers/tiny-taesd.js';

const tmp = tempDir('bgn-replace-draft-');
const savedTaesd = process.env.BG_TAESD;
afterAll(async () => {
  if (savedTaesd === undefined) delete process.env.BG_TAESD;
  else process.env.BG_TAESD = savedTaesd;
  resetDefaultContext();
  await clearSegmenters();
  await clearDiffusionModels();
  tmp.remove();
});
const segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const taesd = writeTaesd2x(path.join(tmp.dir, 'taesd-2x'));

/** A red square on green, 240×160. */
async function photo(): Promise<Buffer> {
  const w = 240;
  const h = 160;
  const rgb = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const red = x >= 90 && x < 150 && y >= 40 && y < 120;
      rgb.set(red ? [210, 25, 30] : [40, 160, 70], (y * w + x) * 3);
    }
  }
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

const base = (input: Buffer): ReplaceOptions => ({
  input,
  engine: 'local',
  model: { segmentation: segModel, diffusion: sd1Tiny, tokenizer: tokenizerDir },
  threads: 2,
  steps: 3,
  seed: 7,
  matchColors: false,
  shadow: false,
  featherEdges: false,
  overrides: { generation: { resolution: { width: 96, height: 64 } } },
});

const bytes = (r: { artifacts: { output: Buffer | string } }) => r.artifacts.output as Buffer;

describe.skipIf(!fixturesPresent)('replaceBackground: draft decode and previews', () => {
  it("quality 'draft' decodes with the tiny autoencoder: pixels unlike the full VAE's, same each time", async () => {
    process.env.BG_TAESD = taesd;
    resetDefaultContext(); // replaceBackground reads the environment again
    const png = await photo();
    const full = await replaceBackground(base(png));
    const draft = await replaceBackground({ ...base(png), quality: 'draft' });
    const again = await replaceBackground({ ...base(png), quality: 'draft' });
    expect(full.engineInfo.vae).toBeUndefined();
    expect(draft.engineInfo.vae).toBe('taesd');
    expect(draft.engine).toBe('local');
    expect([draft.width, draft.height]).toEqual([240, 160]);
    expect(bytes(draft).equals(bytes(full))).toBe(false);
    expect(bytes(again).equals(bytes(draft))).toBe(true);
    // The same decoder named three other ways.
    const byPath = await replaceBackground({ ...base(png), vae: taesd });
    expect(byPath.engineInfo.vae).toBe(taesd);
    expect(bytes(byPath).equals(bytes(draft))).toBe(true);
    const byVae = await replaceBackground({ ...base(png), vae: 'taesd' });
    expect(bytes(byVae).equals(bytes(draft))).toBe(true);
    const preset = await replaceBackground({
      ...base(png),
      overrides: { generation: { resolution: { width: 96, height: 64 }, vae: 'taesd' } },
    });
    expect(bytes(preset).equals(bytes(draft))).toBe(true);
    // 'final' is the full VAE whatever the preset says.
    const final = await replaceBackground({
      ...base(png),
      quality: 'final',
      overrides: { generation: { resolution: { width: 96, height: 64 }, vae: 'taesd' } },
    });
    expect(bytes(final).equals(bytes(full))).toBe(true);
  }, 180_000);

  it("without a tiny autoencoder, quality 'draft' is E_MODEL_NOT_FOUND saying where to put one", async () => {
    delete process.env.BG_TAESD;
    resetDefaultContext();
    await expect(replaceBackground({ ...base(await photo()), quality: 'draft' })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringMatching(/taesd/i) as unknown,
    });
  }, 60_000);

  it('previewEvery: onProgress carries small RGB previews every N-th step, and the result is unchanged', async () => {
    const png = await photo();
    const seen: ReplaceProgress[] = [];
    const withPreviews = await replaceBackground({
      ...base(png),
      steps: 5,
      vae: 'full',
      previewEvery: 2,
      onProgress: (p) => seen.push(p),
    });
    process.env.BG_TAESD = taesd;
    resetDefaultContext(); // replaceBackground reads the environment again
    const previews = seen.filter((p) => p.preview);
    expect(previews.length).toBe(0); // no tiny autoencoder found: no previews, no error
    seen.length = 0;
    const again = await replaceBackground({ ...base(png), steps: 5, previewEvery: 2, onProgress: (p) => seen.push(p) });
    const shown = seen.filter((p) => p.preview);
    expect(shown.map((p) => [p.stage, p.step, p.steps])).toEqual([
      ['generate', 2, 5],
      ['generate', 4, 5],
    ]);
    for (const p of shown) {
      const { pixels, width, height } = p.preview!;
      expect([width, height]).toEqual([96, 64]);
      expect(pixels.length).toBe(width * height * 3);
      expect(p.progress).toBeGreaterThan(0);
      expect(p.progress).toBeLessThan(1);
    }
    // The step reports stay one per step; the preview rides on them.
    expect(seen.filter((p) => p.stage === 'generate' && p.step !== undefined).map((p) => p.step)).toEqual([
      1, 2, 3, 4, 5,
    ]);
    expect(bytes(again).equals(bytes(withPreviews))).toBe(true);
  }, 180_000);

  it('bad values are E_BAD_INPUT naming the field', async () => {
    const png = await photo();
    const bad = async (extra: Record<string, unknown>, field: RegExp) =>
      expect(replaceBackground({ ...base(png), ...extra } as ReplaceOptions)).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
        message: expect.stringMatching(field) as unknown,
      });
    await bad({ quality: 'best' }, /`quality`.*'draft' or 'final'/);
    await bad({ quality: 0 }, /`quality`/);
    await bad({ vae: '' }, /`vae`/);
    await bad({ vae: 3 }, /`vae`/);
    await bad({ previewEvery: 0 }, /`previewEvery`/);
    await bad({ previewEvery: 1.5 }, /`previewEvery`/);
    await bad({ quality: 'draft', vae: 'full' }, /`quality`.*`vae`/);
    await bad({ overrides: { generation: { vae: '' } } }, /generation\.vae/);
  });
});
