/**
 * The segment/cleanup pipeline with a stand-in for the native addon (test/helpers/fake-addon.ts):
 * everything but the network itself is real.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { makeFakeAddon, type FakeAddon } from './helpers/fake-addon.js';
import { greyJpeg, halvesJpeg } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';

const state = vi.hoisted(() => ({ addon: undefined as unknown }));
vi.mock('../src/native.js', () => ({
  loadAddon: () => state.addon,
  backends: () => (state.addon as FakeAddon).backends(),
}));

const { cleanup, segment, clearSegmenters } = await import('../src/index.js');

const tmp = tempDir();
afterAll(() => tmp.remove());
const model = path.join(tmp.dir, 'fake-imgly.onnx');
writeFileSync(model, 'not really a model');

let fake: FakeAddon;
beforeEach(async () => {
  await clearSegmenters();
  fake = makeFakeAddon();
  state.addon = fake;
});

function err(code: string) {
  return Object.assign(new Error(`native says ${code}`), { code });
}

describe('segment()', () => {
  it('returns an 8-bit alpha the size of the photo, EXIF orientation applied', async () => {
    const jpg = await halvesJpeg(120, 80, 6); // displays as 80×120, red (subject) on top
    const r = await segment({ input: jpg, model });
    expect([r.width, r.height]).toEqual([80, 120]);
    expect(r.alpha).toBeInstanceOf(Uint8Array);
    expect(r.alpha.length).toBe(80 * 120);
    expect(r.alpha[10 * 80 + 40]).toBe(255);
    expect(r.alpha[110 * 80 + 40]).toBe(0);
    expect(r.model).toMatchObject({ path: model, source: 'option', profile: 'isnet-imgly', inputSize: [64, 64] });
  });

  it('reports the time of each stage', async () => {
    const r = await segment({ input: await halvesJpeg(64, 64), model });
    expect(Object.keys(r.metrics.stages)).toEqual(expect.arrayContaining(['decode', 'preprocess', 'infer', 'refine']));
    expect(r.metrics.elapsed_ms).toBeGreaterThan(0);
  });

  it('works on a 1-channel greyscale JPEG', async () => {
    const r = await segment({ input: await greyJpeg(50, 30), model });
    expect(r.alpha.length).toBe(50 * 30);
  });

  it('validates options before touching the native addon', async () => {
    await expect(segment({ input: await halvesJpeg(8, 8), model, threads: -1 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    expect(fake.loads).toEqual([]);
  });

  it('refuses a bad image before loading the model', async () => {
    await expect(segment({ input: Buffer.from('not an image'), model })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    expect(fake.loads).toEqual([]);
  });

  it('loads a model once and reuses it', async () => {
    const jpg = await halvesJpeg(16, 16);
    await segment({ input: jpg, model });
    await segment({ input: jpg, model });
    expect(fake.loads).toEqual([model]);
    expect(fake.runs).toBe(2);
  });
});

describe('cleanup()', () => {
  it('makes a transparent PNG at full resolution with the subject opaque', async () => {
    const r = await cleanup({ input: await halvesJpeg(90, 60), model });
    expect(Buffer.isBuffer(r.artifacts.output)).toBe(true);
    const { data, info } = await sharp(r.artifacts.output as Buffer).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([90, 60, 4]);
    expect(data[(30 * 90 + 10) * 4 + 3]).toBe(255);
    expect(data[(30 * 90 + 80) * 4 + 3]).toBe(0);
    const mask = await sharp(r.artifacts.mask).metadata();
    expect([mask.width, mask.height, mask.channels]).toEqual([90, 60, 1]);
  });

  it('puts the subject on a colour', async () => {
    const r = await cleanup({ input: await halvesJpeg(90, 60), model, mode: 'color', color: '#00ff00', format: 'png' });
    const { data, info } = await sharp(r.artifacts.output as Buffer).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Array.from(data.subarray((30 * 90 + 85) * 3, (30 * 90 + 85) * 3 + 3))).toEqual([0, 255, 0]);
    expect(data[(30 * 90 + 5) * 3]!).toBeGreaterThan(200);
  });

  it.each(['blur', 'gradient'] as const)('mode %s writes a JPEG of the photo’s size when asked for .jpg', async (mode) => {
    const out = path.join(tmp.dir, `${mode}.jpg`);
    const r = await cleanup({ input: await halvesJpeg(90, 60), model, mode, output: out, enhanceFg: true });
    expect(r.artifacts.output).toBe(out);
    expect(r.format).toBe('jpeg');
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 90, 60]);
  });

  it('refuses a transparent result in JPEG before doing any work', async () => {
    await expect(cleanup({ input: await halvesJpeg(8, 8), model, output: path.join(tmp.dir, 'x.jpg') })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    expect(fake.loads).toEqual([]);
  });

  it('refuses an output folder that does not exist before doing any work', async () => {
    await expect(cleanup({ input: await halvesJpeg(8, 8), model, output: path.join(tmp.dir, 'nope', 'x.png') })).rejects.toMatchObject({ code: 'E_IO' });
    expect(fake.loads).toEqual([]);
  });

  it('leaves no output file when the network fails', async () => {
    fake = makeFakeAddon({ runError: err('E_OUT_OF_MEMORY') });
    state.addon = fake;
    const dir = path.join(tmp.dir, 'fail-run');
    mkdirSync(dir);
    await expect(cleanup({ input: await halvesJpeg(32, 32), model, output: path.join(dir, 'out.png') })).rejects.toMatchObject({ code: 'E_OUT_OF_MEMORY' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves no output file when the model cannot be loaded, and reports the native code', async () => {
    fake = makeFakeAddon({ loadError: err('E_MODEL_FORMAT') });
    state.addon = fake;
    const dir = path.join(tmp.dir, 'fail-load');
    mkdirSync(dir);
    await expect(cleanup({ input: await halvesJpeg(32, 32), model, output: path.join(dir, 'out.png') })).rejects.toMatchObject({ code: 'E_MODEL_FORMAT' });
    expect(readdirSync(dir)).toEqual([]);
  });
});
