/**
 * `npm run make-random-model` (scripts/lib/sd-checkpoint.ts): LDM key tables built from the SD
 * configurations match what the reference converter writes and what our runtime loads, and the
 * streamed safetensors files are well formed, seeded and finite through the real networks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  ARCHS,
  type TensorSpec,
  type UnetArch,
  checkpointTensors,
  f32ToBf16Bits,
  f32ToF16Bits,
  numel,
  textTensors,
  tinyArch,
  unetTensors,
  vaeTensors,
  writeCheckpoint,
} from '../scripts/lib/sd-checkpoint.js';
import { loraModules, loraTensors } from '../scripts/lib/lora-tensors.js';
import { TAESD, taesdConfig, taesdTensors } from '../scripts/lib/taesd-tensors.js';
import { loadAddon } from '../src/native.js';
import { fixturesDir } from './fixtures/runner.js';
import { readSafetensorsFile } from './fixtures/safetensors.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir('bgn-random-model-');
afterAll(() => tmp.remove());

function header(file: string): {
  n: number;
  json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
} {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, 0);
    const n = Number(b.readBigUInt64LE(0));
    const h = Buffer.alloc(n);
    readSync(fd, h, 0, n, 8);
    const json = JSON.parse(h.toString('utf8'));
    delete json.__metadata__;
    return { n, json };
  } finally {
    closeSync(fd);
  }
}

/** name → shape, as JSON strings so maps compare with toEqual. */
const table = (specs: { name: string; shape: number[] }[]) =>
  Object.fromEntries(specs.map((s) => [s.name, JSON.stringify(s.shape)]));

// ---- against the reference converter's LDM files (the fixture models' own configs) ---------------

const fx = fixturesDir();
const models = path.join(fx, 'models');
const haveFixtures = existsSync(path.join(models, 'sd1-tiny.safetensors'));

/** A diffusers UNet2DConditionModel config as openaimodel parameters. */
function unetFromDiffusers(c: Record<string, unknown>): UnetArch {
  const boc = c.block_out_channels as number[];
  const types = c.down_block_types as string[];
  return {
    inChannels: c.in_channels as number,
    outChannels: c.out_channels as number,
    modelChannels: boc[0]!,
    channelMult: boc.map((b) => b / boc[0]!),
    numResBlocks: c.layers_per_block as number,
    attentionResolutions: types.flatMap((t, l) => (t.startsWith('CrossAttn') ? [2 ** l] : [])),
    transformerDepth: (c.transformer_layers_per_block as number | undefined) ?? 1,
    contextDim: c.cross_attention_dim as number,
    useLinearInTransformer: Boolean(c.use_linear_projection),
  };
}
function caseConfig(name: string): Record<string, unknown> {
  const m = JSON.parse(readFileSync(path.join(fx, 'cases', name, 'manifest.json'), 'utf8')) as {
    model: { config: Record<string, unknown> };
  };
  return m.model.config;
}
function textFromConfig(c: Record<string, unknown>, kind: 'clip' | 'openclip') {
  return {
    kind,
    hidden: c.hidden_size as number,
    // SD 2 conditions on the penultimate OpenCLIP layer: diffusers' text encoder has one layer fewer.
    layers: (c.num_hidden_layers as number) + (kind === 'openclip' ? 1 : 0),
    heads: c.num_attention_heads as number,
    intermediate: c.intermediate_size as number,
    vocab: c.vocab_size as number,
    positions: c.max_position_embeddings as number,
  };
}

describe.skipIf(!haveFixtures)('key tables match the reference LDM files for the same configurations', () => {
  it('a whole SD 1.x checkpoint: UNet, VAE and CLIP text encoder (sd1-tiny)', () => {
    const vc = caseConfig('vae-64x64');
    const boc = vc.block_out_channels as number[];
    const specs = [
      ...unetTensors(unetFromDiffusers(caseConfig('unet-sd1'))),
      ...vaeTensors({
        ch: boc[0]!,
        chMult: boc.map((b) => b / boc[0]!),
        numResBlocks: vc.layers_per_block as number,
        zChannels: vc.latent_channels as number,
        embedDim: vc.latent_channels as number,
        inChannels: vc.in_channels as number,
        outCh: vc.out_channels as number,
      }),
      ...textTensors(textFromConfig(caseConfig('te-sd1'), 'clip')),
    ];
    const ref = header(path.join(models, 'sd1-tiny.safetensors')).json;
    expect(table(specs)).toEqual(Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, JSON.stringify(v.shape)])));
  });

  it.each([
    ['SD 2 UNet (linear projections)', 'unet-sd2'],
    ['9-channel inpainting UNet', 'unet-sd1-inpaint'],
  ])('%s', (_what, name) => {
    const ref = header(path.join(models, name, 'ldm.safetensors')).json;
    expect(table(unetTensors(unetFromDiffusers(caseConfig(name))))).toEqual(
      Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, JSON.stringify(v.shape)])),
    );
  });

  it('SD 2 OpenCLIP text encoder (fused in_proj, all resblocks, text_projection, logit_scale)', () => {
    const ref = header(path.join(models, 'te-sd2', 'ldm.safetensors')).json;
    expect(table(textTensors(textFromConfig(caseConfig('te-sd2'), 'openclip')))).toEqual(
      Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, JSON.stringify(v.shape)])),
    );
  });
});

