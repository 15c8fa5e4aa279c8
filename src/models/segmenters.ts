/**
 * In-process cache of loaded native Segmenters, keyed by (model path, threads, device): a model is
 * loaded once per process and reused by every call. A failed load is not cached.
 */
import { loadAddon, type NativeSegmenter, type SegmenterLoadOptions } from '../native.js';
import { toBgError } from '../errors.js';
import { LoadCache } from './load-cache.js';
import type { Device } from '../options.js';

const cache = new LoadCache<NativeSegmenter>();

export function getSegmenter(modelPath: string, threads?: number, device: Device = 'auto'): Promise<NativeSegmenter> {
  return cache.get(`${modelPath}\u0000${threads ?? 'default'}\u0000${device}`, async () => {
    const addon = loadAddon();
    const options: SegmenterLoadOptions = { device };
    if (threads !== undefined) options.threads = threads;
    try {
      return await addon.Segmenter.load(modelPath, options);
    } catch (err) {
      throw toBgError(err, 'E_MODEL_FORMAT');
    }
  });
}

/** Disposes and forgets every cached Segmenter (tests, long-running hosts that swap models). */
export function clearSegmenters(): Promise<void> {
  return cache.clear();
}
