/**
 * A client for the part of Runway's public API the runway engine uses (API version 2024-11-06):
 *
 *   POST   /v1/text_to_image   start a task          → { id }
 *   GET    /v1/tasks/{id}      read it               → { id, status, progress?, output?, failure?, failureCode? }
 *   DELETE /v1/tasks/{id}      cancel (or delete) it → 204
 *
 * Every call carries `Authorization: Bearer <key>` and `X-Runway-Version`. The task is polled no
 * faster than every 5 s against Runway itself; PENDING, THROTTLED and RUNNING are all waiting.
 * HTTP 429, 502/503/504 (any 5xx) and network errors are retried with exponential backoff and up
 * to 50 % jitter, honouring `Retry-After`, within one overall deadline; other 4xx answers and
 * `SAFETY.*` task failures are never retried and surface as E_PROVIDER_REJECTED with Runway's
 * reason. The output URL is downloaded at once (it expires), without our credentials. When the
 * caller aborts or the deadline passes, the task is DELETEd so it stops costing credits.
 *
 * The API key is sent in the Authorization header and nowhere else: it is never part of an error
 * message, a log event or a result, and every text that could echo it is redacted.
 */
import { BgNativeError, type ErrorCode } from '../../errors.js';

export const RUNWAY_API_URL = 'https://api.dev.runwayml.com';
export const RUNWAY_API_VERSION = '2024-11-06';
/** Runway asks integrations to poll a task no more often than this. */
export const MIN_POLL_INTERVAL_MS = 5000;
export const DEFAULT_DEADLINE_MS = 10 * 60 * 1000;

export const TASK_STATUSES = ['PENDING', 'THROTTLED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type RunwayTaskStatus = (typeof TASK_STATUSES)[number];

export interface RunwayTask {
  id: string;
  status: RunwayTaskStatus;
  /** 0..1, while RUNNING. */
  progress?: number;
  output?: string[];
  failure?: string;
  failureCode?: string;
}

export interface RunwayLogEvent {
  level: 'debug' | 'info' | 'warn';
  message: string;
  taskId?: string;
}
export type RunwayLogger = (event: RunwayLogEvent) => void;

export interface RunwayClientOptions {
  /** Default: `env`'s RUNWAY_API_KEY. */
  apiKey?: string;
  /** Default: `env`'s RUNWAY_API_URL, else https://api.dev.runwayml.com. */
  baseUrl?: string;
  /**
   * Where RUNWAY_API_KEY / RUNWAY_API_URL / RUNWAY_POLL_INTERVAL_MS are read when the options above are not given
   * (default: none).
   */
  env?: Record<string, string | undefined>;
  /** Between task polls (default 5000; never below 5000 against runwayml.com). */
  pollIntervalMs?: number;
  /** Everything (submit, wait, download) must finish within this (default 10 min). */
  deadlineMs?: number;
  /** First retry delay; doubles per retry up to retryMaxMs (defaults 1000 and 30000). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Retries per HTTP call before giving up (default 8). */
  maxRetries?: number;
  /** Per HTTP request (default 60000). */
  requestTimeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  logger?: RunwayLogger;
}

export interface TextToImageBody {
  model: string;
  promptText: string;
  ratio: string;
  referenceImages?: Array<{ uri: string; tag?: string }>;
  seed?: number;
}

export interface RunwayRunOptions {
  signal?: AbortSignal;
  /** Runway's progress (0..1) while the task runs. */
  onProgress?: (fraction: number) => void;
  /** Called once the task exists, with its id. */
  onTask?: (taskId: string) => void;
}

export interface RunwayRunResult {
  taskId: string;
  /** The downloaded output file (an image for text_to_image). */
  data: Buffer;
  contentType: string;
  /** Milliseconds: submit (POST incl. retries), wait (polling), download. */
  stages: { submit: number; wait: number; download: number };
}

/** True when a Runway API key is configured. */
export function runwayConfigured(env: Record<string, string | undefined>): boolean {
  return typeof env.RUNWAY_API_KEY === 'string' && env.RUNWAY_API_KEY.trim() !== '';
}

/** The key and base URL the options and environment give; E_CONFIG (naming the variable) when unusable. */
export function resolveRunwayConfig(options: RunwayClientOptions = {}): { apiKey: string; baseUrl: string } {
  const env = options.env ?? {};
  const apiKey = (options.apiKey ?? env.RUNWAY_API_KEY ?? '').trim();
  if (apiKey === '') {
    throw new BgNativeError(
      'E_CONFIG',
      'The runway engine needs a Runway API key: set RUNWAY_API_KEY (or pass apiKey). Create one at ' +
        'https://dev.runwayml.com.',
    );
  }
  if (!/^[\x21-\x7e]+$/.test(apiKey)) {
    throw new BgNativeError(
      'E_CONFIG',
      'RUNWAY_API_KEY contains spaces or characters that cannot be sent in an HTTP header; check the value.',
    );
  }
  const rawUrl = (options.baseUrl ?? env.RUNWAY_API_URL ?? '').trim() || RUNWAY_API_URL;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new BgNativeError(
      'E_CONFIG',
      'RUNWAY_API_URL (or baseUrl) must be an http(s) URL such as https://api.dev.runwayml.com.',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new BgNativeError(
      'E_CONFIG',
      'RUNWAY_API_URL (or baseUrl) must be an http(s) URL such as https://api.dev.runwayml.com.',
    );
  }
  return { apiKey, baseUrl: url.href.replace(/\/+$/, '') };
}

/** Why a run stopped early: the caller aborted, or the deadline passed. */
class RunStop extends Error {
  constructor(readonly kind: 'cancel' | 'deadline') {
    super(kind);
  }
}

/** One run's cancellation and deadline, shared by its HTTP calls and sleeps. */
class RunContext {
  readonly deadlineAt: number;
  private readonly ctrl = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onAbort = () => this.stop('cancel');
  stopped: 'cancel' | 'deadline' | undefined;

  constructor(
    private readonly signal: AbortSignal | undefined,
    deadlineMs: number,
  ) {
    this.deadlineAt = Date.now() + deadlineMs;
    this.timer = setTimeout(() => this.stop('deadline'), deadlineMs);
    this.timer.unref?.();
    if (signal?.aborted) this.stop('cancel');
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private stop(kind: 'cancel' | 'deadline'): void {
    if (this.stopped) return;
    this.stopped = kind;
    this.ctrl.abort();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  get remainingMs(): number {
    return this.deadlineAt - Date.now();
  }

  check(): void {
    if (this.stopped) throw new RunStop(this.stopped);
  }

  /** A signal for one HTTP request: the run's, plus a per-request timeout. */
  requestSignal(timeoutMs: number): AbortSignal {
    return AbortSignal.any([this.ctrl.signal, AbortSignal.timeout(Math.max(1, timeoutMs))]);
  }

  sleep(ms: number): Promise<void> {
    this.check();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(t);
        this.ctrl.signal.removeEventListener('abort', stopped);
      };
      const stopped = () => {
        done();
        reject(new RunStop(this.stopped ?? 'cancel'));
      };
      const t = setTimeout(
        () => {
          done();
          resolve();
        },
        Math.max(0, ms),
      );
      this.ctrl.signal.addEventListener('abort', stopped, { once: true });
    });
  }
}

