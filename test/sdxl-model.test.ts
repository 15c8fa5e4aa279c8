/**
 * SDXL in the diffusion runtime: a tiny SDXL-shaped single file (`make-random-model --arch sdxl
 * --tiny`, the real key layout with 32-wide layers) and a diffusers folder assembled from the
 * shared SDXL fixture components load as family 'sdxl' and generate; the 9-channel SDXL
 * inpainting UNet repaints only the mask; incomplete or damaged SDXL files are refused with
 * stable codes. Numerical parity with diffusers is the fixture runner's job (te-sdxl, unet-sdxl).
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkpointTensors, tinyArch, writeCheckpoint } from '../scripts/lib/sd-checkpoint.js';
import { loadAddon, type NativeDiffusionModel } from '../src/native.js';
import {
  copyWithShape,
  modelsDir,
  rightHalfMask,
  testImage,
  tokenizerDir,
  truncatedCopy,
} from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir('bgn-sdxl-');
const file = path.join(tmp.dir, 'sdxl-tiny.safetensors');
const inpaintFile = path.join(tmp.dir, 'sdxl-inpaint-tiny.safetensors');

interface TextEncoderLike {
  hiddenSize: number;
  layers: number;
  projectionDim: number;
  dispose(): void;
}
interface UNetLike {
  textTime: boolean;
  forward(a: Record<string, unknown>): Promise<Float32Array>;
  dispose(): void;
}
interface Components {
  TextEncoder: { load(p: string, o?: { threads?: number; encoder?: 1 | 2 }): Promise<TextEncoderLike> };
  UNet: { load(p: string, o?: { threads?: number }): Promise<UNetLike> };
}

const addon = () => loadAddon();
const components = () => loadAddon() as unknown as Components;
const load = (p: string, tokenizer = tokenizerDir) => addon().DiffusionModel.load(p, { threads: 2, tokenizer });
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

beforeAll(() => {
  writeCheckpoint(file, checkpointTensors(tinyArch('sdxl')), { dtype: 'f16', seed: 1 });
  writeCheckpoint(inpaintFile, checkpointTensors(tinyArch('sdxl-inpaint')), { dtype: 'f16', seed: 2 });
});
afterAll(() => tmp.remove());

describe('SDXL single file (LDM conditioner.embedders.0/1)', () => {
  let model: NativeDiffusionModel;
  beforeAll(async () => {
    model = await load(file);
  });
  afterAll(() => model?.dispose());

  it('loads as family sdxl with the two encoders side by side as the UNet context', () => {
    expect(model.family).toBe('sdxl');
    expect(model.layout).toBe('ldm');
    expect(model.contextDim).toBe(64); // 32 (CLIP-L shaped) + 32 (OpenCLIP-bigG shaped)
    expect(model.inChannels).toBe(4);
  });

  it('text encoders load alone: encoder 1 without projection, encoder 2 with all layers and projection', async () => {
    const te1 = await components().TextEncoder.load(file, { threads: 2 });
    const te2 = await components().TextEncoder.load(file, { threads: 2, encoder: 2 });
    try {
      expect([te1.hiddenSize, te1.layers, te1.projectionDim]).toEqual([32, 2, 0]);
      expect([te2.hiddenSize, te2.layers, te2.projectionDim]).toEqual([32, 2, 32]);
    } finally {
      te1.dispose();
      te2.dispose();
    }
  });

  it('txt2img gives the same bytes for the same seed, and other bytes for another prompt or seed', async () => {
    const base = { prompt: 'a (wooden) table', negativePrompt: 'blurry', width: 64, height: 64, steps: 2, seed: 7 };
    const a = await model.generate(base);
    const b = await model.generate(base);
    expect([a.width, a.height, a.pixels.length]).toEqual([64, 64, 64 * 64 * 3]);
    expect(same(a.pixels, b.pixels)).toBe(true);
    expect(same(a.pixels, (await model.generate({ ...base, prompt: 'a marble floor' })).pixels)).toBe(false);
    expect(same(a.pixels, (await model.generate({ ...base, seed: 8 })).pixels)).toBe(false);
  });

  it('non-square sizes work (the micro-conditioning time ids follow the size)', async () => {
    const r = await model.generate({ prompt: 'a lamp', width: 96, height: 64, steps: 1, seed: 1 });
    expect([r.width, r.height]).toEqual([96, 64]);
  });

  it('clipSkip counts from the penultimate layer SDXL uses, so 1 is out of range for 2-layer encoders', async () => {
    await expect(model.generate({ prompt: 'x', width: 64, height: 64, steps: 1, clipSkip: 1 })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: /clipSkip must be from 0 to 0/,
    });
  });
});

describe('SDXL inpainting (9-channel UNet)', () => {
  it('repaints only the masked half; the rest is the original byte for byte', async () => {
    const m = await load(inpaintFile);
    try {
      expect([m.family, m.inChannels]).toEqual(['sdxl', 9]);
      const image = testImage(64, 64);
      const r = await m.generate({
        prompt: 'a garden',
        width: 64,
        height: 64,
        steps: 2,
        seed: 3,
        initImage: image,
        mask: rightHalfMask(64, 64),
      });
      let changed = 0;
      for (let y = 0; y < 64; ++y)
        for (let x = 0; x < 64; ++x)
          for (let c = 0; c < 3; ++c) {
            const i = (y * 64 + x) * 3 + c;
            if (x < 32) expect(r.pixels[i]).toBe(image[i]);
            else if (r.pixels[i] !== image[i]) changed++;
          }
      expect(changed).toBeGreaterThan(32 * 64);
    } finally {
      m.dispose();
    }
  });
});

/**
 * A CLIP-style BPE tokenizer small enough for the fixtures' 1000-token embeddings: the 256 byte
 * symbols, their end-of-word forms, one merge and the two specials.
 */
