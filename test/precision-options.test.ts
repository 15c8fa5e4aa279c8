/**
 * The precision setting around the native core: the replaceBackground option model.precision, the
 * CLI's --precision, env BG_DIFFUSION_PRECISION, and what the local engine reports it ran in.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { replaceOptionsFromFlags } from '../src/cli/replace-flags.js';
import { localPrecision, precisionFromEnv } from '../src/engines/precision.js';
import {
  clearDiffusionModels,
  clearSegmenters,
  DiffusionModel,
  replaceBackground,
  resetDefaultContext,
} from '../src/index.js';
import { ReplaceOptionsSchema } from '../src/options.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

describe('precision settings', () => {
  it('the call wins over BG_DIFFUSION_PRECISION, which wins over auto', () => {
    expect(localPrecision(undefined, precisionFromEnv({}))).toBe('auto');
    expect(localPrecision(undefined, precisionFromEnv({ BG_DIFFUSION_PRECISION: ' f32 ' }))).toBe('f32');
    expect(localPrecision('bf16', precisionFromEnv({ BG_DIFFUSION_PRECISION: 'f32' }))).toBe('bf16');
    expect(precisionFromEnv({ BG_DIFFUSION_PRECISION: '' })).toBeUndefined();
    expect(() => precisionFromEnv({ BG_DIFFUSION_PRECISION: 'fp16' })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    );
  });

  it('--precision becomes model.precision; the option takes auto, f32 and bf16 only', () => {
    const flags = { in: 'a.jpg', out: 'b.png' };
    expect(replaceOptionsFromFlags({ ...flags, precision: 'bf16' }).model).toEqual({ precision: 'bf16' });
    expect(replaceOptionsFromFlags(flags).model).toBeUndefined();
    for (const precision of ['auto', 'f32', 'bf16'])
      expect(ReplaceOptionsSchema.safeParse({ input: 'a.jpg', model: { precision } }).success).toBe(true);
    for (const precision of ['fp16', 'BF16', 32])
      expect(ReplaceOptionsSchema.safeParse({ input: 'a.jpg', model: { precision } }).success).toBe(false);
  });
});

const tmp = tempDir();
afterAll(async () => {
  await clearSegmenters();
  await clearDiffusionModels();
  tmp.remove();
});

describe.skipIf(!fixturesPresent)('the local engine', () => {
  const segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
  const photo = async () => {
    const w = 160,
      h = 96;
    const rgb = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const x = i % w,
        y = Math.floor(i / w);
      rgb.set(x >= 60 && x < 100 && y >= 24 && y < 72 ? [210, 25, 30] : [40, 160, 70], i * 3);
    }
    return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer();
  };
  const run = async (precision?: 'auto' | 'f32' | 'bf16') =>
    replaceBackground({
      input: await photo(),
      engine: 'local',
      model: { segmentation: segModel, diffusion: sd1Tiny, tokenizer: tokenizerDir, ...(precision && { precision }) },
      threads: 2,
      steps: 1,
      seed: 3,
      matchColors: false,
      shadow: false,
      featherEdges: false,
      overrides: { generation: { resolution: { width: 64, height: 64 } } },
    });

  it("runs 'auto' by default and reports what ran; f32 on request", async () => {
    const probe = await DiffusionModel.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir, precision: 'auto' });
    const native = probe.precision;
    probe.dispose();
    const saved = process.env.BG_DIFFUSION_PRECISION;
    delete process.env.BG_DIFFUSION_PRECISION;
    resetDefaultContext(); // replaceBackground reads the environment again
    try {
      expect((await run()).engineInfo).toMatchObject({ precision: native });
      expect((await run('f32')).engineInfo).toMatchObject({ precision: 'f32' });
      process.env.BG_DIFFUSION_PRECISION = 'f32';
      resetDefaultContext();
      expect((await run()).engineInfo).toMatchObject({ precision: 'f32' });
    } finally {
      if (saved === undefined) delete process.env.BG_DIFFUSION_PRECISION;
      else process.env.BG_DIFFUSION_PRECISION = saved;
      resetDefaultContext();
    }
  }, 120_000);
});
