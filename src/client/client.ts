/**
 * The HTTP client of a bg-native server (`bg-native serve`).
 *
 *   replace() / cleanup()   POST /v1/replace|cleanup, then — when the server answers 202 — poll the
 *                           job until it ends; resolve with the finished job (result URLs absolute)
 *   enqueue()               POST /api/background/replace (the seed API): the job id at once
 *   getJob() / cancelJob()  GET / DELETE /v1/jobs/:id
 *   waitForJob()            poll until the job ends
 *   health() / isHealthy()  GET /health
 *   download()              an artifact's bytes (the token goes to the API's own origin only)
 *
 * Every request is retried on network errors, 429 and 5xx (except answers that carry a finished
 * job, and codes no retry can fix) with exponential backoff and jitter; Retry-After is honoured.
 * POSTs carry an Idempotency-Key (random per call unless given), so a retry never starts a
 * second job. Each call has one deadline (timeoutMs) covering its retries and waiting; an
 * AbortSignal cancels it — and the server job replace()/cleanup() started.
 *
 * The parts, each a function of the client's state (transport.ts): the transport and its retries
 * (transport.ts, call-scope.ts), job polling (job-polling.ts), sending the photo (uploads.ts),
 * replace/cleanup (run-job.ts), the seed API (enqueue.ts), downloads (download.ts) and the
 * single-request calls (server-calls.ts).
 */
import { resolveClientConfig, type ClientOptions, type ResolvedClientConfig } from './config.js';
import { download } from './download.js';
import { enqueue } from './enqueue.js';
import { checkId, getJob, waitForJob } from './job-polling.js';
import { runJob } from './run-job.js';
import { cancelJob, health, isHealthy, preview } from './server-calls.js';
import { clientState, inScope } from './transport.js';
import type {
  CallOptions,
  CleanupRequest,
  CompletedJob,
  EnqueueRequest,
  EnqueueResponse,
  Health,
  Job,
  ReplaceRequest,
  WaitOptions,
} from './types.js';

export { parseRetryAfterHeader } from './transport.js';

export interface BackgroundClient {
  /** The settings in use (token left out). */
  readonly config: Readonly<Omit<ResolvedClientConfig, 'token' | 'fetch' | 'onRetry'>> & { hasToken: boolean };
  replace(req: ReplaceRequest): Promise<CompletedJob>;
  cleanup(req: CleanupRequest): Promise<CompletedJob>;
  enqueue(req: EnqueueRequest): Promise<EnqueueResponse>;
  getJob(jobId: string, opts?: CallOptions): Promise<Job>;
  cancelJob(jobId: string, opts?: CallOptions): Promise<Job>;
  waitForJob(jobId: string, opts?: WaitOptions): Promise<Job>;
  health(opts?: CallOptions): Promise<Health>;
  /** true when /health answers `ok` within `timeoutMs` (default 5000); never throws, never retries. */
  isHealthy(opts?: CallOptions): Promise<boolean>;
  /** The bytes at an artifact URL (absolute, or relative to the API). */
  download(url: string, opts?: CallOptions): Promise<Buffer>;
  /** A running job's latest step preview (JPEG; the job asked for previewEvery), or undefined when there is none. */
  preview(jobId: string, opts?: CallOptions): Promise<Buffer | undefined>;
}

/** The client. Options win over the environment (BACKGROUND_API_URL, API_TOKEN, BACKGROUND_TIMEOUT, …). */
export function createClient(options: ClientOptions = {}): BackgroundClient {
  const cfg = resolveClientConfig(options);
  const state = clientState(cfg);
  return {
    config: {
      baseUrl: cfg.baseUrl,
      hasToken: Boolean(cfg.token),
      timeoutMs: cfg.timeoutMs,
      retryAttempts: cfg.retryAttempts,
      retryDelayMs: cfg.retryDelayMs,
      maxRetryDelayMs: cfg.maxRetryDelayMs,
      pollMs: cfg.pollMs,
      syncWaitMs: cfg.syncWaitMs,
      upload: cfg.upload,
      headers: cfg.headers,
    },
    replace: (req) => runJob(state, 'replace', req),
    cleanup: (req) => runJob(state, 'cleanup', req),
    enqueue: (req) => enqueue(state, req),
    getJob: (jobId, opts) => inScope(state, opts, (scope) => getJob(state, checkId(jobId), scope)),
    cancelJob: (jobId, opts) => cancelJob(state, jobId, opts),
    waitForJob: (jobId, opts = {}) => inScope(state, opts, (scope) => waitForJob(state, checkId(jobId), scope, opts)),
    health: (opts) => health(state, opts),
    isHealthy: (opts) => isHealthy(state, opts),
    download: (url, opts) => inScope(state, opts, (scope) => download(state, url, scope)),
    preview: (jobId, opts) => preview(state, jobId, opts),
  };
}