function writeSmallTokenizer(dir: string, pad: string): void {
  mkdirSync(dir, { recursive: true });
  const bytes: number[] = [];
  for (let b = 33; b <= 126; ++b) bytes.push(b);
  for (let b = 161; b <= 172; ++b) bytes.push(b);
  for (let b = 174; b <= 255; ++b) bytes.push(b);
  const chars = new Map<number, string>(bytes.map((b) => [b, String.fromCodePoint(b)]));
  let n = 0;
  for (let b = 0; b < 256; ++b) if (!chars.has(b)) chars.set(b, String.fromCodePoint(256 + n++));
  const symbols = [...Array(256).keys()].map((b) => chars.get(b)!);
  const vocab: Record<string, number> = {};
  for (const s of symbols) vocab[s] = Object.keys(vocab).length;
  for (const s of symbols) vocab[`${s}</w>`] = Object.keys(vocab).length;
  vocab['ab</w>'] = Object.keys(vocab).length;
  vocab['<|startoftext|>'] = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\na b</w>\n');
  writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: pad }));
}

/** A diffusers SDXL pipeline folder from the shared fixture components (symlinks). */
function sdxlFolder(dir: string, withSecond = true): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.join(modelsDir, 'te-sdxl-1'), path.join(dir, 'text_encoder'));
  if (withSecond) symlinkSync(path.join(modelsDir, 'te-sdxl-2'), path.join(dir, 'text_encoder_2'));
  symlinkSync(path.join(modelsDir, 'unet-sdxl'), path.join(dir, 'unet'));
  symlinkSync(path.join(modelsDir, 'vae'), path.join(dir, 'vae'));
  writeSmallTokenizer(path.join(dir, 'tokenizer'), '<|endoftext|>');
  writeSmallTokenizer(path.join(dir, 'tokenizer_2'), '!');
  mkdirSync(path.join(dir, 'scheduler'));
  writeFileSync(
    path.join(dir, 'scheduler', 'scheduler_config.json'),
    JSON.stringify({
      _class_name: 'EulerDiscreteScheduler',
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      prediction_type: 'epsilon',
      timestep_spacing: 'leading',
      steps_offset: 1,
    }),
  );
  writeFileSync(
    path.join(dir, 'model_index.json'),
    JSON.stringify({ _class_name: 'StableDiffusionXLPipeline', force_zeros_for_empty_prompt: true }),
  );
  return dir;
}

