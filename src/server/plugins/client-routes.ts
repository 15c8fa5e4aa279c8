/**
 * The client API: POST /v1/replace and /v1/cleanup take the photo as a path, a URL or a multipart
 * upload and answer with the finished job when it ends within the wait (?wait, else SYNC_WAIT),
 * else 202 with the job to poll. When the server starts shutting down, waiting requests answer
 * 202 at once.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import { TERMINAL } from '../../queue/types.js';
import type { ServerConfig } from '../config.js';
import { HttpError, statusForCode } from '../http-errors.js';
import { presentJob } from '../jobs.js';
import {
  ErrorSchema,
  IdempotencyHeadersSchema,
  JobViewSchema,
  SUBMIT_ERRORS,
  V1CleanupBodySchema,
  V1ReplaceBodySchema,
  WaitQuerySchema,
} from '../schemas.js';
import { STUDIO_BODY_KEYS, type StudioBodyFields } from '../studio-sources.js';
import { jobUrl, submitJob } from '../submit.js';
import { multipartToBody, requestUploads } from './multipart.js';

export interface ClientRoutesOptions {
  cfg: ServerConfig;
}

type SyncRequest = FastifyRequest<{
  Body: Record<string, unknown>;
  Querystring: { wait?: number | undefined };
  Headers: { 'idempotency-key'?: string | undefined };
}>;

interface SourceFields {
  imagePath?: string;
  inputPath?: string;
  inputUrl?: string;
  callbackUrl?: string;
  mediaId?: string;
  projectId?: string;
}

/** The body's studio file fields apart from the library options. */
function splitBody(rest: Record<string, unknown>): { studio: StudioBodyFields; options: Record<string, unknown> } {
  const studio: StudioBodyFields = {};
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) {
    if ((STUDIO_BODY_KEYS as string[]).includes(k)) studio[k as keyof StudioBodyFields] = v as string;
    else options[k] = v;
  }
  return { studio, options };
}

export async function clientRoutes(app: FastifyInstance, { cfg }: ClientRoutesOptions): Promise<void> {
  const base = cfg.publicBaseUrl;
  /** Resolves when shutdown starts: requests waiting for a result answer 202 at once. */
  let startClosing!: () => void;
  const closing = new Promise<void>((resolve) => (startClosing = resolve));
  app.addHook('preClose', async () => startClosing());

  async function runSync(op: 'replace' | 'cleanup', req: SyncRequest, reply: FastifyReply) {
    const body = req.body as Record<string, unknown> & SourceFields;
    const { imagePath, inputPath, inputUrl, callbackUrl, mediaId, projectId, ...rest } = body;
    if (imagePath !== undefined && inputPath !== undefined) {
      throw new HttpError(400, 'E_BAD_INPUT', 'Give imagePath or inputPath, not both.');
    }
    const { studio, options } = splitBody(rest);
    const { job } = await submitJob(app.queue, cfg, {
      op,
      inputPath: imagePath ?? inputPath,
      inputUrl,
      uploads: requestUploads(req),
      studio,
      options,
      callbackUrl,
      mediaId,
      projectId,
      idempotencyKey: req.headers['idempotency-key'],
    });
    const waitMs = req.query.wait !== undefined ? req.query.wait * 1000 : cfg.syncWaitMs;
    const ended =
      (await Promise.race([app.queue.waitFor(job.id, waitMs), closing.then(() => app.queue.get(job.id))])) ?? job;
    const view = presentJob(ended, base);
    const url = jobUrl('/v1/jobs', job.id, base);
    void reply.header('location', url);
    if (!TERMINAL.has(ended.status)) return reply.status(202).send({ ...view, statusUrl: url } as never);
    if (ended.status === 'succeeded') return reply.status(200).send(view as never);
    const error = ended.error ?? { code: 'E_INTERNAL', message: 'The job failed.' };
    return reply.status(statusForCode(error.code)).send({ error, jobId: job.id } as never);
  }

  const z = app.withTypeProvider<ZodTypeProvider>();
  const response = () => ({
    200: JobViewSchema,
    202: JobViewSchema,
    ...SUBMIT_ERRORS,
    500: ErrorSchema,
    502: ErrorSchema,
  });
  z.post('/v1/replace', {
    schema: {
      tags: ['client'],
      summary: 'Replace the background; answers with the result when done within the wait, else 202 + job',
      consumes: ['application/json', 'multipart/form-data'],
      body: V1ReplaceBodySchema,
      querystring: WaitQuerySchema,
      headers: IdempotencyHeadersSchema,
      response: response(),
    },
    preValidation: multipartToBody,
    handler: (req, reply) => runSync('replace', req as never, reply),
  });

  z.post('/v1/cleanup', {
    schema: {
      tags: ['client'],
      summary: 'Remove the background; answers with the result when done within the wait, else 202 + job',
      consumes: ['application/json', 'multipart/form-data'],
      body: V1CleanupBodySchema,
      querystring: WaitQuerySchema,
      headers: IdempotencyHeadersSchema,
      response: response(),
    },
    preValidation: multipartToBody,
    handler: (req, reply) => runSync('cleanup', req as never, reply),
  });
}
