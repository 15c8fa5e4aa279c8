/**
 * LoRA beyond the fixture's own file: the same kohya LoRA rewritten in the diffusers/PEFT key
 * format (with and without prefixes, with alpha folded into B) and with the original LDM module
 * names must give the reference outputs; bad files and scales are refused with their codes; the
 * model cache keeps LoRA sets apart; per-generation LoRAs equal a load with them.
 */
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadAddon, type NativeDiffusionModelClass } from '../src/native.js';
import { lora as loraHandler } from './fixtures/kinds/lora.js';
import { discoverAllManifests, fixturesDir, resolveFixturePath, type Manifest } from './fixtures/runner.js';
import { readSafetensorsFile, type StTensor } from './fixtures/safetensors.js';
import { sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { expectCode } from './helpers/codes.js';
import { tempDir } from './helpers/paths.js';
import { writeSafetensors, type WriteTensor } from './helpers/safetensors-writer.js';

const root = fixturesDir();
const manifest = discoverAllManifests(root).find((m) => m.kind === 'lora' && m.case === 'lora-sd1-kohya');
const present = manifest !== undefined && existsSync(sd1Tiny);

interface LoraSection {
  file: string;
  module_names: string[];
}

const SUFFIX = /^(lora_unet_|lora_te_)(.+)\.(lora_down\.weight|lora_up\.weight|alpha)$/;

/** The kohya file's tensors grouped by module: component, dotted diffusers name, down, up, alpha. */
interface KohyaModule {
  comp: 'unet' | 'te';
  name: string;
  down: StTensor;
  up: StTensor;
  alpha?: number;
}

function kohyaModules(m: Manifest): KohyaModule[] {
  const section = (m.body.models as { lora: LoraSection }).lora;
  const file = readSafetensorsFile(resolveFixturePath(root, section.file));
  const dotted = new Map<string, string>();
  for (const full of section.module_names) {
    const [comp, name] = full.split(':') as ['unet' | 'te', string];
    dotted.set(`${comp === 'unet' ? 'lora_unet_' : 'lora_te_'}${name.replace(/\./g, '_')}`, name);
  }
  const parts = new Map<string, { down?: StTensor; up?: StTensor; alpha?: number }>();
  for (const [key, t] of Object.entries(file)) {
    const hit = SUFFIX.exec(key);
    if (!hit) throw new Error(`unexpected key ${key}`);
    const stem = hit[1]! + hit[2]!;
    const p = parts.get(stem) ?? {};
    if (hit[3] === 'alpha') p.alpha = t.data[0]!;
    else if (hit[3] === 'lora_down.weight') p.down = t;
    else p.up = t;
    parts.set(stem, p);
  }
  return [...parts].map(([stem, p]) => {
    const name = dotted.get(stem);
    if (!name || !p.down || !p.up) throw new Error(`module ${stem} is incomplete or unnamed`);
    return { comp: stem.startsWith('lora_unet_') ? 'unet' : 'te', name, down: p.down, up: p.up, alpha: p.alpha };
  });
}

const w = (t: StTensor, k = 1): WriteTensor => ({ shape: t.shape, data: k === 1 ? t.data : t.data.map((v) => v * k) });

/** The case with its LoRA file swapped for `file`. */
function withFile(m: Manifest, file: string): Manifest {
  const models = m.body.models as Record<string, unknown>;
  return { ...m, body: { ...m.body, models: { ...models, lora: { ...(models.lora as object), file } } } };
}

/** diffusers module name → the original (LDM) UNet name, for the tiny UNet's 2 resnets per level. */
function ldmName(name: string): string {
  const res = (r: string) =>
    r
      .replace(/^conv1/, 'in_layers.2')
      .replace(/^conv2/, 'out_layers.3')
      .replace(/^time_emb_proj/, 'emb_layers.1')
      .replace(/^conv_shortcut/, 'skip_connection');
  let g: RegExpExecArray | null;
  if ((g = /^down_blocks\.(\d+)\.(attentions|resnets)\.(\d+)\.(.+)$/.exec(name))) {
    const i = 1 + Number(g[1]) * 3 + Number(g[3]);
    return g[2] === 'attentions' ? `input_blocks.${i}.1.${g[4]}` : `input_blocks.${i}.0.${res(g[4]!)}`;
  }
  if ((g = /^up_blocks\.(\d+)\.(attentions|resnets)\.(\d+)\.(.+)$/.exec(name))) {
    const i = Number(g[1]) * 3 + Number(g[3]);
    return g[2] === 'attentions' ? `output_blocks.${i}.1.${g[4]}` : `output_blocks.${i}.0.${res(g[4]!)}`;
  }
  if ((g = /^mid_block\.attentions\.0\.(.+)$/.exec(name))) return `middle_block.1.${g[1]}`;
  if ((g = /^mid_block\.resnets\.(\d)\.(.+)$/.exec(name))) return `middle_block.${Number(g[1]) * 2}.${res(g[2]!)}`;
  throw new Error(`no LDM name for ${name}`);
}

describe.runIf(present)('LoRA', () => {
  const tmp = tempDir('bgn-lora-');
  afterAll(() => tmp.remove());
  const m = manifest!;
  const modules = present ? kohyaModules(m) : [];
  const kohyaFile = present ? resolveFixturePath(root, (m.body.models as { lora: LoraSection }).lora.file) : '';
  const native = () =>
    loadAddon() as unknown as {
      UNet: { load(p: string, o: object): Promise<unknown> };
      TextEncoder: { load(p: string, o: object): Promise<unknown> };
      DiffusionModel: NativeDiffusionModelClass;
    };
  const unetDir = () => resolveFixturePath(root, 'models/unet-sd1');
  /** Loads the tiny UNet with these LoRAs. */
  const unetWith =
    (...loras: object[]) =>
    () =>
      native().UNet.load(unetDir(), { loras });

  it('the fixture LoRA has linear and 3×3 conv modules with alpha ≠ rank', () => {
    const conv3 = modules.filter((x) => x.down.shape.length === 4 && x.down.shape[2] === 3);
    expect(conv3.some((x) => x.alpha !== x.down.shape[0])).toBe(true);
    expect(modules.some((x) => x.comp === 'te')).toBe(true);
  });

  it('PEFT keys with unet. / text_encoder. prefixes and .alpha give the reference outputs', async () => {
    const t: Record<string, WriteTensor> = {};
    for (const x of modules) {
      const stem = x.comp === 'unet' ? `unet.${x.name}` : `text_encoder.${x.name}`;
      t[`${stem}.lora_A.weight`] = w(x.down);
      t[`${stem}.lora_B.weight`] = w(x.up);
      if (x.alpha !== undefined) t[`${stem}.alpha`] = { shape: [], data: [x.alpha] };
    }
    const file = path.join(tmp.dir, 'peft-prefixed.safetensors');
    writeSafetensors(file, t);
    const r = await loraHandler(withFile(m, file), root);
    expect(r.ok, JSON.stringify(r.checks.filter((c) => !c.ok))).toBe(true);
    expect(r.checks.length).toBeGreaterThanOrEqual(4);
  });

  it('PEFT keys without prefixes or alpha (alpha folded into B) give the reference outputs', async () => {
    const t: Record<string, WriteTensor> = {};
    for (const x of modules) {
      const stem = x.name; // the text encoder's names start with text_model.
      const rank = x.down.shape[0]!;
      t[`${stem}.lora_A.weight`] = w(x.down);
      t[`${stem}.lora_B.weight`] = w(x.up, (x.alpha ?? rank) / rank);
    }
    const file = path.join(tmp.dir, 'peft-bare.safetensors');
    writeSafetensors(file, t, { format: 'pt' });
    const r = await loraHandler(withFile(m, file), root);
    expect(r.ok, JSON.stringify(r.checks.filter((c) => !c.ok))).toBe(true);
  });

  it('kohya keys with the original LDM UNet names give the reference outputs', async () => {
    const t: Record<string, WriteTensor> = {};
    for (const x of modules) {
      const name = x.comp === 'unet' ? ldmName(x.name) : x.name;
      const stem = `lora_${x.comp}_${name.replace(/\./g, '_')}`;
      t[`${stem}.lora_down.weight`] = w(x.down);
      t[`${stem}.lora_up.weight`] = w(x.up);
      if (x.alpha !== undefined) t[`${stem}.alpha`] = { shape: [], data: [x.alpha] };
    }
    const file = path.join(tmp.dir, 'kohya-ldm.safetensors');
    writeSafetensors(file, t);
    const r = await loraHandler(withFile(m, file), root);
    expect(r.ok, JSON.stringify(r.checks.filter((c) => !c.ok))).toBe(true);
  });

  it('refuses files that are not LoRA safetensors with E_MODEL_FORMAT naming the file', async () => {
    const junk = path.join(tmp.dir, 'junk.safetensors');
    writeFileSync(junk, Buffer.from('PK\u0003\u0004 not a safetensors file at all'));
    await expectCode(unetWith({ path: junk }), 'E_MODEL_FORMAT', junk);
    const truncated = path.join(tmp.dir, 'truncated.safetensors');
    const bytes = readFileSync(kohyaFile);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectCode(unetWith({ path: truncated }), 'E_MODEL_FORMAT', truncated);
    const ckpt = path.join(tmp.dir, 'lora.ckpt');
    writeFileSync(ckpt, bytes);
    await expectCode(unetWith({ path: ckpt }), 'E_MODEL_FORMAT', '.safetensors');
    const loha = path.join(tmp.dir, 'loha.safetensors');
    writeSafetensors(loha, { 'lora_unet_conv_in.hada_w1_a': { shape: [4, 2], data: new Array(8).fill(0.1) } });
    await expectCode(unetWith({ path: loha }), 'E_MODEL_FORMAT', 'hada_w1_a');
    const half = path.join(tmp.dir, 'no-up.safetensors');
    const down = { shape: [2, 4, 3, 3], data: new Array(72).fill(0.1) };
    writeSafetensors(half, { 'lora_unet_conv_in.lora_down.weight': down });
    await expectCode(unetWith({ path: half }), 'E_MODEL_FORMAT', 'lora_unet_conv_in');
  });

  it('refuses a LoRA whose factors do not fit the layer, naming the key', async () => {
    const x = modules.find((y) => y.comp === 'unet' && y.down.shape.length === 2)!;
    const stem = `unet.${x.name}`;
    const file = path.join(tmp.dir, 'misfit.safetensors');
    const [r, inDim] = x.down.shape as [number, number];
    writeSafetensors(file, {
      [`${stem}.lora_A.weight`]: { shape: [r, inDim + 1], data: new Array(r * (inDim + 1)).fill(0.01) },
      [`${stem}.lora_B.weight`]: w(x.up),
    });
    await expectCode(unetWith({ path: file }), 'E_MODEL_FORMAT', `${stem}.lora_A.weight`);
    // A DiffusionModel checks its UNet's LoRAs at load without merging them (it builds the UNet later).
    const opts = { threads: 2, tokenizer: tokenizerDir, loras: [{ path: file }] };
    await expectCode(() => native().DiffusionModel.load(sd1Tiny, opts), 'E_MODEL_FORMAT', `${stem}.lora_A.weight`);
  });

  it('refuses a LoRA for another family (keys matching no layer), listing keys', async () => {
    const t: Record<string, WriteTensor> = {};
    for (const x of modules.filter((y) => y.comp === 'unet').slice(0, 3)) {
      t[`lora_unet_${x.name.replace(/\./g, '_')}.lora_down.weight`] = w(x.down);
      t[`lora_unet_${x.name.replace(/\./g, '_')}.lora_up.weight`] = w(x.up);
    }
    // SDXL-only layers (the tiny SD 1 UNet has no attentions at level 2 and no add_embedding)
    const zeros = (shape: number[]) => ({ shape, data: new Array(shape.reduce((a, b) => a * b, 1)).fill(0) });
    t['lora_unet_down_blocks_2_attentions_0_proj_in.lora_down.weight'] = zeros([4, 64, 1, 1]);
    t['lora_unet_down_blocks_2_attentions_0_proj_in.lora_up.weight'] = zeros([64, 4, 1, 1]);
    t['lora_unet_add_embedding_linear_1.lora_down.weight'] = { shape: [4, 32], data: new Array(128).fill(0) };
    t['lora_unet_add_embedding_linear_1.lora_up.weight'] = { shape: [64, 4], data: new Array(256).fill(0) };
    const file = path.join(tmp.dir, 'sdxl.safetensors');
    writeSafetensors(file, t);
    await expectCode(
      unetWith({ path: file }),
      'E_MODEL_FORMAT',
      file,
      'lora_unet_down_blocks_2_attentions_0_proj_in.lora_down.weight',
      'another model family',
    );
    await expectCode(
      () => native().DiffusionModel.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir, loras: [{ path: file }] }),
      'E_MODEL_FORMAT',
      'another model family',
    );
    const te2 = path.join(tmp.dir, 'te2.safetensors');
    writeSafetensors(te2, {
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': { shape: [4, 32], data: new Array(128).fill(0) },
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': { shape: [37, 4], data: new Array(148).fill(0) },
    });
    const withTe2 = { threads: 2, tokenizer: tokenizerDir, loras: [{ path: te2 }] };
    await expectCode(
      () => native().DiffusionModel.load(sd1Tiny, withTe2),
      'E_MODEL_FORMAT',
      'lora_te2_',
      'second text encoder',
    );
  });

  it('takes scales from -4 to 4 only (E_BAD_INPUT)', async () => {
    for (const scale of [4.5, -5, Number.NaN]) {
      await expectCode(unetWith({ path: kohyaFile, scale }), 'E_BAD_INPUT', 'scale');
      const opts = { tokenizer: tokenizerDir, loras: [{ path: kohyaFile, scale }] };
      await expectCode(() => native().DiffusionModel.load(sd1Tiny, opts), 'E_BAD_INPUT', 'scale');
    }
    await expectCode(unetWith({ scale: 1 }), 'E_BAD_INPUT', 'path');
  });

  it('keeps LoRA sets apart in the model cache; per-generation LoRAs equal a load with them', async () => {
    const DM = native().DiffusionModel;
    const base = { threads: 2, tokenizer: tokenizerDir };
    const before = DM.cachedModels();
    const plain = await DM.load(sd1Tiny, base);
    const one = await DM.load(sd1Tiny, { ...base, loras: [{ path: kohyaFile, scale: 1 }] });
    const half = await DM.load(sd1Tiny, { ...base, loras: [{ path: kohyaFile, scale: 0.5 }] });
    const plainAgain = await DM.load(sd1Tiny, base);
    expect(DM.cachedModels()).toBe(before + 3);
    const req = { prompt: 'a red chair', width: 64, height: 64, steps: 2, seed: 5 };
    const pixels = async (model: typeof plain, extra: object = {}) =>
      Buffer.from((await model.generate({ ...req, ...extra })).pixels);
    const p0 = await pixels(plain);
    const p1 = await pixels(one);
    const pHalf = await pixels(half);
    expect(p1.equals(p0)).toBe(false);
    expect(pHalf.equals(p1)).toBe(false);
    expect((await pixels(plainAgain)).equals(p0)).toBe(true);
    expect((await pixels(plain, { loras: [{ path: kohyaFile, scale: 1 }] })).equals(p1)).toBe(true);
    expect((await pixels(one, { loras: [] })).equals(p0)).toBe(true);
    expect((await pixels(one, { loras: [{ path: kohyaFile, scale: 0.5 }] })).equals(pHalf)).toBe(true);
    for (const x of [plain, one, half, plainAgain]) x.dispose();
  });

  it('the UNet is built for each generation and let go after it (LoRA merged each time), same pixels', async () => {
    const file = path.join(tmp.dir, 'rebuilt.safetensors');
    writeFileSync(file, readFileSync(kohyaFile));
    const model = await native().DiffusionModel.load(sd1Tiny, {
      threads: 2,
      tokenizer: tokenizerDir,
      loras: [{ path: file, scale: 1 }],
    });
    expect(model.unetResident).toBe(false); // checked by the load, built by the first denoising
    const req = { prompt: 'a red chair', width: 64, height: 64, steps: 2, seed: 11 };
    const pixels = async (extra: object = {}) => Buffer.from((await model.generate({ ...req, ...extra })).pixels);
    const first = await pixels();
    expect(model.unetResident).toBe(false);
    expect((await pixels()).equals(first)).toBe(true); // built again from the file, the LoRA merged again
    expect(model.unetResident).toBe(false);
    // img2img: let go before the VAE encodes the image, built again for the denoising.
    const initImage = new Uint8Array(64 * 64 * 3).fill(90);
    const i2i = await pixels({ initImage, strength: 0.6 });
    expect(model.unetResident).toBe(false);
    process.env.BGN_KEEP_WEIGHTS_RESIDENT = '1';
    try {
      expect((await pixels()).equals(first)).toBe(true);
      expect(model.unetResident).toBe(true);
      expect((await pixels({ initImage, strength: 0.6 })).equals(i2i)).toBe(true); // the resident one throughout
      expect(model.unetResident).toBe(true);
    } finally {
      delete process.env.BGN_KEEP_WEIGHTS_RESIDENT;
    }
    expect((await pixels()).equals(first)).toBe(true);
    expect(model.unetResident).toBe(false);
    // A LoRA file changed since the load is not merged into the UNet built again.
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    await expectCode(() => pixels(), 'E_MODEL_FORMAT', 'changed after the model was loaded');
    model.dispose();
  });

  it('text encoders reloaded per new prompt with the LoRA; recent prompts kept; a changed LoRA refused', async () => {
    // On the CPU the encoders are let go after each encode; the last 8 prompts' embeddings stay.
    const file = path.join(tmp.dir, 'reloaded.safetensors');
    writeFileSync(file, readFileSync(kohyaFile));
    const model = await native().DiffusionModel.load(sd1Tiny, {
      threads: 2,
      tokenizer: tokenizerDir,
      loras: [{ path: file, scale: 1 }],
    });
    const pixels = async (prompt: string) =>
      Buffer.from((await model.generate({ prompt, width: 64, height: 64, steps: 1, seed: 3 })).pixels);
    const first = await pixels('a red chair');
    for (let i = 0; i < 9; i++) await pixels(`a chair, view ${i}`); // pushes the first prompt out
    expect((await pixels('a red chair')).equals(first)).toBe(true);
    const later = new Date(Date.now() + 60_000);
    process.env.BGN_KEEP_WEIGHTS_RESIDENT = '1'; // the UNet stays: only the encoders are loaded again
    try {
      await pixels('a red chair'); // the UNet built once more, with the file as it was
      utimesSync(file, later, later);
      expect((await pixels('a red chair')).equals(first)).toBe(true); // kept: no encoder needed
      await expectCode(() => pixels('a blue chair'), 'E_MODEL_FORMAT', 'changed after the model was loaded');
    } finally {
      delete process.env.BGN_KEEP_WEIGHTS_RESIDENT;
    }
    model.dispose();
  });
});
