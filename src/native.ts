/**
 * The one place that loads the native addon (node-gyp-build: prebuilds/ first, then the local
 * build) and types it. Nothing else imports the .node file.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BgNativeError } from './errors.js';

export interface BackendInfo {
  name: 'cpu' | 'cuda';
  compiled: boolean;
  available: boolean;
  reason?: string;
  threads?: number;
  /** GEMM implementation: 'openblas' | 'accelerate' | 'cblas' | 'builtin'. */
  gemm?: string;
}

export interface TensorInfo {
  name: string;
  /** -1 marks a dynamic dimension. */
  shape: number[];
}

export interface TensorResult {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SegmenterRunOptions {
  /** Which graph outputs to return: the first (default) or all of them. */
  outputs?: 'first' | 'all';
}

/** A loaded ONNX segmentation network. Methods run on the core's own threads. */
export interface NativeSegmenter {
  readonly path: string;
  readonly threads: number;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Runs the network on one NCHW f32 tensor. */
  run(input: Float32Array, shape: number[], options?: SegmenterRunOptions): Promise<TensorResult[]>;
  /** Releases this handle's reference to the shared weights. */
  dispose(): void;
}

export interface SegmenterLoadOptions {
  /** Worker threads; default: all cores. */
  threads?: number;
}

export interface NativeAddon {
  backends(): BackendInfo[];
  Segmenter: {
    load(modelPath: string, options?: SegmenterLoadOptions): Promise<NativeSegmenter>;
  };
  [key: string]: unknown;
}

const require = createRequire(import.meta.url);
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let cached: NativeAddon | undefined;
let loadError: BgNativeError | undefined;

function describeFailure(err: unknown): string {
  const reason = err instanceof Error ? err.message : String(err);
  return [
    'Could not load the bg-native addon for ' + `${process.platform}-${process.arch} (Node ${process.version}).`,
    `Cause: ${reason.split('\n')[0]}`,
    'Possible fixes:',
    '- Build it from source: `npm rebuild @vitrinealu/bg-native` (needs cmake, a C++17 compiler and, for speed, libopenblas-dev).',
    '- On Debian/Ubuntu: `apt-get install -y cmake g++ libopenblas-dev`, then rebuild.',
    '- If you installed with --ignore-scripts, run `npm run build` in the package folder.',
    '- Make sure the Node.js version you run is the one you installed with (the addon uses N-API 8, Node >= 20).',
  ].join('\n');
}

/** Loads (once) and returns the native addon; throws E_ADDON_LOAD with the fixes listed. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(packageRoot);
    return cached;
  } catch (err) {
    loadError = new BgNativeError('E_ADDON_LOAD', describeFailure(err), { cause: err });
    throw loadError;
  }
}

/** What this build and machine can run. */
export function backends(): BackendInfo[] {
  return loadAddon().backends();
}
