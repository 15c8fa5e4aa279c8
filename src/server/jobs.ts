/**
 * What a server job is and how it runs: the payload stored in the queue, the handler that runs
 * replaceBackground/cleanup on it and stores the artifacts under OUTPUT_DIR/<jobId>/, the public
 * view of a job, and the webhook message announcing its end.
 */
import { realpathSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { BgNativeError, toBgError } from '../errors.js';
import { writeFileAtomic } from '../image/atomic-write.js';
import { type GuardedResponse, guardedRequest, UrlRefusedError } from '../net/guard.js';
import type { CleanupOptions, ReplaceOptions } from '../options.js';
import { JobFailure, type JobContext, type JobRecord, type WebhookMessage } from '../queue/types.js';
import { toResultMetadata, type ResultMetadata, type ResultSource } from '../result-format.js';
import type { ServerConfig } from './config.js';
import { isRetryableCode } from './http-errors.js';
import type { JobPayload, JobSource } from './job-payload.js';
import { createPreviewWriter, previewPath, type PreviewWriter } from './job-preview.js';
import { serverLibrary } from './library.js';
import { checkInputPath } from './paths.js';
import { loadStudioOptions } from './studio-sources.js';

export type { JobPayload, JobSource } from './job-payload.js';

/**
 * A finished job's result as the queue keeps it: the result format with artifact paths relative
 * to OUTPUT_DIR (`files`, turned into URLs when shown). Rows written by earlier versions hold the
 * older fields only; presentResult fills in the rest.
 */
export type StoredResult = ResultMetadata & { files: { output: string; mask: string } };

/**
 * The result a job stores: the result format minus what stays on the server (the segmentation
 * model's and the weights' paths in model/engineInfo, the engines skipped on the way).
 */
function storedResult(r: ResultSource, files: StoredResult['files']): StoredResult {
  const { model: _model, engineInfo: _info, skipped: _skipped, ...meta } = toResultMetadata(r, files);
  return { ...(meta as ResultMetadata), files };
}

/** The folder uploads are stored in before their job runs. */
export function uploadsDir(cfg: ServerConfig): string {
  return path.join(cfg.outputDir, '.uploads');
}

/** True when `err` (or what caused it) is the file system saying it is full. */
function isNoSpace(err: unknown): boolean {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true;
  }
  return false;
}

function failure(err: unknown): JobFailure {
  if (err instanceof JobFailure) return err;
  if (isNoSpace(err)) {
    const message = 'The disk under OUTPUT_DIR is full: the result could not be written. The job is tried again later.';
    return new JobFailure('E_IO', message, true, { cause: err });
  }
  if (err instanceof UrlRefusedError) return new JobFailure('E_FORBIDDEN', err.message, false);
  const e = toBgError(err);
  return new JobFailure(e.code, e.message, isRetryableCode(e.code), { cause: err });
}

async function loadInput(
  source: JobSource,
  cfg: ServerConfig,
  signal: AbortSignal,
  field = 'input',
): Promise<string | Buffer> {
  switch (source.kind) {
    case 'path':
      // Checked again when the job runs: the file (or a symlink on its way) may have changed.
      return checkInputPath(source.path, cfg.inputRoots, `${field}Path`);
    case 'upload': {
      const real = realpathSync(source.path);
      const dir = realpathSync(uploadsDir(cfg));
      if (path.dirname(real) !== dir) {
        throw new JobFailure('E_FORBIDDEN', 'The uploaded file is not in the uploads folder.', false);
      }
      return readFile(real);
    }
    case 'url': {
      let res: GuardedResponse;
      try {
        res = await guardedRequest(source.url, cfg, `${field}Url`, {
          timeoutMs: 60_000,
          maxBytes: cfg.uploadLimit,
          maxRedirects: 3,
          signal,
        });
      } catch (err) {
        if (err instanceof UrlRefusedError) throw err;
        if (signal.aborted) {
          throw new BgNativeError('E_CANCELLED', 'The job was cancelled while its input was downloading.');
        }
        throw new JobFailure('E_FETCH_FAILED', `${field}Url could not be fetched: ${(err as Error).message}`, true);
      }
      if (res.status !== 200) {
        throw new JobFailure(
          'E_FETCH_FAILED',
          `${field}Url answered HTTP ${res.status}.`,
          res.status >= 500 || res.status === 429,
        );
      }
      return res.body;
    }
  }
}

