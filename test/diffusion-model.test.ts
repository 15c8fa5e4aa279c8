/**
 * DiffusionModel: loading (single-file LDM, diffusers folder, cache), generate() for txt2img,
 * img2img and inpaint, progress, cancellation, concurrency, and every kind of bad input ending
 * in a coded error. Tiny random-weight models at 64×64 with 2–3 steps keep it quick.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DiffusionModel, resetDefaultContext } from '../src/index.js';
import { loadAddon, type NativeDiffusionModel, type NativeDiffusionModelClass } from '../src/native.js';
import {
  copyWithNaN,
  copyWithShape,
  corruptHeaderCopy,
  fixturesPresent,
  makeDiffusersFolder,
  rightHalfMask,
  sd1Tiny,
  tensorShape,
  testImage,
  tokenizerDir,
  truncatedCopy,
} from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';

const W = 64;
const H = 64;
const base = { prompt: 'a red house by a lake', negativePrompt: 'blurry', width: W, height: H, steps: 2, seed: 42 };

describe.runIf(fixturesPresent)('DiffusionModel', () => {
  let DM: NativeDiffusionModelClass;
  let model: NativeDiffusionModel;
  const tmp = tempDir('bgn-diffusion-');

  beforeAll(async () => {
    DM = loadAddon().DiffusionModel;
    model = await DM.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
  });
  afterAll(() => {
    model?.dispose();
    tmp.remove();
  });

  describe('loading', () => {
    it('loads a single-file LDM checkpoint and reports what it is', () => {
      expect(model.layout).toBe('ldm');
      expect(model.inChannels).toBe(4);
      expect(model.latentChannels).toBe(4);
      expect(model.contextDim).toBeGreaterThan(0);
    });

    it('the library entry point exports DiffusionModel, the same cached model as the addon class', async () => {
      const before = DM.cachedModels();
      const viaLibrary = await DiffusionModel.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
      try {
        expect(DM.cachedModels()).toBe(before);
        const a = await viaLibrary.generate(base);
        const b = await model.generate(base);
        expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
      } finally {
        viaLibrary.dispose();
      }
    });

    it('predictionType v_prediction (SD 2.x 768-v single files) changes how the UNet output is read', async () => {
      const v = await DM.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir, predictionType: 'v_prediction' });
      try {
        const eps = await model.generate(base);
        const vp = await v.generate(base);
        expect(vp.pixels.length).toBe(eps.pixels.length);
        expect(Buffer.from(vp.pixels).equals(Buffer.from(eps.pixels))).toBe(false);
        const again = await v.generate(base);
        expect(Buffer.from(again.pixels).equals(Buffer.from(vp.pixels))).toBe(true);
      } finally {
        v.dispose();
      }
    });

    it('an unknown predictionType is E_BAD_INPUT', async () => {
      await expect(
        DM.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir, predictionType: 'x0' as 'sample' }),
      ).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringContaining('predictionType') });
    });

    it('loading the same file again reuses the cached model', async () => {
      const before = DM.cachedModels();
      const again = await DM.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
      expect(DM.cachedModels()).toBe(before);
      const a = await model.generate(base);
      const b = await again.generate(base);
      expect(Buffer.from(b.pixels).equals(Buffer.from(a.pixels))).toBe(true);
      again.dispose();
    });

    it('concurrent loads of one file end up as one cached model', async () => {
      const file = path.join(tmp.dir, 'copy-for-cache.safetensors');
      copyFileSync(sd1Tiny, file);
      const before = DM.cachedModels();
      const [a, b] = await Promise.all([
        DM.load(file, { threads: 1, tokenizer: tokenizerDir }),
        DM.load(file, { threads: 1, tokenizer: tokenizerDir }),
      ]);
      expect(DM.cachedModels()).toBe(before + 1);
      a.dispose();
      b.dispose();
    });

    it('accepts device "cpu" and "auto"', async () => {
      const m = await DM.load(sd1Tiny, { threads: 2, device: 'cpu', tokenizer: tokenizerDir });
      const n = await DM.load(sd1Tiny, { threads: 2, device: 'auto', tokenizer: tokenizerDir });
      expect(m.layout).toBe('ldm');
      expect(n.layout).toBe('ldm');
      m.dispose();
      n.dispose();
    });

    it('reports where it runs: device "auto" on a build without CUDA is the CPU', async () => {
      const m = await DM.load(sd1Tiny, { threads: 2, device: 'auto', tokenizer: tokenizerDir });
      expect(m.device).toBe('cpu');
      m.dispose();
    });

    it('refuses device "cuda" with E_DEVICE_UNAVAILABLE saying why', async () => {
      for (const device of ['cuda', 'cuda:1'] as const) {
        await expect(DM.load(sd1Tiny, { device, tokenizer: tokenizerDir })).rejects.toMatchObject({
          code: 'E_DEVICE_UNAVAILABLE',
          message: expect.stringMatching(
            /device 'cuda' is not available: built without CUDA \(rebuild with BGN_CUDA=1/,
          ) as unknown,
        });
      }
    });

    it('refuses an unknown device with E_BAD_INPUT', async () => {
      await expect(DM.load(sd1Tiny, { device: 'tpu' as 'cpu', tokenizer: tokenizerDir })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
      });
    });

    it('takes the tokenizer from BG_CLIP_TOKENIZER when no option names one', async () => {
      const saved = process.env.BG_CLIP_TOKENIZER;
      process.env.BG_CLIP_TOKENIZER = tokenizerDir;
      resetDefaultContext(); // the package's DiffusionModel reads the environment again
      try {
        const m = await DiffusionModel.load(sd1Tiny, { threads: 2 });
        const r = await m.generate(base);
        expect(r.pixels.length).toBe(W * H * 3);
        m.dispose();
      } finally {
        if (saved === undefined) delete process.env.BG_CLIP_TOKENIZER;
        else process.env.BG_CLIP_TOKENIZER = saved;
        resetDefaultContext();
      }
    });

    it('names the files a missing tokenizer needs (E_MODEL_NOT_FOUND)', async () => {
      const saved = process.env.BG_CLIP_TOKENIZER;
      delete process.env.BG_CLIP_TOKENIZER;
      try {
        await expect(DM.load(sd1Tiny, { threads: 2 })).rejects.toMatchObject({
          code: 'E_MODEL_NOT_FOUND',
          message: expect.stringContaining('vocab.json') as unknown,
        });
      } finally {
        if (saved !== undefined) process.env.BG_CLIP_TOKENIZER = saved;
      }
    });

    it('loads a diffusers folder with its own tokenizer and scheduler config', async () => {
      const dir = makeDiffusersFolder(path.join(tmp.dir, 'sd1-diffusers'));
      const m = await DM.load(dir, { threads: 2 });
      expect(m.layout).toBe('diffusers');
      const r = await m.generate(base);
      expect(r.pixels.length).toBe(W * H * 3);
      m.dispose();
    });
  });

  describe('generate', () => {
    it('returns RGB pixels of width·height·3 bytes and the seed used', async () => {
      const r = await model.generate(base);
      expect(r.width).toBe(W);
      expect(r.height).toBe(H);
      expect(r.seed).toBe(42);
      expect(r.pixels).toBeInstanceOf(Uint8Array);
      expect(r.pixels.length).toBe(W * H * 3);
      expect(new Set(r.pixels).size).toBeGreaterThan(16); // not a flat (e.g. black) image
    });

    it('draws a seed when none is given and reports it, so the image can be reproduced', async () => {
      const { seed: _unused, ...noSeed } = base;
      const r = await model.generate(noSeed);
      expect(Number.isSafeInteger(r.seed)).toBe(true);
      const again = await model.generate({ ...noSeed, seed: r.seed });
      expect(Buffer.from(again.pixels).equals(Buffer.from(r.pixels))).toBe(true);
    });

    it('gives identical bytes for the same seed and inputs, different ones for another seed', async () => {
      const a = await model.generate(base);
      const b = await model.generate(base);
      const c = await model.generate({ ...base, seed: 43 });
      expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
      expect(Buffer.from(a.pixels).equals(Buffer.from(c.pixels))).toBe(false);
    });

    it('calls onProgress once per step, in order, before the promise settles', async () => {
      const seen: Array<{ step: number; steps: number }> = [];
      await model.generate({ ...base, steps: 3 }, { onProgress: (p) => seen.push(p) });
      expect(seen).toEqual([
        { step: 1, steps: 3 },
        { step: 2, steps: 3 },
        { step: 3, steps: 3 },
      ]);
    });

    it('runs each sampler', async () => {
      for (const sampler of ['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'dpmpp_2m_karras', 'lms']) {
        const r = await model.generate({ ...base, sampler });
        expect(r.pixels.length, sampler).toBe(W * H * 3);
      }
    });

    it('prompt emphasis changes the conditioning (1.0 is neutral); prompts over 75 tokens run in chunks', async () => {
      const plain = await model.generate({ ...base, prompt: 'a red house' });
      const weighted = await model.generate({ ...base, prompt: 'a (red:1.6) house' });
      expect(Buffer.from(plain.pixels).equals(Buffer.from(weighted.pixels))).toBe(false);
      const unit = await model.generate({ ...base, prompt: '(a red house:1.0)' });
      expect(Buffer.from(unit.pixels).equals(Buffer.from(plain.pixels))).toBe(true);
      const long = Array.from({ length: 120 }, (_, i) => `word${i % 10}`).join(' ');
      const r = await model.generate({ ...base, prompt: long });
      expect(r.pixels.length).toBe(W * H * 3);
    });

    it('an abort mid-run rejects with E_CANCELLED and the model stays usable', async () => {
      const ac = new AbortController();
      const run = model.generate(
        { ...base, steps: 40 },
        {
          signal: ac.signal,
          onProgress: (p) => {
            if (p.step === 1) ac.abort();
          },
        },
      );
      await expect(run).rejects.toMatchObject({ code: 'E_CANCELLED' });
      const after = await model.generate(base);
      const ref = await model.generate(base);
      expect(Buffer.from(after.pixels).equals(Buffer.from(ref.pixels))).toBe(true);
    });

    it('an already aborted signal rejects with E_CANCELLED without running', async () => {
      const ac = new AbortController();
      ac.abort();
      let steps = 0;
      await expect(model.generate(base, { signal: ac.signal, onProgress: () => ++steps })).rejects.toMatchObject({
        code: 'E_CANCELLED',
      });
      expect(steps).toBe(0);
    });

    it('an onProgress that throws stops the run and rejects with what it threw', async () => {
      const boom = new Error('stop here');
      await expect(
        model.generate(
          { ...base, steps: 10 },
          {
            onProgress: () => {
              throw boom;
            },
          },
        ),
      ).rejects.toBe(boom);
    });

    it('concurrent generate() calls on one model give the same bytes as sequential ones', async () => {
      const [a, b] = await Promise.all([model.generate(base), model.generate({ ...base, seed: 7 })]);
      const a2 = await model.generate(base);
      const b2 = await model.generate({ ...base, seed: 7 });
      expect(Buffer.from(a.pixels).equals(Buffer.from(a2.pixels))).toBe(true);
      expect(Buffer.from(b.pixels).equals(Buffer.from(b2.pixels))).toBe(true);
    });

    it('a disposed model rejects generate() with E_BAD_INPUT; runs already started finish', async () => {
      const m = await DM.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
      const running = m.generate(base);
      m.dispose();
      await expect(running).resolves.toMatchObject({ width: W, height: H });
      await expect(m.generate(base)).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    });
  });

  describe('img2img and inpaint', () => {
    const image = testImage(W, H);
    const mask = rightHalfMask(W, H);

    it('img2img returns an image of the input size; strength changes the result', async () => {
      const a = await model.generate({ ...base, steps: 3, initImage: image, strength: 0.5 });
      const b = await model.generate({ ...base, steps: 3, initImage: image, strength: 1 });
      expect(a.pixels.length).toBe(W * H * 3);
      expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(false);
    });

    it('inpaint with a 4-channel model keeps every unmasked pixel byte for byte', async () => {
      const r = await model.generate({ ...base, initImage: image, mask });
      expect(r.pixels.length).toBe(W * H * 3);
      let changed = 0;
      for (let i = 0; i < W * H; ++i)
        for (let c = 0; c < 3; ++c) {
          if (mask[i] === 0) expect(r.pixels[i * 3 + c]).toBe(image[i * 3 + c]);
          else if (r.pixels[i * 3 + c] !== image[i * 3 + c]) ++changed;
        }
      expect(changed).toBeGreaterThan(0);
    });

    it('inpaint with pasteBack: false returns the raw decoder output (unmasked pixels differ)', async () => {
      const r = await model.generate({ ...base, initImage: image, mask, pasteBack: false });
      let differ = 0;
      for (let i = 0; i < W * H; ++i) if (mask[i] === 0 && r.pixels[i * 3] !== image[i * 3]) ++differ;
      expect(differ).toBeGreaterThan(0);
    });

    it('inpaint with a 9-channel diffusers model keeps unmasked pixels; a Float32Array mask works too', async () => {
      const dir = makeDiffusersFolder(path.join(tmp.dir, 'sd1-inpaint'), 'unet-sd1-inpaint');
      const m = await DM.load(dir, { threads: 2 });
      expect(m.inChannels).toBe(9);
      const fmask = Float32Array.from(mask, (v) => v / 255);
      const r = await m.generate({ ...base, initImage: image, mask: fmask });
      for (let i = 0; i < W * H; ++i) if (mask[i] === 0) expect(r.pixels[i * 3 + 1]).toBe(image[i * 3 + 1]);
      await expect(m.generate(base)).rejects.toMatchObject({ code: 'E_MODEL_UNSUPPORTED' });
      m.dispose();
    });
  });

  describe('bad input', () => {
    it('rejects width or height that is not a multiple of 8 (E_BAD_INPUT)', async () => {
      await expect(model.generate({ ...base, width: 60 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(model.generate({ ...base, height: 100 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    });

    it('rejects absurd sizes: below 64, above 4096, not an integer (E_BAD_INPUT)', async () => {
      for (const size of [
        { width: 56 },
        { height: 8 },
        { width: 4104 },
        { height: 8192 },
        { width: 64.5 },
        { width: -64 },
      ])
        await expect(model.generate({ ...base, ...size }), JSON.stringify(size)).rejects.toMatchObject({
          code: 'E_BAD_INPUT',
        });
    });

    it('rejects steps of 0, above 1000 or fractional (E_BAD_INPUT)', async () => {
      for (const steps of [0, 1001, 2.5, -3])
        await expect(model.generate({ ...base, steps }), String(steps)).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    });

    it('rejects a guidance scale, strength or seed out of range, and an unknown sampler (E_BAD_INPUT)', async () => {
      await expect(model.generate({ ...base, guidanceScale: Number.NaN })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
      });
      await expect(model.generate({ ...base, guidanceScale: 1000 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(model.generate({ ...base, initImage: testImage(W, H), strength: 0 })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
      });
      await expect(model.generate({ ...base, seed: -1 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(model.generate({ ...base, sampler: 'warp_drive' })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    });

    it('rejects a missing prompt and wrongly typed options (E_BAD_INPUT)', async () => {
      const gen = model.generate.bind(model) as (p: unknown, o?: unknown) => Promise<unknown>;
      await expect(gen({ width: 64 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(gen(undefined)).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(gen({ ...base, initImage: [1, 2, 3] })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(gen(base, { onProgress: 3 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(gen(base, { signal: {} })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    });

    it('rejects a mask or init image of the wrong size, and a mask without an image (E_BAD_INPUT)', async () => {
      const image = testImage(W, H);
      await expect(model.generate({ ...base, initImage: image, mask: rightHalfMask(W, H / 2) })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
        message: expect.stringContaining('mask') as unknown,
      });
      await expect(
        model.generate({ ...base, initImage: image, mask: new Float32Array(W * H + 1) }),
      ).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(model.generate({ ...base, initImage: testImage(W, H / 2) })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
        message: expect.stringContaining('initImage') as unknown,
      });
      await expect(model.generate({ ...base, mask: rightHalfMask(W, H) })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
      });
    });

    it('rejects supplied noise of the wrong size (E_BAD_INPUT)', async () => {
      await expect(model.generate({ ...base, noise: new Float32Array(10) })).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
      });
    });

    it('a truncated model file is E_MODEL_FORMAT', async () => {
      const file = path.join(tmp.dir, 'truncated.safetensors');
      truncatedCopy(sd1Tiny, file, 0.6);
      await expect(DM.load(file, { tokenizer: tokenizerDir })).rejects.toMatchObject({ code: 'E_MODEL_FORMAT' });
    });

    it('a model file with a corrupt header is E_MODEL_FORMAT', async () => {
      const file = path.join(tmp.dir, 'corrupt.safetensors');
      corruptHeaderCopy(sd1Tiny, file);
      await expect(DM.load(file, { tokenizer: tokenizerDir })).rejects.toMatchObject({ code: 'E_MODEL_FORMAT' });
    });

    it('a missing model file is E_MODEL_NOT_FOUND', async () => {
      await expect(DM.load(path.join(tmp.dir, 'nope.safetensors'), { tokenizer: tokenizerDir })).rejects.toMatchObject({
        code: 'E_MODEL_NOT_FOUND',
      });
    });

    it('a tensor with a mismatched shape is E_MODEL_FORMAT or E_MODEL_UNSUPPORTED, naming the problem', async () => {
      const file = path.join(tmp.dir, 'mismatch.safetensors');
      const name = 'model.diffusion_model.input_blocks.0.0.weight';
      const [o, i, kh, kw] = tensorShape(sd1Tiny, name) as [number, number, number, number];
      copyWithShape(sd1Tiny, file, name, [i, o, kh, kw]);
      const err = (await DM.load(file, { tokenizer: tokenizerDir }).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code?: string; message?: string } | undefined;
      expect(err).toBeDefined();
      expect(['E_MODEL_FORMAT', 'E_MODEL_UNSUPPORTED']).toContain(err?.code);
      expect(err?.message?.length).toBeGreaterThan(10);
    });

    it('components that do not belong together are E_MODEL_UNSUPPORTED at load', async () => {
      // te-sd2 embeds 1000 tokens; the shared CLIP tokenizer has 49408.
      const dir = makeDiffusersFolder(path.join(tmp.dir, 'mixed'), 'unet-sd1', 'te-sd2');
      await expect(DM.load(dir, { threads: 2 })).rejects.toMatchObject({
        code: 'E_MODEL_UNSUPPORTED',
        message: expect.stringContaining('tokenizer') as unknown,
      });
    });

    it('NaN appearing mid-pipeline is E_NUMERIC, not a black image', async () => {
      const file = path.join(tmp.dir, 'nan.safetensors');
      copyWithNaN(sd1Tiny, file, 'model.diffusion_model.out.2.weight');
      const m = await DM.load(file, { threads: 2, tokenizer: tokenizerDir });
      await expect(m.generate(base)).rejects.toMatchObject({
        code: 'E_NUMERIC',
        message: expect.stringMatching(/NaN/) as unknown,
      });
      m.dispose();
    });

    it('NaN in the VAE decoder is E_NUMERIC too', async () => {
      const file = path.join(tmp.dir, 'nan-vae.safetensors');
      copyWithNaN(sd1Tiny, file, 'first_stage_model.decoder.conv_out.weight');
      const m = await DM.load(file, { threads: 2, tokenizer: tokenizerDir });
      await expect(m.generate(base)).rejects.toMatchObject({ code: 'E_NUMERIC' });
      m.dispose();
    });
  });
});