/** What one HTTP answer or failure was, for messages. */
interface Attempt {
  what: string;
  retryAfterMs?: number;
}

const isTerminal = (s: RunwayTaskStatus) => s === 'SUCCEEDED' || s === 'FAILED' || s === 'CANCELLED';

/** Runway's task failure codes that retrying or another engine will not fix on their own. */
function isRejection(failureCode: string | undefined): boolean {
  if (!failureCode) return false;
  return (
    failureCode.startsWith('SAFETY.') || failureCode.includes('.SAFETY') || failureCode.startsWith('ASSET.INVALID')
  );
}

/** Seconds (`Retry-After: 3`) or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export class RunwayClient {
  readonly baseUrl: string;
  readonly pollIntervalMs: number;
  readonly deadlineMs: number;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof globalThis.fetch;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxRetries: number;
  private readonly requestTimeoutMs: number;
  private readonly logger: RunwayLogger | undefined;

  constructor(options: RunwayClientOptions = {}) {
    const { apiKey, baseUrl } = resolveRunwayConfig(options);
    this.apiKey = apiKey;
    this.baseUrl = baseUrl;
    const host = new URL(baseUrl).hostname;
    const official = host === 'runwayml.com' || host.endsWith('.runwayml.com');
    const envPoll = Number(options.env?.RUNWAY_POLL_INTERVAL_MS);
    const poll = options.pollIntervalMs ?? (Number.isFinite(envPoll) && envPoll >= 0 ? envPoll : MIN_POLL_INTERVAL_MS);
    // Runway's own API is never polled faster than every 5 s; a mock or proxy may be.
    this.pollIntervalMs = official ? Math.max(MIN_POLL_INTERVAL_MS, poll) : Math.max(0, poll);
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 8;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.logger = options.logger;
  }

  /** Removes the API key from any text that could have picked it up. */
  private redact(text: string): string {
    return this.apiKey ? text.split(this.apiKey).join('[redacted]') : text;
  }

  private error(code: ErrorCode, message: string): BgNativeError {
    return new BgNativeError(code, this.redact(message));
  }

  private log(level: RunwayLogEvent['level'], message: string, taskId?: string): void {
    if (!this.logger) return;
    this.logger({ level, message: this.redact(message), ...(taskId ? { taskId } : {}) });
  }

  private headers(json: boolean): Record<string, string> {
    return {
      Authorization: `Bearer ${this.apiKey}`,
      'X-Runway-Version': RUNWAY_API_VERSION,
      Accept: 'application/json',
      ...(json ? { 'Content-Type': 'application/json' } : {}),
    };
  }

  /** Waits before retry number `retry` (0-based); throws when retries or the deadline run out. */
  private async backoff(
    ctx: RunContext,
    retry: number,
    attempt: Attempt,
    call: string,
    taskId?: string,
  ): Promise<void> {
    if (retry >= this.maxRetries) {
      throw this.error(
        'E_PROVIDER_FAILED',
        `Runway ${call} failed after ${retry + 1} attempts; last: ${attempt.what}. Try again later.`,
      );
    }
    const expo = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** retry);
    const base = attempt.retryAfterMs ?? expo;
    const wait = Math.round(base + Math.random() * 0.5 * Math.min(base, expo));
    if (wait >= ctx.remainingMs) {
      throw this.error(
        'E_PROVIDER_FAILED',
        `Runway ${call} did not succeed before the ${Math.round(this.deadlineMs / 1000)} s deadline; last: ` +
          `${attempt.what}` +
          (attempt.retryAfterMs !== undefined
            ? ` (Runway asked to retry in ${Math.ceil(attempt.retryAfterMs / 1000)} s)`
            : '') +
          '. Try again later.',
      );
    }
    this.log('warn', `Runway ${call}: ${attempt.what}; retrying in ${wait} ms`, taskId);
    await ctx.sleep(wait);
  }

  /** One JSON API call, retried on 429/5xx/network errors. Returns the parsed body (undefined for 204). */
  private async call(ctx: RunContext, method: string, path: string, body?: unknown, taskId?: string): Promise<unknown> {
    const call = `${method} ${path.replace(/\/v1\/tasks\/[^/]+$/, '/v1/tasks/{id}')}`;
    const init: RequestInit = { method, headers: this.headers(body !== undefined) };
    if (body !== undefined) init.body = JSON.stringify(body);
    for (let retry = 0; ; retry++) {
      ctx.check();
      let res: Response;
      try {
        res = await this.fetchImpl(this.baseUrl + path, {
          ...init,
          signal: ctx.requestSignal(Math.min(this.requestTimeoutMs, ctx.remainingMs)),
        });
      } catch (err) {
        ctx.check();
        await this.backoff(ctx, retry, { what: `network error (${describe(err)})` }, call, taskId);
        continue;
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        ctx.check();
        await this.backoff(ctx, retry, { what: `network error reading the answer (${describe(err)})` }, call, taskId);
        continue;
      }
      if (res.ok) {
        if (res.status === 204 || text.trim() === '') return undefined;
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw this.error(
            'E_PROVIDER_FAILED',
            `Runway ${call} answered HTTP ${res.status} with a body that is not JSON (${snippet(text)}).`,
          );
        }
      }
      if (res.status === 429 || res.status >= 500) {
        const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        const what = `HTTP ${res.status}${res.status === 429 ? ' (rate limited)' : ''}`;
        await this.backoff(ctx, retry, retryAfterMs === undefined ? { what } : { what, retryAfterMs }, call, taskId);
        continue;
      }
      const reason = errorReason(text);
      const hint =
        res.status === 401
          ? ' Check RUNWAY_API_KEY.'
          : res.status === 404 && taskId
            ? ' The task no longer exists.'
            : '';
      throw this.error(
        'E_PROVIDER_REJECTED',
        `Runway rejected ${call} (HTTP ${res.status})${reason ? `: ${reason}` : ''}.${hint}`,
      );
    }
  }

  /** DELETE /v1/tasks/{id}: cancels a running task or deletes a finished one. Best effort; never throws. */
  async cancelTask(taskId: string): Promise<boolean> {
    try {
      const res = await this.fetchImpl(`${this.baseUrl}/v1/tasks/${encodeURIComponent(taskId)}`, {
        method: 'DELETE',
        headers: this.headers(false),
        signal: AbortSignal.timeout(Math.min(10_000, this.requestTimeoutMs)),
      });
      await res.arrayBuffer().catch(() => undefined);
      const ok = res.ok || res.status === 404;
      this.log(
        ok ? 'info' : 'warn',
        ok ? 'Runway task cancelled' : `Runway did not cancel the task (HTTP ${res.status})`,
        taskId,
      );
      return ok;
    } catch (err) {
      this.log('warn', `Runway task could not be cancelled (${describe(err)})`, taskId);
      return false;
    }
  }

  /** Starts a text_to_image task, waits for it and downloads its first output. */
  async textToImage(body: TextToImageBody, options: RunwayRunOptions = {}): Promise<RunwayRunResult> {
    const ctx = new RunContext(options.signal, this.deadlineMs);
    let taskId: string | undefined;
    let status: RunwayTaskStatus | undefined;
    const stages = { submit: 0, wait: 0, download: 0 };
    try {
      let t = performance.now();
      const created = await this.call(ctx, 'POST', '/v1/text_to_image', body);
      const id = (created as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string' || id === '') {
        throw this.error(
          'E_PROVIDER_FAILED',
          `Runway POST /v1/text_to_image answered without a task id (${snippet(JSON.stringify(created) ?? '')}).`,
        );
      }
      taskId = id;
      stages.submit = performance.now() - t;
      this.log('info', `Runway task created (model ${body.model}, ratio ${body.ratio})`, taskId);
      options.onTask?.(taskId);

      t = performance.now();
      const task = await this.waitForTask(ctx, taskId, options.onProgress, (s) => (status = s));
      stages.wait = performance.now() - t;

      t = performance.now();
      const { data, contentType } = await this.downloadOutput(ctx, task);
      stages.download = performance.now() - t;
      return { taskId, data, contentType, stages };
    } catch (err) {
      const pending = taskId !== undefined && (status === undefined || !isTerminal(status));
      if (err instanceof RunStop) {
        if (pending && taskId) await this.cancelTask(taskId);
        if (err.kind === 'cancel') {
          throw this.error(
            'E_CANCELLED',
            'The Runway generation was ' +
              `cancelled${taskId ? ` (task ${taskId} ${pending ? 'cancelled on Runway' : 'had finished'})` : ''}.`,
          );
        }
        throw this.error(
          'E_PROVIDER_FAILED',
          `Runway did not finish within the ${Math.round(this.deadlineMs / 1000)} s deadline` +
            (taskId
              ? ` (task ${taskId} was ${status ?? 'not yet read'}${pending ? '; it has been cancelled' : ''})`
              : '') +
            '. Try again later or raise deadlineMs.',
        );
      }
      if (pending && taskId) await this.cancelTask(taskId);
      if (err instanceof BgNativeError) throw err;
      throw this.error('E_PROVIDER_FAILED', `Runway generation failed: ${describe(err)}`);
    } finally {
      ctx.dispose();
    }
  }

  private async getTask(ctx: RunContext, taskId: string): Promise<RunwayTask> {
    const raw = await this.call(ctx, 'GET', `/v1/tasks/${encodeURIComponent(taskId)}`, undefined, taskId);
    const task = parseTask(raw);
    if (!task) {
      throw this.error(
        'E_PROVIDER_FAILED',
        `Runway GET /v1/tasks/{id} answered with something that is not a task (${snippet(JSON.stringify(raw) ?? '')}).`,
      );
    }
    return task;
  }

  private async waitForTask(
    ctx: RunContext,
    taskId: string,
    onProgress: ((fraction: number) => void) | undefined,
    onStatus: (s: RunwayTaskStatus) => void,
  ): Promise<RunwayTask> {
    let last: RunwayTaskStatus | undefined;
    let reported = 0;
    for (;;) {
      await ctx.sleep(this.pollIntervalMs);
      const task = await this.getTask(ctx, taskId);
      onStatus(task.status);
      if (task.status !== last) {
        this.log(task.status === 'THROTTLED' ? 'info' : 'debug', `Runway task ${task.status}`, taskId);
        last = task.status;
      }
      if (task.status === 'RUNNING' && task.progress !== undefined && onProgress) {
        const p = Math.min(1, Math.max(0, task.progress));
        if (p > reported) onProgress((reported = p));
      }
      if (task.status === 'SUCCEEDED') {
        if (onProgress && reported < 1) onProgress(1);
        return task;
      }
      if (task.status === 'FAILED') {
        const code = task.failureCode ? ` [${task.failureCode}]` : '';
        const reason = task.failure ? `: ${snippet(task.failure, 300)}` : '';
        if (isRejection(task.failureCode)) {
          throw this.error(
            'E_PROVIDER_REJECTED',
            `Runway refused to generate this image${code}${reason}. Retrying will not help; change the photo ` +
              'or the prompt.',
          );
        }
        throw this.error('E_PROVIDER_FAILED', `Runway task ${taskId} failed${code}${reason}.`);
      }
      if (task.status === 'CANCELLED') {
        throw this.error(
          'E_PROVIDER_FAILED',
          `Runway task ${taskId} was cancelled on Runway's side before it finished.`,
        );
      }
    }
  }

  /**
   * Downloads output[0] without our credentials (the URL is pre-signed, usually on another host).
   * An answer of 4xx means the URL expired: the task is read once more for a fresh URL.
   */
  private async downloadOutput(ctx: RunContext, task: RunwayTask): Promise<{ data: Buffer; contentType: string }> {
    let url = firstOutput(task);
    if (!url) throw this.error('E_PROVIDER_FAILED', `Runway task ${task.id} succeeded without an output URL.`);
    let refreshed = false;
    for (let retry = 0; ; retry++) {
      ctx.check();
      const host = safeHost(url);
      let res: Response;
      let data: Buffer;
      try {
        res = await this.fetchImpl(url, {
          signal: ctx.requestSignal(Math.min(this.requestTimeoutMs * 2, ctx.remainingMs)),
        });
        data = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        ctx.check();
        await this.backoff(ctx, retry, { what: `network error (${describe(err)})` }, `download from ${host}`, task.id);
        continue;
      }
      if (res.ok) {
        if (data.length === 0)
          throw this.error(
            'E_PROVIDER_FAILED',
            `The output of Runway task ${task.id} downloaded from ${host} was empty.`,
          );
        return { data, contentType: res.headers.get('content-type') ?? '' };
      }
      if (res.status === 429 || res.status >= 500) {
        const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
        const what = `HTTP ${res.status}`;
        await this.backoff(
          ctx,
          retry,
          retryAfterMs === undefined ? { what } : { what, retryAfterMs },
          `download from ${host}`,
          task.id,
        );
        continue;
      }
      if (!refreshed) {
        refreshed = true;
        this.log(
          'warn',
          `Runway output URL answered HTTP ${res.status}; reading the task again for a fresh URL`,
          task.id,
        );
        const again = await this.getTask(ctx, task.id);
        const fresh = again.status === 'SUCCEEDED' ? firstOutput(again) : undefined;
        if (fresh) {
          url = fresh;
          continue;
        }
      }
      throw this.error(
        'E_PROVIDER_FAILED',
        `The output of Runway task ${task.id} could not be downloaded: its URL on ${host} has expired or is ` +
          `gone (HTTP ${res.status}). ` +
          'Runway output URLs are short-lived and are fetched at once; generate again.',
      );
    }
  }
}

