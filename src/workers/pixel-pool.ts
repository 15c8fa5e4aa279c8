/**
 * The pixel pool: a job's full-resolution loops (compositing, mask refinement, framing, painted
 * backgrounds, the glass matte) on worker
 * threads (tinypool), so the event loop stays free while a 12-MP photo is processed — a server
 * keeps answering requests and a progress bar keeps moving. Pixel buffers are moved, not copied.
 * Idle workers exit after a while and never keep the process alive; a pending task does, however
 * the script was started (a file, `--input-type=module -e`, stdin, CJS `import()`). Workers that
 * cannot start fail the waiting tasks instead of leaving them pending. Small images (under
 * `INLINE_PIXELS`) are processed inline, where a thread hop would cost more than the work.
 *
 * Under the TypeScript sources (tests, tsx) the worker starts from pixel-worker.dev.mjs, which
 * registers tsx and loads pixel-worker.ts; the published package runs
 * dist/workers/pixel-worker.js directly.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { Tinypool } from 'tinypool';

import { applyFraming, type FramedImage, type Framing } from '../compose/framing.js';
import { paintBackground, type PaintContext } from '../compose/paint.js';
import type { PresetBackground } from '../presets/schema.js';
import { composeLayers, type LayersResult, type LayersTask } from '../compose/layers.js';
import { analyseReduced, bringBack, subjectMatteAtScale, type ReducedMatte } from '../compose/glass/matte-at-scale.js';
import type { SubjectMatte, SubjectMatteInput } from '../compose/glass/subject-matte.js';
import { refineAlpha, type CoarseMask, type RefineOptions } from '../compose/refine.js';
import { studioMatte, type StudioMatteResult, type StudioMatteTask } from '../compose/studio-matte.js';
import { BgNativeError, toBgError } from '../errors.js';
import { workerExecArgv } from './exec-argv.js';
import type { PixelTask } from './pixel-worker.js';

/** Below this many pixels the work runs inline (≈ 10 ms). */
export const INLINE_PIXELS = 256 * 256;

function workerFile(): string {
  const fromTs = import.meta.url.endsWith('.ts');
  return fileURLToPath(new URL(fromTs ? './pixel-worker.dev.mjs' : './pixel-worker.js', import.meta.url));
}

/**
 * A set of pixel workers, started on first use; each context owns one. close() stops the
 * workers; a later task starts new ones.
 */
export class PixelPool {
  private pool: Tinypool | undefined;
  /** Why a pool's workers could not start (its waiting tasks fail with this). */
  private readonly startFailures = new WeakMap<Tinypool, unknown>();

  private get(): Tinypool {
    if (!this.pool) {
      const p = new Tinypool({
        filename: workerFile(),
        minThreads: 0,
        maxThreads: Math.max(1, Math.min(4, availableParallelism())),
        idleTimeout: 30_000,
        // Not the process's own `--input-type`/`--eval`: with them no worker can load its file.
        execArgv: workerExecArgv(),
      });
      this.pool = p;
      // A worker that dies fails its task (run() rejects); never let the event crash the process.
      // One that dies with no task (while starting) leaves the queued tasks waiting for a worker
      // that will never come: when none is left, the pool is closed and they fail.
      p.on('error', (err: unknown) => {
        if (p.threads.length > 0) return;
        this.startFailures.set(p, err);
        if (this.pool === p) this.pool = undefined;
        p.destroy().catch(() => undefined);
      });
    }
    return this.pool;
  }

  /** Runs `task` on a worker; `buffers` are moved there. */
  async run<R>(task: PixelTask, buffers: ArrayBufferLike[], signal: AbortSignal | undefined, what: string): Promise<R> {
    const p = this.get();
    try {
      return (await p.run(task, { transferList: buffers as never, signal: signal ?? null })) as R;
    } catch (err) {
      if (signal?.aborted) throw new BgNativeError('E_CANCELLED', `The job was cancelled while ${what}.`);
      if (this.startFailures.has(p)) throw workerStartError(this.startFailures.get(p), what);
      // Argument errors of the pure functions keep their type (callers map them to E_BAD_INPUT).
      if (err instanceof RangeError) throw err;
      throw toBgError(err);
    }
  }

