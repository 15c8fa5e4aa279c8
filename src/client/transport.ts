/**
 * The client's transport: the state every call shares (the settings, the API's origin), URLs and
 * headers (the token goes to the API's own origin only), and one request with its retries — on
 * network errors, 429 and 5xx (except answers that carry a finished job, and codes no retry can
 * fix), with exponential backoff and jitter, Retry-After honoured, all within the call's deadline.
 */
import { CallScope, sleep } from './call-scope.js';
import type { ResolvedClientConfig } from './config.js';
import { BackgroundApiError } from './errors.js';
import type { CallOptions } from './types.js';

/** What every call of one client shares. */
export interface ClientState {
  readonly cfg: ResolvedClientConfig;
  /** The API's origin: the only one the token is sent to. */
  readonly apiOrigin: string;
}

export function clientState(cfg: ResolvedClientConfig): ClientState {
  return { cfg, apiOrigin: new URL(cfg.baseUrl).origin };
}

export interface RequestSpec {
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

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

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

/** A URL relative to the API (e.g. /files/…) → absolute; absolute URLs stay as they are. */
export function absolute(state: ClientState, u: string): string {
  if (/^https?:\/\//i.test(u)) return u;
  return new URL(u.replace(/^\/+/, ''), `${state.cfg.baseUrl}/`).toString();
}

export function headersFor(
  state: ClientState,
  url: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const { cfg } = state;
  const h: Record<string, string> = { accept: 'application/json', ...cfg.headers, ...extra };
  if (cfg.token && new URL(url).origin === state.apiOrigin) h.authorization = `Bearer ${cfg.token}`;
  return h;
}

/** The backoff before retry number `attempt`: doubling from retryDelayMs up to maxRetryDelayMs, jittered. */
export function backoffMs(cfg: ResolvedClientConfig, attempt: number): number {
  const backoff = Math.min(cfg.maxRetryDelayMs, cfg.retryDelayMs * 2 ** (attempt - 1));
  return Math.round(backoff / 2 + (Math.random() * backoff) / 2);
}

/**
 * Waits before the next try, after telling onRetry; throws `error` instead when waiting would
 * outlast the call's deadline (so the caller hears why now).
 */
export async function waitToRetry(
  state: ClientState,
  scope: CallScope,
  attempt: number,
  delayMs: number,
  error: BackgroundApiError,
): Promise<void> {
  if (delayMs >= scope.remaining()) throw error;
  state.cfg.onRetry?.({ retry: attempt, delayMs, error });
  await sleep(delayMs, scope.signal);
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

function errorFromAnswer(a: Answer, spec: RequestSpec, url: string, attempts: number): BackgroundApiError {
  const e = a.body.error as { code?: unknown; message?: unknown } | undefined;
  const jobId = typeof a.body.jobId === 'string' ? a.body.jobId : undefined;
  const code = typeof e?.code === 'string' ? e.code : a.status === 429 ? 'E_RATE_LIMITED' : `E_HTTP_${a.status}`;
  const message = typeof e?.message === 'string' ? e.message : `${spec.what}: the server answered HTTP ${a.status}.`;
  // A finished job's failure (it carries jobId) already had the server's own retries.
  const retryable = !jobId && !PERMANENT.has(code) && isRetryableStatus(a.status);
  const method = spec.method;
  return new BackgroundApiError(code, message, { status: a.status, jobId, retryable, attempts, method, url });
}

/** The body as an object, or undefined when it is not the API's JSON. */
function parseBody(text: string): Record<string, unknown> | undefined {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)
    ? undefined
    : (parsed as Record<string, unknown>);
}

/** The body and the extra headers of one try (a form is built again for each try). */
function payloadOf(spec: RequestSpec): { body: string | FormData | undefined; extra: Record<string, string> } {
  const extra: Record<string, string> = {};
  let body: string | FormData | undefined;
  if (spec.json !== undefined) {
    extra['content-type'] = 'application/json';
    body = JSON.stringify(spec.json);
  } else if (spec.form) body = spec.form();
  if (spec.idempotencyKey) extra['idempotency-key'] = spec.idempotencyKey;
  return { body, extra };
}

/** One request with retries, within `scope`. */
export async function request(state: ClientState, spec: RequestSpec, scope: CallScope): Promise<Answer> {
  const { cfg } = state;
  const qs = spec.query && Object.keys(spec.query).length ? `?${new URLSearchParams(spec.query).toString()}` : '';
  const url = `${cfg.baseUrl}${spec.path}${qs}`;
  const maxTries = spec.retry === false ? 1 : cfg.retryAttempts + 1;
  let last: BackgroundApiError | undefined;
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    if (scope.signal.aborted) throw scope.abortError(spec.what, undefined, last);
    const { body, extra } = payloadOf(spec);
    let retryAfterMs: number | undefined;
    try {
      const headers = headersFor(state, url, extra);
      const res = await cfg.fetch(url, { method: spec.method, headers, body, signal: scope.signal });
      const parsed = parseBody(await res.text());
      if (parsed === undefined) {
        last = new BackgroundApiError(
          res.ok ? 'E_BAD_RESPONSE' : `E_HTTP_${res.status}`,
          `${spec.what}: ${url} answered HTTP ${res.status} with something other than the bg-native API's JSON. ` +
            'Check BACKGROUND_API_URL.',
          {
            status: res.status,
            retryable: res.status === 429 || res.status >= 500,
            attempts: attempt,
            method: spec.method,
            url,
          },
        );
      } else {
        const answer: Answer = { status: res.status, body: parsed, headers: res.headers };
        if (res.ok) return answer;
        last = errorFromAnswer(answer, spec, url, attempt);
      }
      retryAfterMs = parseRetryAfterHeader(res.headers.get('retry-after'));
    } catch (err) {
      if (scope.signal.aborted) throw scope.abortError(spec.what, undefined, err);
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      last = new BackgroundApiError(
        'E_NETWORK',
        `${spec.what}: could not reach the bg-native server at ${cfg.baseUrl} (${why}). ` +
          'Is it running, and is BACKGROUND_API_URL right?',
        { retryable: true, attempts: attempt, method: spec.method, url, cause: err },
      );
    }
    if (!last.retryable || attempt === maxTries) throw last;
    await waitToRetry(state, scope, attempt, retryAfterMs ?? backoffMs(cfg, attempt), last);
  }
  throw last!;
}

/** The scope of one call: its deadline (timeoutMs, else the client's) and its AbortSignal. */
export function scopeFor(state: ClientState, opts: CallOptions | undefined): CallScope {
  const t = opts?.timeoutMs ?? state.cfg.timeoutMs;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
    const message = `timeoutMs must be a positive number of milliseconds, got ${JSON.stringify(t)}.`;
    throw new BackgroundApiError('E_BAD_INPUT', message);
  }
  return new CallScope(t, opts?.signal);
}

/** Runs `fn` in a fresh scope for `opts`, disposed after. */
export async function inScope<T>(
  state: ClientState,
  opts: CallOptions | undefined,
  fn: (scope: CallScope) => Promise<T>,
): Promise<T> {
  const scope = scopeFor(state, opts);
  try {
    return await fn(scope);
  } finally {
    scope.dispose();
  }
}
