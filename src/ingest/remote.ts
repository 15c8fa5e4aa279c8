/**
 * The ingest step against a bg-native server (MEDIA_INGEST_BACKGROUND_API_URL): the photo is
 * uploaded to POST /v1/replace or /v1/cleanup (multipart, so the server needs no access to our
 * disk), the answer awaited (the server's bounded wait, then polling GET /v1/jobs/:id), and the
 * result downloaded from its outputUrl. No native addon is loaded on this path.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { BgNativeError, type ErrorCode } from '../errors.js';

export interface RemoteCall {
  /** The server's base URL (a path prefix is kept). */
  baseUrl: string;
  token?: string | undefined;
  op: 'replace' | 'cleanup';
  imagePath: string;
  /** Options sent with the photo (preset, promptType, format, enhanceFg, mode, …). */
  options: Record<string, unknown>;
  /** Overall deadline in ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface RemoteOutcome {
  /** The encoded result. */
  output: Buffer;
  /** The job's result fields as the server reported them (engine, prompt, seed, …). */
  result: Record<string, unknown>;
  jobId: string;
}

/** Stable codes of ours the server may answer with; anything else becomes E_PROVIDER_FAILED. */
const OWN_CODES = new Set<string>([
  'E_BAD_INPUT',
  'E_IMAGE_TOO_LARGE',
  'E_MODEL_FORMAT',
  'E_MODEL_UNSUPPORTED',
  'E_MODEL_NOT_FOUND',
  'E_NO_SUBJECT',
  'E_NO_BACKGROUND',
  'E_CONFIG',
  'E_CANCELLED',
]);

function endpoint(base: string, rel: string): URL {
  const b = new URL(base.endsWith('/') ? base : `${base}/`);
  return new URL(rel.replace(/^\/+/, ''), b);
}

function serverError(status: number, body: unknown, what: string): BgNativeError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : `HTTP_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${status}`;
  const mapped: ErrorCode = OWN_CODES.has(code)
    ? (code as ErrorCode)
    : status === 401 || status === 403
      ? 'E_CONFIG'
      : 'E_PROVIDER_FAILED';
  const hint = status === 401 ? " Set MEDIA_INGEST_BACKGROUND_API_TOKEN (or API_TOKEN) to the server's API_TOKEN." : '';
  return Object.assign(
    new BgNativeError(mapped, `The background server refused ${what}: ${code}: ${message}.${hint}`),
    { serverCode: code, status },
  );
}

function abortError(signal: AbortSignal, what: string, cause?: unknown): BgNativeError {
  const reason = signal.reason as { name?: string } | undefined;
  if (reason?.name === 'TimeoutError')
    return new BgNativeError(
      'E_PROVIDER_FAILED',
      `The background server did not finish ${what} in time (MEDIA_INGEST_BACKGROUND_TIMEOUT).`,
      { cause },
    );
  return new BgNativeError('E_CANCELLED', `${what} was cancelled.`, { cause });
}

async function call(
  url: URL,
  init: RequestInit,
  token: string | undefined,
  signal: AbortSignal,
  what: string,
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  try {
    return await fetch(url, { ...init, headers, signal });
  } catch (err) {
    if (signal.aborted) throw abortError(signal, what, err);
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new BgNativeError(
      'E_PROVIDER_FAILED',
      `Cannot reach the background server at ${url.origin} (${cause}); check ` +
        'MEDIA_INGEST_BACKGROUND_API_URL, or unset it to process in-process.',
      { cause: err },
    );
  }
}

async function json(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

/** Uploads the photo, waits for the job, downloads the output. */
export async function runRemote(c: RemoteCall): Promise<RemoteOutcome> {
  const timeout = AbortSignal.timeout(c.timeoutMs);
  const signal = c.signal ? AbortSignal.any([c.signal, timeout]) : timeout;
  const what = `${c.op} of ${path.basename(c.imagePath)}`;
  const photo = await readFile(c.imagePath);
  const form = new FormData();
  form.set('options', JSON.stringify(c.options));
  form.set('file', new Blob([photo]), path.basename(c.imagePath));
  const wait = Math.max(1, Math.min(600, Math.floor(c.timeoutMs / 1000)));
  const submit = endpoint(c.baseUrl, `v1/${c.op}?wait=${wait}`);
  let res = await call(submit, { method: 'POST', body: form }, c.token, signal, what);
  let body = (await json(res)) as Record<string, unknown> | undefined;
  if (res.status !== 200 && res.status !== 202) throw serverError(res.status, body, what);
  const jobId = String(body?.jobId ?? '');
  // 202: still running after the server's wait — poll.
  while (
    res.status === 202 ||
    (body && body.status !== 'succeeded' && body.status !== 'failed' && body.status !== 'cancelled')
  ) {
    await new Promise((r) => setTimeout(r, 500));
    if (signal.aborted) throw abortError(signal, what);
    res = await call(
      endpoint(c.baseUrl, `v1/jobs/${encodeURIComponent(jobId)}`),
      { method: 'GET' },
      c.token,
      signal,
      what,
    );
    body = (await json(res)) as Record<string, unknown> | undefined;
    if (res.status !== 200) throw serverError(res.status, body, what);
  }
  if (body?.status !== 'succeeded') {
    throw serverError(
      res.status,
      { error: body?.error ?? { code: 'E_INTERNAL', message: `the job ended ${String(body?.status)}` } },
      what,
    );
  }
  const result = (body.result ?? {}) as Record<string, unknown>;
  const outputUrl = typeof result.outputUrl === 'string' ? result.outputUrl : undefined;
  if (!outputUrl)
    throw new BgNativeError('E_PROVIDER_FAILED', `The background server's answer for ${what} has no outputUrl.`);
  const base = new URL(c.baseUrl);
  const out = /^https?:\/\//i.test(outputUrl) ? new URL(outputUrl) : endpoint(c.baseUrl, outputUrl);
  // The token goes only to the server it is for.
  const file = await call(out, { method: 'GET' }, out.origin === base.origin ? c.token : undefined, signal, what);
  if (!file.ok) throw serverError(file.status, await json(file), `the download of ${what}'s result`);
  return { output: Buffer.from(await file.arrayBuffer()), result, jobId };
}
