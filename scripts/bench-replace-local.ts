/**
 * npm run bench:replace-local -- --model sd15-inpainting.safetensors [--lora file.safetensors[:scale]]…
 *     [--vae full|taesd|PATH] [--steps 4] [--sampler lcm] [--guidance 1] [--size 512] [--runs 2] [--threads 2] [--json]
 *
 * End to end: replaceBackground({ engine: 'local' }) on a photo, as a user calls it — segmentation
 * (the installed ISNet, else the tiny test model, said so), the local engine's model load, LoRA merge,
 * text encoding, inpainting steps, decode (the full VAE, or the tiny autoencoder for `--vae taesd|PATH`
 * = quality 'draft'), upscale, compositing and encoding. The defaults are the 'fast' profile: 4 LCM
 * steps at guidance 1 (one UNet pass per step), at a square --size generation resolution.
 *
 * The first run is cold (model load and LoRA merge included), later runs reuse the loaded and merged
 * model, as a batch does; each is reported with its stages (metrics.stages), the times of the
 * diffusion steps (from the progress events), the process's peak RSS after it, and the load average
 * before and after (others' work on the cores skews a figure: rerun when it is high). Peak RSS is
 * compared with the checkpoint's file size (goal: at most the file + 10 %, LoRA merge included); it
 * also holds the segmentation model and the photo's buffers.
 *
 *   --model FILE     diffusion checkpoint (e.g. from npm run make-random-model -- --arch sd15-inpaint)
 *   --lora F[:S]     a LoRA (repeatable), scale S (default 1)
 *   --vae V          full (default) | taesd | a TAESD path; anything but full decodes with the tiny autoencoder
 *   --steps N        diffusion steps (default 4)          --sampler S   (default lcm)
 *   --guidance G     guidance scale (default 1: no CFG)   --size N      generation side (default 512; 1024 for SDXL)
 *   --photo PATH     source photo (default examples/studio-chair.jpg), cropped to a square of 2 × size
 *   --segmentation M the segmentation model: default (the installed ISNet) | tiny (the 64×64 test model on a
 *                    red square over green instead of the photo, so that peak RSS and time are the
 *                    diffusion's own) | an ONNX path
 *   --precision P    the local engine's UNet compute (model.precision): auto (its default) | f32 | bf16
 *   --runs N         runs (default 2: one cold, one warm)  --threads N   native threads (default 2)
 *   --json           one JSON object
 */
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import sharp, { type Sharp } from 'sharp';

import {
  clearDiffusionModels,
  clearSegmenters,
  closeComposePool,
  replaceBackground,
  resolveModel,
  type ReplaceOptions,
} from '../src/index.js';
import { redSubjectModel, writeTinyModel } from '../test/helpers/tiny-models.js';
import { describeMachine, loadAverage, machine } from './lib/machine.js';

interface Args {
  model: string;
  loras: { path: string; scale: number }[];
  vae: string;
  steps: number;
  sampler: string;
  guidance: number;
  size: number;
  photo: string;
  precision?: string;
  segmentation: string;
  runs: number;
  threads: number;
  json: boolean;
}

const USAGE =
  'usage: npm run bench:replace-local -- --model FILE [--lora F[:S]]… [--vae full|taesd|PATH] [--steps 4] ' +
  '[--sampler lcm] [--guidance 1] [--size 512] [--photo PATH] [--segmentation default|tiny|PATH] ' +
  '[--precision f32|bf16|auto] [--runs 2] [--threads 2] [--json]';

function parseLora(s: string): { path: string; scale: number } {
  const m = /^(.*\.safetensors)(?::(-?[\d.]+))?$/.exec(s);
  if (!m) throw new Error(`--lora takes file.safetensors[:scale]; got '${s}'`);
  return { path: path.resolve(m[1]!), scale: m[2] === undefined ? 1 : Number(m[2]) };
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      lora: { type: 'string', multiple: true, default: [] },
      vae: { type: 'string', default: 'full' },
      steps: { type: 'string', default: '4' },
      sampler: { type: 'string', default: 'lcm' },
      guidance: { type: 'string', default: '1' },
      size: { type: 'string' },
      photo: { type: 'string', default: path.join(import.meta.dirname, '..', 'examples', 'studio-chair.jpg') },
      precision: { type: 'string' },
      segmentation: { type: 'string', default: 'default' },
      runs: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!v.model) throw new Error(`--model is required\n${USAGE}`);
  const a: Args = {
    model: path.resolve(v.model),
    loras: v.lora.map(parseLora),
    vae: v.vae === 'full' || v.vae === 'taesd' ? v.vae : path.resolve(v.vae),
    steps: Number(v.steps),
    sampler: v.sampler,
    guidance: Number(v.guidance),
    size: v.size === undefined ? 0 : Number(v.size),
    photo: path.resolve(v.photo),
    precision: v.precision,
    segmentation:
      v.segmentation === 'default' || v.segmentation === 'tiny' ? v.segmentation : path.resolve(v.segmentation),
    runs: Number(v.runs),
    threads: Number(v.threads),
    json: v.json,
  };
  if (!(Number.isInteger(a.steps) && a.steps >= 1)) throw new Error('--steps must be a positive integer');
  if (!(Number.isInteger(a.runs) && a.runs >= 1)) throw new Error('--runs must be a positive integer');
  if (!(Number.isInteger(a.threads) && a.threads >= 1)) throw new Error('--threads must be a positive integer');
  if (!(a.size === 0 || (Number.isInteger(a.size) && a.size >= 64 && a.size % 8 === 0)))
    throw new Error('--size must be a multiple of 8');
  if (!Number.isFinite(a.guidance)) throw new Error('--guidance must be a number');
  return a;
}

