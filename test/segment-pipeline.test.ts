/**
 * The segment/cleanup pipeline end to end on the real native addon, with tiny real ONNX models
 * (test/helpers/tiny-models.ts: a 64×64 two-Conv network that finds the red half of the
 * synthetic photos). Failures are real too: truncated files, an unsupported operator, a graph
 * whose shapes do not fit when it runs.
 */
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { cleanup, clearSegmenters, segment } from '../src/index.js';
import { greyJpeg, halvesJpeg } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';
import {
  TINY_SIZE,
  failsWhenRunModel,
  redSubjectModel,
  truncatedModelBytes,
  unsupportedOpModel,
  writeTinyModel,
} from './helpers/tiny-models.js';

const tmp = tempDir();
afterAll(async () => {
  await clearSegmenters();
  tmp.remove();
});

// The file names contain "imgly": the pipeline uses the imgly ISNet profile the models are made for.
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
/** A model file that fails if anything tries to load it. */
const unloadable = writeTinyModel(tmp.dir, 'truncated-imgly.onnx', truncatedModelBytes());
/** One native worker thread: the CI machine has two cores, shared. */
const threads = 1;

let fresh = 0;
/** A good model under a name of its own, for tests that replace the file afterwards. */
function freshModel(): string {
  return writeTinyModel(tmp.dir, `fresh-${++fresh}-imgly.onnx`, redSubjectModel());
}

/** Replaces the file by one that cannot be loaded (a new file renamed over it, as a deploy would). */
function replaceWithGarbage(file: string): void {
  writeFileSync(`${file}.new`, 'not a model any more');
  renameSync(`${file}.new`, file);
}

/** Proves that no call so far loaded `file`: once it is garbage, the next call has to load it and fails. */
async function expectNeverLoaded(file: string): Promise<void> {
  replaceWithGarbage(file);
  await expect(segment({ input: await halvesJpeg(16, 16), model: file, threads })).rejects.toMatchObject({
    code: 'E_MODEL_FORMAT',
  });
}

function emptyDir(name: string): string {
  const dir = path.join(tmp.dir, name);
  mkdirSync(dir);
  return dir;
}

beforeEach(async () => {
  await clearSegmenters();
});

describe('segment()', () => {
  it('returns an 8-bit alpha the size of the photo, EXIF orientation applied', async () => {
    const jpg = await halvesJpeg(120, 80, 6); // displays as 80×120, red (subject) on top
    const r = await segment({ input: jpg, model, threads });
    expect([r.width, r.height]).toEqual([80, 120]);
    expect(r.alpha).toBeInstanceOf(Uint8Array);
    expect(r.alpha.length).toBe(80 * 120);
    expect(r.alpha[10 * 80 + 40]).toBe(255);
    expect(r.alpha[110 * 80 + 40]).toBe(0);
    expect(r.model).toMatchObject({
      path: model,
      source: 'option',
      profile: 'isnet-imgly',
      inputSize: [TINY_SIZE, TINY_SIZE],
    });
  });

  it('finds the subject: the red half opaque, the blue half transparent', async () => {
    const r = await segment({ input: await halvesJpeg(96, 64), model, threads });
    // Away from the edge between the halves (±8 px), every pixel is decided.
    let wrong = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 96; x++) {
        const a = r.alpha[y * 96 + x]!;
        if (x < 40 && a < 250) wrong++;
        if (x >= 56 && a > 5) wrong++;
      }
    }
    expect(wrong).toBe(0);
  });

  it('reports the time of each stage', async () => {
    const r = await segment({ input: await halvesJpeg(64, 64), model, threads });
    expect(Object.keys(r.metrics.stages)).toEqual(
      expect.arrayContaining(['open', 'resolve', 'load', 'decode', 'preprocess', 'infer', 'postprocess', 'refine']),
    );
    for (const ms of Object.values(r.metrics.stages)) expect(ms).toBeGreaterThanOrEqual(0);
    expect(r.metrics.elapsed_ms).toBeGreaterThan(0);
  });

  it('works on a 1-channel greyscale JPEG (nothing red in it: all background)', async () => {
    const r = await segment({ input: await greyJpeg(50, 30), model, threads });
    expect([r.width, r.height]).toEqual([50, 30]);
    expect(r.alpha.length).toBe(50 * 30);
    expect(Math.max(...r.alpha)).toBeLessThan(16);
  });

  it('rejects an invalid option before loading the model', async () => {
    // Loading `unloadable` would fail with E_MODEL_FORMAT: the option error has to come first.
    await expect(segment({ input: await halvesJpeg(8, 8), model: unloadable, threads: -1 })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringContaining('threads'),
    });
  });

  it('refuses a file that is not an image without loading the model', async () => {
    const file = freshModel();
    await expect(segment({ input: Buffer.from('not an image'), model: file, threads })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
    await expectNeverLoaded(file);
  });

  it('loads a model once and reuses it for later calls', async () => {
    const file = freshModel();
    const jpg = await halvesJpeg(16, 16);
    const first = await segment({ input: jpg, model: file, threads });
    replaceWithGarbage(file); // a second load would now fail
    const second = await segment({ input: jpg, model: file, threads });
    expect(second.alpha).toEqual(first.alpha);
  });

  it('loads the model file again after clearSegmenters()', async () => {
    const file = freshModel();
    const jpg = await halvesJpeg(16, 16);
    await segment({ input: jpg, model: file, threads });
    replaceWithGarbage(file);
    await clearSegmenters();
    await expect(segment({ input: jpg, model: file, threads })).rejects.toMatchObject({ code: 'E_MODEL_FORMAT' });
  });
});