// ---- full-size tables --------------------------------------------------------------------------

function params(specs: TensorSpec[], prefix: string): number {
  return specs.filter((s) => s.name.startsWith(prefix) && !s.intDtype).reduce((a, s) => a + numel(s.shape), 0);
}

describe('full-size tables have the published parameter counts', () => {
  it('SD 1.5: UNet 859.52 M, VAE 83.65 M, CLIP ViT-L/14 text 123.06 M', () => {
    const s = checkpointTensors(ARCHS.sd15);
    expect(params(s, 'model.diffusion_model.')).toBe(859_520_964);
    expect(params(s, 'first_stage_model.')).toBe(83_653_863);
    expect(params(s, 'cond_stage_model.')).toBe(123_060_480);
  });

  it('SD 1.5 inpainting differs only in conv_in: 9 input channels', () => {
    const a = table(checkpointTensors(ARCHS.sd15));
    const b = table(checkpointTensors(ARCHS['sd15-inpaint']));
    const differ = Object.keys(a).filter((k) => a[k] !== b[k]);
    expect(differ).toEqual(['model.diffusion_model.input_blocks.0.0.weight']);
    expect(b['model.diffusion_model.input_blocks.0.0.weight']).toBe('[320,9,3,3]');
  });

  it('SD 2: UNet 865.91 M with linear projections and 1024-wide context, OpenCLIP ViT-H text 354.03 M', () => {
    const s = checkpointTensors(ARCHS.sd2);
    expect(params(s, 'model.diffusion_model.')).toBe(865_910_724);
    expect(params(s, 'cond_stage_model.')).toBe(354_032_641);
    const t = table(s);
    expect(t['model.diffusion_model.input_blocks.1.1.proj_in.weight']).toBe('[320,320]');
    expect(t['model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight']).toBe('[1280,1024]');
    expect(t['cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight']).toBe('[3072,1024]');
  });
});

// ---- the runtime loads full-size files ------------------------------------------------------------

interface Native {
  TextEncoder: {
    load(
      p: string,
      o: { threads: number },
    ): Promise<{
      hiddenSize: number;
      layers: number;
      vocabSize: number;
      layout: string;
      encode(ids: Int32Array, o: { batch: number }): Promise<{ lastHiddenState: Float32Array; shape: number[] }>;
      dispose(): void;
    }>;
  };
  UNet: {
    load(
      p: string,
      o: { threads: number },
    ): Promise<{
      inChannels: number;
      outChannels: number;
      contextDim: number;
      heads: number[];
      layout: string;
      forward(a: {
        sample: Float32Array;
        shape: number[];
        timesteps: number[];
        context: Float32Array;
      }): Promise<Float32Array>;
      dispose(): void;
    }>;
  };
  Vae: {
    load(
      p: string,
      o: { threads: number },
    ): Promise<{
      latentChannels: number;
      downscale: number;
      layout: string;
      decode(l: Float32Array, s: number[]): Promise<{ image: Float32Array; shape: number[] }>;
      dispose(): void;
    }>;
  };
}
const native = () => loadAddon() as unknown as Native;

