/**
 * Runs one ONNX file with bg-native's Segmenter and with onnxruntime-node (the reference), and
 * compares float tensors.
 */
import ort from 'onnxruntime-node';

import { loadAddon, type NativeSegmenter, type SegmenterLoadOptions, type TensorResult } from '../../src/native.js';

/** The CPU precision of our runs: 'f32' (the path compared with onnxruntime at fp32 bounds) unless a test says. */
export type Precision = NonNullable<SegmenterLoadOptions['precision']>;

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Runs `modelPath` with our Segmenter (all outputs) and disposes it. */
export async function runOurs(
  modelPath: string,
  input: Tensor,
  threads = 1,
  precision: Precision = 'f32',
): Promise<TensorResult[]> {
  const seg = await loadAddon().Segmenter.load(modelPath, { threads, precision });
  try {
    return await seg.run(input.data, input.shape, { outputs: 'all' });
  } finally {
    seg.dispose();
  }
}

export async function loadOurs(modelPath: string, threads = 1, precision: Precision = 'f32'): Promise<NativeSegmenter> {
  return loadAddon().Segmenter.load(modelPath, { threads, precision });
}

export async function ortSession(modelPath: string, threads = 1): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
}

function toFloat32(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof BigInt64Array) return Float32Array.from(data, (v) => Number(v));
  if (ArrayBuffer.isView(data)) return Float32Array.from(data as unknown as ArrayLike<number>);
  throw new Error('unexpected output data');
}

/** Runs a session on one float input; returns every output, in the session's output order, as f32. */
export async function runOrtSession(session: ort.InferenceSession, input: Tensor): Promise<Tensor[]> {
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input.data, input.shape) };
  const res = await session.run(feeds);
  return session.outputNames.map((n) => {
    const t = res[n]!;
    return { shape: [...t.dims], data: toFloat32(t.data) };
  });
}

/** Runs `modelPath` with onnxruntime-node on one CPU thread. */
export async function runOrt(modelPath: string, input: Tensor, threads = 1): Promise<Tensor[]> {
  const session = await ortSession(modelPath, threads);
  try {
    return await runOrtSession(session, input);
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; ++i) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Largest |a-b| / (atol + rtol*|b|); ≤ 1 means "close". */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; ++i) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d === 0) continue;
    const r = d / (atol + rtol * Math.abs(b[i]!));
    if (!(r <= worst)) worst = Number.isNaN(r) ? Infinity : r;
  }
  return worst;
}
