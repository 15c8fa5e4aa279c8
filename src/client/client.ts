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
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { resolveClientConfig, type ClientOptions, type ResolvedClientConfig } from './config.js';
import { BackgroundApiError } from './errors.js';
import { studioParts } from './studio-files.js';
import type {
  CallOptions,
  CleanupRequest,
  CompletedJob,
  EnqueueRequest,
  EnqueueResponse,
  Health,
  ImageBytes,
  Job,
  JobCallOptions,
  ReplaceRequest,
  WaitOptions,
} from './types.js';

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

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Codes a retry of the same request cannot fix, even when the status is 5xx. */
const PERMANENT = new Set(['E_CONFIG', 'E_MODEL_NOT_FOUND', 'E_MODEL_FORMAT', 'E_MODEL_UNSUPPORTED', 'E_ADDON_LOAD']);

/** Retry-After: seconds or an HTTP date → ms (undefined when absent or unreadable). */
export function parseRetryAfterHeader(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** One call's deadline and cancellation: a signal that fires on either, and which one it was. */
class CallScope {
  readonly signal: AbortSignal;
  readonly deadline: number;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout>;
  private timedOut = false;
  private readonly onUserAbort: () => void;

  constructor(
    readonly timeoutMs: number,
    private readonly user: AbortSignal | undefined,
  ) {
    this.deadline = Date.now() + timeoutMs;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, timeoutMs);
    this.onUserAbort = () => this.controller.abort();
    if (user?.aborted) this.controller.abort();
    else user?.addEventListener('abort', this.onUserAbort, { once: true });
    this.signal = this.controller.signal;
  }

  remaining(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  get cancelledByUser(): boolean {
    return !this.timedOut && (this.user?.aborted ?? false);
  }

  /** The error for an aborted call. */
  abortError(what: string, jobId?: string, cause?: unknown): BackgroundApiError {
    if (this.timedOut || !this.cancelledByUser) {
      return new BackgroundApiError(
        'E_TIMEOUT',
        `${what} did not finish within ${this.timeoutMs} ms${jobId ? `; job ${jobId} may still be running — waitForJob(${JSON.stringify(jobId)}) picks it up` : ''}. Raise timeoutMs (or BACKGROUND_TIMEOUT) for long jobs.`,
        { jobId, retryable: true, cause },
      );
    }
    return new BackgroundApiError('E_CANCELLED', `${what} was cancelled by its AbortSignal.`, { jobId, cause });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.user?.removeEventListener('abort', this.onUserAbort);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  form?: () => FormData;
  idempotencyKey?: string;
  /** false: one try only. */
  retry?: boolean;
  what: string;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

function isBytes(v: unknown): v is ImageBytes {
  return v instanceof Uint8Array || v instanceof ArrayBuffer || (typeof Blob !== 'undefined' && v instanceof Blob);
}

/** The client. Options win over the environment (BACKGROUND_API_URL, API_TOKEN, BACKGROUND_TIMEOUT, …). */
export function createClient(options: ClientOptions = {}): BackgroundClient {
  const cfg = resolveClientConfig(options);
  const apiOrigin = new URL(cfg.baseUrl).origin;

  /** A URL relative to the API (e.g. /files/…) → absolute; absolute URLs stay as they are. */
  function absolute(u: string): string {
    if (/^https?:\/\//i.test(u)) return u;
    return new URL(u.replace(/^\/+/, ''), cfg.baseUrl + '/').toString();
  }

  function headersFor(url: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', ...cfg.headers, ...extra };
    if (cfg.token && new URL(url).origin === apiOrigin) h.authorization = `Bearer ${cfg.token}`;
    return h;
  }

  function errorFromAnswer(a: Answer, spec: RequestSpec, url: string, attempts: number): BackgroundApiError {
    const e = a.body.error as { code?: unknown; message?: unknown } | undefined;
    const jobId = typeof a.body.jobId === 'string' ? a.body.jobId : undefined;
    const code = typeof e?.code === 'string' ? e.code : a.status === 429 ? 'E_RATE_LIMITED' : `E_HTTP_${a.status}`;
    const message = typeof e?.message === 'string' ? e.message : `${spec.what}: the server answered HTTP ${a.status}.`;
    // A finished job's failure (it carries jobId) already had the server's own retries.
    const retryable = !jobId && !PERMANENT.has(code) && (a.status === 429 || (a.status >= 500 && a.status !== 501 && a.status !== 505));
    return new BackgroundApiError(code, message, { status: a.status, jobId, retryable, attempts, method: spec.method, url });
  }

  /** One request with retries, within `scope`. */
  async function request(spec: RequestSpec, scope: CallScope): Promise<Answer> {
    const qs = spec.query && Object.keys(spec.query).length ? `?${new URLSearchParams(spec.query).toString()}` : '';
    const url = `${cfg.baseUrl}${spec.path}${qs}`;
    const maxTries = spec.retry === false ? 1 : cfg.retryAttempts + 1;
    let last: BackgroundApiError | undefined;
    for (let attempt = 1; attempt <= maxTries; attempt++) {
      if (scope.signal.aborted) throw scope.abortError(spec.what, undefined, last);
      const extra: Record<string, string> = {};
      let body: string | FormData | undefined;
      if (spec.json !== undefined) {
        extra['content-type'] = 'application/json';
        body = JSON.stringify(spec.json);
      } else if (spec.form) body = spec.form();
      if (spec.idempotencyKey) extra['idempotency-key'] = spec.idempotencyKey;

      let answer: Answer | undefined;
      let retryAfterMs: number | undefined;
      try {
        const res = await cfg.fetch(url, { method: spec.method, headers: headersFor(url, extra), body, signal: scope.signal });
        const text = await res.text();
        let parsed: unknown = {};
        if (text) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
        }
        if (parsed === undefined || parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          last = new BackgroundApiError(
            res.ok ? 'E_BAD_RESPONSE' : `E_HTTP_${res.status}`,
            `${spec.what}: ${url} answered HTTP ${res.status} with something other than the bg-native API's JSON${res.ok ? '' : ''}. Check BACKGROUND_API_URL.`,
            { status: res.status, retryable: res.status === 429 || res.status >= 500, attempts: attempt, method: spec.method, url },
          );
        } else {
          answer = { status: res.status, body: parsed as Record<string, unknown>, headers: res.headers };
          if (res.ok) return answer;
          last = errorFromAnswer(answer, spec, url, attempt);
        }
        retryAfterMs = parseRetryAfterHeader(res.headers.get('retry-after'));
      } catch (err) {
        if (scope.signal.aborted) throw scope.abortError(spec.what, undefined, err);
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (err as Error).message;
        last = new BackgroundApiError('E_NETWORK', `${spec.what}: could not reach the bg-native server at ${cfg.baseUrl} (${why}). Is it running, and is BACKGROUND_API_URL right?`, {
          retryable: true,
          attempts: attempt,
          method: spec.method,
          url,
          cause: err,
        });
      }
      if (!last.retryable || attempt === maxTries) throw last;
      const backoff = Math.min(cfg.maxRetryDelayMs, cfg.retryDelayMs * 2 ** (attempt - 1));
      const delayMs = retryAfterMs ?? Math.round(backoff / 2 + (Math.random() * backoff) / 2);
      if (delayMs >= scope.remaining()) throw last; // waiting would outlast the deadline: say why now
      cfg.onRetry?.({ retry: attempt, delayMs, error: last });
      await sleep(delayMs, scope.signal);
    }
    throw last!;
  }

  function scopeFor(opts: CallOptions | undefined): CallScope {
    const t = opts?.timeoutMs ?? cfg.timeoutMs;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) throw new BackgroundApiError('E_BAD_INPUT', `timeoutMs must be a positive number of milliseconds, got ${JSON.stringify(t)}.`);
    return new CallScope(t, opts?.signal);
  }

  function checkId(jobId: unknown): string {
    if (typeof jobId !== 'string' || jobId.trim() === '') throw new BackgroundApiError('E_BAD_INPUT', `A job id must be a non-empty string, got ${JSON.stringify(jobId)}.`);
    return jobId;
  }

  function presentJob(body: Record<string, unknown>): Job {
    const job = body as unknown as Job;
    if (typeof job.jobId !== 'string' || typeof job.status !== 'string') {
      throw new BackgroundApiError('E_BAD_RESPONSE', 'The server answered without a job (jobId, status): is BACKGROUND_API_URL a bg-native server?');
    }
    if (job.result) {
      const r = job.result;
      r.outputUrl = absolute(r.outputUrl);
      r.maskUrl = absolute(r.maskUrl);
      if (r.artifacts) r.artifacts = { output: absolute(r.artifacts.output), mask: absolute(r.artifacts.mask) };
    }
    if (typeof job.previewUrl === 'string') job.previewUrl = absolute(job.previewUrl);
    if (typeof job.statusUrl === 'string') job.statusUrl = absolute(job.statusUrl);
    else job.statusUrl = absolute(`/v1/jobs/${encodeURIComponent(job.jobId)}`);
    return job;
  }

  async function getJobIn(jobId: string, scope: CallScope): Promise<Job> {
    const a = await request({ method: 'GET', path: `/v1/jobs/${encodeURIComponent(jobId)}`, what: `getJob(${JSON.stringify(jobId)})` }, scope);
    return presentJob(a.body);
  }

  function jobFailure(job: Job): BackgroundApiError {
    const e = job.error ?? { code: job.status === 'cancelled' ? 'E_CANCELLED' : 'E_INTERNAL', message: `The job ${job.status === 'cancelled' ? 'was cancelled' : 'failed'}.` };
    return new BackgroundApiError(e.code, e.message, { jobId: job.jobId });
  }

  async function waitIn(jobId: string, scope: CallScope, opts: { pollMs?: number | undefined; onProgress?: ((job: Job) => void) | undefined; throwOnFailure?: boolean | undefined }, first?: Job): Promise<Job> {
    const pollMs = opts.pollMs ?? cfg.pollMs;
    let seen = '';
    let job = first;
    for (;;) {
      if (!job) {
        try {
          job = await getJobIn(jobId, scope);
        } catch (err) {
          if (err instanceof BackgroundApiError && (err.code === 'E_TIMEOUT' || err.code === 'E_CANCELLED')) throw scope.abortError(`Waiting for job ${jobId}`, jobId, err);
          throw err;
        }
      }
      const mark = `${job.status}|${job.progress}|${job.stage ?? ''}`;
      if (mark !== seen) {
        seen = mark;
        opts.onProgress?.(job);
      }
      if (TERMINAL.has(job.status)) {
        if (job.status !== 'succeeded' && opts.throwOnFailure !== false) throw jobFailure(job);
        return job;
      }
      if (scope.remaining() <= 0 || scope.signal.aborted) throw scope.abortError(`Waiting for job ${jobId}`, jobId);
      await sleep(Math.min(pollMs, scope.remaining()), scope.signal);
      if (scope.signal.aborted) throw scope.abortError(`Waiting for job ${jobId}`, jobId);
      job = undefined;
    }
  }

  async function saveOutput(job: CompletedJob, saveTo: string, scope: CallScope): Promise<void> {
    const bytes = await downloadIn(job.result.outputUrl, scope);
    const dest = path.resolve(saveTo);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${randomUUID().slice(0, 8)}.tmp`;
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new BackgroundApiError('E_IO', `Cannot write ${dest}: ${(err as Error).message}`, { jobId: job.jobId, cause: err });
    }
    job.savedTo = dest;
  }

  async function downloadIn(u: string, scope: CallScope): Promise<Buffer> {
    const url = absolute(u);
    const maxTries = cfg.retryAttempts + 1;
    for (let attempt = 1; ; attempt++) {
      let err: BackgroundApiError;
      try {
        const res = await cfg.fetch(url, { headers: headersFor(url, { accept: '*/*' }), signal: scope.signal });
        if (res.ok) return Buffer.from(await res.arrayBuffer());
        const text = await res.text().catch(() => '');
        let code = `E_HTTP_${res.status}`;
        let message = `Downloading ${url}: HTTP ${res.status}.`;
        try {
          const b = JSON.parse(text) as { error?: { code?: string; message?: string } };
          if (b.error?.code) code = b.error.code;
          if (b.error?.message) message = b.error.message;
        } catch {
          /* not JSON */
        }
        err = new BackgroundApiError(code, message, { status: res.status, retryable: res.status === 429 || res.status >= 500, attempts: attempt, method: 'GET', url });
      } catch (e) {
        if (e instanceof BackgroundApiError) throw e;
        if (scope.signal.aborted) throw scope.abortError(`Downloading ${url}`, undefined, e);
        err = new BackgroundApiError('E_NETWORK', `Downloading ${url}: ${(e as Error).message}`, { retryable: true, attempts: attempt, method: 'GET', url, cause: e });
      }
      if (!err.retryable || attempt >= maxTries) throw err;
      const backoff = Math.min(cfg.maxRetryDelayMs, cfg.retryDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.round(backoff / 2 + (Math.random() * backoff) / 2);
      if (delayMs >= scope.remaining()) throw err;
      cfg.onRetry?.({ retry: attempt, delayMs, error: err });
      await sleep(delayMs, scope.signal);
    }
  }

  /** Whether a refusal of `imagePath` means "this server cannot read that path" (→ upload instead). */
  function pathRefused(err: unknown): boolean {
    if (!(err instanceof BackgroundApiError) || err.jobId) return false;
    if (err.code === 'E_FORBIDDEN') return true;
    return err.code === 'E_BAD_INPUT' && /\binputPath\b/.test(err.message) && /(does not exist|not a file|must be absolute)/.test(err.message);
  }

  async function runJob(op: 'replace' | 'cleanup', req: ReplaceRequest | CleanupRequest): Promise<CompletedJob> {
    if (req === null || typeof req !== 'object') throw new BackgroundApiError('E_BAD_INPUT', `${op}() takes an object such as { imagePath: '/photos/chair.jpg' }.`);
    const {
      imagePath,
      image,
      imageUrl,
      filename,
      upload: uploadOpt,
      saveTo,
      onProgress,
      idempotencyKey,
      syncWaitMs,
      pollMs,
      timeoutMs,
      signal,
      cleanPlate,
      second,
      ...rest
    } = req as JobCallOptions & Record<string, unknown>;
    const given = [imagePath, image, imageUrl].filter((v) => v !== undefined).length;
    if (given !== 1) {
      throw new BackgroundApiError('E_BAD_INPUT', given === 0 ? `${op}() needs the photo: imagePath, image (bytes) or imageUrl.` : `${op}() takes one of imagePath, image and imageUrl, not several.`);
    }
    if (imagePath !== undefined && (typeof imagePath !== 'string' || imagePath.trim() === '')) throw new BackgroundApiError('E_BAD_INPUT', `imagePath must be a non-empty string, got ${JSON.stringify(imagePath)}.`);
    if (image !== undefined && !isBytes(image)) throw new BackgroundApiError('E_BAD_INPUT', 'image must be a Buffer, Uint8Array, ArrayBuffer or Blob.');
    const upload = uploadOpt ?? cfg.upload;
    // Studio files: paths and URLs join the options as …Path / …Url; bytes make the request multipart.
    const files = { ...(cleanPlate !== undefined ? { cleanPlate } : {}), ...(second !== undefined ? { second } : {}) };
    const studio = await studioParts(files, upload === true);
    const options: Record<string, unknown> = { ...rest, ...studio.fields };
    const scope = scopeFor({ ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(signal ? { signal } : {}) });
    const what = `${op}()`;
    const key = idempotencyKey ?? randomUUID();
    const endpoint = `/v1/${op}`;
    let jobId: string | undefined;
    try {
      const waitQuery = (): Record<string, string> => {
        const ms = Math.min(syncWaitMs ?? cfg.syncWaitMs, Math.max(0, scope.remaining() - 1000), 600_000);
        return { wait: (Math.floor(ms / 100) / 10).toString() };
      };
      const postForm = async (bytes: ImageBytes, name: string): Promise<Answer> => {
        const blob = bytes instanceof Blob ? bytes : new Blob([new Uint8Array(bytes)]);
        return request(
          {
            method: 'POST',
            path: endpoint,
            query: waitQuery(),
            idempotencyKey: key,
            what,
            form: () => {
              const f = new FormData();
              f.append('options', JSON.stringify(options));
              f.append('file', blob, name);
              for (const [field, b, n] of studio.files) f.append(field, b, n);
              return f;
            },
          },
          scope,
        );
      };
      const readLocal = async (p: string): Promise<Buffer> => {
        try {
          return await readFile(p);
        } catch (err) {
          throw new BackgroundApiError('E_BAD_INPUT', `Cannot read ${p} to upload it: ${(err as Error).message}`, { cause: err });
        }
      };

      /** A JSON request, or multipart with the same fields when studio files are uploaded. */
      const postJson = (json: Record<string, unknown>): Promise<Answer> => {
        const spec = { method: 'POST' as const, path: endpoint, query: waitQuery(), idempotencyKey: key, what };
        if (!studio.files.length) return request({ ...spec, json }, scope);
        const form = () => {
          const f = new FormData();
          f.append('options', JSON.stringify(json));
          for (const [field, b, n] of studio.files) f.append(field, b, n);
          return f;
        };
        return request({ ...spec, form }, scope);
      };

      let answer: Answer;
      if (image !== undefined) {
        answer = await postForm(image, filename ?? 'photo');
      } else if (imageUrl !== undefined) {
        answer = await postJson({ ...options, inputUrl: imageUrl });
      } else {
        const abs = path.resolve(imagePath!);
        const name = filename ?? path.basename(abs);
        if (upload === true) answer = await postForm(await readLocal(abs), name);
        else {
          try {
            answer = await postJson({ ...options, imagePath: abs });
          } catch (err) {
            if (upload !== 'auto' || !pathRefused(err)) throw err;
            answer = await postForm(await readLocal(abs), name);
          }
        }
      }

      let job = presentJob(answer.body);
      jobId = job.jobId;
      if (!TERMINAL.has(job.status)) job = await waitIn(job.jobId, scope, { pollMs, onProgress }, undefined);
      else onProgress?.(job);
      if (job.status !== 'succeeded' || !job.result) throw jobFailure(job);
      const done = job as CompletedJob;
      if (saveTo !== undefined) await saveOutput(done, saveTo, scope);
      return done;
    } catch (err) {
      if (scope.cancelledByUser && jobId) {
        // The caller gave up: stop the server's work too (best effort, short deadline).
        const s = new CallScope(5000, undefined);
        await request({ method: 'DELETE', path: `/v1/jobs/${encodeURIComponent(jobId)}`, what: 'cancel', retry: false }, s).catch(() => undefined);
        s.dispose();
      }
      if (err instanceof BackgroundApiError && (err.code === 'E_TIMEOUT' || err.code === 'E_CANCELLED') && jobId && !err.jobId) throw scope.abortError(what, jobId, err);
      throw err;
    } finally {
      scope.dispose();
    }
  }

  async function inScope<T>(opts: CallOptions | undefined, fn: (scope: CallScope) => Promise<T>): Promise<T> {
    const scope = scopeFor(opts);
    try {
      return await fn(scope);
    } finally {
      scope.dispose();
    }
  }

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

    replace: (req) => runJob('replace', req),
    cleanup: (req) => runJob('cleanup', req),

    async enqueue(req) {
      if (req === null || typeof req !== 'object') throw new BackgroundApiError('E_BAD_INPUT', 'enqueue() takes an object with mediaId, projectId and imagePath or imageUrl.');
      const { mediaId, projectId, imagePath, inputPath, imageUrl, inputUrl, callbackUrl, idempotencyKey, preset, promptType, overrides, timeoutMs, signal, ...rest } = req;
      const p = imagePath ?? inputPath;
      const u = imageUrl ?? inputUrl;
      if ((p === undefined) === (u === undefined)) throw new BackgroundApiError('E_BAD_INPUT', 'enqueue() takes one of imagePath (a path on the server) and imageUrl.');
      const merged = { ...rest, ...(overrides ?? {}) };
      const body = {
        mediaId,
        projectId,
        ...(p !== undefined ? { inputPath: path.resolve(p) } : { inputUrl: u }),
        ...(preset !== undefined ? { preset } : {}),
        ...(promptType !== undefined ? { promptType } : {}),
        ...(Object.keys(merged).length ? { overrides: merged } : {}),
        ...(callbackUrl !== undefined ? { callbackUrl } : {}),
      };
      return inScope({ timeoutMs, signal } as CallOptions, async (scope) => {
        const a = await request({ method: 'POST', path: '/api/background/replace', json: body, idempotencyKey: idempotencyKey ?? randomUUID(), what: 'enqueue()' }, scope);
        const b = a.body as { jobId?: unknown; status?: unknown; statusUrl?: unknown };
        if (typeof b.jobId !== 'string') throw new BackgroundApiError('E_BAD_RESPONSE', 'enqueue(): the server answered without a jobId: is BACKGROUND_API_URL a bg-native server?');
        return {
          jobId: b.jobId,
          status: String(b.status ?? 'queued'),
          statusUrl: absolute(typeof b.statusUrl === 'string' ? b.statusUrl : `/api/background/jobs/${encodeURIComponent(b.jobId)}`),
          created: a.status === 202,
        };
      });
    },

    getJob: (jobId, opts) => inScope(opts, (scope) => getJobIn(checkId(jobId), scope)),

    cancelJob: (jobId, opts) =>
      inScope(opts, async (scope) => {
        const id = checkId(jobId);
        const a = await request({ method: 'DELETE', path: `/v1/jobs/${encodeURIComponent(id)}`, what: `cancelJob(${JSON.stringify(id)})` }, scope);
        return presentJob(a.body);
      }),

    waitForJob: (jobId, opts = {}) => inScope(opts, (scope) => waitIn(checkId(jobId), scope, opts)),

    health: (opts) =>
      inScope(opts, async (scope) => {
        const a = await request({ method: 'GET', path: '/health', what: 'health()' }, scope);
        return a.body as unknown as Health;
      }),

    async isHealthy(opts) {
      const scope = scopeFor({ timeoutMs: opts?.timeoutMs ?? Math.min(5000, cfg.timeoutMs), ...(opts?.signal ? { signal: opts.signal } : {}) });
      try {
        const a = await request({ method: 'GET', path: '/health', what: 'isHealthy()', retry: false }, scope);
        return a.body.status === 'ok';
      } catch {
        return false;
      } finally {
        scope.dispose();
      }
    },

    download: (url, opts) => inScope(opts, (scope) => downloadIn(url, scope)),

    preview: (jobId, opts) =>
      inScope(opts, async (scope) => {
        try {
          return await downloadIn(`/v1/jobs/${encodeURIComponent(checkId(jobId))}/preview`, scope);
        } catch (err) {
          // 404: the job is not running, or no preview has arrived yet.
          if (err instanceof BackgroundApiError && err.status === 404 && err.code === 'E_NOT_FOUND') return undefined;
          throw err;
        }
      }),
  };
}