describe('our runtime loads the full-size checkpoints (every name and shape it needs is there)', () => {
  // Sparse files: the real header and size, all-zero data that is never written — loading maps
  // the file and checks every name and shape without 2 GB of disk traffic.
  it.each([
    ['sd15', 4, 768, [8, 8, 8, 8], 768, 12],
    ['sd15-inpaint', 9, 768, [8, 8, 8, 8], 768, 12],
    // SD 2: 64-wide heads; OpenCLIP's last resblock is dropped (penultimate-layer conditioning).
    ['sd2', 4, 1024, [5, 10, 20, 20], 1024, 23],
  ] as const)('%s', async (arch, inCh, ctx, heads, hidden, layers) => {
    const file = path.join(tmp.dir, `${arch}-sparse.safetensors`);
    const lay = writeCheckpoint(file, checkpointTensors(ARCHS[arch]), { dtype: 'f16', fill: 'sparse' });
    expect(statSync(file).size).toBe(lay.header.length + lay.dataBytes);
    const n = native();
    const unet = await n.UNet.load(file, { threads: 1 });
    expect([unet.layout, unet.inChannels, unet.outChannels, unet.contextDim, unet.heads]).toEqual([
      'ldm',
      inCh,
      4,
      ctx,
      [...heads],
    ]);
    const vae = await n.Vae.load(file, { threads: 1 });
    expect([vae.layout, vae.latentChannels, vae.downscale]).toEqual(['ldm', 4, 8]);
    const te = await n.TextEncoder.load(file, { threads: 1 });
    expect([te.hiddenSize, te.layers, te.vocabSize]).toEqual([hidden, layers, 49408]);
    unet.dispose();
    vae.dispose();
    te.dispose();
  });
});

// ---- the writer --------------------------------------------------------------------------------

/** A reduced SD 1.x-shaped model: same key structure, tiny widths, runs in milliseconds. */
const SMALL = {
  unet: {
    ...ARCHS.sd15.unet,
    modelChannels: 32,
    channelMult: [1, 2],
    attentionResolutions: [1],
    numResBlocks: 1,
    contextDim: 32,
    numHeads: 4,
  },
  vae: { ...ARCHS.sd15.vae, ch: 32, chMult: [1, 2], numResBlocks: 1 },
  text: { ...ARCHS.sd15.text, hidden: 32, layers: 2, heads: 2, intermediate: 64, vocab: 1000 },
};

describe('writeCheckpoint', () => {
  it('writes a valid safetensors file: 8-byte aligned header and data, contiguous offsets, no holes', () => {
    const file = path.join(tmp.dir, 'small-f16.safetensors');
    const lay = writeCheckpoint(file, checkpointTensors(SMALL), { dtype: 'f16', seed: 3, metadata: { arch: 'small' } });
    const { n, json } = header(file);
    expect((8 + n) % 8).toBe(0);
    const ranges = Object.values(json)
      .map((e) => e.data_offsets)
      .sort((a, b) => a[0] - b[0]);
    expect(ranges[0]![0]).toBe(0);
    for (let i = 1; i < ranges.length; ++i) expect(ranges[i]![0]).toBe(ranges[i - 1]![1]);
    expect(8 + n + ranges.at(-1)![1]).toBe(statSync(file).size);
    expect(lay.dataBytes).toBe(ranges.at(-1)![1]);
    // Every tensor starts at a multiple of its element size; all large ones at a multiple of 8.
    for (const e of Object.values(json)) {
      const item = e.dtype === 'I64' ? 8 : 2;
      expect(e.data_offsets[0] % item).toBe(0);
      if (e.data_offsets[1] - e.data_offsets[0] >= 64) expect(e.data_offsets[0] % 8).toBe(0);
    }
  });

  it('fills norms with 1, biases with 0, position ids with 0..76 and weights with N(0, 1/fan_in)', () => {
    const file = path.join(tmp.dir, 'small-f32.safetensors');
    writeCheckpoint(file, checkpointTensors(SMALL), { dtype: 'f32', seed: 5 });
    const t = readSafetensorsFile(file);
    const P = 'model.diffusion_model.';
    expect([...t[`${P}out.0.weight`]!.data].every((v) => v === 1)).toBe(true);
    expect([...t[`${P}out.0.bias`]!.data].every((v) => v === 0)).toBe(true);
    expect([...t['cond_stage_model.transformer.text_model.embeddings.position_ids']!.data]).toEqual([
      ...Array(77).keys(),
    ]);
    const w = t[`${P}output_blocks.0.0.in_layers.2.weight`]!; // (64, 128, 3, 3): fan_in 1152
    const mean = w.data.reduce((a, b) => a + b, 0) / w.data.length;
    const std = Math.sqrt(w.data.reduce((a, b) => a + (b - mean) ** 2, 0) / w.data.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.95 / Math.sqrt(1152));
    expect(std).toBeLessThan(1.05 / Math.sqrt(1152));
  });

  it('the same seed gives identical bytes; another seed different weights', () => {
    const specs = checkpointTensors(SMALL);
    const a = path.join(tmp.dir, 'seed-a.safetensors'),
      b = path.join(tmp.dir, 'seed-b.safetensors'),
      c = path.join(tmp.dir, 'seed-c.safetensors');
    writeCheckpoint(a, specs, { dtype: 'bf16', seed: 7 });
    writeCheckpoint(b, specs, { dtype: 'bf16', seed: 7 });
    writeCheckpoint(c, specs, { dtype: 'bf16', seed: 8 });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
  });

  it('encodes f16 and bf16 with round-to-nearest-even', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });

  it.each(['f16', 'bf16', 'f32'] as const)(
    'a random %s model runs through text encoder, UNet and VAE with finite outputs',
    async (dtype) => {
      const file = path.join(tmp.dir, `run-${dtype}.safetensors`);
      writeCheckpoint(file, checkpointTensors(SMALL), { dtype, seed: 11 });
      const n = native();
      const te = await n.TextEncoder.load(file, { threads: 1 });
      const ids = new Int32Array(77).fill(999);
      ids[0] = 1;
      const enc = await te.encode(ids, { batch: 1 });
      const unet = await n.UNet.load(file, { threads: 1 });
      const x = Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i));
      const eps = await unet.forward({
        sample: x,
        shape: [1, 4, 8, 8],
        timesteps: [500],
        context: enc.lastHiddenState,
      });
      const vae = await n.Vae.load(file, { threads: 1 });
      const img = await vae.decode(x, [1, 4, 8, 8]);
      expect(img.shape).toEqual([1, 3, 16, 16]); // two VAE levels: 2× upscale
      for (const a of [enc.lastHiddenState, eps, img.image]) {
        expect(a.every(Number.isFinite)).toBe(true);
        expect(a.some((v) => v !== 0)).toBe(true);
      }
      te.dispose();
      unet.dispose();
      vae.dispose();
    },
  );
});

