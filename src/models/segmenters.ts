/**
 * Loaded native Segmenters, keyed by (model path, threads, device, precision): a model is loaded once per
 * cache (each context owns one) and reused by every call. A failed load is not cached.
 */
import { loadAddon, type NativeSegmenter, type SegmenterLoadOptions } from '../native.js';
import { toBgError } from '../errors.js';
import { LoadCache } from './load-cache.js';

/** A Segmenter held by one run: release() when done with it. */
export interface SegmenterLease {
  value: Promise<NativeSegmenter>;
  release(): void;
}

function cacheKey(modelPath: string, threads: number | undefined, device: string, precision: string): string {
  return `${modelPath}\u0000${threads ?? 'default'}\u0000${device}\u0000${precision}`;
}

async function loadSegmenter(
  modelPath: string,
  threads: number | undefined,
  device: string,
  precision: NonNullable<SegmenterLoadOptions['precision']>,
): Promise<NativeSegmenter> {
  const addon = loadAddon();
  const options: SegmenterLoadOptions = { device: device as SegmenterLoadOptions['device'], precision };
  if (threads !== undefined) options.threads = threads;
  try {
    return await addon.Segmenter.load(modelPath, options);
  } catch (err) {
    throw toBgError(err, 'E_MODEL_FORMAT');
  }
}

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
    return this.cache.get(cacheKey(modelPath, threads, device, precision), () =>
      loadSegmenter(modelPath, threads, device, precision),
    );
  }

  /** get(), held until `release()`: letGoIdle() does not dispose a Segmenter while a lease holds it. */
  lease(
    modelPath: string,
    threads?: number,
    device = 'auto',
    precision: NonNullable<SegmenterLoadOptions['precision']> = 'f32',
  ): SegmenterLease {
    return this.cache.lease(cacheKey(modelPath, threads, device, precision), () =>
      loadSegmenter(modelPath, threads, device, precision),
    );
  }

  /** Lets go of the Segmenters no lease holds (the others as their leases end): see LoadCache.letGoIdle. */
  letGoIdle(): void {
    this.cache.letGoIdle();
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
