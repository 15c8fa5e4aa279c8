/**
 * A stand-in for the native addon, for pipeline tests that must not depend on the C++ build:
 * its Segmenter "finds" the reddish pixels of the input tensor (imgly ISNet scaling assumed:
 * channel = (x − 128) / 256), so a red subject on a blue background yields a known mask.
 */
import type { NativeAddon, NativeSegmenter, TensorResult } from '../../src/native.js';

export interface FakeOptions {
  /** Make run() reject with this error. */
  runError?: Error & { code?: string };
  /** Make load() reject with this error. */
  loadError?: Error & { code?: string };
  /** Network input size (default 64, small to keep tests fast). */
  size?: number;
}

export interface FakeAddon extends NativeAddon {
  loads: string[];
  runs: number;
}

export function makeFakeAddon(options: FakeOptions = {}): FakeAddon {
  const size = options.size ?? 64;
  const addon: FakeAddon = {
    loads: [],
    runs: 0,
    backends: () => [{ name: 'cpu', compiled: true, available: true, threads: 1, gemm: 'builtin' }],
    Segmenter: {
      async load(modelPath: string, opts?: { threads?: number }): Promise<NativeSegmenter> {
        addon.loads.push(modelPath);
        if (options.loadError) throw options.loadError;
        const seg: NativeSegmenter = {
          path: modelPath,
          threads: opts?.threads ?? 1,
          inputs: [{ name: 'input', shape: [1, 3, size, size] }],
          outputs: [{ name: 'output', shape: [1, 1, size, size] }],
          async run(input: Float32Array, shape: number[]): Promise<TensorResult[]> {
            addon.runs++;
            if (options.runError) throw options.runError;
            const [, , h, w] = shape as [number, number, number, number];
            const n = h * w;
            const out = new Float32Array(n);
            for (let i = 0; i < n; i++) {
              const r = input[i]! * 256 + 128;
              const b = input[2 * n + i]! * 256 + 128;
              out[i] = r > b ? 1 : 0;
            }
            return [{ name: 'output', shape: [1, 1, h, w], data: out }];
          },
          dispose() {},
        };
        return seg;
      },
    },
  };
  return addon;
}