function extFor(format: string | undefined): string {
  return format === 'jpeg' || format === 'jpg' ? 'jpg' : format === 'webp' ? 'webp' : 'png';
}

/** Runs one job: input → pipeline → OUTPUT_DIR/<jobId>/{output.<ext>, mask.png}. */
export async function runJob(job: JobRecord, ctx: JobContext, cfg: ServerConfig): Promise<StoredResult> {
  const p = job.payload as JobPayload;
  const timeout = AbortSignal.timeout(cfg.jobTimeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout]);
  let preview: PreviewWriter | undefined;
  try {
    ctx.progress(0, 'input');
    const input = await loadInput(p.source, cfg, signal);
    const studio = await loadStudioOptions(p.studio, (source, field) => loadInput(source, cfg, signal, field));
    const dir = path.join(cfg.outputDir, job.id);
    await mkdir(dir, { recursive: true });
    const format = typeof p.options.format === 'string' ? p.options.format.toLowerCase() : undefined;
    const outName = `output.${extFor(format)}`;
    const output = path.join(dir, outName);
    const common = {
      ...(cfg.threads !== undefined ? { threads: cfg.threads } : {}),
      output,
      ...(format ? {} : { format: 'png' as const }),
    };
    if (p.op === 'replace') {
      const previews = (preview = createPreviewWriter(previewPath(cfg.outputDir, job.id)));
      const options: ReplaceOptions = {
        ...(cfg.engine ? { engine: cfg.engine } : {}),
        ...(cfg.device ? { device: cfg.device } : {}),
        ...(p.options as Partial<ReplaceOptions>),
        ...studio,
        ...common,
        ...(cfg.modelPath ? { model: { diffusion: cfg.modelPath } } : {}),
        input,
        signal,
        onProgress: (pr) => {
          ctx.progress(0.02 + 0.97 * pr.progress, pr.stage);
          if (pr.preview) previews.push(pr.preview);
        },
      };
      const r = await serverLibrary(cfg).replaceBackground(options);
      await previews.close();
      await writeFileAtomic(path.join(dir, 'mask.png'), r.artifacts.mask);
      return storedResult(r, { output: `${job.id}/${outName}`, mask: `${job.id}/mask.png` });
    }
    // The server's device setting is a default for the cutout too; a job's own options win.
    const device = cfg.device === 'cpu' ? { device: 'cpu' as const } : {};
    const options: CleanupOptions = {
      ...device,
      ...(p.options as Partial<CleanupOptions>),
      ...studio,
      ...common,
      input,
    };
    ctx.progress(0.05, 'segment');
    const r = await serverLibrary(cfg).cleanup(options);
    if (signal.aborted) throw new BgNativeError('E_CANCELLED', 'The job was cancelled.');
    await writeFileAtomic(path.join(dir, 'mask.png'), r.artifacts.mask);
    return storedResult(r, { output: `${job.id}/${outName}`, mask: `${job.id}/mask.png` });
  } catch (err) {
    // A job that did not succeed leaves no files: a later try writes them all again.
    await preview?.close();
    await rm(path.join(cfg.outputDir, job.id), { recursive: true, force: true }).catch(() => undefined);
    if (timeout.aborted && !ctx.signal.aborted) {
      throw new JobFailure('E_TIMEOUT', `The job ran longer than ${cfg.jobTimeoutMs} ms and was stopped.`, true);
    }
    throw failure(err);
  }
}

/** The URL of a file under OUTPUT_DIR: absolute with PUBLIC_BASE_URL (or the request's origin), else /files/…. */
export function fileUrl(rel: string, base: string | undefined): string {
  const p = `/files/${rel.split('/').map(encodeURIComponent).join('/')}`;
  return base ? `${base}${p}` : p;
}

