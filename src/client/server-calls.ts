/**
 * The client's single-request calls: a job's view (GET), its cancellation (DELETE), its latest
 * step preview, and the server's health.
 */
import { download } from './download.js';
import { BackgroundApiError } from './errors.js';
import { checkId, jobPath, presentJob } from './job-polling.js';
import { inScope, request, scopeFor, type ClientState } from './transport.js';
import type { CallOptions, Health, Job } from './types.js';

export function cancelJob(state: ClientState, jobId: string, opts?: CallOptions): Promise<Job> {
  return inScope(state, opts, async (scope) => {
    const id = checkId(jobId);
    const what = `cancelJob(${JSON.stringify(id)})`;
    const a = await request(state, { method: 'DELETE', path: jobPath(id), what }, scope);
    return presentJob(state, a.body);
  });
}

/** A running job's latest step preview (JPEG), or undefined when there is none. */
export function preview(state: ClientState, jobId: string, opts?: CallOptions): Promise<Buffer | undefined> {
  return inScope(state, opts, async (scope) => {
    try {
      return await download(state, `${jobPath(checkId(jobId))}/preview`, scope);
    } catch (err) {
      // 404: the job is not running, or no preview has arrived yet.
      if (err instanceof BackgroundApiError && err.status === 404 && err.code === 'E_NOT_FOUND') return undefined;
      throw err;
    }
  });
}

export function health(state: ClientState, opts?: CallOptions): Promise<Health> {
  return inScope(state, opts, async (scope) => {
    const a = await request(state, { method: 'GET', path: '/health', what: 'health()' }, scope);
    return a.body as unknown as Health;
  });
}

/** true when /health answers `ok` within `timeoutMs` (default 5000); never throws, never retries. */
export async function isHealthy(state: ClientState, opts?: CallOptions): Promise<boolean> {
  const timeoutMs = opts?.timeoutMs ?? Math.min(5000, state.cfg.timeoutMs);
  const scope = scopeFor(state, { timeoutMs, ...(opts?.signal ? { signal: opts.signal } : {}) });
  try {
    const a = await request(state, { method: 'GET', path: '/health', what: 'isHealthy()', retry: false }, scope);
    return a.body.status === 'ok';
  } catch {
    return false;
  } finally {
    scope.dispose();
  }
}