/** SDXL: a diffusers folder with text_encoder_2/, or a single file naming conditioner.embedders.* in its header. */
function isSdxl(file: string): boolean {
  if (statSync(file).isDirectory()) return existsSync(path.join(file, 'text_encoder_2'));
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    if (!(n > 0 && n < 2 ** 27)) return false;
    const head = Buffer.alloc(n);
    readSync(fd, head, 0, n, 8);
    return head.includes('conditioner.embedders.');
  } finally {
    closeSync(fd);
  }
}

/** The tiny test model finds red subjects: a red square on green stands in for the photo. */
function redSquareOnGreen(side: number): Sharp {
  const rgb = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const red = x >= side * 0.3 && x < side * 0.7 && y >= side * 0.25 && y < side * 0.75;
      rgb.set(red ? [210, 25, 30] : [40, 160, 70], (y * side + x) * 3);
    }
  return sharp(rgb, { raw: { width: side, height: side, channels: 3 } });
}

async function segmentationModel(
  dir: string,
  choice: string,
): Promise<{ model?: string; label: string; note?: string }> {
  if (choice === 'tiny')
    return { model: writeTinyModel(dir, 'tiny-isnet-imgly.onnx', redSubjectModel()), label: 'tiny test model (64×64)' };
  if (choice !== 'default') return { model: choice, label: path.basename(choice) };
  try {
    const found = await resolveModel({});
    return { label: `${path.basename(found.path)} (${found.source})` };
  } catch {
    const model = writeTinyModel(dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
    return {
      model,
      label: 'tiny test model',
      note: 'no segmentation model installed: the tiny test model stands in (segment stage far cheaper than ISNet)',
    };
  }
}

/** The precision the engine reports for its UNet (engineInfo.precision), if it reports one. */
const ranIn = (r: RunReport): string => String((r.engine_info as { precision?: string } | undefined)?.precision ?? '?');

interface RunReport {
  run: number;
  total_s: number;
  stages_ms: Record<string, number>;
  /** Seconds from the call's start to the first step's progress (segmentation, load, merge, encodes, step 1). */
  to_first_step_s: number;
  /** Gaps between consecutive step progress events: one UNet step each. */
  steps_s: number[];
  /** From the last step's progress to the end of the generate stage's progress: decode (and hand-back). */
  last_step_to_compose_s: number;
  peak_rss_mb: number;
  load_before: number;
  load_after: number;
  engine: string;
  engine_info: unknown;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sdxl = isSdxl(args.model);
  const size = args.size || (sdxl ? 1024 : 512);
  const m = machine();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bgn-bench-replace-local-'));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    const side = 2 * size;
    const input = path.join(dir, 'photo.jpg');
    const photo =
      args.segmentation === 'tiny'
        ? redSquareOnGreen(side)
        : sharp(args.photo).rotate().resize(side, side, { fit: 'cover' });
    writeFileSync(input, await photo.jpeg({ quality: 92 }).toBuffer());
    const seg = await segmentationModel(dir, args.segmentation);
    if (seg.note) log(`note: ${seg.note}`);
    const draft = args.vae !== 'full';
    const options: ReplaceOptions = {
      input,
      output: path.join(dir, 'out.jpg'),
      engine: 'local',
      seed: 1,
      threads: args.threads,
      steps: args.steps,
      sampler: args.sampler as ReplaceOptions['sampler'],
      guidanceScale: args.guidance,
      loras: args.loras,
      ...(draft ? { vae: args.vae, quality: 'draft' as const } : {}),
      model: {
        diffusion: args.model,
        ...(seg.model ? { segmentation: seg.model } : {}),
        ...(args.precision ? { precision: args.precision as 'auto' | 'f32' | 'bf16' } : {}),
      },
      overrides: { generation: { resolution: { width: size, height: size } } },
    };
    const runs: RunReport[] = [];
    for (let i = 0; i < args.runs; ++i) {
      const loadBefore = loadAverage()[0];
      const marks: { t: number; stage: string; step?: number }[] = [];
      const t0 = performance.now();
      const r = await replaceBackground({
        ...options,
        onProgress: (p) => marks.push({ t: performance.now(), stage: p.stage, step: p.step }),
      });
      const end = performance.now();
      const steps = marks.filter((k) => k.stage === 'generate' && k.step !== undefined);
      const afterSteps = marks.find((k) => k.t >= (steps.at(-1)?.t ?? Infinity) && k.stage !== 'generate');
      runs.push({
        run: i + 1,
        total_s: (end - t0) / 1000,
        stages_ms: r.metrics.stages,
        to_first_step_s: steps.length ? (steps[0]!.t - t0) / 1000 : NaN,
        steps_s: steps.slice(1).map((k, j) => (k.t - steps[j]!.t) / 1000),
        last_step_to_compose_s: steps.length && afterSteps ? (afterSteps.t - steps.at(-1)!.t) / 1000 : NaN,
        peak_rss_mb: process.resourceUsage().maxRSS / 1024,
        load_before: loadBefore,
        load_after: loadAverage()[0],
        engine: r.engine,
        engine_info: r.engineInfo,
      });
      log(`run ${i + 1}/${args.runs}: ${runs.at(-1)!.total_s.toFixed(2)} s (${r.engine})`);
      if (r.engine !== 'local')
        throw new Error(`the local engine did not run (${r.engine}): ${JSON.stringify(r.skipped ?? r.engineReason)}`);
    }
    const fileMb = statSync(args.model).size / 2 ** 20;
    const loraMb = args.loras.reduce((s, l) => s + statSync(l.path).size / 2 ** 20, 0);
    const peak = Math.max(...runs.map((r) => r.peak_rss_mb));
    const result = {
      mode: 'replace-local',
      machine: m,
      model: args.model,
      family: sdxl ? 'sdxl' : 'sd',
      file_mb: fileMb,
      loras: args.loras,
      lora_mb: loraMb,
      segmentation: seg.label,
      size,
      photo:
        `${side}×${side} from ` +
        `${args.segmentation === 'tiny' ? 'a red square on green' : path.basename(args.photo)}`,
      steps: args.steps,
      sampler: args.sampler,
      guidance: args.guidance,
      vae: args.vae,
      precision: args.precision ?? 'engine default (auto)',
      threads: args.threads,
      runs,
      peak_rss_mb: peak,
      peak_rss_over_file: peak / fileMb,
    };
    if (args.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
    console.log(`replaceBackground, local engine — ${describeMachine(m)}; ${args.threads} thread(s)`);
    const lora = args.loras.length
      ? `, LoRA ${args.loras.map((l) => `${path.basename(l.path)}:${l.scale}`).join(', ')} (${loraMb.toFixed(0)} MiB)`
      : '';
    console.log(
      `model ${path.basename(args.model)} (${sdxl ? 'SDXL' : 'SD 1.x'}, ${fileMb.toFixed(0)} MiB)${lora}` +
        `; ${size}² generation from a ${result.photo}; ${args.steps} ${args.sampler} steps, ` +
        `guidance ${args.guidance}; ` +
        `decode: ${draft ? `tiny autoencoder (${args.vae})` : 'full VAE'}; segmentation ${seg.label}; ` +
        `precision ${result.precision}`,
    );
    for (const r of runs) {
      console.log(
        `run ${r.run} (${r.run === 1 ? 'cold: load + merge' : 'warm'}): ${f(r.total_s)} s   UNet in ` +
          `${ranIn(r)}   load avg ${f(r.load_before)} → ${f(r.load_after)}   ` +
          `peak RSS ${r.peak_rss_mb.toFixed(0)} MiB`,
      );
      console.log(
        `  start → step 1 ${f(r.to_first_step_s)} s; later steps ${r.steps_s.map(f).join(', ') || '—'} s; ` +
          `last step → compose ${f(r.last_step_to_compose_s)} s`,
      );
      console.log(
        `  stages (ms): ${Object.entries(r.stages_ms)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ')}`,
      );
    }
    console.log(`peak RSS ${peak.toFixed(0)} MiB = ${(peak / fileMb).toFixed(3)} × the checkpoint file (goal ≤ 1.10)`);
  } finally {
    await closeComposePool();
    await clearSegmenters();
    await clearDiffusionModels();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  console.error(`bench:replace-local: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}`);
  process.exit(1);
});
