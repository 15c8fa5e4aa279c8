/**
 * Submitting a job, for every route that takes one (the seed API and /v1/replace, /v1/cleanup):
 * exactly one photo source, checked where it points (INPUT_ROOTS, the network guard), the studio
 * files, the callback URL, the options by the library's own rules, the queue's capacity — then
 * the enqueue. Any refusal deletes the request's uploads.
 */
import { checkUrl } from '../net/guard.js';
import { parseCleanupOptions } from '../options.js';
import { chooseFormat } from '../pipeline/cleanup.js';
import type { JobQueue, JobRecord } from '../queue/types.js';
import type { ServerConfig } from './config.js';
import { HttpError } from './http-errors.js';
import { serverLibrary } from './library.js';
import type { JobPayload, JobSource } from './job-payload.js';
import { checkInputPath } from './paths.js';
import { removeUploads } from './plugins/multipart.js';
import { studioSources, type StudioBodyFields } from './studio-sources.js';

export interface SubmitArgs {
  op: 'replace' | 'cleanup';
  inputPath?: string | undefined;
  inputUrl?: string | undefined;
  /** The request's uploads by field: `file` is the photo, the rest studio files. */
  uploads?: ReadonlyMap<string, string> | undefined;
  studio?: StudioBodyFields;
  options: Record<string, unknown>;
  callbackUrl?: string | undefined;
  mediaId?: string | undefined;
  projectId?: string | undefined;
  idempotencyKey?: string | undefined;
}

/** The URL of a job under `prefix` (/api/background/jobs or /v1/jobs): absolute with PUBLIC_BASE_URL. */
export function jobUrl(prefix: string, id: string, base: string | undefined): string {
  return `${base ?? ''}${prefix}/${id}`;
}

/** 503 E_QUEUE_FULL (with Retry-After) when MAX_QUEUED jobs are queued or running. */
async function checkCapacity(queue: JobQueue, cfg: ServerConfig): Promise<void> {
  const c = await queue.counts();
  if (c.queued + c.running >= cfg.maxQueued) {
    const message = `The queue is full (${c.queued + c.running} jobs); try again in ${cfg.retryAfterSec} s.`;
    throw new HttpError(503, 'E_QUEUE_FULL', message, { 'retry-after': String(cfg.retryAfterSec) });
  }
}

/** The library's checks of a job's options, run before it is queued (the photo is a placeholder). */
function validateOptions(cfg: ServerConfig, op: 'replace' | 'cleanup', options: Record<string, unknown>): void {
  if (op === 'replace') serverLibrary(cfg).checkReplaceOptions({ ...options, input: 'x' });
  else {
    const o = parseCleanupOptions({ ...options, input: 'x' });
    chooseFormat(o.mode ?? 'transparent', o.format, undefined);
  }
}

function sourceCount(a: SubmitArgs): number {
  return [a.inputPath, a.inputUrl, a.uploads?.get('file')].filter((x) => x !== undefined).length;
}

/** Checks the request and enqueues its job; `created` is false when the idempotency key found one. */
export async function submitJob(
  queue: JobQueue,
  cfg: ServerConfig,
  a: SubmitArgs,
): Promise<{ job: JobRecord; created: boolean }> {
  const upload = a.uploads?.get('file');
  const given = sourceCount(a);
  if (given !== 1) {
    await removeUploads(a.uploads);
    const message =
      given === 0
        ? 'Give the photo: inputPath (or imagePath), inputUrl, or a multipart `file`.'
        : 'Give only one of inputPath/imagePath, inputUrl and an uploaded file.';
    throw new HttpError(400, 'E_BAD_INPUT', message);
  }
  try {
    let source: JobSource;
    if (a.inputPath !== undefined) source = { kind: 'path', path: checkInputPath(a.inputPath, cfg.inputRoots) };
    else if (a.inputUrl !== undefined) {
      source = { kind: 'url', url: (await checkUrl(a.inputUrl, cfg, 'inputUrl')).toString() };
    } else source = { kind: 'upload', path: upload! };
    const studio = await studioSources(a.studio ?? {}, a.uploads ?? new Map(), {
      path: (p, field) => checkInputPath(p, cfg.inputRoots, field),
      url: async (u, field) => (await checkUrl(u, cfg, field)).toString(),
    });
    if (a.callbackUrl !== undefined) {
      await checkUrl(a.callbackUrl, cfg, 'callbackUrl');
      if (!cfg.webhookSecret) {
        throw new HttpError(
          422,
          'E_CONFIG',
          'This server cannot send webhooks: APP_WEBHOOK_SECRET is not set. ' +
            'Leave callbackUrl out and poll the job instead.',
        );
      }
    }
    // The library's own rules on the studio files (a second shot needs the clean plate too).
    const placeholders = {
      ...(studio?.cleanPlate ? { cleanPlate: 'x' } : {}),
      ...(studio?.secondInput ? { second: { input: 'x', cleanPlate: 'x' } } : {}),
    };
    validateOptions(cfg, a.op, { ...a.options, ...placeholders });
    await checkCapacity(queue, cfg);
    const payload: JobPayload = {
      op: a.op,
      source,
      options: a.options,
      ...(studio ? { studio } : {}),
      ...(a.mediaId !== undefined ? { mediaId: a.mediaId } : {}),
      ...(a.projectId !== undefined ? { projectId: a.projectId } : {}),
      ...(a.callbackUrl !== undefined ? { callbackUrl: a.callbackUrl } : {}),
    };
    const out = await queue.enqueue(a.op, payload, a.idempotencyKey ? { idempotencyKey: a.idempotencyKey } : {});
    if (!out.created) await removeUploads(a.uploads);
    return out;
  } catch (err) {
    await removeUploads(a.uploads);
    throw err;
  }
}
