/**
 * The model families without per-file code: profiles chosen from rembg's file names and the
 * graph's signature, rembg's names resolved in $U2NET_HOME, `bg-native models`, SAM's encoder +
 * decoder pair with box and point prompts, and BiRefNet and BEN2 run by name through segment(). The
 * graphs are random-weight replicas written at run time.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli/index.js';
import { clearSegmenters } from '../src/models/segmenters.js';
import { backends, resetDefaultContext, segment } from '../src/index.js';
import { catalogEntry, samDecoderName } from '../src/models/catalog.js';
import { listModels } from '../src/models/list.js';
import { inferProfile, PROFILES, toAlpha, type GraphSignature } from '../src/models/profiles.js';
import { resolveModel } from '../src/models/resolve.js';
import { samFrame, samPoints } from '../src/pipeline/sam.js';
import { BEN2_SMALL, ben2Replica } from '../scripts/lib/ben2-replica.js';
import { BIREFNET_SMALL, birefnetReplica } from '../scripts/lib/birefnet-replica.js';
import { samDecoderReplica, samEncoderReplica } from '../scripts/lib/sam-replica.js';
import { writeModel } from './helpers/onnx-builder.js';
import { halvesJpeg } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir();
afterAll(async () => {
  await clearSegmenters();
  tmp.remove();
});

const sig = (inputs: [string, number[]][], outputs: [string, number[]][]): GraphSignature => ({
  inputs: inputs.map(([name, shape]) => ({ name, shape })),
  outputs: outputs.map(([name, shape]) => ({ name, shape })),
});

describe('profiles', () => {
  it('follow rembg file names and release names', () => {
    const cases: [string, string][] = [
      ['birefnet-general.onnx', 'birefnet'],
      ['BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx', 'birefnet'],
      ['BiRefNet-HRSOD_DHU-epoch_115.onnx', 'birefnet'],
      ['BiRefNet_HR-general-epoch_130.onnx', 'birefnet-hr'],
      ['bria-rmbg-2.0.onnx', 'birefnet'],
      ['BEN2_Base.onnx', 'ben2'],
      ['sam_vit_h_4b8939.encoder.onnx', 'sam'],
      ['isnet-general-use.onnx', 'isnet'],
      ['u2net.onnx', 'u2net'],
    ];
    for (const [file, profile] of cases)
      expect([file, inferProfile(`/m/${file}`, undefined).name]).toEqual([file, profile]);
  });

  it('follow the graph signature when the name says nothing', () => {
    const biref = sig([['input_image', [1, 3, 1024, 1024]]], [['output_image', [1, 1, 1024, 1024]]]);
    expect(inferProfile('/m/model.onnx', biref).name).toBe('birefnet');
    const hr = sig([['input_image', [1, 3, 2048, 2048]]], [['output_image', [1, 1, 2048, 2048]]]);
    expect(inferProfile('/m/model.onnx', hr).name).toBe('birefnet-hr');
    const enc = sig([['input_image', [-1, -1, 3]]], [['image_embeddings', [1, 256, 64, 64]]]);
    expect(inferProfile('/m/model.onnx', enc).name).toBe('sam');
    expect(inferProfile('/m/model.onnx', sig([['input', [1, 3, 320, 320]]], [['o', [1, 1, 320, 320]]])).name).toBe(
      'u2net',
    );
    expect(inferProfile('/m/model.onnx', sig([['input', [1, 3, 1024, 1024]]], [['o', [1, 1, 1024, 1024]]])).name).toBe(
      'isnet-imgly',
    );
    expect(inferProfile('/m/birefnet-general.onnx', biref, 'u2net').name).toBe('u2net'); // an explicit profile wins
  });

  it('read logits with a sigmoid, probabilities as they are, SAM logits by threshold', () => {
    const logits = toAlpha(Float32Array.from([-2, 0, 3]), PROFILES.birefnet);
    expect(Array.from(logits).map((v) => +v.toFixed(4))).toEqual([0.1192, 0.5, 0.9526]);
    expect(Array.from(toAlpha(Float32Array.from([0, 0.25, 1]), PROFILES.birefnet))).toEqual([0, 0.25, 1]);
    expect(Array.from(toAlpha(Float32Array.from([-0.5, 0, 0.1]), PROFILES.sam))).toEqual([0, 0, 1]);
    expect(PROFILES.birefnet.mean).toEqual([0.485, 0.456, 0.406]);
    expect(PROFILES['birefnet-hr'].size).toEqual([2048, 2048]);
  });
});

describe('SAM prompt geometry', () => {
  it('scales the longer side to the encoder frame and moves points and boxes with it', () => {
    const f = samFrame(2000, 1000, [1, 3, 1024, 1024]);
    expect(f).toMatchObject({ layout: 'nchw', width: 1024, height: 512, frameWidth: 1024, frameHeight: 1024 });
    const p = samPoints({ points: [{ x: 1000, y: 500 }], box: [200, 100, 400, 300] }, f);
    const want = [512, 256, 102.4, 51.2, 307.2, 204.8];
    expect(p.coords.length).toBe(want.length);
    want.forEach((v, i) => {
      expect(p.coords[i]).toBeCloseTo(v, 3);
    });
    expect(Array.from(p.labels)).toEqual([1, 2, 3]);
    const pad = samPoints({ points: [{ x: 10, y: 20, label: 0 }] }, f);
    expect(Array.from(pad.labels)).toEqual([0, -1]); // no box: a padding point ends the list
  });

  it("takes rembg's HWC encoder input: the photo fitted into a fixed frame or scaled to 1024", () => {
    expect(samFrame(2048, 1024, [684, 1024, 3])).toMatchObject({
      layout: 'hwc',
      scale: 0.5,
      width: 1024,
      height: 512,
      frameWidth: 1024,
      frameHeight: 684,
    });
    expect(samFrame(500, 1000, [-1, -1, 3])).toMatchObject({
      layout: 'hwc',
      width: 512,
      height: 1024,
      frameWidth: 512,
      frameHeight: 1024,
    });
    expect(() => samFrame(10, 10, [1, 1])).toThrow(/SAM image encoder/);
  });
});

describe('rembg names in $U2NET_HOME', () => {
  const home = path.join(tmp.dir, 'u2net-names');
  const cache = path.join(tmp.dir, 'cache-names');
  mkdirSync(home, { recursive: true });
  const env = { U2NET_HOME: home, BG_NATIVE_CACHE_DIR: cache };

  it('resolves rembg session names to the files rembg saves, or their release names', async () => {
    writeFileSync(path.join(home, 'birefnet-general.onnx'), 'x');
    writeFileSync(path.join(home, 'BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx'), 'x');
    writeFileSync(path.join(home, 'bria-rmbg-2.0.onnx'), 'x');
    expect(await resolveModel({ model: 'birefnet-general', env, imglyDir: null })).toEqual({
      path: path.join(home, 'birefnet-general.onnx'),
      source: 'option',
      name: 'birefnet-general',
    });
    expect((await resolveModel({ model: 'birefnet-general-lite', env, imglyDir: null })).path).toBe(
      path.join(home, 'BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx'),
    );
    expect((await resolveModel({ env: { ...env, BG_SEG_MODEL: 'bria-rmbg' }, imglyDir: null })).path).toBe(
      path.join(home, 'bria-rmbg-2.0.onnx'),
    );
    await expect(resolveModel({ model: 'birefnet-massive', env, imglyDir: null })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringMatching(/birefnet-massive\.onnx or BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420\.onnx/),
    });
  });

  it('pairs a SAM encoder with its decoder, and names the missing one', async () => {
    writeFileSync(path.join(home, 'sam_vit_l_0b3195.encoder.onnx'), 'x');
    await expect(resolveModel({ model: 'sam_vit_l_0b3195', env, imglyDir: null })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringMatching(/sam_vit_l_0b3195\.decoder\.onnx/),
    });
    await expect(
      resolveModel({ model: path.join(home, 'sam_vit_l_0b3195.encoder.onnx'), env, imglyDir: null }),
    ).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringMatching(/decoder sam_vit_l_0b3195\.decoder\.onnx/),
    });
    writeFileSync(path.join(home, 'sam_vit_l_0b3195.decoder.onnx'), 'x');
    expect(await resolveModel({ model: 'sam_vit_l_0b3195', env, imglyDir: null })).toMatchObject({
      path: path.join(home, 'sam_vit_l_0b3195.encoder.onnx'),
      decoder: path.join(home, 'sam_vit_l_0b3195.decoder.onnx'),
    });
    expect(samDecoderName('sam_vit_b_01ec64.encoder.quant.onnx')).toBe('sam_vit_b_01ec64.decoder.quant.onnx');
    expect(catalogEntry('SAM')?.files[0]).toBe('sam_vit_b_01ec64.encoder.onnx');
  });

  it('lists what is there with family, input size and licence (`bg-native models`)', async () => {
    writeFileSync(path.join(home, 'sam_vit_h_4b8939.encoder.onnx'), 'x');
    const listed = await listModels(env);
    const byName = Object.fromEntries(listed.map((m) => [m.name, m]));
    expect(byName['bria-rmbg']).toMatchObject({
      family: 'birefnet',
      inputSize: [1024, 1024],
      licence: expect.stringMatching(/CC BY-NC 4\.0/),
    });
    expect(byName['birefnet-general']).toMatchObject({ family: 'birefnet', licence: 'MIT (BiRefNet)' });
    expect(byName.sam_vit_l_0b3195).toMatchObject({
      family: 'sam',
      decoder: path.join(home, 'sam_vit_l_0b3195.decoder.onnx'),
    });
    expect(byName.sam_vit_h_4b8939).toMatchObject({ decoder: { missing: 'sam_vit_h_4b8939.decoder.onnx' } });
    expect(listed.some((m) => m.file.endsWith('.decoder.onnx'))).toBe(false);

    const out: string[] = [];
    const saved = process.env.U2NET_HOME;
    const savedCache = process.env.BG_NATIVE_CACHE_DIR;
    process.env.U2NET_HOME = home;
    process.env.BG_NATIVE_CACHE_DIR = cache;
    try {
      const code = await main(['node', 'bg-native', 'models'], {
        stdout: (t) => out.push(t),
        stderr: (t) => out.push(t),
      });
      expect(code).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.U2NET_HOME;
      else process.env.U2NET_HOME = saved;
      if (savedCache === undefined) delete process.env.BG_NATIVE_CACHE_DIR;
      else process.env.BG_NATIVE_CACHE_DIR = savedCache;
    }
    const text = out.join('');
    expect(text).toMatch(/^NAME\s+FAMILY\s+INPUT\s+SIZE\s+LICENCE\s+FILE/m);
    expect(text).toMatch(/bria-rmbg\s+birefnet\s+1024x1024.*CC BY-NC 4\.0/);
    expect(text).toMatch(/decoder missing: sam_vit_h_4b8939\.decoder\.onnx/);
  });
});

describe('segment() with the new families', () => {
  const home = path.join(tmp.dir, 'u2net-run');
  mkdirSync(home, { recursive: true });
  let photo: Buffer;
  const saved = { home: process.env.U2NET_HOME, model: process.env.BG_SEG_MODEL };

  beforeAll(async () => {
    photo = await halvesJpeg(96, 64);
    copyFileSync(
      writeModel(
        samEncoderReplica({ size: 64, patch: 8, width: 32, depth: 2, heads: 2, window: 3, global: [1], out: 16 }),
      ),
      path.join(home, 'sam_vit_b_01ec64.encoder.onnx'),
    );
    copyFileSync(
      writeModel(samDecoderReplica({ dim: 16, side: 8, heads: 2, masks: 4 })),
      path.join(home, 'sam_vit_b_01ec64.decoder.onnx'),
    );
    const biref = birefnetReplica({ ...BIREFNET_SMALL, deform: 'decomposed' });
    copyFileSync(writeModel(biref), path.join(home, 'birefnet-general-lite.onnx'));
    const ben2 = ben2Replica(BEN2_SMALL);
    copyFileSync(writeModel(ben2), path.join(home, 'BEN2_Base.onnx'));
    process.env.U2NET_HOME = home;
    delete process.env.BG_SEG_MODEL;
    resetDefaultContext(); // segment() reads the environment again
  });
  afterEach(() => undefined);
  afterAll(() => {
    if (saved.home === undefined) delete process.env.U2NET_HOME;
    else process.env.U2NET_HOME = saved.home;
    if (saved.model !== undefined) process.env.BG_SEG_MODEL = saved.model;
    resetDefaultContext();
  });

  it("runs SAM by rembg's name with a box and points; a binary mask at the photo's size", async () => {
    const r = await segment({
      input: photo,
      model: 'sam',
      prompt: { box: [10, 8, 60, 40], points: [{ x: 40, y: 30 }] },
      threads: 1,
      refine: false,
    });
    expect(r.width).toBe(96);
    expect(r.height).toBe(64);
    expect(r.model).toMatchObject({
      profile: 'sam',
      decoder: path.join(home, 'sam_vit_b_01ec64.decoder.onnx'),
      inputSize: [64, 64],
    });
    expect(r.alpha.every((v) => v === 0 || v === 255 || (v > 0 && v < 255))).toBe(true);
  });

  it('SAM without a prompt is E_BAD_INPUT; a bad prompt is refused before any work', async () => {
    await expect(segment({ input: photo, model: 'sam', threads: 1 })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/prompt/),
    });
    await expect(segment({ input: photo, model: 'sam', prompt: {} as never })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
    await expect(segment({ input: photo, model: 'sam', prompt: { box: [0, 0, -1, 5] } })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
  });

  it('runs a BiRefNet-family graph by name with its profile, and honours { path, profile }', async () => {
    const r = await segment({ input: photo, model: 'birefnet-general-lite', threads: 1 });
    expect(r.model).toMatchObject({ profile: 'birefnet', inputSize: [64, 64], name: 'birefnet-general-lite' });
    expect(r.alpha.length).toBe(96 * 64);
    const file = path.join(home, 'birefnet-general-lite.onnx');
    const o = await segment({ input: photo, model: { path: file, profile: 'isnet' }, threads: 1 });
    expect(o.model.profile).toBe('isnet');
  });

  it("runs BEN2 by rembg's name (ben2-base, BEN2_Base.onnx) with its profile", async () => {
    const r = await segment({ input: photo, model: 'ben2-base', threads: 1 });
    expect(r.model).toMatchObject({ profile: 'ben2', inputSize: [512, 512], name: 'ben2-base' });
    expect(r.alpha.length).toBe(96 * 64);
  });

  it("computes in the family's precision unless one is named (bf16 where the CPU has it: BiRefNet, SAM)", async () => {
    const bf16Cpu = backends().find((b) => b.name === 'cpu')?.bf16 !== 'none';
    const family = bf16Cpu ? 'bf16' : 'f32';
    const r = await segment({ input: photo, model: 'birefnet-general-lite', threads: 1 });
    expect(r.model.precision).toBe(family);
    const sam = await segment({ input: photo, model: 'sam', prompt: { box: [10, 8, 60, 40] }, threads: 1 });
    expect(sam.model.precision).toBe(family);
    // Named, it wins; an ISNet profile keeps f32 by default.
    const named = await segment({
      input: photo,
      model: 'birefnet-general-lite',
      segmentation: { precision: 'f32' },
      threads: 1,
    });
    expect(named.model.precision).toBe('f32');
    const file = path.join(home, 'birefnet-general-lite.onnx');
    const isnet = await segment({ input: photo, model: { path: file, profile: 'isnet' }, threads: 1 });
    expect(isnet.model.precision).toBe('f32');
    // A file whose name says nothing: the family (and its precision) comes from the graph.
    const unnamed = path.join(home, 'replica.onnx');
    copyFileSync(file, unnamed);
    const bySignature = await segment({ input: photo, model: unnamed, threads: 1 });
    expect(bySignature.model).toMatchObject({ profile: 'birefnet', precision: family });
    expect(Buffer.from(bySignature.alpha)).toEqual(Buffer.from(r.alpha));
  });
});