describe('cleanup()', () => {
  it('makes a transparent PNG at full resolution with the subject opaque', async () => {
    const r = await cleanup({ input: await halvesJpeg(90, 60), model, threads });
    expect(Buffer.isBuffer(r.artifacts.output)).toBe(true);
    const { data, info } = await sharp(r.artifacts.output as Buffer)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([90, 60, 4]);
    expect(data[(30 * 90 + 10) * 4 + 3]).toBe(255);
    expect(data[(30 * 90 + 80) * 4 + 3]).toBe(0);
    const mask = await sharp(r.artifacts.mask).metadata();
    expect([mask.width, mask.height, mask.channels]).toEqual([90, 60, 1]);
  });

  it('puts the subject on a colour', async () => {
    const r = await cleanup({
      input: await halvesJpeg(90, 60),
      model,
      threads,
      mode: 'color',
      color: '#00ff00',
      format: 'png',
    });
    const { data, info } = await sharp(r.artifacts.output as Buffer)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    expect(Array.from(data.subarray((30 * 90 + 85) * 3, (30 * 90 + 85) * 3 + 3))).toEqual([0, 255, 0]);
    expect(data[(30 * 90 + 5) * 3]!).toBeGreaterThan(200);
  });

  it.each(['blur', 'gradient'] as const)(
    'mode %s writes a JPEG of the photo’s size when asked for .jpg',
    async (mode) => {
      const out = path.join(tmp.dir, `${mode}.jpg`);
      const r = await cleanup({ input: await halvesJpeg(90, 60), model, threads, mode, output: out, enhanceFg: true });
      expect(r.artifacts.output).toBe(out);
      expect(r.format).toBe('jpeg');
      const meta = await sharp(out).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 90, 60]);
    },
  );

  it('refuses a transparent result in JPEG before loading the model', async () => {
    const dir = emptyDir('jpeg-transparent');
    await expect(
      cleanup({ input: await halvesJpeg(8, 8), model: unloadable, threads, output: path.join(dir, 'x.jpg') }),
    ).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringContaining('JPEG'),
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses an output folder that does not exist before loading the model', async () => {
    await expect(
      cleanup({
        input: await halvesJpeg(8, 8),
        model: unloadable,
        threads,
        output: path.join(tmp.dir, 'nope', 'x.png'),
      }),
    ).rejects.toMatchObject({
      code: 'E_IO',
    });
  });

  it('leaves no output file when the network fails while running, and reports the native code', async () => {
    const broken = writeTinyModel(tmp.dir, 'fails-when-run-imgly.onnx', failsWhenRunModel());
    const dir = emptyDir('fail-run');
    // The graph loads; its second Conv does not fit the first one's output: the native run rejects,
    // blaming the model (the photo was fine and matched the model's declared input).
    await expect(
      cleanup({ input: await halvesJpeg(32, 32), model: broken, threads, output: path.join(dir, 'out.png') }),
    ).rejects.toMatchObject({
      code: 'E_MODEL_FORMAT',
      message: expect.stringContaining('Conv'),
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['is truncated', 'E_MODEL_FORMAT', () => truncatedModelBytes()],
    ['uses an operator bg-native cannot run', 'E_MODEL_UNSUPPORTED', () => unsupportedOpModel()],
  ] as const)('leaves no output file when the model %s, and reports the native code %s', async (_what, code, make) => {
    const bad = writeTinyModel(tmp.dir, `bad-${code}-imgly.onnx`, make());
    const dir = emptyDir(`fail-load-${code}`);
    await expect(
      cleanup({ input: await halvesJpeg(32, 32), model: bad, threads, output: path.join(dir, 'out.png') }),
    ).rejects.toMatchObject({ code });
    expect(readdirSync(dir)).toEqual([]);
  });
});
