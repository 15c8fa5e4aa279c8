/**
 * The tiny autoencoder (TAESD): TinyVae in every accepted layout (diffusers folder and file, the
 * original taesd_encoder / taesd_decoder files) giving the same numbers, non-square sizes, bad
 * files refused with coded errors; DiffusionModel's draft decode (vae) and step previews
 * (previewEvery), and where 'taesd' is looked for. The fixture's 16-wide TAESD stands in for the
 * real one (same layout); the reference comparison itself is the fixture run's taesd case.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DiffusionModel, resetDefaultContext } from '../src/index.js';
import { loadAddon, type NativeDiffusionModel } from '../src/native.js';
import { readSafetensorsFile } from './fixtures/safetensors.js';
import { modelsDir, sd1Tiny, truncatedCopy } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';
import { writeSafetensors } from './helpers/safetensors-writer.js';
import { ramp, writeTaesd2x } from './helpers/tiny-taesd.js';

interface TinyVae {
  latentChannels: number;
  imageChannels: number;
  downscale: number;
  hasEncoder: boolean;
  hasDecoder: boolean;
  layout: string;
  encode(image: Float32Array, shape: number[]): Promise<{ latents: Float32Array; shape: number[] }>;
  decode(latents: Float32Array, shape: number[]): Promise<{ image: Float32Array; shape: number[] }>;
  dispose(): void;
}
const TinyVaeClass = () =>
  (loadAddon() as unknown as { TinyVae: { load(p: string, o?: object): Promise<TinyVae> } }).TinyVae;

const taesdDir = path.join(modelsDir, 'taesd-tiny');
const present = existsSync(path.join(taesdDir, 'diffusion_pytorch_model.safetensors')) && existsSync(sd1Tiny);

/** The fixture's weights written in the original release's layout (bare indices; the decoder's shifted by one). */
function writeOriginalPair(dir: string): void {
  const t = readSafetensorsFile(path.join(taesdDir, 'diffusion_pytorch_model.safetensors'));
  const enc: Record<string, { shape: number[]; data: Float64Array }> = {};
  const dec: Record<string, { shape: number[]; data: Float64Array }> = {};
  for (const [name, v] of Object.entries(t)) {
    const m = /^(encoder|decoder)\.layers\.(\d+)\.(.*)$/.exec(name);
    if (!m) continue;
    if (m[1] === 'encoder') enc[`${m[2]}.${m[3]}`] = v;
    else dec[`${Number(m[2]) + 1}.${m[3]}`] = v;
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'taesd_encoder.safetensors'), enc);
  writeSafetensors(path.join(dir, 'taesd_decoder.safetensors'), dec);
}

