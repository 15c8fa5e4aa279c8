/**
 * Batch mode of `bg-native [replace]`: `--in` names a folder or a glob ('photos/*.jpg', quoted so
 * the shell leaves it alone) and `--out` a folder. Every photo goes through the same
 * replaceBackground options; one photo failing does not stop the others.
 *
 *   output names   <out>/<path below the folder or the glob's fixed part>/<stem>.<ext>, ext from
 *                  --format (jpeg → .jpg), else .png; two photos mapping to one name are refused
 *   concurrency    --concurrency N photos at once (default 1: one job already uses every core);
 *                  without --threads, each job gets cores / N native threads
 *   progress       a bar on stderr when it is a terminal, else one line per photo
 *   --json         one JSON line per photo on stdout: status 'done' lines are the replace
 *                  --json line (the result format) plus status/elapsedMs; 'skipped', 'failed' and
 *                  'cancelled' lines carry command/input/output/status (and error { code, message })
 *   exit status    0 all done (or skipped), 1 any photo failed, 130 cancelled with Ctrl-C
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { glob, isDynamicPattern } from 'tinyglobby';

import { BgNativeError, toBgError } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../image/atomic-write.js';
import type { ReplaceOptions } from '../options.js';
import { CliExit, resultJson, type CliIO } from './io.js';
import type { CliLibrary } from './library.js';
import { replaceOptionsFromFlags, withFlagNames, type ReplaceFlags } from './replace-flags.js';

/** Photo file extensions batch mode picks up. */
export const PHOTO_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif'] as const;

export interface BatchFlags {
  concurrency?: number;
  skipExisting?: boolean;
}

export interface BatchItem {
  input: string;
  output: string;
  mask?: string;
  /** The input's path below the batch's base folder, for display. */
  rel: string;
}

function isPhoto(file: string): boolean {
  return (PHOTO_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());
}

/** True when `--in` names a folder or a glob rather than one photo. */
export function isBatchInput(input: string): boolean {
  if (existsSync(input)) return statSync(input).isDirectory();
  return isDynamicPattern(input.split(path.sep).join('/'));
}

/** The fixed folder a glob starts from ('photos/2024/*.jpg' → 'photos/2024'). */
function globBase(pattern: string): string {
  const parts = pattern.split('/');
  const fixed: string[] = [];
  for (const p of parts.slice(0, -1)) {
    if (isDynamicPattern(p)) break;
    fixed.push(p);
  }
  const base = fixed.join('/');
  return base === '' ? (pattern.startsWith('/') ? '/' : '.') : base;
}

function outputExt(format: string | undefined): string {
  const f = format?.toLowerCase();
  return f === 'jpeg' || f === 'jpg' ? '.jpg' : f === 'webp' ? '.webp' : '.png';
}

/** The photos `--in` names, sorted, with their output (and mask) paths. */
export async function planBatch(
  input: string,
  outDir: string,
  opts: { format?: string | undefined; maskDir?: string | undefined },
): Promise<{ items: BatchItem[]; ignored: number }> {
  const out = path.resolve(outDir);
  let base: string;
  let found: string[];
  if (existsSync(input) && statSync(input).isDirectory()) {
    base = path.resolve(input);
    found = readdirSync(base, { withFileTypes: true })
      .filter(
        (d) =>
          d.isFile() ||
          (d.isSymbolicLink() && existsSync(path.join(base, d.name)) && statSync(path.join(base, d.name)).isFile()),
      )
      .map((d) => path.join(base, d.name));
  } else {
    const pattern = input.split(path.sep).join('/');
    base = path.resolve(globBase(pattern));
    found = await glob(pattern, {
      absolute: true,
      onlyFiles: true,
      dot: false,
      expandDirectories: false,
      followSymbolicLinks: true,
    });
  }
  const inOut = (f: string) => {
    const rel = path.relative(out, f);
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  };
  const all = [...new Set(found.map((f) => path.resolve(f)))].filter((f) => !inOut(f)).sort();
  const photos = all.filter(isPhoto);
  const ext = outputExt(opts.format);
  const items: BatchItem[] = [];
  const byOutput = new Map<string, string>();
  for (const f of photos) {
    const rel = path.relative(base, f);
    const relStem = rel.slice(0, rel.length - path.extname(rel).length);
    const output = path.join(out, relStem + ext);
    const clash = byOutput.get(output);
    if (clash) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        `${path.relative(process.cwd(), clash) || clash} and ${path.relative(process.cwd(), f) || f} ` +
          `would both be written to ${output}: rename one, or run them separately.`,
      );
    }
    byOutput.set(output, f);
    const item: BatchItem = { input: f, output, rel };
    if (opts.maskDir) item.mask = path.join(path.resolve(opts.maskDir), `${relStem}.png`);
    items.push(item);
  }
  return { items, ignored: all.length - photos.length };
}

function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '--';
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
    : `${m}:${String(s % 60).padStart(2, '0')}`;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 60_000 ? `${Math.round(ms / 1000)} s` : fmtDuration(ms);
}

