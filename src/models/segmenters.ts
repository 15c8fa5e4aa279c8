/**
 * In-process cache of loaded native Segmenters, keyed by (model path, threads): a model is
 * loaded once per process and reused by every call. A failed load is not cached.
 */
import { loadAddon, type NativeSegmenter } from '../native.js';
import { toBgError } from '../errors.js';
import { LoadCache } from './load-cache.js';

const cache = new LoadCache<NativeSegmenter>();

export function getSegmenter(modelPath: string, threads?: number): Promise<NativeSegmenter> {
  return cache.get(`${modelPath}\u0000${threads ?? 'default'}`, async () => {
    const addon = loadAddon();
    try {
      return await addon.Segmenter.load(modelPath, threads === undefined ? {} : { threads });
    } catch (err) {
      throw toBgError(err, 'E_MODEL_FORMAT');
    }
  });
}

/** Disposes and forgets every cached Segmenter (tests, long-running hosts that swap models). */
export function clearSegmenters(): Promise<void> {
  return cache.clear();
}