describe.runIf(present)('TinyVae', () => {
  const tmp = tempDir('bgn-taesd-');
  let vae: TinyVae;
  beforeAll(async () => {
    vae = await TinyVaeClass().load(taesdDir, { threads: 2 });
  });
  afterAll(() => {
    vae?.dispose();
    tmp.remove();
  });

  it('reads its shape from the weights', () => {
    expect([vae.latentChannels, vae.imageChannels, vae.downscale, vae.hasEncoder, vae.hasDecoder, vae.layout]).toEqual([
      4,
      3,
      8,
      true,
      true,
      'diffusers',
    ]);
  });

  it('encodes and decodes non-square images (64×96 ↔ 8×12)', async () => {
    const img = ramp(3 * 64 * 96, 1);
    const enc = await vae.encode(img, [1, 3, 64, 96]);
    expect(enc.shape).toEqual([1, 4, 8, 12]);
    expect(enc.latents.length).toBe(4 * 8 * 12);
    const dec = await vae.decode(ramp(4 * 12 * 8, 2), [1, 4, 12, 8]);
    expect(dec.shape).toEqual([1, 3, 96, 64]);
    expect(dec.image.every((v) => Number.isFinite(v))).toBe(true);
    // A square crop of the same latents decodes to the same kind of values, sized by the crop.
    expect((await vae.decode(ramp(4 * 8 * 8, 2), [1, 4, 8, 8])).shape).toEqual([1, 3, 64, 64]);
  });

  it("full-resolution blocks computed in bands of rows (BGN_BAND_MB) give the whole pass's numbers", async () => {
    // The thinnest bands at every size: each sees the rows its convolutions reach beyond it, so only
    // rounding (Winograd's tiles start at each band) may differ.
    const img = ramp(3 * 72 * 40, 7);
    const z = ramp(4 * 9 * 5, 8);
    const run = async () => [
      (await vae.encode(img, [1, 3, 72, 40])).latents,
      (await vae.decode(z, [1, 4, 9, 5])).image,
    ];
    const want = await run();
    process.env.BGN_BAND_MB = '0';
    try {
      const got = await run();
      for (let k = 0; k < 2; k++) {
        let worst = 0;
        for (let i = 0; i < want[k]!.length; i++) worst = Math.max(worst, Math.abs(got[k]![i]! - want[k]![i]!));
        // A band short of the rows its convolutions reach would be off by far more at its edges.
        expect(worst, k === 0 ? 'encode' : 'decode').toBeLessThan(1e-4);
      }
    } finally {
      delete process.env.BGN_BAND_MB;
    }
  });

  it('the lone .safetensors and the original taesd_encoder/taesd_decoder files give the same numbers', async () => {
    const img = ramp(3 * 32 * 40, 3);
    const z = ramp(4 * 4 * 5, 4);
    const want = [await vae.encode(img, [1, 3, 32, 40]), await vae.decode(z, [1, 4, 4, 5])] as const;
    const orig = path.join(tmp.dir, 'original');
    writeOriginalPair(orig);
    const sources = [path.join(taesdDir, 'diffusion_pytorch_model.safetensors'), orig];
    for (const src of sources) {
      const v = await TinyVaeClass().load(src, { threads: 2 });
      try {
        expect(Array.from((await v.encode(img, [1, 3, 32, 40])).latents), src).toEqual(Array.from(want[0].latents));
        expect(Array.from((await v.decode(z, [1, 4, 4, 5])).image), src).toEqual(Array.from(want[1].image));
      } finally {
        v.dispose();
      }
    }
    const dec = await TinyVaeClass().load(path.join(orig, 'taesd_decoder.safetensors'));
    expect([dec.hasEncoder, dec.hasDecoder, dec.layout]).toEqual([false, true, 'taesd']);
    expect(Array.from((await dec.decode(z, [1, 4, 4, 5])).image)).toEqual(Array.from(want[1].image));
    await expect(dec.encode(img, [1, 3, 32, 40])).rejects.toMatchObject({
      code: 'E_MODEL_UNSUPPORTED',
      message: /no encoder/,
    });
    dec.dispose();
  });

  it('refuses bad files with coded errors naming them', async () => {
    const truncated = path.join(tmp.dir, 'truncated.safetensors');
    truncatedCopy(path.join(taesdDir, 'diffusion_pytorch_model.safetensors'), truncated, 0.5);
    await expect(TinyVaeClass().load(truncated)).rejects.toMatchObject({
      code: 'E_MODEL_FORMAT',
      message: expect.stringContaining(truncated) as unknown,
    });
    const pth = path.join(tmp.dir, 'taesd_decoder.pth');
    writeFileSync(pth, 'not a pickle');
    await expect(TinyVaeClass().load(pth)).rejects.toMatchObject({
      code: 'E_MODEL_UNSUPPORTED',
      message: /safetensors/,
    });
    await expect(TinyVaeClass().load(path.join(modelsDir, 'vae'))).rejects.toMatchObject({
      code: 'E_MODEL_UNSUPPORTED',
      message: /tiny autoencoder/,
    });
    const missingLayer = path.join(tmp.dir, 'missing.safetensors');
    const t = readSafetensorsFile(path.join(taesdDir, 'diffusion_pytorch_model.safetensors'));
    writeSafetensors(
      missingLayer,
      Object.fromEntries(Object.entries(t).filter(([n]) => n !== 'decoder.layers.3.conv.2.weight')),
    );
    await expect(TinyVaeClass().load(missingLayer)).rejects.toMatchObject({
      code: 'E_MODEL_UNSUPPORTED',
      message: /decoder\.layers\.3\.conv\.2\.weight/,
    });
    await expect(TinyVaeClass().load(path.join(tmp.dir, 'nothing-here'))).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
    });
    await expect(vae.decode(ramp(3 * 16, 1), [1, 3, 4, 4])).rejects.toThrow(/4-channel latents/);
  });
});

