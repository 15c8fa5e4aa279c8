/**
 * SAM through the whole library: cleanup() and replaceBackground() with `prompt: { box, points }`,
 * and the server's `prompt` field on /v1/cleanup and /v1/replace, on a random-weight SAM pair at
 * reduced width (scripts/lib/sam-replica.ts) written at run time.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { samDecoderReplica, samEncoderReplica } from '../scripts/lib/sam-replica.js';
import { cleanup, clearSegmenters, closeComposePool, replaceBackground, segment } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { writeModel } from './helpers/onnx-builder.js';
import { halvesJpeg } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';
import { SECRET, TOKEN, postJson } from './helpers/server-harness.js';

const tmp = tempDir('bgn-sam-pipeline-');
const models = path.join(tmp.dir, 'models');
const inputs = path.join(tmp.dir, 'inputs');
const encoder = path.join(models, 'sam_vit_b_01ec64.encoder.onnx');
const decoder = path.join(models, 'sam_vit_b_01ec64.decoder.onnx');
const BOX = { box: [10, 8, 60, 40] as [number, number, number, number] };
const POINTS = {
  points: [
    { x: 80, y: 50 },
    { x: 20, y: 20, label: 0 as const },
  ],
};
let photo: Buffer;
let photoPath: string;

async function maskOf(png: Buffer): Promise<Uint8Array> {
  const { data } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

/** Share of pixels on the same side of 128 in both masks. */
function agreement(a: Uint8Array, b: Uint8Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! >= 128 === b[i]! >= 128) same++;
  return same / a.length;
}

beforeAll(async () => {
  mkdirSync(models, { recursive: true });
  mkdirSync(inputs, { recursive: true });
  const enc = samEncoderReplica({ size: 64, patch: 8, width: 32, depth: 2, heads: 2, window: 3, global: [1], out: 16 });
  copyFileSync(writeModel(enc), encoder);
  // Seed 3: a decoder whose masks for these prompts are neither empty nor full.
  copyFileSync(writeModel(samDecoderReplica({ dim: 16, side: 8, heads: 2, masks: 4, seed: 3 })), decoder);
  photo = await halvesJpeg(96, 64);
  photoPath = path.join(inputs, 'product.jpg');
  await sharp(photo).toFile(photoPath);
});

afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

describe('SAM in cleanup() and replaceBackground()', () => {
  it('cleanup() cuts out what the prompt names: its mask is segment()’s for the same prompt', async () => {
    for (const prompt of [BOX, POINTS]) {
      const seg = await segment({ input: photo, model: encoder, prompt, threads: 1 });
      const r = await cleanup({ input: photo, model: encoder, prompt, threads: 1 });
      expect(r.model).toMatchObject({ profile: 'sam', decoder });
      expect(await maskOf(r.artifacts.mask)).toEqual(seg.alpha);
    }
    const a = await cleanup({ input: photo, model: encoder, prompt: BOX, threads: 1 });
    const b = await cleanup({ input: photo, model: encoder, prompt: POINTS, threads: 1 });
    expect(await maskOf(a.artifacts.mask)).not.toEqual(await maskOf(b.artifacts.mask)); // the prompt decides
  });

  it('cleanup() with a SAM model and no prompt is E_BAD_INPUT naming prompt', async () => {
    await expect(cleanup({ input: photo, model: encoder, threads: 1 })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/prompt/),
    });
  });

  it('replaceBackground() takes the box and points in its prompt object next to the text', async () => {
    const seg = await segment({ input: photo, model: encoder, prompt: BOX, threads: 1 });
    const r = await replaceBackground({
      input: photo,
      engine: 'studio',
      model: { segmentation: encoder },
      prompt: { text: 'a marble table', ...BOX },
      seed: 1,
      threads: 1,
    });
    expect(r.model).toMatchObject({ profile: 'sam', decoder });
    // The compositing feathers the edge: the cut-out agrees with this prompt's mask, not the other's.
    const other = await segment({ input: photo, model: encoder, prompt: POINTS, threads: 1 });
    const mask = await maskOf(r.artifacts.mask);
    expect(agreement(mask, seg.alpha)).toBeGreaterThan(0.97);
    expect(agreement(mask, other.alpha)).toBeLessThan(agreement(mask, seg.alpha) - 0.05);
    const model = { segmentation: encoder };
    const unprompted = replaceBackground({ input: photo, engine: 'studio', model, threads: 1 });
    await expect(unprompted).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
  });
});

describe("the server's prompt field with a SAM model", () => {
  let server: BgServer;
  let url: string;
  const saved = process.env.BG_SEG_MODEL;

  beforeAll(async () => {
    process.env.BG_SEG_MODEL = encoder;
    server = await createServer(
      {
        port: 0,
        host: '127.0.0.1',
        apiToken: TOKEN,
        webhookSecret: SECRET,
        inputRoots: [inputs],
        outputDir: path.join(tmp.dir, 'out'),
        queueDb: path.join(tmp.dir, 'queue.db'),
        threads: 1,
        concurrency: 1,
        pollMs: 20,
        syncWaitMs: 20_000,
      },
      { logger: false, worker: true },
    );
    url = await server.listen();
  });

  afterAll(async () => {
    await server?.close();
    if (saved === undefined) delete process.env.BG_SEG_MODEL;
    else process.env.BG_SEG_MODEL = saved;
  });

  it('/v1/cleanup with a box and points segments with SAM', async () => {
    const body = { imagePath: photoPath, mode: 'color', prompt: { ...BOX, ...POINTS } };
    const res = await postJson(`${url}/v1/cleanup`, body);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'succeeded', type: 'cleanup', result: { width: 96, height: 64 } });
  });

  it('/v1/replace takes the box in its prompt object', async () => {
    const body = { imagePath: photoPath, engine: 'studio', seed: 2, prompt: { text: 'a shelf', ...BOX } };
    const res = await postJson(`${url}/v1/replace`, body);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'succeeded', type: 'replace', result: { engine: 'studio' } });
  });

  it('a SAM job without a prompt fails with E_BAD_INPUT (422); a malformed prompt is refused at once', async () => {
    const res = await postJson(`${url}/v1/cleanup`, { imagePath: photoPath });
    expect(res.status).toBe(422);
    expect(res.json).toMatchObject({ error: { code: 'E_BAD_INPUT', message: expect.stringMatching(/prompt/) } });
    const bad = await postJson(`${url}/v1/cleanup`, { imagePath: photoPath, prompt: { box: [0, 0, -4, 5] } });
    expect(bad.status).toBe(400);
  });
});
