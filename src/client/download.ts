/**
 * Artifacts: an artifact's bytes (the token goes to the API's own origin only; retried like every
 * request) and a finished job's output saved to a file (written to a temporary name, then renamed).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { CallScope } from './call-scope.js';
import { BackgroundApiError } from './errors.js';
import { absolute, backoffMs, headersFor, waitToRetry, type ClientState } from './transport.js';
import type { CompletedJob } from './types.js';

/** The error an answer other than 2xx means: the API's { error } when it sent one. */
async function downloadError(res: Response, url: string, attempt: number): Promise<BackgroundApiError> {
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
  const retryable = res.status === 429 || res.status >= 500;
  return new BackgroundApiError(code, message, {
    status: res.status,
    retryable,
    attempts: attempt,
    method: 'GET',
    url,
  });
}

/** The bytes at `u` (absolute, or relative to the API). */
export async function download(state: ClientState, u: string, scope: CallScope): Promise<Buffer> {
  const url = absolute(state, u);
  const maxTries = state.cfg.retryAttempts + 1;
  for (let attempt = 1; ; attempt++) {
    let err: BackgroundApiError;
    try {
      const res = await state.cfg.fetch(url, {
        headers: headersFor(state, url, { accept: '*/*' }),
        signal: scope.signal,
      });
      if (res.ok) return Buffer.from(await res.arrayBuffer());
      err = await downloadError(res, url, attempt);
    } catch (e) {
      if (e instanceof BackgroundApiError) throw e;
      if (scope.signal.aborted) throw scope.abortError(`Downloading ${url}`, undefined, e);
      err = new BackgroundApiError('E_NETWORK', `Downloading ${url}: ${(e as Error).message}`, {
        retryable: true,
        attempts: attempt,
        method: 'GET',
        url,
        cause: e,
      });
    }
    if (!err.retryable || attempt >= maxTries) throw err;
    await waitToRetry(state, scope, attempt, backoffMs(state.cfg, attempt), err);
  }
}

/** Downloads the job's output to `saveTo` and notes where in `job.savedTo`. */
export async function saveOutput(
  state: ClientState,
  job: CompletedJob,
  saveTo: string,
  scope: CallScope,
): Promise<void> {
  const bytes = await download(state, job.result.outputUrl, scope);
  const dest = path.resolve(saveTo);
  await mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new BackgroundApiError('E_IO', `Cannot write ${dest}: ${(err as Error).message}`, {
      jobId: job.jobId,
      cause: err,
    });
  }
  job.savedTo = dest;
}