describe.runIf(present)('DiffusionModel with the tiny autoencoder', () => {
  const tmp = tempDir('bgn-taesd-gen-');
  const taesdDir = writeTaesd2x(path.join(tmp.dir, 'taesd-2x'));
  let model: NativeDiffusionModel;
  const req = { prompt: 'a red house by a lake', width: 64, height: 64, steps: 3, seed: 11, guidanceScale: 1 };
  beforeAll(async () => {
    model = await DiffusionModel.load(sd1Tiny, { threads: 2 });
  });
  afterAll(() => {
    model?.dispose();
    tmp.remove();
  });

  it('vae: a path decodes the result with it (a draft): the same size, other pixels, the same every time', async () => {
    const full = await model.generate(req);
    const draft = await model.generate({ ...req, vae: taesdDir });
    expect(draft.pixels.length).toBe(64 * 64 * 3);
    expect(Buffer.from(draft.pixels).equals(Buffer.from(full.pixels))).toBe(false);
    const again = await model.generate({ ...req, vae: taesdDir });
    expect(Buffer.from(again.pixels).equals(Buffer.from(draft.pixels))).toBe(true);
    expect(Buffer.from((await model.generate({ ...req, vae: 'full' })).pixels).equals(Buffer.from(full.pixels))).toBe(
      true,
    );
  });

  it("vae: 'taesd' finds taesd/ beside the checkpoint or $BG_TAESD, and says where to put it otherwise", async () => {
    const dir = path.join(tmp.dir, 'beside');
    mkdirSync(dir);
    const ckpt = path.join(dir, 'model.safetensors');
    copyFileSync(sd1Tiny, ckpt);
    const m = await DiffusionModel.load(ckpt, { threads: 2 });
    const saved = process.env.BG_TAESD;
    delete process.env.BG_TAESD;
    resetDefaultContext(); // the package's DiffusionModel reads the environment again
    try {
      await expect(m.generate({ ...req, vae: 'taesd' })).rejects.toMatchObject({
        code: 'E_MODEL_NOT_FOUND',
        message: expect.stringContaining(path.join(dir, 'taesd')) as unknown,
      });
      process.env.BG_TAESD = taesdDir;
      resetDefaultContext();
      const viaEnv = await m.generate({ ...req, vae: 'taesd' });
      delete process.env.BG_TAESD;
      resetDefaultContext();
      cpSync(taesdDir, path.join(dir, 'taesd'), { recursive: true });
      const beside = await m.generate({ ...req, vae: 'taesd' });
      const direct = await m.generate({ ...req, vae: taesdDir });
      expect(Buffer.from(viaEnv.pixels).equals(Buffer.from(direct.pixels))).toBe(true);
      expect(Buffer.from(beside.pixels).equals(Buffer.from(direct.pixels))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.BG_TAESD;
      else process.env.BG_TAESD = saved;
      resetDefaultContext();
      m.dispose();
    }
    await expect(model.generate({ ...req, vae: path.join(tmp.dir, 'none') })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
    });
  });

  it('previewEvery: progress calls carry the tiny decode of the denoised estimate, but not the last step', async () => {
    const seen: Array<{ step: number; preview?: { pixels: Uint8Array; width: number; height: number } }> = [];
    const steps = 5;
    const r = await model.generate(
      { ...req, steps, previewEvery: 2, previewVae: taesdDir },
      {
        onProgress: (p) => seen.push(p as (typeof seen)[number]),
      },
    );
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.filter((p) => p.preview).map((p) => p.step)).toEqual([2, 4]);
    for (const p of seen.filter((q) => q.preview)) {
      expect([p.preview!.width, p.preview!.height]).toEqual([64, 64]);
      expect(p.preview!.pixels.length).toBe(64 * 64 * 3);
    }
    // Previews do not change the result.
    expect(Buffer.from(r.pixels).equals(Buffer.from((await model.generate({ ...req, steps })).pixels))).toBe(true);
  });

  it('a tiny autoencoder that does not fit the model (8× up for a 2× VAE) is E_MODEL_UNSUPPORTED', async () => {
    await expect(model.generate({ ...req, vae: path.join(modelsDir, 'taesd-tiny') })).rejects.toMatchObject({
      code: 'E_MODEL_UNSUPPORTED',
      message: /does not fit the model/,
    });
  });

  it('previews are skipped (no error) when no tiny autoencoder is named or found; bad values E_BAD_INPUT', async () => {
    const saved = process.env.BG_TAESD;
    delete process.env.BG_TAESD;
    resetDefaultContext();
    try {
      const seen: Array<{ preview?: unknown }> = [];
      await model.generate({ ...req, previewEvery: 1 }, { onProgress: (p) => seen.push(p as { preview?: unknown }) });
      expect(seen.length).toBe(3);
      expect(seen.some((p) => p.preview)).toBe(false);
    } finally {
      if (saved !== undefined) process.env.BG_TAESD = saved;
      resetDefaultContext();
    }
    await expect(model.generate({ ...req, previewEvery: -1 })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    await expect(
      model.generate({ ...req, vae: taesdDir, previewVae: path.join(tmp.dir, 'other') }),
    ).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
  });
});

