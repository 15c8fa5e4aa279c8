/**
 * In-process cache of loaded native Segmenters, keyed by (model path, threads): a model is
 * loaded once per process and reused by every call. A failed load is not cached.
 */
import { loadAddon, type NativeSegmenter } from '../native.js';
import { toBgError } from '../errors.js';

const cache = new Map<string, Promise<NativeSegmenter>>();

export function getSegmenter(modelPath: string, threads?: number): Promise<NativeSegmenter> {
  const key = `${modelPath}\u0000${threads ?? 'default'}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const addon = loadAddon();
      try {
        return await addon.Segmenter.load(modelPath, threads === undefined ? {} : { threads });
      } catch (err) {
        throw toBgError(err, 'E_MODEL_FORMAT');
      }
    })();
    cache.set(key, p);
    p.catch(() => {
      if (cache.get(key) === p) cache.delete(key);
    });
  }
  return p;
}

/** Disposes and forgets every cached Segmenter (tests, long-running hosts that swap models). */
export async function clearSegmenters(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  for (const p of all) {
    try {
      (await p).dispose();
    } catch {
      // a failed load has nothing to dispose
    }
  }
}