type Status = 'done' | 'failed' | 'skipped' | 'cancelled';

interface Outcome {
  item: BatchItem;
  status: Status;
  elapsedMs: number;
  engine?: string;
  error?: { code: string; message: string };
}

/** Progress on stderr: a redrawn bar on a terminal, one line per photo otherwise. */
class Reporter {
  private readonly t0 = Date.now();
  private readonly running = new Map<BatchItem, number>();
  private finished = 0;
  private readonly counts: Record<Status, number> = { done: 0, failed: 0, skipped: 0, cancelled: 0 };
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly io: CliIO,
    private readonly total: number,
    private readonly tty: boolean,
    private readonly json: boolean,
  ) {}

  started(item: BatchItem): void {
    this.running.set(item, 0);
    this.draw();
  }

  progress(item: BatchItem, fraction: number): void {
    this.running.set(item, fraction);
    if (Date.now() - this.lastDraw >= 100) this.draw();
  }

  ended(o: Outcome): void {
    this.running.delete(o.item);
    this.finished++;
    this.counts[o.status]++;
    if (this.tty) {
      if (o.status === 'failed') this.above(`bg-native: failed ${o.item.rel}: ${o.error!.code}: ${o.error!.message}`);
      this.draw(true);
      return;
    }
    if (this.json && o.status !== 'failed') return;
    const n = `[${this.finished}/${this.total}]`;
    if (o.status === 'done') {
      const engine = o.engine ? `, ${o.engine}` : '';
      this.io.stderr(`bg-native: ${n} done ${o.item.rel} → ${o.item.output} (${seconds(o.elapsedMs)}${engine})\n`);
    } else if (o.status === 'skipped') {
      this.io.stderr(`bg-native: ${n} skipped ${o.item.rel} (${o.item.output} exists)\n`);
    } else if (o.status === 'failed') {
      this.io.stderr(`bg-native: ${n} failed ${o.item.rel}: ${o.error!.code}: ${o.error!.message}\n`);
    } else {
      this.io.stderr(`bg-native: ${n} cancelled ${o.item.rel}\n`);
    }
  }

  /** Prints a line above the bar. */
  above(line: string): void {
    if (this.tty && this.drawn) this.io.stderr('\r\x1b[2K');
    this.io.stderr(`${line}\n`);
    this.drawn = false;
    if (this.tty) this.draw(true);
  }

  private draw(force = false): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    let partial = 0;
    for (const f of this.running.values()) partial += f;
    const fraction = this.total ? Math.min(1, (this.finished + partial) / this.total) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const elapsed = now - this.t0;
    const eta = fraction > 0.001 ? (elapsed / fraction) * (1 - fraction) : Number.NaN;
    const current = [...this.running.keys()].map((i) => i.rel).join(', ');
    let line =
      `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ` +
      `${this.finished}/${this.total} · done ${this.counts.done} · failed ${this.counts.failed}` +
      `${this.counts.skipped ? ` · skipped ${this.counts.skipped}` : ''} · ` +
      `${fmtDuration(elapsed)} elapsed, eta ${fmtDuration(eta)}` +
      (current ? ` · ${current}` : '');
    const cols = this.io.columns || 100;
    if (line.length > cols - 1) line = `${line.slice(0, Math.max(10, cols - 2))}…`;
    this.io.stderr(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  /** Clears the bar and prints the summary; returns the counts. */
  finish(outcomes: Outcome[], cancelled: boolean): Record<Status, number> {
    if (this.tty && this.drawn) this.io.stderr('\r\x1b[2K');
    this.drawn = false;
    const elapsed = Date.now() - this.t0;
    const c = this.counts;
    const doneMs = outcomes.filter((o) => o.status === 'done').reduce((s, o) => s + o.elapsedMs, 0);
    const per = c.done ? ` (${seconds(doneMs / c.done)} per photo)` : '';
    const parts = [`${c.done} done`, `${c.failed} failed`];
    if (c.skipped) parts.push(`${c.skipped} skipped`);
    const notRun = this.total - this.finished;
    if (cancelled || c.cancelled) parts.push(`${c.cancelled + notRun} cancelled`);
    const photos = `${this.total} photo${this.total === 1 ? '' : 's'}`;
    this.io.stderr(`bg-native: ${photos}: ${parts.join(', ')} in ${seconds(elapsed)}${per}\n`);
    const failed = outcomes.filter((o) => o.status === 'failed');
    if (failed.length) {
      this.io.stderr(`bg-native: failed: ${failed.map((o) => `${o.item.rel} (${o.error!.code})`).join(', ')}\n`);
    }
    return c;
  }
}

