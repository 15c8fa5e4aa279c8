/**
 * The scale-out queue: BullMQ on Redis (QUEUE_URL=redis://…). Any number of `bg-native serve`
 * and `bg-native worker` processes, on any machines, share it. Jobs whose worker dies are found
 * stalled by BullMQ and run again; webhook deliveries are a second BullMQ queue whose retry
 * delays follow the webhook schedule. Cancelling a running job sets a flag in Redis that its
 * worker checks while the job runs. Ended jobs stay until sweepFinished removes them (the
 * server's JOB_RETENTION), and not while their webhook is still being delivered.
 */
import { createHash, randomUUID } from 'node:crypto';

import { DelayedError, Job, Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';

import {
  TERMINAL,
  toJobError,
  type DeliveryRecord,
  type EnqueueOptions,
  type JobError,
  type JobHandler,
  type JobQueue,
  type JobRecord,
  type JobStatus,
  type QueueOptions,
  type WebhookMessage,
  type WebhookSender,
} from './types.js';

interface JobData {
  kind: string;
  payload: unknown;
  idempotencyKey?: string;
}

interface Progress {
  progress: number;
  stage?: string;
}

const KEEP_MS = 7 * 86_400_000;
/** Webhook job states in which the delivery may still happen. */
const HOOK_PENDING = new Set(['waiting', 'delayed', 'active', 'prioritized', 'paused', 'waiting-children']);

/** redis://user:pass@host:port/db → ioredis options (BullMQ opens its own connections from them). */
function connectionFromUrl(text: string): ConnectionOptions {
  const url = new URL(text);
  const db = url.pathname.replace(/^\//, '');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 6379),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

function encodeError(e: JobError): string {
  return JSON.stringify(e);
}

function decodeError(reason: string | undefined): JobError {
  if (reason) {
    try {
      const e = JSON.parse(reason) as JobError;
      if (typeof e.code === 'string' && typeof e.message === 'string') return { code: e.code, message: e.message };
    } catch {
      // a reason BullMQ wrote itself
    }
  }
  return { code: 'E_INTERNAL', message: reason ?? 'The job failed.' };
}

interface Active {
  ac: AbortController;
  why?: 'cancel' | 'shutdown';
  done: Promise<unknown>;
}

export class BullQueue implements JobQueue {
  readonly backend = 'redis' as const;
  private readonly jobs: Queue;
  private readonly hooks: Queue;
  private readonly connection: ConnectionOptions;
  private readonly prefix: string;
  private readonly opts: QueueOptions;
  private worker?: Worker;
  private hookWorker?: Worker;
  private readonly active = new Map<string, Active>();
  private cancelPoll?: NodeJS.Timeout;
  private closing = false;

  private constructor(url: string, prefix: string, opts: QueueOptions) {
    this.connection = connectionFromUrl(url);
    this.prefix = prefix;
    this.opts = opts;
    this.jobs = new Queue('jobs', { connection: this.connection, prefix });
    this.hooks = new Queue('webhooks', { connection: this.connection, prefix });
    this.jobs.on('error', (err) => opts.log?.('error', 'redis queue error', { error: err.message }));
    this.hooks.on('error', (err) => opts.log?.('error', 'redis webhook queue error', { error: err.message }));
  }

  static async connect(url: string, prefix: string, opts: QueueOptions): Promise<BullQueue> {
    const q = new BullQueue(url, prefix, opts);
    await q.jobs.waitUntilReady();
    await q.hooks.waitUntilReady();
    const client = await q.jobs.client;
    client.defineCommand('bgnSetNx', {
      numberOfKeys: 1,
      lua: "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')",
    });
    client.defineCommand('bgnZAdd', { numberOfKeys: 1, lua: "return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])" });
    client.defineCommand('bgnZRem', { numberOfKeys: 1, lua: "return redis.call('ZREM', KEYS[1], ARGV[1])" });
    client.defineCommand('bgnZBefore', {
      numberOfKeys: 1,
      lua: "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', ARGV[2], ARGV[3])",
      readOnly: true,
    });
    return q;
  }

  private key(...parts: string[]): string {
    return [this.prefix, 'bgn', ...parts].join(':');
  }

  private async toRecord(job: Job, state?: string): Promise<JobRecord> {
    const data = job.data as JobData;
    const st = state ?? (await job.getState());
    const prog = (
      typeof job.progress === 'object' ? job.progress : { progress: Number(job.progress) || 0 }
    ) as Progress;
    let status: JobStatus;
    let error: JobError | undefined;
    if (st === 'completed') status = 'succeeded';
    else if (st === 'failed') {
      error = decodeError(job.failedReason);
      status = error.code === 'E_CANCELLED' ? 'cancelled' : 'failed';
    } else if (st === 'active') status = 'running';
    else status = 'queued';
    if (status === 'queued' && job.failedReason) error = decodeError(job.failedReason);
    const rec: JobRecord = {
      id: job.id!,
      kind: data.kind,
      status,
      progress: status === 'succeeded' ? 1 : (prog.progress ?? 0),
      payload: data.payload,
      attempts: job.attemptsStarted ?? job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      createdAt: job.timestamp,
      updatedAt: job.finishedOn ?? job.processedOn ?? job.timestamp,
    };
    if (status === 'succeeded') rec.stage = 'done';
    else if (prog.stage) rec.stage = prog.stage;
    if (status === 'succeeded') rec.result = job.returnvalue;
    if (error) rec.error = error;
    if (data.idempotencyKey) rec.idempotencyKey = data.idempotencyKey;
    if (job.processedOn) rec.startedAt = job.processedOn;
    if (job.finishedOn && TERMINAL.has(status)) rec.finishedAt = job.finishedOn;
    return rec;
  }

  async enqueue(
    kind: string,
    payload: unknown,
    opts: EnqueueOptions = {},
  ): Promise<{ job: JobRecord; created: boolean }> {
    const id = `job_${randomUUID()}`;
    if (opts.idempotencyKey) {
      const client = await this.jobs.client;
      const k = this.key('idem', createHash('sha256').update(opts.idempotencyKey).digest('hex'));
      const set = await client.runCommand('bgnSetNx', [k, id, KEEP_MS]);
      if (set !== 'OK') {
        const existing = await client.get(k);
        const job = existing ? await this.get(existing) : undefined;
        if (job) return { job, created: false };
        await client.set(k, id, { PX: KEEP_MS });
      }
    }
    const attempts = opts.maxAttempts ?? this.opts.attempts;
    const data: JobData = { kind, payload, ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) };
    const job = await this.jobs.add(kind, data, {
      jobId: id,
      attempts,
      backoff: { type: 'exponential', delay: this.opts.backoffMs },
      // Kept until sweepFinished: their files and webhook go with them.
      removeOnComplete: false,
      removeOnFail: false,
    });
    return { job: await this.toRecord(job, 'waiting'), created: true };
  }

  async get(id: string): Promise<JobRecord | undefined> {
    // State first, then the job's hash: the hash is then at least as new as the state (a job that
    // just failed is never shown as failed without its reason).
    const state = await this.jobs.getJobState(id);
    const job = state === 'unknown' ? undefined : await Job.fromId(this.jobs, id);
    if (job) return this.toRecord(job, state);
    const client = await this.jobs.client;
    const tomb = await client.get(this.key('cancelled', id));
    return tomb ? (JSON.parse(tomb) as JobRecord) : undefined;
  }

  async counts(): Promise<{ queued: number; running: number }> {
    const c = await this.jobs.getJobCounts('waiting', 'delayed', 'prioritized', 'paused', 'active');
    return {
      queued: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0),
      running: c.active ?? 0,
    };
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = await Job.fromId(this.jobs, id);
    if (!job) return this.get(id);
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return this.toRecord(job, state);
    const client = await this.jobs.client;
    if (state !== 'active') {
      const rec = await this.toRecord(job, state);
      try {
        await job.remove();
        const now = Date.now();
        const ended: JobRecord = {
          ...rec,
          status: 'cancelled',
          error: { code: 'E_CANCELLED', message: 'The job was cancelled before it started.' },
          updatedAt: now,
          finishedAt: now,
        };
        await client.set(this.key('cancelled', id), JSON.stringify(ended));
        await client.runCommand('bgnZAdd', [this.key('cancelled-at'), now, id]);
        const msg = this.opts.onTerminal?.(ended);
        if (msg) await this.addDelivery(msg, id);
        return ended;
      } catch {
        // it became active meanwhile: ask its worker to stop
      }
    }
    await client.set(this.key('cancel', id), '1', { PX: KEEP_MS });
    const local = this.active.get(id);
    if (local) {
      local.why = 'cancel';
      local.ac.abort(new Error('cancelled'));
    }
    return this.get(id);
  }

  async waitFor(id: string, timeoutMs: number): Promise<JobRecord | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const rec = await this.get(id);
      if (!rec || TERMINAL.has(rec.status) || Date.now() >= end || this.closing) return rec;
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, end - Date.now()))));
    }
  }

  startWorker(handler: JobHandler, concurrency: number): void {
    this.worker = new Worker('jobs', async (job, token) => this.process(job, token, handler), {
      connection: this.connection,
      prefix: this.prefix,
      concurrency,
      lockDuration: this.opts.leaseMs,
      stalledInterval: this.opts.leaseMs,
      maxStalledCount: Math.max(1, this.opts.attempts),
    });
    this.worker.on('error', (err) => this.opts.log?.('error', 'redis worker error', { error: err.message }));
    this.cancelPoll = setInterval(() => void this.checkCancels(), 500);
  }

  private async checkCancels(): Promise<void> {
    if (this.active.size === 0) return;
    try {
      const client = await this.jobs.client;
      for (const [id, a] of this.active) {
        if (a.ac.signal.aborted) continue;
        if (await client.get(this.key('cancel', id))) {
          a.why = 'cancel';
          a.ac.abort(new Error('cancelled'));
        }
      }
    } catch (err) {
      this.opts.log?.('warn', 'cancel check failed', { error: (err as Error).message });
    }
  }

  private async process(job: Job, token: string | undefined, handler: JobHandler): Promise<unknown> {
    const ac = new AbortController();
    const entry: Active = { ac, done: Promise.resolve() };
    this.active.set(job.id!, entry);
    let lastWrite = 0;
    const rec = await this.toRecord(job, 'active');
    const client = await this.jobs.client;
    const run = (async () => {
      try {
        if (await client.get(this.key('cancel', job.id!))) {
          entry.why = 'cancel';
          throw new Error('cancelled');
        }
        const result = await handler(rec, {
          signal: ac.signal,
          attempt: job.attemptsMade + 1,
          progress: (fraction, stage) => {
            const now = Date.now();
            if (now - lastWrite < 250 && fraction < 1) return;
            lastWrite = now;
            void job
              .updateProgress({ progress: Math.max(0, Math.min(1, fraction)), ...(stage ? { stage } : {}) })
              .catch(() => {});
          },
        });
        const now = Date.now();
        const msg = this.opts.onTerminal?.({
          ...rec,
          status: 'succeeded',
          result,
          progress: 1,
          updatedAt: now,
          finishedAt: now,
        });
        if (msg) await this.addDelivery(msg, rec.id);
        return result;
      } catch (err) {
        if (entry.why === 'shutdown') {
          // Not the job's fault: back in the queue without counting the try.
          await job.moveToDelayed(Date.now() + 1, token);
          throw new DelayedError();
        }
        const e = toJobError(err);
        const cancelled = entry.why === 'cancel';
        const error: JobError = cancelled
          ? { code: 'E_CANCELLED', message: 'The job was cancelled while it ran.' }
          : { code: e.code, message: e.message };
        const attempts = job.opts.attempts ?? 1;
        if (!cancelled && e.retryable && job.attemptsMade + 1 < attempts) throw new Error(encodeError(error));
        const now = Date.now();
        const msg = this.opts.onTerminal?.({
          ...rec,
          status: cancelled ? 'cancelled' : 'failed',
          error,
          updatedAt: now,
          finishedAt: now,
        });
        if (msg) await this.addDelivery(msg, rec.id);
        throw new UnrecoverableError(encodeError(error));
      }
    })();
    entry.done = run.catch(() => {});
    try {
      return await run;
    } finally {
      this.active.delete(job.id!);
    }
  }

  // ---- webhooks ------------------------------------------------------------------------------

  private async addDelivery(msg: WebhookMessage, jobId: string): Promise<void> {
    // Which webhook announces which job: the sweep keeps a job while its webhook is pending.
    await (await this.jobs.client).hset(this.key('hooks'), { [jobId]: msg.id });
    await this.hooks.add('webhook', msg, {
      jobId: msg.id,
      // The message is written before BullMQ marks the job ended (so a crash cannot lose it); the
      // first attempt waits a moment so that a receiver reading the job sees it ended.
      delay: 1000,
      attempts: this.opts.webhookSchedule.length + 1,
      backoff: { type: 'webhook' },
      removeOnComplete: { age: KEEP_MS / 1000 },
      removeOnFail: { age: (4 * KEEP_MS) / 1000 },
    });
  }

  startDeliveries(send: WebhookSender): void {
    const schedule = this.opts.webhookSchedule;
    this.hookWorker = new Worker(
      'webhooks',
      async (job) => {
        const msg = job.data as WebhookMessage;
        const outcome = await send(msg, job.attemptsMade + 1);
        this.opts.log?.(outcome.kind === 'delivered' ? 'debug' : 'warn', `webhook ${outcome.kind}`, {
          webhookId: msg.id,
          attempt: job.attemptsMade + 1,
        });
        if (outcome.kind === 'delivered') return { status: outcome.status };
        if (outcome.kind === 'gone') throw new UnrecoverableError(`gone: HTTP ${outcome.status}`);
        throw new Error(outcome.error);
      },
      {
        connection: this.connection,
        prefix: this.prefix,
        concurrency: 8,
        settings: {
          backoffStrategy: (attemptsMade: number) =>
            schedule[Math.max(0, attemptsMade - 1)] ?? schedule[schedule.length - 1] ?? 0,
        },
      },
    );
    this.hookWorker.on('error', (err) =>
      this.opts.log?.('error', 'redis webhook worker error', { error: err.message }),
    );
  }

  async getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const job = await Job.fromId(this.hooks, id);
    if (!job) return undefined;
    const state = await job.getState();
    const msg = job.data as WebhookMessage;
    const status: DeliveryRecord['status'] =
      state === 'completed'
        ? 'delivered'
        : state === 'failed'
          ? job.failedReason?.startsWith('gone')
            ? 'gone'
            : 'failed'
          : 'pending';
    const rec: DeliveryRecord = { id, url: msg.url, status, attempts: job.attemptsStarted ?? job.attemptsMade };
    if (job.failedReason && status !== 'delivered') rec.lastError = job.failedReason;
    const rv = job.returnvalue as { status?: number } | undefined;
    if (rv?.status) rec.lastStatus = rv.status;
    return rec;
  }

  // ---- retention ------------------------------------------------------------------------------

  async sweepFinished(finishedBefore: number, limit: number): Promise<JobRecord[]> {
    const client = await this.jobs.client;
    const out: JobRecord[] = [];
    const want = Math.max(1, limit);
    // BullMQ scores its completed and failed sets by finishedOn.
    for (const state of ['completed', 'failed'] as const) {
      const set = this.jobs.toKey(state);
      await this.scanEnded(set, finishedBefore, want - out.length, async (id) => {
        const job = await Job.fromId(this.jobs, id);
        if (!job) return void (await client.runCommand('bgnZRem', [set, id]));
        const rec = await this.toRecord(job, state);
        if ((await this.jobs.remove(id)) === 1) out.push(rec);
      });
    }
    // Jobs cancelled before they started: a record of their own, not in BullMQ's sets.
    const ended = this.key('cancelled-at');
    await this.scanEnded(ended, finishedBefore, want - out.length, async (id) => {
      const tomb = await client.get(this.key('cancelled', id));
      await client.del(this.key('cancelled', id));
      const removed = (await client.runCommand('bgnZRem', [ended, id])) === 1;
      if (removed && tomb) out.push(JSON.parse(tomb) as JobRecord);
    });
    return out;
  }

  /**
   * Calls `remove` for up to `want` ids of the sorted set `set` scored before `before`, oldest
   * first, skipping those whose webhook is pending (they stay in the set; `remove` takes the rest out).
   */
  private async scanEnded(set: string, before: number, want: number, remove: (id: string) => Promise<void>) {
    const client = await this.jobs.client;
    let kept = 0;
    let done = 0;
    while (done < want) {
      const n = want - done;
      const ids = (await client.runCommand('bgnZBefore', [set, before, kept, n])) as string[];
      for (const id of ids) {
        if (!(await this.forgetDelivery(id))) kept++;
        else {
          await remove(id);
          done++;
        }
      }
      if (ids.length < n) break;
    }
  }

  /** False while the job's webhook may still be sent; else removes the ended delivery and says true. */
  private async forgetDelivery(jobId: string): Promise<boolean> {
    const client = await this.jobs.client;
    const msgId = await client.hget(this.key('hooks'), jobId);
    if (!msgId) return true;
    const state = await this.hooks.getJobState(msgId);
    if (HOOK_PENDING.has(state)) return false;
    if (state !== 'unknown') await this.hooks.remove(msgId);
    await client.hdel(this.key('hooks'), jobId);
    return true;
  }

  // ---- shutdown -------------------------------------------------------------------------------

  async close(graceMs = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.cancelPoll) clearInterval(this.cancelPoll);
    if (this.worker) {
      // Take no new jobs; give the running ones the grace period, then put them back.
      const pausing = this.worker.pause(true).catch(() => {});
      const running = [...this.active.values()];
      if (running.length) {
        await Promise.race([Promise.all(running.map((a) => a.done)), new Promise((r) => setTimeout(r, graceMs))]);
        for (const a of this.active.values()) {
          a.why = 'shutdown';
          a.ac.abort(new Error('shutdown'));
        }
      }
      await pausing;
      await this.worker.close();
    }
    await this.hookWorker?.close();
    await this.jobs.close();
    await this.hooks.close();
  }
}