// ---- --lora and --taesd ------------------------------------------------------------------------

interface LoraNative {
  TextEncoder: {
    load(
      p: string,
      o: object,
    ): Promise<{ encode(ids: Int32Array, o: object): Promise<{ lastHiddenState: Float32Array }>; dispose(): void }>;
  };
  UNet: { load(p: string, o: object): Promise<{ forward(a: object): Promise<Float32Array>; dispose(): void }> };
  TinyVae: {
    load(
      p: string,
      o: object,
    ): Promise<{
      layout: string;
      hasEncoder: boolean;
      hasDecoder: boolean;
      decode(l: Float32Array, s: number[]): Promise<{ image: Float32Array; shape: number[] }>;
      encode(i: Float32Array, s: number[]): Promise<{ latents: Float32Array; shape: number[] }>;
      dispose(): void;
    }>;
  };
}
const loraNative = () => loadAddon() as unknown as LoraNative;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('make-random-model --lora: kohya LoRA files for the checkpoints', () => {
  it('SD 1.5: every transformer (proj_in/out, 8 attention projections, 2 feed-forward layers), CLIP projection', () => {
    const mods = loraModules(ARCHS.sd15);
    const unet = mods.filter((m) => m.name.startsWith('lora_unet_'));
    const te = mods.filter((m) => m.name.startsWith('lora_te_'));
    expect(unet.length).toBe(16 * 12); // 6 down + 1 mid + 9 up transformers
    expect(te.length).toBe(12 * 6);
    expect(unet.filter((m) => m.conv1x1).map((m) => m.name)).toContain('lora_unet_up_blocks_3_attentions_2_proj_out');
    const k = unet.find((m) => m.name === 'lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k')!;
    expect([k.out, k.inp]).toEqual([1280, 768]);
    const specs = loraTensors(ARCHS.sd15, { rank: 32, alpha: 16 });
    const up = specs.find(
      (s) => s.name === 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj.lora_up.weight',
    )!;
    expect(up.shape).toEqual([2560, 32]);
    expect(
      specs.find((s) => s.name === 'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight')!.shape,
    ).toEqual([32, 320, 1, 1]);
    expect(specs.find((s) => s.name === 'lora_te_text_model_encoder_layers_11_mlp_fc2.alpha')!.init).toEqual({
      kind: 'const',
      value: 16,
    });
  });

  it('each key of a LoRA for a reduced SD 1.x model fits its UNet and text encoder, changing outputs', async () => {
    const model = path.join(tmp.dir, 'lora-base.safetensors'),
      lora = path.join(tmp.dir, 'lora-small.safetensors');
    writeCheckpoint(model, checkpointTensors(SMALL), { dtype: 'f16', seed: 2 });
    writeCheckpoint(lora, loraTensors(SMALL, { rank: 4, alpha: 4 }), { dtype: 'f16', seed: 3 });
    const n = loraNative();
    const ids = new Int32Array(77).fill(999);
    ids[0] = 1;
    const x = Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => Math.sin(i));
    const run = async (loras: object[]) => {
      const te = await n.TextEncoder.load(model, { threads: 1, loras });
      const ctx = (await te.encode(ids, { batch: 1 })).lastHiddenState;
      const unet = await n.UNet.load(model, { threads: 1, loras });
      const eps = await unet.forward({ sample: x, shape: [1, 4, 8, 8], timesteps: [500], context: ctx });
      te.dispose();
      unet.dispose();
      return { ctx, eps };
    };
    const base = await run([]),
      merged = await run([{ path: lora, scale: 1 }]);
    for (const a of [merged.ctx, merged.eps]) expect(a.every(Number.isFinite)).toBe(true);
    expect(maxDiff(base.ctx, merged.ctx)).toBeGreaterThan(1e-4);
    expect(maxDiff(base.eps, merged.eps)).toBeGreaterThan(1e-4);
  });

  it('SDXL: lora_te1_/lora_te2_ fit both text encoders of the tiny SDXL layout', async () => {
    const model = path.join(tmp.dir, 'lora-sdxl.safetensors'),
      lora = path.join(tmp.dir, 'lora-sdxl-lora.safetensors');
    writeCheckpoint(model, checkpointTensors(tinyArch('sdxl')), { dtype: 'f16', seed: 4 });
    writeCheckpoint(lora, loraTensors(tinyArch('sdxl'), { rank: 2, alpha: 1 }), { dtype: 'f16', seed: 5 });
    const n = loraNative();
    for (const encoder of [1, 2])
      (await n.TextEncoder.load(model, { threads: 1, encoder, loras: [{ path: lora }] })).dispose();
    (await n.UNet.load(model, { threads: 1, loras: [{ path: lora }] })).dispose();
  });
});