/** A result as the server shows it: the result format plus the artifacts' URLs at the top level. */
export type PresentedResult = ResultMetadata & { outputUrl: string; maskUrl: string };

/**
 * The result as clients see it: the result format (engine, preset, seed, artifacts, metrics, …)
 * with URLs, also as outputUrl/maskUrl. Mapped again from the stored row, so rows written by
 * earlier versions come out in today's shape.
 */
export function presentResult(r: StoredResult, base: string | undefined): PresentedResult {
  const { files, ...stored } = r;
  const outputUrl = fileUrl(files.output, base);
  const maskUrl = fileUrl(files.mask, base);
  return { ...toResultMetadata(stored as ResultSource, { output: outputUrl, mask: maskUrl }), outputUrl, maskUrl };
}

/** The URL of a running job's latest step preview (GET /v1/jobs/:id/preview). */
export function previewUrl(jobId: string, base: string | undefined): string {
  const p = `/v1/jobs/${encodeURIComponent(jobId)}/preview`;
  return base ? `${base}${p}` : p;
}

/** Whether a job reports step previews: a replace job that asked for them (previewEvery). */
export function jobHasPreviews(job: JobRecord): boolean {
  const p = job.payload as JobPayload;
  return p.op === 'replace' && typeof p.options.previewEvery === 'number' && p.options.previewEvery > 0;
}

/** The public view of a job. */
export function presentJob(job: JobRecord, base: string | undefined): Record<string, unknown> {
  const p = job.payload as JobPayload;
  return {
    jobId: job.id,
    type: p.op,
    status: job.status,
    progress: job.progress,
    ...(job.stage ? { stage: job.stage } : {}),
    ...(job.status === 'running' && jobHasPreviews(job) ? { previewUrl: previewUrl(job.id, base) } : {}),
    ...(p.mediaId !== undefined ? { mediaId: p.mediaId } : {}),
    ...(p.projectId !== undefined ? { projectId: p.projectId } : {}),
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    createdAt: new Date(job.createdAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    ...(job.finishedAt ? { finishedAt: new Date(job.finishedAt).toISOString() } : {}),
    ...(job.status === 'succeeded' && job.result ? { result: presentResult(job.result as StoredResult, base) } : {}),
    ...(job.error && job.status !== 'succeeded' ? { error: job.error } : {}),
  };
}

export type WebhookEvent = 'background.job.succeeded' | 'background.job.failed';

/**
 * The event name twice: `event`, the documented field receivers read, and `type`, the Standard
 * Webhooks envelope's name for it. Both always carry the same value.
 */
function envelope(event: WebhookEvent): { event: WebhookEvent; type: WebhookEvent } {
  return { event, type: event };
}

/** The webhook for a job that ended: `background.job.succeeded` / `background.job.failed` (cancelled jobs too). */
export function terminalMessage(job: JobRecord, cfg: ServerConfig): WebhookMessage | undefined {
  const p = job.payload as JobPayload;
  if (!p.callbackUrl) return undefined;
  const base = cfg.publicBaseUrl;
  const common = {
    jobId: job.id,
    ...(p.mediaId !== undefined ? { mediaId: p.mediaId } : {}),
    ...(p.projectId !== undefined ? { projectId: p.projectId } : {}),
    timestamp: new Date(job.finishedAt ?? Date.now()).toISOString(),
  };
  let body: Record<string, unknown>;
  if (job.status === 'succeeded') {
    const result = presentResult(job.result as StoredResult, base);
    body = {
      ...envelope('background.job.succeeded'),
      ...common,
      outputUrl: result.outputUrl,
      maskUrl: result.maskUrl,
      result,
    };
  } else {
    const error = job.error ?? { code: 'E_INTERNAL', message: 'The job failed.' };
    body = { ...envelope('background.job.failed'), ...common, status: job.status, error };
  }
  return { id: `msg_${job.id}`, url: p.callbackUrl, body: JSON.stringify(body) };
}
