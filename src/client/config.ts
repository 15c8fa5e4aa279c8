/**
 * Client settings: options given to `createClient()` win over the environment, the environment
 * over the defaults.
 *
 *   BACKGROUND_API_URL         base URL of the server (default http://127.0.0.1:3001); may carry a
 *                              path prefix, e.g. https://media.example.com/bg
 *   API_TOKEN                  bearer token (sent to the API's own origin only)
 *   BACKGROUND_TIMEOUT         deadline of one call, retries and waiting included: a number of
 *                              milliseconds (300000) or a duration (90s, 5m); default 5 minutes
 *   BACKGROUND_RETRY_ATTEMPTS  retries after the first try on network errors, 429 and 5xx (default 3)
 *   BACKGROUND_RETRY_DELAY     first retry delay, doubled each retry, with jitter: ms or a duration
 *                              (default 1000)
 */
import { BackgroundApiError } from './errors.js';

export interface ClientOptions {
  /** Server base URL (env BACKGROUND_API_URL, default http://127.0.0.1:3001). */
  baseUrl?: string;
  /** Bearer token (env API_TOKEN). */
  token?: string;
  /** Deadline of one call in ms, retries and job waiting included (env BACKGROUND_TIMEOUT, default 300000). */
  timeoutMs?: number;
  /** Retries after the first try (env BACKGROUND_RETRY_ATTEMPTS, default 3; 0 = none). */
  retryAttempts?: number;
  /** First retry delay in ms, doubled each retry, jittered (env BACKGROUND_RETRY_DELAY, default 1000). */
  retryDelayMs?: number;
  /** Upper bound of one backoff delay (Retry-After may ask for more; default 30000). */
  maxRetryDelayMs?: number;
  /** How often waitForJob() polls (default 1000 ms). */
  pollMs?: number;
  /**
   * How long replace()/cleanup() ask the server to hold the request before it answers 202 and the client polls (default
   * 30000 ms).
   */
  syncWaitMs?: number;
  /**
   * Upload the photo instead of sending its path: 'auto' (default: only when the server cannot read the path), true,
   * false.
   */
  upload?: 'auto' | boolean;
  /** Called before each retry (logging, metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** The environment to read (default process.env). */
  env?: Record<string, string | undefined>;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
}

export interface RetryInfo {
  /** The retry about to be made: 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: BackgroundApiError;
}

export interface ResolvedClientConfig {
  baseUrl: string;
  token: string | undefined;
  timeoutMs: number;
  retryAttempts: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  pollMs: number;
  syncWaitMs: number;
  upload: 'auto' | boolean;
  onRetry: ((info: RetryInfo) => void) | undefined;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3001';

function configError(message: string): BackgroundApiError {
  return new BackgroundApiError('E_CONFIG', message);
}

/** "300000" (ms), "500ms", "90s", "5m", "1h" → milliseconds. */
export function parseClientDuration(text: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m)
    throw configError(
      `${name} must be milliseconds (300000) or a duration such as 90s or 5m, got ${JSON.stringify(text)}.`,
    );
  const unit = (m[2] ?? 'ms').toLowerCase();
  const mult = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * mult);
}

function checkNumber(value: number, name: string, min: number, int = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (int && !Number.isInteger(value))) {
    throw configError(`${name} must be ${int ? 'a whole number' : 'a number'} ≥ ${min}, got ${JSON.stringify(value)}.`);
  }
  return value;
}

function checkBaseUrl(raw: string, name: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw configError(`${name} must be an http(s) URL such as http://127.0.0.1:3001, got ${JSON.stringify(raw)}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError(`${name} must start with http:// or https://, got ${JSON.stringify(raw)}.`);
  }
  if (url.username || url.password)
    throw configError(`${name} must not carry credentials; set API_TOKEN (or the token option) instead.`);
  if (url.search || url.hash)
    throw configError(`${name} must not have a query or fragment, got ${JSON.stringify(raw)}.`);
  return url.toString().replace(/\/+$/, '');
}

/** Options over env over defaults; a bad value is E_CONFIG naming the option or variable. */
export function resolveClientConfig(opts: ClientOptions = {}): ResolvedClientConfig {
  const env = opts.env ?? (typeof process !== 'undefined' ? process.env : {});
  const envText = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const baseUrl =
    opts.baseUrl !== undefined
      ? checkBaseUrl(opts.baseUrl, 'baseUrl')
      : envText('BACKGROUND_API_URL') !== undefined
        ? checkBaseUrl(envText('BACKGROUND_API_URL')!, 'BACKGROUND_API_URL')
        : DEFAULT_BASE_URL;

  const token = opts.token !== undefined ? opts.token.trim() || undefined : envText('API_TOKEN');

  const timeoutMs =
    opts.timeoutMs !== undefined
      ? checkNumber(opts.timeoutMs, 'timeoutMs', 1)
      : envText('BACKGROUND_TIMEOUT') !== undefined
        ? checkNumber(
            parseClientDuration(envText('BACKGROUND_TIMEOUT')!, 'BACKGROUND_TIMEOUT'),
            'BACKGROUND_TIMEOUT',
            1,
          )
        : 300_000;

  let retryAttempts = 3;
  if (opts.retryAttempts !== undefined) retryAttempts = checkNumber(opts.retryAttempts, 'retryAttempts', 0, true);
  else if (envText('BACKGROUND_RETRY_ATTEMPTS') !== undefined) {
    const t = envText('BACKGROUND_RETRY_ATTEMPTS')!;
    if (!/^\d+$/.test(t))
      throw configError(
        `BACKGROUND_RETRY_ATTEMPTS must be a whole number of retries (0 = none), got ${JSON.stringify(t)}.`,
      );
    retryAttempts = Number(t);
  }

  const retryDelayMs =
    opts.retryDelayMs !== undefined
      ? checkNumber(opts.retryDelayMs, 'retryDelayMs', 0)
      : envText('BACKGROUND_RETRY_DELAY') !== undefined
        ? parseClientDuration(envText('BACKGROUND_RETRY_DELAY')!, 'BACKGROUND_RETRY_DELAY')
        : 1000;

  const upload = opts.upload ?? 'auto';
  if (upload !== 'auto' && upload !== true && upload !== false)
    throw configError(`upload must be 'auto', true or false, got ${JSON.stringify(upload)}.`);

  const f = opts.fetch ?? globalThis.fetch;
  if (typeof f !== 'function')
    throw configError('No fetch implementation: use Node 20 or later, or pass the fetch option.');

  return {
    baseUrl,
    token,
    timeoutMs,
    retryAttempts,
    retryDelayMs,
    maxRetryDelayMs:
      opts.maxRetryDelayMs !== undefined ? checkNumber(opts.maxRetryDelayMs, 'maxRetryDelayMs', 0) : 30_000,
    pollMs: opts.pollMs !== undefined ? checkNumber(opts.pollMs, 'pollMs', 1) : 1000,
    syncWaitMs: opts.syncWaitMs !== undefined ? checkNumber(opts.syncWaitMs, 'syncWaitMs', 0) : 30_000,
    upload,
    onRetry: opts.onRetry,
    headers: { ...(opts.headers ?? {}) },
    fetch: f,
  };
}
