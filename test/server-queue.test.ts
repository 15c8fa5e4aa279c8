/**
 * The embedded SQLite queue on its own, with real files and plain handler functions: retries
 * with backoff, no retry for permanent errors, the concurrency limit, leases that expire, a
 * graceful shutdown that puts running jobs back without counting the try, idempotency keys.
 */
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { SqliteQueue } from '../src/queue/sqlite.js';
import { JobFailure, type QueueOptions } from '../src/queue/types.js';
import { tempDir } from './helpers/paths.js';
import { waitFor } from './helpers/server-harness.js';

const tmp = tempDir('bgn-queue-');
const open: SqliteQueue[] = [];
let n = 0;
afterAll(async () => {
  for (const q of open) await q.close(0);
  tmp.remove();
});

function queue(over: Partial<QueueOptions> = {}, file = path.join(tmp.dir, `q${++n}.db`)): SqliteQueue {
  const q = new SqliteQueue(file, {
    backoffMs: 50,
    attempts: 3,
    leaseMs: 300,
    pollMs: 20,
    webhookSchedule: [10],
    ...over,
  });
  open.push(q);
  return q;
}

describe('SQLite queue', () => {
  it('retries a retryable failure with growing delays, then succeeds', async () => {
    const q = queue();
    const starts: number[] = [];
    q.startWorker(async () => {
      starts.push(Date.now());
      if (starts.length < 3) throw new JobFailure('E_IO', 'disk hiccup', true);
      return { ok: true };
    }, 1);
    const { job } = await q.enqueue('t', {});
    const done = await q.waitFor(job.id, 10_000);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 3, result: { ok: true } });
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(45);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(95);
  });

  it('fails at once, without retrying, on a permanent error', async () => {
    const q = queue();
    let runs = 0;
    q.startWorker(async () => {
      runs++;
      throw new JobFailure('E_BAD_INPUT', 'not a photo', false);
    }, 1);
    const { job } = await q.enqueue('t', {});
    expect(await q.waitFor(job.id, 5000)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { code: 'E_BAD_INPUT', message: 'not a photo' },
    });
    expect(runs).toBe(1);
  });

  it('never runs more jobs at once than its concurrency', async () => {
    const q = queue();
    let now = 0;
    let peak = 0;
    q.startWorker(async () => {
      peak = Math.max(peak, ++now);
      await new Promise((r) => setTimeout(r, 30));
      now--;
    }, 3);
    const jobs = await Promise.all(Array.from({ length: 12 }, () => q.enqueue('t', {})));
    for (const { job } of jobs) expect((await q.waitFor(job.id, 10_000))?.status).toBe('succeeded');
    expect(peak).toBe(3);
  });

  it('runs a job again when its worker stops renewing the lease', async () => {
    const file = path.join(tmp.dir, 'shared.db');
    const a = queue({ leaseMs: 200 }, file);
    const b = queue({ leaseMs: 200 }, file);
    let firstStarted = false;
    a.startWorker(async () => {
      firstStarted = true;
      await new Promise(() => {}); // hangs forever
    }, 1);
    const { job } = await a.enqueue('t', {});
    await waitFor(() => firstStarted, 5000, 'first run');
    // Stop a's heartbeat the hard way: it keeps the job but no longer renews the lease.
    (a as unknown as { timers: NodeJS.Timeout[] }).timers.forEach(clearInterval);
    b.startWorker(async () => 'second', 1);
    expect(await b.waitFor(job.id, 10_000)).toMatchObject({ status: 'succeeded', attempts: 2, result: 'second' });
  });

  it('puts running jobs back on shutdown without counting the try', async () => {
    const file = path.join(tmp.dir, 'shutdown.db');
    const a = new SqliteQueue(file, { backoffMs: 50, attempts: 1, leaseMs: 5000, pollMs: 20, webhookSchedule: [] });
    let started = false;
    a.startWorker(async (_job, ctx) => {
      started = true;
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    }, 1);
    const { job } = await a.enqueue('t', {});
    await waitFor(() => started, 5000, 'job start');
    await a.close(50);
    const b = queue({ attempts: 1 }, file);
    expect(await b.get(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
    b.startWorker(async () => 'done', 1);
    expect(await b.waitFor(job.id, 5000)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('returns the first job for a repeated idempotency key', async () => {
    const q = queue();
    const a = await q.enqueue('t', { n: 1 }, { idempotencyKey: 'k' });
    const b = await q.enqueue('t', { n: 2 }, { idempotencyKey: 'k' });
    expect(a.created).toBe(true);
    expect(b).toMatchObject({ created: false, job: { id: a.job.id, payload: { n: 1 } } });
  });

  it('writes the webhook message in the same step that ends the job', async () => {
    const q = queue({
      onTerminal: (job) => ({
        id: `msg_${job.id}`,
        url: 'http://127.0.0.1:9/x',
        body: JSON.stringify({ status: job.status }),
      }),
    });
    q.startWorker(async () => 1, 1);
    const { job } = await q.enqueue('t', {});
    await q.waitFor(job.id, 5000);
    expect(await q.getDelivery(`msg_${job.id}`)).toMatchObject({ status: 'pending', attempts: 0, jobId: job.id });
  });
});