  /** Stops the workers (they also stop by themselves when idle). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.destroy();
  }
}

let processPool: PixelPool | undefined;

/** The pool of the default context, and of callers that name none. */
export function sharedPixelPool(): PixelPool {
  return (processPool ??= new PixelPool());
}

/** Stops the shared pool's workers (they also stop by themselves when idle). */
export function closeComposePool(): Promise<void> {
  return sharedPixelPool().close();
}

function workerStartError(cause: unknown, what: string): BgNativeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new BgNativeError(
    'E_INTERNAL',
    `A pixel worker thread could not start while ${what}: ${reason.split('\n')[0]}. ` +
      'Check the Node options this process runs with (NODE_OPTIONS, command-line flags); ' +
      'the next call starts new workers.',
    { cause },
  );
}

/** A typed array that owns its whole ArrayBuffer can be moved; anything else is copied first. */
function movable<T extends Uint8Array | Float32Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer
    ? a
    : (a.slice() as T);
}

function runOffThread<R>(
  task: PixelTask,
  buffers: ArrayBufferLike[],
  options: OffThreadOptions,
  what: string,
): Promise<R> {
  return (options.pool ?? sharedPixelPool()).run<R>(task, buffers, options.signal, what);
}

export interface OffThreadOptions {
  signal?: AbortSignal;
  /** The workers to use (a context's own; default: the shared pool). */
  pool?: PixelPool;
  /** Run on the calling thread (tests, tiny images). */
  inline?: boolean;
}

/** composeLayers off the event loop. The task's buffers are moved: the caller must not use them afterwards. */
export async function composeOffThread(task: LayersTask, options: OffThreadOptions = {}): Promise<LayersResult> {
  if (options.inline || task.width * task.height < INLINE_PIXELS) return composeLayers(task);
  const photo = movable(task.photo);
  const alpha = movable(task.alpha);
  const background = movable(task.background);
  return runOffThread(
    { op: 'layers', task: { ...task, photo, alpha, background } },
    [photo.buffer, alpha.buffer, background.buffer],
    options,
    'compositing',
  );
}

/**
 * refineAlpha off the event loop. `rgb` is moved to the worker and comes back as `rgb` in the
 * result (use that one afterwards).
 */
export async function refineOffThread(
  rgb: Uint8Array,
  width: number,
  height: number,
  coarse: CoarseMask,
  refine: RefineOptions,
  options: OffThreadOptions = {},
): Promise<{ alpha: Uint8Array; rgb: Uint8Array }> {
  if (options.inline || width * height < INLINE_PIXELS)
    return { alpha: refineAlpha(rgb, width, height, coarse, refine), rgb };
  const photo = movable(rgb);
  const data = movable(coarse.data);
  const buffers: ArrayBufferLike[] = [photo.buffer, data.buffer];
  let guide = refine.guide;
  if (guide) {
    guide = { ...guide, data: movable(guide.data) };
    buffers.push(guide.data.buffer);
  }
  return runOffThread(
    {
      op: 'refine',
      rgb: photo,
      width,
      height,
      coarse: { ...coarse, data },
      options: { ...refine, ...(guide ? { guide } : {}) },
    },
    buffers,
    options,
    'refining the mask',
  );
}

/** applyFraming off the event loop; `rgb` and `alpha` are moved. */
export async function frameOffThread(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  frame: Framing,
  options: OffThreadOptions = {},
): Promise<FramedImage> {
  if (options.inline || Math.max(width * height, frame.width * frame.height) < INLINE_PIXELS)
    return applyFraming(rgb, alpha, width, height, frame);
  const photo = movable(rgb);
  const a = movable(alpha);
  return runOffThread(
    { op: 'frame', rgb: photo, alpha: a, width, height, frame },
    [photo.buffer, a.buffer],
    options,
    'framing',
  );
}

/**
 * paintBackground off the event loop. The photo and alpha (blurred-original only) are copied, so
 * the caller keeps its own.
 */
export async function paintOffThread(
  spec: PresetBackground,
  width: number,
  height: number,
  ctx: PaintContext,
  options: OffThreadOptions = {},
): Promise<Uint8Array> {
  if (options.inline || width * height < INLINE_PIXELS) return paintBackground(spec, width, height, ctx);
  const sent: PaintContext = { ...ctx };
  const buffers: ArrayBufferLike[] = [];
  if (spec.type === 'blurred-original') {
    if (ctx.photo) buffers.push((sent.photo = ctx.photo.slice()).buffer);
    if (ctx.alpha) buffers.push((sent.alpha = ctx.alpha.slice()).buffer);
  } else {
    delete sent.photo;
    delete sent.alpha;
  }
  const r = await runOffThread<{ rgb: Uint8Array }>(
    { op: 'paint', spec, width, height, ctx: sent },
    buffers,
    options,
    'painting the background',
  );
  return r.rgb;
}

