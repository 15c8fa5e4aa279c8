/**
 * The compositing pool: composeLayers on worker threads (tinypool), so the event loop stays free
 * while a 12-MP photo is composited. Pixel buffers are moved, not copied. Idle workers exit after
 * a while and never keep the process alive. Small images (under `INLINE_PIXELS`) are composited
 * inline, where a thread hop would cost more than the work.
 *
 * Under the TypeScript sources (tests, tsx) the worker starts from compose-worker.dev.mjs, which
 * registers tsx and loads compose-worker.ts; the published package runs
 * dist/pipeline/compose-worker.js directly.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { Tinypool } from 'tinypool';

import { composeLayers, type LayersResult, type LayersTask } from '../compose/layers.js';
import { BgNativeError, toBgError } from '../errors.js';

/** Below this many pixels the chain runs inline (≈ 10 ms of work). */
export const INLINE_PIXELS = 256 * 256;

let pool: Tinypool | undefined;

function workerFile(): string {
  const fromTs = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(fromTs ? './compose-worker.dev.mjs' : './compose-worker.js', import.meta.url));
}

function getPool(): Tinypool {
  if (!pool) {
    pool = new Tinypool({
      filename: workerFile(),
      minThreads: 0,
      maxThreads: Math.max(1, Math.min(4, availableParallelism())),
      idleTimeout: 30_000,
    });
    // A worker that dies fails its task (run() rejects); never let the event crash the process.
    pool.on('error', () => undefined);
  }
  return pool;
}

/** Stops the compositing workers (they also stop by themselves when idle). */
export async function closeComposePool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.destroy();
}

/** A typed array that owns its whole ArrayBuffer can be moved; anything else is copied first. */
function movable(a: Uint8Array): Uint8Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? a : Uint8Array.from(a);
}

/**
 * composeLayers on a worker thread (or inline when small / `inline`). The task's buffers are
 * moved to the worker: the caller must not use them afterwards.
 */
export async function composeOffThread(task: LayersTask, options: { signal?: AbortSignal; inline?: boolean } = {}): Promise<LayersResult> {
  if (options.inline || task.width * task.height < INLINE_PIXELS) return composeLayers(task);
  const photo = movable(task.photo);
  const alpha = movable(task.alpha);
  const background = movable(task.background);
  const sent: LayersTask = { ...task, photo, alpha, background };
  try {
    return (await getPool().run(sent, {
      transferList: [photo.buffer, alpha.buffer, background.buffer] as never,
      signal: options.signal ?? null,
    })) as LayersResult;
  } catch (err) {
    if (options.signal?.aborted) throw new BgNativeError('E_CANCELLED', 'replaceBackground was cancelled while compositing.');
    throw toBgError(err);
  }
}