describe.runIf(present)('draft pipeline: the tiny autoencoder encodes the images and decodes the result', () => {
  const tmp = tempDir('bgn-taesd-pipeline-');
  const taesdDir = writeTaesd2x(path.join(tmp.dir, 'taesd-2x'));
  type Trace = { initLatents: Float32Array; maskedImageLatents: Float32Array; imageRaw: Float32Array };
  type Addon = {
    pipelineTrace(o: Record<string, unknown>): Promise<Trace>;
    UNet: { load(p: string, o?: object): Promise<{ dispose(): void }> };
    Vae: { load(p: string, o?: object): Promise<{ dispose(): void }> };
  };
  const addon = () => loadAddon() as unknown as Addon;
  let unet: { dispose(): void };
  let inpaintUnet: { dispose(): void };
  let vae: { dispose(): void };
  let tiny: TinyVae;
  beforeAll(async () => {
    unet = await addon().UNet.load(path.join(modelsDir, 'unet-sd1'), { threads: 2 });
    inpaintUnet = await addon().UNet.load(path.join(modelsDir, 'unet-sd1-inpaint'), { threads: 2 });
    vae = await addon().Vae.load(path.join(modelsDir, 'vae'), { threads: 2 });
    tiny = await TinyVaeClass().load(taesdDir, { threads: 2 });
  });
  afterAll(() => {
    for (const m of [unet, inpaintUnet, vae, tiny]) m?.dispose();
    tmp.remove();
  });
  const H = 64;
  const W = 48;
  const image = new Float32Array(3 * H * W).map((_, i) => 0.5 + 0.45 * Math.sin(i * 0.37));
  const mask = new Float32Array(H * W).map((_, i) => (i % W > W / 2 ? 1 : 0));
  const cond = new Float32Array(77 * 32).map((_, i) => Math.cos(i));
  const trace = (kind: string, extra: object) =>
    addon().pipelineTrace({
      kind,
      vae,
      scheduler: 'euler',
      config: { num_train_timesteps: 1000, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 },
      steps: 2,
      guidance: 1,
      cond,
      height: H,
      width: W,
      seed: 5,
      image,
      ...extra,
    });
  const maxDiff = (a: Float32Array, b: Float32Array) => {
    expect(a.length).toBe(b.length);
    return a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
  };
  /** (2·image − 1), masked where the mask is at least 0.5, as the pipeline feeds its encoder. */
  const encoderInput = (masked: boolean) =>
    image.map((v, i) => (masked && (mask[i % (H * W)] as number) >= 0.5 ? 0 : 2 * v - 1));

  it('img2img: the initial latents are the tiny encoder’s (no sampling), the image its decode', async () => {
    const full = await trace('img2img', { unet, strength: 0.6 });
    const draft = await trace('img2img', { unet, strength: 0.6, tinyVae: tiny });
    const own = await tiny.encode(encoderInput(false), [1, 3, H, W]);
    expect(maxDiff(draft.initLatents, own.latents)).toBe(0);
    expect(maxDiff(full.initLatents, own.latents)).toBeGreaterThan(1e-3);
    expect(draft.imageRaw.length).toBe(3 * H * W);
  });

  it('inpainting (9-channel UNet): the masked image is encoded by the tiny encoder', async () => {
    const full = await trace('inpaint', { unet: inpaintUnet, mask });
    const draft = await trace('inpaint', { unet: inpaintUnet, mask, tinyVae: tiny });
    const own = await tiny.encode(encoderInput(true), [1, 3, H, W]);
    expect(maxDiff(draft.maskedImageLatents, own.latents)).toBe(0);
    expect(maxDiff(full.maskedImageLatents, own.latents)).toBeGreaterThan(1e-3);
  });

  it('a TinyVae that is not one is refused with E_BAD_INPUT', async () => {
    await expect(trace('img2img', { unet, tinyVae: vae })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: /tinyVae must be a TinyVae/,
    });
  });
});
