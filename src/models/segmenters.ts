/**
 * Loaded native Segmenters, keyed by (model path, threads, device, precision): a model is loaded once per
 * cache (each context owns one) and reused by every call. A failed load is not cached.
 */
import { loadAddon, type NativeSegmenter, type SegmenterLoadOptions } from '../native.js';
import { toBgError } from '../errors.js';
import { LoadCache } from './load-cache.js';

export class SegmenterCache {
  private readonly cache = new LoadCache<NativeSegmenter>();

  /**
   * `device` is what the addon gets ('auto', 'cpu', 'cuda', 'cuda:N'); `precision` the CPU products'
   * ('auto': bf16 where the CPU has AVX512-BF16).
   */
  get(
    modelPath: string,
    threads?: number,
    device = 'auto',
    precision: NonNullable<SegmenterLoadOptions['precision']> = 'f32',
  ): Promise<NativeSegmenter> {
    const key = `${modelPath}\u0000${threads ?? 'default'}\u0000${device}\u0000${precision}`;
    return this.cache.get(key, async () => {
      const addon = loadAddon();
      const options: SegmenterLoadOptions = { device: device as SegmenterLoadOptions['device'], precision };
      if (threads !== undefined) options.threads = threads;
      try {
        return await addon.Segmenter.load(modelPath, options);
      } catch (err) {
        throw toBgError(err, 'E_MODEL_FORMAT');
      }
    });
  }

  /** Disposes and forgets every cached Segmenter (tests, long-running hosts that swap models). */
  clear(): Promise<void> {
    return this.cache.clear();
  }
}

let processSegmenters: SegmenterCache | undefined;

/** The default context's segmenters. */
export function sharedSegmenters(): SegmenterCache {
  return (processSegmenters ??= new SegmenterCache());
}

/** Disposes and forgets the default context's Segmenters. */
export function clearSegmenters(): Promise<void> {
  return sharedSegmenters().clear();
}
