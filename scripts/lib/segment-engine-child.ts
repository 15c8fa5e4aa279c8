/**
 * One engine on one model in a process of its own, for bench:segment's peak-RSS column:
 *   tsx scripts/lib/segment-engine-child.ts ours|ort|none <model.onnx> <threads> <photo> <runs> [precision]
 * loads only that engine, feeds the photo as the model's profile prepares it (one warm-up, then
 * `runs` runs) and prints one JSON line: { engine, peakRssMiB, medianMs, timesMs }. 'none' prepares the
 * input and loads nothing: the baseline both engines share (Node, the image decoder, the input).
 */
import { readFileSync } from 'node:fs';

import sharp from 'sharp';

import { inferProfile, inputSize, toInputTensor } from '../../src/models/profiles.js';

const [engine, file, threadsArg, photo, runsArg, precisionArg] = process.argv.slice(2);
if (!engine || !['ours', 'ort', 'none'].includes(engine) || !file || !photo) {
  console.error('usage: segment-engine-child.ts ours|ort|none <model.onnx> <threads> <photo> <runs>');
  process.exit(2);
}
const threads = Number(threadsArg ?? 2);
const runs = Math.max(1, Number(runsArg ?? 1));

async function input(shape: number[]): Promise<{ data: Float32Array; shape: number[] }> {
  const profile = inferProfile(file!, shape);
  const [h, w] = inputSize(profile, shape);
  const rgb = await sharp(photo).rotate().removeAlpha().resize(w, h, { fit: 'fill' }).raw().toBuffer();
  return { data: toInputTensor(new Uint8Array(rgb), w, h, profile), shape: [1, 3, h, w] };
}

/**
 * This process's peak RSS in KiB. On Linux, VmHWM of /proc/self/status: getrusage's maxRSS carries
 * over the peak of the process this one was forked from (the benchmark itself) across exec.
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const times: number[] = [];
  let ran: string | undefined;
  if (engine === 'ours') {
    const { loadAddon } = await import('../../src/native.js');
    const precision = (precisionArg ?? 'f32') as 'auto' | 'f32' | 'bf16';
    const seg = await loadAddon().Segmenter.load(file!, { threads, precision });
    ran = seg.precision;
    const x = await input(seg.inputs[0]?.shape ?? []);
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      await seg.run(x.data, x.shape, { outputs: 'first' });
      if (i > 0) times.push(performance.now() - t0);
    }
    seg.dispose();
  } else if (engine === 'ort') {
    const mod = await import('onnxruntime-node');
    const ort = ((mod as unknown as { default?: typeof mod }).default ?? mod) as typeof mod;
    const ref = await ort.InferenceSession.create(file!, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    const meta = ref.inputMetadata[0] as { shape?: (number | string)[] } | undefined;
    const shape = (meta?.shape ?? [1, 3, 1024, 1024]).map((d) => (typeof d === 'number' ? d : -1));
    const x = await input(shape);
    const feeds = { [ref.inputNames[0]!]: new ort.Tensor('float32', x.data, x.shape) };
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      await ref.run(feeds, [ref.outputNames[0]!]);
      if (i > 0) times.push(performance.now() - t0);
    }
    await ref.release();
  } else {
    await input([1, 3, 1024, 1024]);
  }
  const peakRssMiB = Math.round((peakRssKiB() / 1024) * 10) / 10;
  const medianMs = times.length ? median(times) : 0;
  process.stdout.write(`${JSON.stringify({ engine, peakRssMiB, medianMs, timesMs: times, precision: ran })}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
