/**
 * A job as the client shows it (its URLs made absolute) and the polling of a job until it ends:
 * GET /v1/jobs/:id every pollMs, onProgress on each change, within the call's deadline.
 */
import type { CallScope } from './call-scope.js';
import { sleep } from './call-scope.js';
import { BackgroundApiError } from './errors.js';
import { absolute, request, type ClientState } from './transport.js';
import type { Job } from './types.js';

export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export interface PollOptions {
  pollMs?: number | undefined;
  onProgress?: ((job: Job) => void) | undefined;
  /** false: resolve with a failed or cancelled job instead of throwing its error. */
  throwOnFailure?: boolean | undefined;
}

export function checkId(jobId: unknown): string {
  if (typeof jobId !== 'string' || jobId.trim() === '') {
    throw new BackgroundApiError('E_BAD_INPUT', `A job id must be a non-empty string, got ${JSON.stringify(jobId)}.`);
  }
  return jobId;
}

export function jobPath(jobId: string): string {
  return `/v1/jobs/${encodeURIComponent(jobId)}`;
}

/** The server's job view with its URLs (result, preview, status) absolute. */
export function presentJob(state: ClientState, body: Record<string, unknown>): Job {
  const job = body as unknown as Job;
  if (typeof job.jobId !== 'string' || typeof job.status !== 'string') {
    throw new BackgroundApiError(
      'E_BAD_RESPONSE',
      'The server answered without a job (jobId, status): is BACKGROUND_API_URL a bg-native server?',
    );
  }
  if (job.result) {
    const r = job.result;
    r.outputUrl = absolute(state, r.outputUrl);
    r.maskUrl = absolute(state, r.maskUrl);
    if (r.artifacts) {
      r.artifacts = { output: absolute(state, r.artifacts.output), mask: absolute(state, r.artifacts.mask) };
    }
  }
  if (typeof job.previewUrl === 'string') job.previewUrl = absolute(state, job.previewUrl);
  if (typeof job.statusUrl === 'string') job.statusUrl = absolute(state, job.statusUrl);
  else job.statusUrl = absolute(state, jobPath(job.jobId));
  return job;
}

export async function getJob(state: ClientState, jobId: string, scope: CallScope): Promise<Job> {
  const a = await request(
    state,
    { method: 'GET', path: jobPath(jobId), what: `getJob(${JSON.stringify(jobId)})` },
    scope,
  );
  return presentJob(state, a.body);
}

/** The error of a job that ended without succeeding. */
export function jobFailure(job: Job): BackgroundApiError {
  const cancelled = job.status === 'cancelled';
  const e = job.error ?? {
    code: cancelled ? 'E_CANCELLED' : 'E_INTERNAL',
    message: `The job ${cancelled ? 'was cancelled' : 'failed'}.`,
  };
  return new BackgroundApiError(e.code, e.message, { jobId: job.jobId });
}

function isAbort(err: unknown): boolean {
  return err instanceof BackgroundApiError && (err.code === 'E_TIMEOUT' || err.code === 'E_CANCELLED');
}

/** Polls until the job ends (`first`: its view already in hand). */
export async function waitForJob(
  state: ClientState,
  jobId: string,
  scope: CallScope,
  opts: PollOptions,
  first?: Job,
): Promise<Job> {
  const pollMs = opts.pollMs ?? state.cfg.pollMs;
  const what = `Waiting for job ${jobId}`;
  let seen = '';
  let job = first;
  for (;;) {
    if (!job) {
      try {
        job = await getJob(state, jobId, scope);
      } catch (err) {
        if (isAbort(err)) throw scope.abortError(what, jobId, err);
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
    if (scope.remaining() <= 0 || scope.signal.aborted) throw scope.abortError(what, jobId);
    await sleep(Math.min(pollMs, scope.remaining()), scope.signal);
    if (scope.signal.aborted) throw scope.abortError(what, jobId);
    job = undefined;
  }
}