describe('SDXL diffusers folder (text_encoder_2/, tokenizer_2/)', () => {
  it('loads with its own tokenizers and generates, the same bytes for the same seed', async () => {
    const dir = sdxlFolder(path.join(tmp.dir, 'pipeline'));
    const m = await addon().DiffusionModel.load(dir, { threads: 2 });
    try {
      expect([m.family, m.layout, m.contextDim]).toEqual(['sdxl', 'diffusers', 64]);
      const req = { prompt: 'ab ab', width: 64, height: 64, steps: 2, seed: 5 };
      const a = await m.generate(req);
      expect(same(a.pixels, (await m.generate(req)).pixels)).toBe(true);
      // An empty negative prompt is zeros (force_zeros_for_empty_prompt); any other one is encoded.
      expect(same(a.pixels, (await m.generate({ ...req, negativePrompt: 'b' })).pixels)).toBe(false);
    } finally {
      m.dispose();
    }
  });

  it('without text_encoder_2/ it is refused with E_MODEL_NOT_FOUND naming the second text encoder', async () => {
    const dir = sdxlFolder(path.join(tmp.dir, 'pipeline-no-te2'), false);
    await expect(addon().DiffusionModel.load(dir, { threads: 2 })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: /SDXL model .*second text encoder.*text_encoder_2/,
    });
  });
});

describe('bad SDXL input is refused, never a crash', () => {
  it('a single file without conditioner.embedders.1 (the second encoder): E_MODEL_FORMAT', async () => {
    const p = path.join(tmp.dir, 'no-te2.safetensors');
    writeCheckpoint(
      p,
      checkpointTensors(tinyArch('sdxl')).filter((t) => !t.name.startsWith('conditioner.embedders.1.')),
      { dtype: 'f16' },
    );
    await expect(load(p)).rejects.toMatchObject({ code: 'E_MODEL_FORMAT', message: /second text encoder/ });
  });

  it('a truncated SDXL file: E_MODEL_FORMAT', async () => {
    const p = path.join(tmp.dir, 'truncated.safetensors');
    truncatedCopy(file, p, 0.6);
    await expect(load(p)).rejects.toMatchObject({ code: 'E_MODEL_FORMAT' });
  });

  it('an add_embedding (label_emb) with the wrong shape: E_MODEL_FORMAT naming the tensor', async () => {
    const p = path.join(tmp.dir, 'bad-label-emb.safetensors');
    copyWithShape(file, p, 'model.diffusion_model.label_emb.0.0.weight', [80, 128]);
    await expect(load(p)).rejects.toMatchObject({ code: 'E_MODEL_FORMAT', message: /label_emb|add_embedding/ });
  });

  it('an SDXL UNet forward lacking pooled text and time ids, or with a wrong pooled width: E_BAD_INPUT', async () => {
    const unet = await components().UNet.load(file, { threads: 2 });
    try {
      expect(unet.textTime).toBe(true);
      const args = {
        sample: new Float32Array(4 * 8 * 8),
        shape: [1, 4, 8, 8],
        timesteps: [10],
        context: new Float32Array(77 * 64),
      };
      const call = (a: Record<string, unknown>) => unet.forward(a);
      await expect(call(args)).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: /textEmbeds/ });
      await expect(
        call({ ...args, textEmbeds: new Float32Array(31), timeIds: new Float32Array(6) }),
      ).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
        message: /31 wide/,
      });
      const ok = await unet.forward({
        ...args,
        textEmbeds: new Float32Array(32),
        timeIds: Float32Array.of(64, 64, 0, 0, 64, 64),
      });
      expect(ok.length).toBe(4 * 8 * 8);
    } finally {
      unet.dispose();
    }
  });
});
