/**
 * The embedded queue: jobs and webhook deliveries in one SQLite file (WAL). Several processes on
 * one machine may share the file. A worker claims a job by leasing it (owner + lease_until) and
 * renews the lease while the job runs; a job whose lease ran out — or whose owner process on this
 * host is gone, as after `kill -9` — is queued again. Every state change is one transaction.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import Database from 'better-sqlite3';

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
  type DeliveryOutcome,
} from './types.js';

interface JobRow {
  id: string;
  kind: string;
  status: JobStatus;
  payload: string;
  result: string | null;
  error: string | null;
  progress: number;
  stage: string | null;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  owner: string | null;
  cancel_requested: number;
  idempotency_key: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

interface DeliveryRow {
  id: string;
  job_id: string | null;
  url: string;
  body: string;
  status: DeliveryRecord['status'];
  attempts: number;
  next_at: number;
  last_status: number | null;
  last_error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  payload TEXT NOT NULL,
  result TEXT,
  error TEXT,
  progress REAL NOT NULL DEFAULT 0,
  stage TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  lease_until INTEGER,
  owner TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(status, run_at);
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  job_id TEXT,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  lease_until INTEGER,
  owner TEXT,
  last_status INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, next_at);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS deliveries_job ON deliveries(job_id);
`;

function toRecord(row: JobRow): JobRecord {
  const rec: JobRecord = {
    id: row.id,
    kind: row.kind,
    status: row.status,
    progress: row.progress,
    payload: JSON.parse(row.payload),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.stage) rec.stage = row.stage;
  if (row.result) rec.result = JSON.parse(row.result);
  if (row.error) rec.error = JSON.parse(row.error) as JobError;
  if (row.idempotency_key) rec.idempotencyKey = row.idempotency_key;
  if (row.started_at) rec.startedAt = row.started_at;
  if (row.finished_at) rec.finishedAt = row.finished_at;
  return rec;
}

/** `host/pid/random`: tells a restarted process which leases belonged to a dead process on this host. */
function makeOwner(): string {
  return `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

function ownerIsDead(owner: string): boolean {
  const [host, pidText] = owner.split('/');
  if (host !== os.hostname()) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return !liveOwners.has(owner);
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
/** Owners of the queues open in this process. */
const liveOwners = new Set<string>();

interface Running {
  job: JobRecord;
  ac: AbortController;
  why?: 'cancel' | 'shutdown';
  done: Promise<void>;
}

export class SqliteQueue implements JobQueue {
  readonly backend = 'sqlite' as const;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly opts: QueueOptions;
  private readonly owner = makeOwner();
  private readonly events = new EventEmitter();
  private readonly running = new Map<string, Running>();
  private handler?: JobHandler;
  private concurrency = 0;
  private sender?: WebhookSender;
  private sending = 0;
  private timers: NodeJS.Timeout[] = [];
  private closing = false;
  private closed = false;
  private lastProgressWrite = new Map<string, number>();

  constructor(file: string, opts: QueueOptions) {
    this.file = path.resolve(file);
    this.opts = opts;
    liveOwners.add(this.owner);
    mkdirSync(path.dirname(this.file), { recursive: true });
    this.db = new Database(this.file);
    // A new file gives the pages of swept jobs back to the file system (sweepFinished); an older
    // file keeps them on its free list and reuses them, so it stops growing either way.
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('journal_size_limit = 8388608');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.events.setMaxListeners(0);
  }

  private log(level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, extra);
  }

  async enqueue(
    kind: string,
    payload: unknown,
    opts: EnqueueOptions = {},
  ): Promise<{ job: JobRecord; created: boolean }> {
    const now = Date.now();
    const id = `job_${randomUUID()}`;
    const tx = this.db.transaction(() => {
      if (opts.idempotencyKey) {
        const existing = this.db.prepare('SELECT * FROM jobs WHERE idempotency_key = ?').get(opts.idempotencyKey) as
          | JobRow
          | undefined;
        if (existing) return { job: toRecord(existing), created: false };
      }
      this.db
        .prepare(
          `INSERT INTO jobs (id, kind, status, payload, max_attempts, run_at, idempotency_key, created_at, updated_at)
           VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          kind,
          JSON.stringify(payload),
          opts.maxAttempts ?? this.opts.attempts,
          now,
          opts.idempotencyKey ?? null,
          now,
          now,
        );
      return { job: toRecord(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow), created: true };
    });
    const out = tx.immediate();
    if (out.created) setImmediate(() => this.tick());
    return out;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  async counts(): Promise<{ queued: number; running: number }> {
    const rows = this.db
      .prepare(`SELECT status, COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') GROUP BY status`)
      .all() as {
      status: string;
      n: number;
    }[];
    const get = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
    return { queued: get('queued'), running: get('running') };
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const tx = this.db.transaction(() => {
      const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
      if (!row) return undefined;
      if (row.status === 'queued') {
        this.endJob(row, 'cancelled', undefined, {
          code: 'E_CANCELLED',
          message: 'The job was cancelled before it started.',
        });
      } else if (row.status === 'running') {
        this.db.prepare('UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?').run(Date.now(), id);
      }
      return row.status;
    });
    const before = tx.immediate();
    if (before === undefined) return undefined;
    const local = this.running.get(id);
    if (local && before === 'running') {
      local.why = 'cancel';
      local.ac.abort(new Error('cancelled'));
    }
    if (before === 'queued') this.events.emit(`end:${id}`);
    return this.get(id);
  }

  async waitFor(id: string, timeoutMs: number): Promise<JobRecord | undefined> {
    const first = await this.get(id);
    if (!first || TERMINAL.has(first.status) || timeoutMs <= 0) return first;
    return new Promise((resolve) => {
      let settled = false;
      const onEnd = () => {
        const row = this.db.prepare('SELECT status FROM jobs WHERE id = ?').get(id) as
          | { status: JobStatus }
          | undefined;
        if (!row || TERMINAL.has(row.status)) finish();
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        this.events.off(`end:${id}`, onEnd);
        resolve(this.get(id));
      };
      const timer = setTimeout(finish, timeoutMs);
      // Another process may end the job: look at the file now and then too.
      const poll = setInterval(onEnd, Math.max(50, Math.min(this.opts.pollMs, 250)));
      this.events.on(`end:${id}`, onEnd);
    });
  }

  startWorker(handler: JobHandler, concurrency: number): void {
    this.handler = handler;
    this.concurrency = concurrency;
    this.reclaim();
    this.timers.push(setInterval(() => this.tick(), this.opts.pollMs));
    this.timers.push(setInterval(() => this.heartbeat(), Math.max(50, Math.floor(this.opts.leaseMs / 3))));
    setImmediate(() => this.tick());
  }

  startDeliveries(send: WebhookSender): void {
    this.sender = send;
    this.timers.push(setInterval(() => this.deliverDue(), Math.max(50, Math.min(this.opts.pollMs, 1000))));
    setImmediate(() => this.deliverDue());
  }

  async getDelivery(id: string): Promise<DeliveryRecord | undefined> {
    const row = this.db.prepare('SELECT * FROM deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    if (!row) return undefined;
    const rec: DeliveryRecord = { id: row.id, url: row.url, status: row.status, attempts: row.attempts };
    if (row.job_id) rec.jobId = row.job_id;
    if (row.last_status !== null) rec.lastStatus = row.last_status;
    if (row.last_error !== null) rec.lastError = row.last_error;
    if (row.status === 'pending') rec.nextAt = row.next_at;
    return rec;
  }

  async sweepFinished(finishedBefore: number, limit: number): Promise<JobRecord[]> {
    const tx = this.db.transaction(() => {
      const rows = this.db
        .prepare(
          `DELETE FROM jobs WHERE id IN (
             SELECT j.id FROM jobs j
             WHERE j.finished_at < ? AND j.status IN ('succeeded', 'failed', 'cancelled')
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.job_id = j.id AND d.status = 'pending')
             ORDER BY j.finished_at LIMIT ?)
           RETURNING *`,
        )
        .all(finishedBefore, Math.max(1, limit)) as JobRow[];
      const forget = this.db.prepare(`DELETE FROM deliveries WHERE job_id = ? AND status != 'pending'`);
      for (const row of rows) forget.run(row.id);
      return rows;
    });
    const rows = tx.immediate();
    if (rows.length > 0) this.db.pragma('incremental_vacuum');
    return rows.map(toRecord);
  }

  // ---- jobs ----------------------------------------------------------------------------------

  /** Ends a job (inside a transaction) and writes its webhook message. */
  private endJob(
    row: JobRow,
    status: 'succeeded' | 'failed' | 'cancelled',
    result: unknown,
    error: JobError | undefined,
  ): void {
    const now = Date.now();
    this.db
      .prepare(
        `UPDATE jobs SET status = ?, result = ?, error = ?,
         progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END,
         stage = CASE WHEN status = 'running' OR ? = 'succeeded' THEN ? ELSE stage END,
         owner = NULL, lease_until = NULL, finished_at = ?, updated_at = ? WHERE id = ?`,
      )
      .run(
        status,
        result === undefined ? null : JSON.stringify(result),
        error ? JSON.stringify(error) : null,
        status,
        status,
        status === 'succeeded' ? 'done' : row.stage,
        now,
        now,
        row.id,
      );
    const ended = toRecord(this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(row.id) as JobRow);
    const msg = this.opts.onTerminal?.(ended);
    if (msg) this.insertDelivery(msg, row.id);
  }

  private insertDelivery(msg: WebhookMessage, jobId: string | null): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT OR IGNORE INTO deliveries (id, job_id, url, body, status, next_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
      )
      .run(msg.id, jobId, msg.url, msg.body, now, now, now);
    setImmediate(() => this.deliverDue());
  }

  /** Queues again the jobs whose lease ran out or whose owner process died. */
  private reclaim(): void {
    const now = Date.now();
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE status = 'running'`).all() as JobRow[];
    for (const row of rows) {
      if (row.owner === this.owner) continue;
      const expired = (row.lease_until ?? 0) < now;
      if (!expired && !(row.owner && ownerIsDead(row.owner))) continue;
      const tx = this.db.transaction(() => {
        const cur = this.db
          .prepare(`SELECT * FROM jobs WHERE id = ? AND status = 'running' AND owner IS ?`)
          .get(row.id, row.owner) as JobRow | undefined;
        if (!cur) return;
        if (cur.cancel_requested) {
          this.endJob(cur, 'cancelled', undefined, { code: 'E_CANCELLED', message: 'The job was cancelled.' });
        } else if (cur.attempts >= cur.max_attempts) {
          this.endJob(cur, 'failed', undefined, {
            code: 'E_INTERNAL',
            message: `The worker running this job stopped ${cur.attempts} times; giving up.`,
          });
        } else {
          this.db
            .prepare(
              `UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL, run_at = ?, updated_at = ` +
                '? WHERE id = ?',
            )
            .run(now, now, cur.id);
        }
      });
      tx.immediate();
      this.log('warn', 'job reclaimed from a stopped worker', { jobId: row.id, owner: row.owner });
    }
  }

  private claim(): JobRow | undefined {
    const now = Date.now();
    return this.db
      .prepare(
        `UPDATE jobs SET status = 'running', owner = ?, lease_until = ?, attempts = attempts + 1,
         started_at = ?, updated_at = ?
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= ? ORDER BY run_at, rowid LIMIT 1)
         RETURNING *`,
      )
      .get(this.owner, now + this.opts.leaseMs, now, now, now) as JobRow | undefined;
  }

  private tick(): void {
    if (this.closing || this.closed || !this.handler) return;
    try {
      this.reclaim();
      while (this.running.size < this.concurrency) {
        const row = this.claim();
        if (!row) break;
        this.run(row);
      }
    } catch (err) {
      this.log('error', 'queue poll failed', { error: (err as Error).message });
    }
  }

  private heartbeat(): void {
    if (this.closed || this.running.size === 0) return;
    const now = Date.now();
    const renew = this.db.prepare(
      'UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ? RETURNING cancel_requested',
    );
    for (const [id, r] of this.running) {
      const row = renew.get(now + this.opts.leaseMs, id, this.owner) as { cancel_requested: number } | undefined;
      if (row?.cancel_requested && !r.ac.signal.aborted) {
        r.why = 'cancel';
        r.ac.abort(new Error('cancelled'));
      }
    }
  }

  private run(row: JobRow): void {
    const job = toRecord(row);
    const ac = new AbortController();
    const entry: Running = { job, ac, done: Promise.resolve() };
    this.running.set(job.id, entry);
    const progress = (fraction: number, stage?: string) => {
      const now = Date.now();
      const last = this.lastProgressWrite.get(job.id) ?? 0;
      if (now - last < 200 && fraction < 1) return;
      this.lastProgressWrite.set(job.id, now);
      if (this.closed) return;
      this.db
        .prepare('UPDATE jobs SET progress = ?, stage = ?, updated_at = ? WHERE id = ? AND owner = ?')
        .run(Math.max(0, Math.min(1, fraction)), stage ?? null, now, job.id, this.owner);
    };
    this.log('debug', 'job started', { jobId: job.id, attempt: job.attempts });
    entry.done = (async () => {
      let outcome: { ok: true; result: unknown } | { ok: false; err: unknown };
      try {
        outcome = {
          ok: true,
          result: await this.handler!(job, { signal: ac.signal, attempt: job.attempts, progress }),
        };
      } catch (err) {
        outcome = { ok: false, err };
      }
      this.running.delete(job.id);
      this.lastProgressWrite.delete(job.id);
      if (this.closed) return;
      this.settle(job, entry, outcome);
      this.events.emit(`end:${job.id}`);
      setImmediate(() => this.tick());
    })();
  }

  private settle(
    job: JobRecord,
    entry: Running,
    outcome: { ok: true; result: unknown } | { ok: false; err: unknown },
  ): void {
    const tx = this.db.transaction(() => {
      const row = this.db
        .prepare(`SELECT * FROM jobs WHERE id = ? AND owner = ? AND status = 'running'`)
        .get(job.id, this.owner) as JobRow | undefined;
      if (!row) return; // reclaimed meanwhile (lease lost): the other run decides
      const now = Date.now();
      if (outcome.ok) return this.endJob(row, 'succeeded', outcome.result, undefined);
      if (entry.why === 'shutdown') {
        // Not the job's fault: back in the queue without counting the try.
        this.db
          .prepare(
            `UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL, attempts = attempts - 1, ` +
              'run_at = ?, updated_at = ? WHERE id = ?',
          )
          .run(now, now, row.id);
        return;
      }
      const e = toJobError(outcome.err);
      if (entry.why === 'cancel' || row.cancel_requested) {
        return this.endJob(row, 'cancelled', undefined, {
          code: 'E_CANCELLED',
          message: 'The job was cancelled while it ran.',
        });
      }
      if (e.retryable && row.attempts < row.max_attempts) {
        const delay = this.opts.backoffMs * 2 ** (row.attempts - 1);
        this.db
          .prepare(
            `UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL, run_at = ?, error = ?, ` +
              'updated_at = ? WHERE id = ?',
          )
          .run(now + delay, JSON.stringify({ code: e.code, message: e.message }), now, row.id);
        this.log('warn', 'job failed, will retry', {
          jobId: row.id,
          attempt: row.attempts,
          code: e.code,
          retryInMs: delay,
        });
        return;
      }
      this.endJob(row, 'failed', undefined, { code: e.code, message: e.message });
    });
    tx.immediate();
  }

  // ---- webhooks ------------------------------------------------------------------------------

  private deliverDue(): void {
    if (this.closing || this.closed || !this.sender) return;
    const limit = 8 - this.sending;
    if (limit <= 0) return;
    const now = Date.now();
    const rows = this.db
      .prepare(
        `UPDATE deliveries SET owner = ?, lease_until = ?, updated_at = ?
         WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= ?
                      AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_at LIMIT ?)
         RETURNING *`,
      )
      .all(this.owner, now + 60_000, now, now, now, limit) as DeliveryRow[];
    for (const row of rows) void this.deliver(row);
  }

  private async deliver(row: DeliveryRow): Promise<void> {
    this.sending++;
    const attempt = row.attempts + 1;
    let outcome: DeliveryOutcome;
    try {
      outcome = await this.sender!({ id: row.id, url: row.url, body: row.body }, attempt);
    } catch (err) {
      outcome = { kind: 'retry' as const, error: (err as Error).message };
    } finally {
      this.sending--;
    }
    if (this.closed) return;
    const now = Date.now();
    const schedule = this.opts.webhookSchedule;
    let status: DeliveryRecord['status'];
    let nextAt = row.next_at;
    if (outcome.kind === 'delivered') status = 'delivered';
    else if (outcome.kind === 'gone') status = 'gone';
    else if (attempt > schedule.length) status = 'failed';
    else {
      status = 'pending';
      nextAt = now + schedule[attempt - 1]!;
    }
    this.db
      .prepare(
        `UPDATE deliveries SET status = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?,
         owner = NULL, lease_until = NULL, updated_at = ?
         WHERE id = ? AND owner = ?`,
      )
      .run(
        status,
        attempt,
        nextAt,
        'status' in outcome ? (outcome.status ?? null) : null,
        outcome.kind === 'retry' ? outcome.error : null,
        now,
        row.id,
        this.owner,
      );
    this.log(status === 'pending' ? 'warn' : status === 'delivered' ? 'debug' : 'warn', `webhook ${status}`, {
      webhookId: row.id,
      attempt,
      ...(outcome.kind === 'retry' ? { error: outcome.error } : { status: outcome.status }),
    });
    if (status === 'pending') {
      const t = setTimeout(() => this.deliverDue(), Math.max(0, nextAt - Date.now()) + 5);
      t.unref();
    }
  }

  // ---- shutdown -------------------------------------------------------------------------------

  async close(graceMs = 0): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const pending = [...this.running.values()];
    if (pending.length) {
      this.log('info', `waiting up to ${graceMs} ms for ${pending.length} running job(s)`);
      const heartbeat = setInterval(() => this.heartbeat(), Math.max(50, Math.floor(this.opts.leaseMs / 3)));
      await Promise.race([Promise.all(pending.map((r) => r.done)), new Promise((r) => setTimeout(r, graceMs))]);
      for (const r of this.running.values()) {
        r.why = 'shutdown';
        r.ac.abort(new Error('shutdown'));
      }
      // A handler that ignores its signal is abandoned after 2 s: its lease runs out and the job runs again elsewhere.
      await Promise.race([
        Promise.all([...this.running.values()].map((r) => r.done)),
        new Promise((r) => setTimeout(r, 2000)),
      ]);
      clearInterval(heartbeat);
    }
    const waitSend = Date.now();
    while (this.sending > 0 && Date.now() - waitSend < 2000) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    liveOwners.delete(this.owner);
    this.db.close();
  }
}