/** Runs the batch; throws CliExit(1) when any photo failed, CliExit(130) when cancelled. */
export async function runBatch(f: ReplaceFlags & BatchFlags, io: CliIO, lib: CliLibrary): Promise<void> {
  const concurrency = f.concurrency ?? 1;
  if (existsSync(f.out) && !statSync(f.out).isDirectory()) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `--out ${f.out} is a file; with a folder or glob as --in, --out must be a folder (it is created when missing).`,
    );
  }
  if (!existsSync(f.out) && isPhoto(f.out)) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `--out ${f.out} looks like a file name; with a folder or glob as --in, --out must be a folder, e.g. --out out/.`,
    );
  }
  if (f.secondIn !== undefined || f.secondCleanPlate !== undefined) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      '--second-in and --second-clean-plate belong to one photo: run two-shot matting photo by photo ' +
        '(a batch takes one --clean-plate for all).',
    );
  }
  const planned = await planBatch(f.in, f.out, { format: f.format, maskDir: f.maskOut });
  // One clean plate serves every shot of the framing; it is not a photo of the batch itself.
  const plate = f.cleanPlate !== undefined ? path.resolve(f.cleanPlate) : undefined;
  const items = plate ? planned.items.filter((i) => i.input !== plate) : planned.items;
  const ignored = planned.ignored;
  if (items.length === 0) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `No photos match --in ${JSON.stringify(f.in)}` +
        `${ignored ? ` (${ignored} other file${ignored === 1 ? '' : 's'} ignored)` : ''}. ` +
        `Photos are ${PHOTO_EXTENSIONS.join(' ')}; quote a glob so the shell does not expand it: --in 'photos/*.jpg'.`,
    );
  }

  // The same options for every photo; checked once, before anything runs.
  const base: ReplaceOptions = replaceOptionsFromFlags({
    ...f,
    in: items[0]!.input,
    out: items[0]!.output,
    maskOut: undefined,
  } as ReplaceFlags);
  if (f.threads === undefined && concurrency > 1) {
    base.threads = Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / concurrency));
  }
  try {
    lib().checkReplaceOptions({ ...base, input: items[0]!.input });
  } catch (err) {
    if (err instanceof BgNativeError && err.code === 'E_BAD_INPUT') {
      throw new BgNativeError('E_BAD_INPUT', withFlagNames(err.message), { cause: err });
    }
    throw err;
  }
  const dirs = new Set(items.flatMap((i) => [path.dirname(i.output), ...(i.mask ? [path.dirname(i.mask)] : [])]));
  for (const d of dirs) {
    try {
      mkdirSync(d, { recursive: true });
    } catch (err) {
      throw new BgNativeError('E_IO', `Cannot create the output folder ${d}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  await checkWritable(items[0]!.output);

  const tty = Boolean(io.isTTY);
  const reporter = new Reporter(io, items.length, tty, Boolean(f.json));
  if (ignored) {
    const files = `${ignored} file${ignored === 1 ? ' is' : 's are'}`;
    reporter.above(`bg-native: ${files} not a photo (${PHOTO_EXTENSIONS.join(' ')}) and ignored`);
  }

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      reporter.above('bg-native: cancelling… (Ctrl-C again to quit at once)');
      controller.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);

  const outcomes: Outcome[] = [];
  let next = 0;
  const emit = (line: Record<string, unknown>) => {
    if (f.json) io.stdout(`${JSON.stringify(line)}\n`);
  };

  async function one(item: BatchItem): Promise<void> {
    const t0 = Date.now();
    if (f.skipExisting && existsSync(item.output)) {
      const o: Outcome = { item, status: 'skipped', elapsedMs: 0 };
      outcomes.push(o);
      reporter.ended(o);
      emit({ command: 'replace', input: item.input, output: item.output, status: 'skipped' });
      return;
    }
    reporter.started(item);
    try {
      const r = await lib().replaceBackground({
        ...base,
        input: item.input,
        output: item.output,
        signal: controller.signal,
        onProgress: (p) => reporter.progress(item, p.progress),
      });
      if (item.mask) await writeFileAtomic(item.mask, r.artifacts.mask);
      const o: Outcome = { item, status: 'done', elapsedMs: Date.now() - t0, engine: r.engine };
      outcomes.push(o);
      reporter.ended(o);
      emit({ ...resultJson(r, item.input, item.mask ?? null), status: 'done', elapsedMs: o.elapsedMs });
    } catch (err) {
      const e = toBgError(err);
      const status: Status = controller.signal.aborted && e.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
      const message = (e.code === 'E_BAD_INPUT' ? withFlagNames(e.message) : e.message).split('\n')[0]!.trim();
      const o: Outcome = { item, status, elapsedMs: Date.now() - t0, error: { code: e.code, message } };
      outcomes.push(o);
      reporter.ended(o);
      emit({
        command: 'replace',
        input: item.input,
        output: item.output,
        status,
        error: o.error,
        elapsedMs: o.elapsedMs,
      });
    }
  }

  async function worker(): Promise<void> {
    while (!controller.signal.aborted && next < items.length) await one(items[next++]!);
  }

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } finally {
    process.off('SIGINT', onSigint);
  }
  const counts = reporter.finish(outcomes, controller.signal.aborted);
  if (controller.signal.aborted) throw new CliExit(130);
  if (counts.failed > 0) throw new CliExit(1);
}
