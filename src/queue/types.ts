/**
 * The job queue contract the server and the worker use, with two implementations: an embedded
 * SQLite file (one machine, the default) and BullMQ on Redis (several processes and machines).
 * Both are at-least-once: a job whose worker dies is run again, so handlers must be idempotent
 * (the server's write their artifacts under the job's id, atomically).
 *
 * The webhook outbox lives in the same store: the message announcing a job's end is written in
 * the same step that ends the job, so a crash can neither lose it nor send it for a job that
 * did not end.
 */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobError {
  code: string;
  message: string;
}

export interface JobRecord<P = unknown, R = unknown> {
  id: string;
  kind: string;
  status: JobStatus;
  /** 0..1 */
  progress: number;
  stage?: string;
  payload: P;
  result?: R;
  error?: JobError;
  /** Tries started so far. */
  attempts: number;
  maxAttempts: number;
  idempotencyKey?: string;
  createdAt: number;
  updatedAt: number;
  startedAt?: number;
  finishedAt?: number;
}

export interface JobContext {
  /** Aborted on cancel, timeout or shutdown. */
  signal: AbortSignal;
  /** 1 for the first try. */
  attempt: number;
  progress(fraction: number, stage?: string): void;
}

export type JobHandler = (job: JobRecord, ctx: JobContext) => Promise<unknown>;

/** An error a handler throws to say whether trying again could help. */
export class JobFailure extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(code: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JobFailure';
    this.code = code;
    this.retryable = retryable;
  }
}

export function toJobError(err: unknown): JobError & { retryable: boolean } {
  if (err instanceof JobFailure) return { code: err.code, message: err.message, retryable: err.retryable };
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && /^E_[A-Z_]+$/.test(e.code) ? e.code : 'E_INTERNAL';
  return {
    code,
    message: typeof e?.message === 'string' ? e.message : String(err),
    retryable: code === 'E_INTERNAL' || code === 'E_IO',
  };
}

/** One webhook message: the same `id` (webhook-id) on every attempt. */
export interface WebhookMessage {
  id: string;
  url: string;
  /** The JSON body, signed as is. */
  body: string;
}

export type DeliveryOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'gone'; status: number }
  | { kind: 'retry'; status?: number; error: string };

export type WebhookSender = (msg: WebhookMessage, attempt: number) => Promise<DeliveryOutcome>;

export interface DeliveryRecord {
  id: string;
  jobId?: string;
  url: string;
  status: 'pending' | 'delivered' | 'gone' | 'failed';
  attempts: number;
  lastStatus?: number;
  lastError?: string;
  nextAt?: number;
}

export interface EnqueueOptions {
  /** Same key → the same job (the first one enqueued with it). */
  idempotencyKey?: string;
  maxAttempts?: number;
}

export interface QueueOptions {
  /** Delay before the first retry (doubles per try). */
  backoffMs: number;
  /** Tries per job unless the enqueue says otherwise. */
  attempts: number;
  leaseMs: number;
  pollMs: number;
  /** Delays between webhook attempts; its length + 1 is the number of attempts. */
  webhookSchedule: readonly number[];
  /** Builds the message announcing a job's end (undefined: none). Called once per job, when it ends. */
  onTerminal?: (job: JobRecord) => WebhookMessage | undefined;
  /** Log hook: never receives secrets. */
  log?: (level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>) => void;
}

export interface JobQueue {
  readonly backend: 'sqlite' | 'redis';
  enqueue(kind: string, payload: unknown, opts?: EnqueueOptions): Promise<{ job: JobRecord; created: boolean }>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Cancels a queued job at once; asks a running one to stop. Undefined when there is no such job. */
  cancel(id: string): Promise<JobRecord | undefined>;
  counts(): Promise<{ queued: number; running: number }>;
  /** Resolves with the job once it has ended, or with its current state after `timeoutMs`. */
  waitFor(id: string, timeoutMs: number): Promise<JobRecord | undefined>;
  /** Starts running jobs with `handler`, `concurrency` at a time (0: none). */
  startWorker(handler: JobHandler, concurrency: number): void;
  /** Starts sending webhook messages. */
  startDeliveries(send: WebhookSender): void;
  getDelivery(id: string): Promise<DeliveryRecord | undefined>;
  /**
   * Deletes up to `limit` ended jobs (succeeded, failed, cancelled) that finished before
   * `finishedBefore` (ms since the epoch), with their ended webhook deliveries, and returns them.
   * A job whose webhook is still being delivered is kept; queued and running jobs are never touched.
   */
  sweepFinished(finishedBefore: number, limit: number): Promise<JobRecord[]>;
  /**
   * Stops taking work; running jobs get `graceMs` to finish, then are aborted and put back in the
   * queue (not counted as a try).
   */
  close(graceMs?: number): Promise<void>;
}

export const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);