function firstOutput(task: RunwayTask): string | undefined {
  const u = task.output?.[0];
  return typeof u === 'string' && /^https?:\/\//i.test(u) ? u : undefined;
}

function parseTask(raw: unknown): RunwayTask | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || !(TASK_STATUSES as readonly unknown[]).includes(r.status)) return undefined;
  const task: RunwayTask = { id: r.id, status: r.status as RunwayTaskStatus };
  if (typeof r.progress === 'number' && Number.isFinite(r.progress)) task.progress = r.progress;
  if (Array.isArray(r.output)) task.output = r.output.filter((u): u is string => typeof u === 'string');
  if (typeof r.failure === 'string') task.failure = r.failure;
  if (typeof r.failureCode === 'string') task.failureCode = r.failureCode;
  return task;
}

/** Runway's 4xx body is `{ "error": "…" }` (sometimes with `issues`); anything else is quoted short. */
function errorReason(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown; issues?: unknown };
    const main = typeof j.error === 'string' ? j.error : typeof j.message === 'string' ? j.message : '';
    let issues = '';
    if (Array.isArray(j.issues)) {
      issues = j.issues
        .map((i) =>
          typeof i === 'object' && i !== null && typeof (i as { message?: unknown }).message === 'string'
            ? (i as { message: string }).message
            : '',
        )
        .filter(Boolean)
        .join('; ');
    }
    const joined = [main, issues].filter(Boolean).join(' — ');
    if (joined) return snippet(joined, 300);
  } catch {
    /* not JSON */
  }
  return text.trim() ? snippet(text, 200) : '';
}

function snippet(text: string, max = 120): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the output host';
  }
}

function describe(err: unknown): string {
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  if (e?.name === 'TimeoutError') return 'request timed out';
  const cause = e?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return code ? `${msg}: ${code}` : msg;
}
