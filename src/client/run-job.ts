/**
 * replace() / cleanup(): POST /v1/replace|cleanup (the photo as a path, a URL or an upload),
 * then — when the server answers 202 — poll the job until it ends; resolve with the finished job
 * (its output saved when asked). A retry never starts a second job (one Idempotency-Key per call);
 * a caller's AbortSignal cancels the server's job too.
 */
import { randomUUID } from 'node:crypto';

import { CallScope } from './call-scope.js';
import { saveOutput } from './download.js';
import { BackgroundApiError } from './errors.js';
import { jobFailure, jobPath, presentJob, TERMINAL, waitForJob } from './job-polling.js';
import { isBytes, studioParts } from './studio-files.js';
import { request, scopeFor, type ClientState } from './transport.js';
import type { CleanupRequest, CompletedJob, JobCallOptions, ReplaceRequest } from './types.js';
import { sendPhoto, type PhotoSource } from './uploads.js';

/** Checks that exactly one photo source is given, and that it is usable. */
function checkPhoto(op: string, src: Omit<PhotoSource, 'upload'>): void {
  const { imagePath, image, imageUrl } = src;
  const given = [imagePath, image, imageUrl].filter((v) => v !== undefined).length;
  if (given !== 1) {
    const message =
      given === 0
        ? `${op}() needs the photo: imagePath, image (bytes) or imageUrl.`
        : `${op}() takes one of imagePath, image and imageUrl, not several.`;
    throw new BackgroundApiError('E_BAD_INPUT', message);
  }
  if (imagePath !== undefined && (typeof imagePath !== 'string' || imagePath.trim() === '')) {
    throw new BackgroundApiError(
      'E_BAD_INPUT',
      `imagePath must be a non-empty string, got ${JSON.stringify(imagePath)}.`,
    );
  }
  if (image !== undefined && !isBytes(image)) {
    throw new BackgroundApiError('E_BAD_INPUT', 'image must be a Buffer, Uint8Array, ArrayBuffer or Blob.');
  }
}

/** The caller gave up: stop the server's work too (best effort, short deadline). */
async function cancelQuietly(state: ClientState, jobId: string): Promise<void> {
  const s = new CallScope(5000, undefined);
  await request(state, { method: 'DELETE', path: jobPath(jobId), what: 'cancel', retry: false }, s).catch(
    () => undefined,
  );
  s.dispose();
}

export async function runJob(
  state: ClientState,
  op: 'replace' | 'cleanup',
  req: ReplaceRequest | CleanupRequest,
): Promise<CompletedJob> {
  if (req === null || typeof req !== 'object') {
    throw new BackgroundApiError('E_BAD_INPUT', `${op}() takes an object such as { imagePath: '/photos/chair.jpg' }.`);
  }
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
  checkPhoto(op, { imagePath, image, imageUrl });
  const upload = uploadOpt ?? state.cfg.upload;
  // Studio files: paths and URLs join the options as …Path / …Url; bytes make the request multipart.
  const files = { ...(cleanPlate !== undefined ? { cleanPlate } : {}), ...(second !== undefined ? { second } : {}) };
  const studio = await studioParts(files, upload === true);
  const options: Record<string, unknown> = { ...rest, ...studio.fields };
  const scope = scopeFor(state, { ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(signal ? { signal } : {}) });
  const what = `${op}()`;
  let jobId: string | undefined;
  try {
    const post = { state, scope, op, key: idempotencyKey ?? randomUUID(), syncWaitMs, options, studio };
    const answer = await sendPhoto(post, { imagePath, image, imageUrl, filename, upload });
    let job = presentJob(state, answer.body);
    jobId = job.jobId;
    if (!TERMINAL.has(job.status)) job = await waitForJob(state, job.jobId, scope, { pollMs, onProgress }, undefined);
    else onProgress?.(job);
    if (job.status !== 'succeeded' || !job.result) throw jobFailure(job);
    const done = job as CompletedJob;
    if (saveTo !== undefined) await saveOutput(state, done, saveTo, scope);
    return done;
  } catch (err) {
    if (scope.cancelledByUser && jobId) await cancelQuietly(state, jobId);
    const aborted = err instanceof BackgroundApiError && (err.code === 'E_TIMEOUT' || err.code === 'E_CANCELLED');
    if (aborted && jobId && !err.jobId) throw scope.abortError(what, jobId, err);
    throw err;
  } finally {
    scope.dispose();
  }
}
