/**
 * Retention and the disk guard.
 *
 * Ended jobs (succeeded, failed, cancelled) older than JOB_RETENTION are deleted by a periodic
 * sweep, rows first and files after: a swept job answers 404 at once, and a job that still shows
 * is never missing its files. A crash between the two leaves a folder named like a job with no
 * job behind it; the sweep deletes those too once they are older than the retention. Queued and
 * running jobs are never touched, nor is a job whose webhook is still being delivered (the
 * receiver may still fetch its files).
 *
 * The disk guard refuses new jobs (503 E_DISK_FULL + Retry-After) while the free space under
 * OUTPUT_DIR is below MIN_FREE_DISK; jobs already running that hit a full disk fail their try
 * with E_IO and run again later (jobs.ts).
 */
import { readdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';

import type { FastifyInstance } from 'fastify';

import type { JobQueue, JobRecord } from '../queue/types.js';
import type { ServerConfig } from './config.js';
import { HttpError } from './http-errors.js';
import { uploadsDir, type JobPayload } from './jobs.js';
import { studioUploads } from './studio-sources.js';

/** Free bytes under `dir` for this process, or undefined when the file system cannot say. */
export type DiskFree = (dir: string) => Promise<number | undefined>;

export const diskFree: DiskFree = async (dir) => {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
};

/** How long a client is asked to wait when the disk is full: space comes back with a sweep or an operator. */
export const DISK_RETRY_AFTER_SEC = 60;

function mb(bytes: number): string {
  return `${Math.floor(bytes / (1024 * 1024))} MB`;
}

/** Throws 503 E_DISK_FULL when less than MIN_FREE_DISK is free under OUTPUT_DIR. */
export async function checkDisk(cfg: ServerConfig, probe: DiskFree = diskFree): Promise<void> {
  if (cfg.minFreeDisk <= 0) return;
  const free = await probe(cfg.outputDir);
  if (free === undefined || free >= cfg.minFreeDisk) return;
  throw new HttpError(
    503,
    'E_DISK_FULL',
    `The server is low on disk space (${mb(free)} free under OUTPUT_DIR, MIN_FREE_DISK is ${mb(cfg.minFreeDisk)}) ` +
      `and takes no new jobs until space is freed; try again in ${DISK_RETRY_AFTER_SEC} s.`,
    { 'retry-after': String(DISK_RETRY_AFTER_SEC) },
  );
}

/** Checks the disk before the request body (an upload) is read, on the routes that enqueue jobs. */
export function registerDiskGuard(
  app: FastifyInstance,
  cfg: ServerConfig,
  routes: readonly string[],
  probe?: DiskFree,
): void {
  if (cfg.minFreeDisk <= 0) return;
  const guarded = new Set(routes);
  app.addHook('onRequest', async (req) => {
    if (req.method === 'POST' && guarded.has(req.url.split('?')[0]!)) await checkDisk(cfg, probe);
  });
}

/** Job ids as both queues make them. */
const JOB_ID = /^job_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BATCH = 200;

export interface SweepReport {
  /** Ended jobs deleted with their files. */
  jobs: number;
  /** Job folders deleted that had no job left. */
  orphans: number;
}

export interface Retention {
  /** Sweeps now (waits for a sweep already under way, then runs one). */
  sweep(): Promise<SweepReport>;
  /** Stops the timer and waits for a sweep under way. */
  stop(): Promise<void>;
}

type Log = (level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>) => void;

/** The sweep's period: JOB_RETENTION_SWEEP, else 10 min or the retention when shorter (at least 1 s). */
export function sweepPeriodMs(cfg: ServerConfig): number {
  return cfg.retentionSweepMs ?? Math.max(1000, Math.min(600_000, cfg.jobRetentionMs));
}

async function removeFiles(job: JobRecord, cfg: ServerConfig): Promise<void> {
  await rm(path.join(cfg.outputDir, job.id), { recursive: true, force: true });
  const payload = job.payload as Partial<JobPayload> | undefined;
  const src = payload?.source;
  // Only a file in the uploads folder: the payload names it, nothing else may be deleted through it.
  if (src?.kind === 'upload' && path.dirname(path.resolve(src.path)) === path.resolve(uploadsDir(cfg))) {
    await rm(src.path, { force: true });
  }
  for (const f of studioUploads(payload?.studio, uploadsDir(cfg))) await rm(f, { force: true });
}

/** Job folders older than `before` whose job is gone. */
async function removeOrphans(queue: JobQueue, cfg: ServerConfig, before: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(cfg.outputDir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    if (!JOB_ID.test(name)) continue;
    const dir = path.join(cfg.outputDir, name);
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory() || st.mtimeMs >= before) continue;
    if (await queue.get(name)) continue;
    await rm(dir, { recursive: true, force: true });
    n++;
  }
  return n;
}

async function sweepOnce(queue: JobQueue, cfg: ServerConfig, stopped: () => boolean): Promise<SweepReport> {
  const before = Date.now() - cfg.jobRetentionMs;
  const report: SweepReport = { jobs: 0, orphans: 0 };
  for (;;) {
    const gone = await queue.sweepFinished(before, BATCH);
    for (const job of gone) await removeFiles(job, cfg);
    report.jobs += gone.length;
    if (gone.length < BATCH || stopped()) break;
  }
  if (!stopped()) report.orphans = await removeOrphans(queue, cfg, before);
  return report;
}

/** Starts the periodic sweep (none when JOB_RETENTION is 0). The timer does not keep the process alive. */
export function startRetention(queue: JobQueue, cfg: ServerConfig, log: Log): Retention {
  let stopped = false;
  let running: Promise<SweepReport> | undefined;
  const run = async (): Promise<SweepReport> => {
    if (cfg.jobRetentionMs <= 0) return { jobs: 0, orphans: 0 };
    while (running) await running.catch(() => undefined);
    const sweep = sweepOnce(queue, cfg, () => stopped);
    running = sweep;
    try {
      const r = await sweep;
      if (r.jobs || r.orphans) log('info', 'retention: deleted ended jobs and their files', { ...r });
      return r;
    } finally {
      running = undefined;
    }
  };
  const tick = () => {
    if (stopped || running) return;
    run().catch((err: unknown) => log('warn', 'retention sweep failed', { error: (err as Error).message }));
  };
  const timers: NodeJS.Timeout[] = [];
  if (cfg.jobRetentionMs > 0) {
    timers.push(setTimeout(tick, 0), setInterval(tick, sweepPeriodMs(cfg)));
    for (const t of timers) t.unref();
  }
  return {
    sweep: run,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await running?.catch(() => undefined);
    },
  };
}
