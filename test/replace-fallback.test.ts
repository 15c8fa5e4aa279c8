/**
 * The engine fallback policy through replaceBackground (issue: Runway fallback engine): local when
 * a diffusion model is configured and works; when it cannot run here (no weights, no CUDA though
 * CUDA was demanded, out of memory) → Runway when RUNWAY_API_KEY is set, else studio; the result
 * says why each engine was skipped. Runway is the loopback mock of its documented contract.
 */
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  clearDiffusionModels,
  clearSegmenters,
  replaceBackground,
  resetDefaultContext,
  type ReplaceOptions,
} from '../src/index.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';
import { startRunwayMock, type RunwayMock } from './helpers/runway-mock.js';
import { snapshotEnv } from './helpers/env.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const KEY = 'rw_test_key_3f9a1c7e5b2d4f60';
const tmp = tempDir();
const segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const ENV_KEYS = [
  'RUNWAY_API_KEY',
  'RUNWAY_API_URL',
  'RUNWAY_POLL_INTERVAL_MS',
  'BG_DIFFUSION_MODEL',
  'MODEL_PATH',
  'BG_ENGINE',
] as const;
const saved = snapshotEnv(ENV_KEYS);
let mock: RunwayMock | undefined;
let photo: Buffer;

beforeAll(async () => {
  const w = 160;
  const h = 120;
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const x = i % w;
    const y = Math.floor(i / w);
    rgb.set(x > 50 && x < 110 && y > 30 && y < 90 ? [215, 25, 30] : [40, 160, 70], i * 3);
  }
  photo = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
});

afterEach(async () => {
  await mock?.close();
  mock = undefined;
  saved.restore();
  resetDefaultContext();
});
afterAll(async () => {
  await clearSegmenters();
  await clearDiffusionModels();
  tmp.remove();
});

async function withRunway(): Promise<RunwayMock> {
  mock = await startRunwayMock(KEY, { outputColor: { r: 30, g: 90, b: 200 } });
  process.env.RUNWAY_API_KEY = KEY;
  process.env.RUNWAY_API_URL = mock.url;
  process.env.RUNWAY_POLL_INTERVAL_MS = '10';
  resetDefaultContext(); // replaceBackground reads the environment again
  return mock;
}

const base = (extra: Partial<ReplaceOptions> = {}): ReplaceOptions => ({
  input: photo,
  threads: 1,
  seed: 9,
  shadow: false,
  matchColors: false,
  ...extra,
  model: { segmentation: segModel, ...extra.model },
});

describe('engine fallback', () => {
  it('goes to Runway when the configured diffusion model is missing and a key is set', async () => {
    const m = await withRunway();
    const result = await replaceBackground(base({ model: { diffusion: path.join(tmp.dir, 'gone.safetensors') } }));
    expect(result.engine).toBe('runway');
    expect(result.skipped).toEqual([expect.objectContaining({ engine: 'local', code: 'E_MODEL_NOT_FOUND' })]);
    expect(result.engineInfo).toMatchObject({ provider: 'runway', taskId: expect.any(String), model: 'gen4_image' });
    expect(result.prompt).toMatch(/studio/);
    expect(m.requests.some((r) => r.method === 'POST' && r.path === '/v1/text_to_image')).toBe(true);
    // The generated background is composited under our own cut-out, at the photo's size.
    const out = await sharp(result.artifacts.output as Buffer)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([out.info.width, out.info.height]).toEqual([160, 120]);
    expect([...out.data.subarray(0, 3)]).toEqual([30, 90, 200]);
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it('goes to Runway when no diffusion model is configured at all', async () => {
    await withRunway();
    const result = await replaceBackground(base());
    expect(result.engine).toBe('runway');
    expect(result.skipped[0]).toMatchObject({
      engine: 'local',
      reason: expect.stringMatching(/no diffusion model configured/),
    });
  });

  it.skipIf(!fixturesPresent)('goes to Runway when CUDA is demanded on a build or machine without it', async () => {
    await withRunway();
    const result = await replaceBackground(
      base({
        device: 'cuda',
        steps: 1,
        model: { diffusion: sd1Tiny, tokenizer: tokenizerDir },
        overrides: { generation: { resolution: { width: 64, height: 64 } } },
      }),
    );
    expect(result.engine).toBe('runway');
    expect(result.skipped[0]).toMatchObject({
      engine: 'local',
      code: 'E_DEVICE_UNAVAILABLE',
      reason: expect.stringMatching(/CUDA/),
    });
  });

  it('ends on studio when Runway rejects the job, recording both skips', async () => {
    mock = await startRunwayMock(KEY, {
      steps: [{ status: 'FAILED', failureCode: 'SAFETY.INPUT.TEXT', failure: 'Prompt flagged' }],
    });
    process.env.RUNWAY_API_KEY = KEY;
    process.env.RUNWAY_API_URL = mock.url;
    process.env.RUNWAY_POLL_INTERVAL_MS = '10';
    resetDefaultContext();
    const result = await replaceBackground(base());
    expect(result.engine).toBe('studio');
    expect(result.skipped.map((s) => [s.engine, s.code])).toEqual([
      ['local', undefined],
      ['runway', 'E_PROVIDER_REJECTED'],
    ]);
    expect(result.engineReason).toMatch(/no generative engine could run/);
  });

  it('refuses engine runway without a key, naming RUNWAY_API_KEY', async () => {
    delete process.env.RUNWAY_API_KEY;
    resetDefaultContext();
    await expect(replaceBackground(base({ engine: 'RUNWAY' }))).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringMatching(/RUNWAY_API_KEY/),
    });
  });

  it('follows BG_ENGINE when the call names no engine, and refuses a bad value', async () => {
    process.env.BG_ENGINE = 'studio';
    await withRunway();
    expect((await replaceBackground(base())).engine).toBe('studio');
    process.env.BG_ENGINE = 'dall-e';
    resetDefaultContext();
    await expect(replaceBackground(base())).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringMatching(/BG_ENGINE/),
    });
  });
});