/** studioMatte off the event loop; the task's buffers are moved. */
export async function studioMatteOffThread(
  task: StudioMatteTask,
  options: OffThreadOptions = {},
): Promise<StudioMatteResult> {
  if (options.inline || task.width * task.height < INLINE_PIXELS) return studioMatte(task);
  const moved: StudioMatteTask = {
    ...task,
    shot: movable(task.shot),
    model: movable(task.model),
    plate: movable(task.plate),
  };
  const buffers: ArrayBufferLike[] = [moved.shot.buffer, moved.model.buffer, moved.plate.buffer];
  if (task.glass) {
    moved.glass = { ...task.glass, mask: movable(task.glass.mask) };
    buffers.push(moved.glass.mask.buffer);
  }
  if (task.second) {
    moved.second = { shot: movable(task.second.shot), plate: movable(task.second.plate) };
    buffers.push(moved.second.shot.buffer, moved.second.plate.buffer);
  }
  return runOffThread({ op: 'studio', task: moved }, buffers, options, 'matting against the clean plates');
}

/**
 * The glass stage's analysis of a reduced copy (analyseReduced) off the event loop; nothing is moved.
 * `input` is the prompt and the glass setting alone: it travels by copy.
 */
export async function glassAnalysisOffThread(
  small: Uint8Array,
  smallSalient: Uint8Array,
  gw: number,
  gh: number,
  s: number,
  input: Pick<SubjectMatteInput, 'prompt' | 'glass' | 'salientPrompted'>,
  options: OffThreadOptions = {},
): Promise<ReducedMatte> {
  if (options.inline) return analyseReduced(small, smallSalient, gw, gh, s, input);
  return runOffThread(
    { op: 'glass-reduced', small, smallSalient, gw, gh, s, options: input },
    [],
    options,
    'finding glass',
  );
}

/** What the glass ops of the worker send back: the photo and the mask, F and α only where they are new arrays. */
interface GlassReply {
  rgb: Uint8Array;
  salient: Uint8Array;
  fg?: Uint8Array;
  alpha?: Uint8Array;
  glass: Uint8Array;
  glassPixels: number;
}

type FullSizeMatte = SubjectMatte & { rgb: Uint8Array; salient: Uint8Array };

/** Runs a glass op that takes the full-size photo and mask (both moved there and back). */
async function fullSizeGlassOp(
  input: SubjectMatteInput,
  task: (moved: SubjectMatteInput) => PixelTask,
  options: OffThreadOptions,
  what: string,
): Promise<FullSizeMatte> {
  const rgb = movable(input.rgb);
  const salient = movable(input.salient);
  const r = await runOffThread<GlassReply>(
    task({ ...input, rgb, salient }),
    [rgb.buffer, salient.buffer],
    options,
    what,
  );
  const { rgb: photo, salient: mask, glass, glassPixels } = r;
  return { alpha: r.alpha ?? mask, fg: r.fg ?? photo, glass, glassPixels, rgb: photo, salient: mask };
}

/**
 * A reduced glass matte brought back to the full-size photo (bringBack) off the event loop; like
 * subjectMatteOffThread, `rgb` and `salient` are moved and come back in the result.
 */
export async function glassBringBackOffThread(
  input: SubjectMatteInput,
  reduced: ReducedMatte,
  options: OffThreadOptions = {},
): Promise<FullSizeMatte> {
  if (options.inline) return { ...bringBack(input, reduced), rgb: input.rgb, salient: input.salient };
  return fullSizeGlassOp(
    input,
    (moved) => ({ op: 'glass-back', input: moved, reduced }),
    options,
    'bringing the glass matte back to full size',
  );
}

/**
 * subjectMatteAtScale off the event loop. `rgb` and `salient` are moved to the worker and come
 * back in the result (use those afterwards); `fg` / `alpha` may be those same arrays.
 */
export async function subjectMatteOffThread(
  input: SubjectMatteInput,
  options: OffThreadOptions = {},
): Promise<FullSizeMatte> {
  if (options.inline || input.width * input.height < INLINE_PIXELS) {
    return { ...subjectMatteAtScale(input), rgb: input.rgb, salient: input.salient };
  }
  return fullSizeGlassOp(input, (moved) => ({ op: 'glass', input: moved }), options, 'finding glass');
}