describe('make-random-model --taesd: the tiny autoencoder in the AutoencoderTiny layout', () => {
  it.runIf(existsSync(path.join(models, 'taesd-tiny')))(
    'has the names and shapes of the reference model (at its width)',
    () => {
      const ref = header(path.join(models, 'taesd-tiny', 'diffusion_pytorch_model.safetensors')).json;
      const ours = taesdTensors({ ...TAESD, width: 16 });
      expect(table(ours)).toEqual(
        Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, JSON.stringify(v.shape)])),
      );
      const cfg = JSON.parse(readFileSync(path.join(models, 'taesd-tiny', 'config.json'), 'utf8'));
      expect({ ...taesdConfig({ ...TAESD, width: 16 }) }).toEqual(cfg);
    },
  );

  it('the script writes a folder (config.json + weights) and a single file; both load, decode and encode', async () => {
    const dir = path.join(tmp.dir, 'taesd'),
      file = path.join(tmp.dir, 'taesd.safetensors');
    const script = path.join(import.meta.dirname, '..', 'scripts', 'make-random-model.ts');
    for (const out of [dir, file]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--taesd', '--quiet', '--out', out], {
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    expect(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).block_out_channels).toEqual([
      64, 64, 64, 64,
    ]);
    for (const p of [dir, file]) {
      const t = await loraNative().TinyVae.load(p, { threads: 1 });
      expect([t.layout, t.hasEncoder, t.hasDecoder]).toEqual(['diffusers', true, true]);
      const img = await t.decode(
        Float32Array.from({ length: 4 * 8 * 12 }, (_, i) => Math.sin(i)),
        [1, 4, 8, 12],
      );
      expect(img.shape).toEqual([1, 3, 64, 96]);
      const lat = await t.encode(img.image, img.shape);
      expect(lat.shape).toEqual([1, 4, 8, 12]);
      for (const a of [img.image, lat.latents]) expect(a.every(Number.isFinite)).toBe(true);
      t.dispose();
    }
  });
});
