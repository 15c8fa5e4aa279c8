/**
 * A job under both prefixes (/api/background/jobs/:id and /v1/jobs/:id): GET its view (status,
 * progress, result or error), DELETE to cancel it, GET …/preview for a running job's latest step.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import type { JobQueue, JobRecord } from '../../queue/types.js';
import type { ServerConfig } from '../config.js';
import { HttpError } from '../http-errors.js';
import { presentJob } from '../jobs.js';
import { registerPreviewRoute } from '../preview-route.js';
import { ErrorSchema, JobParamsSchema, JobViewSchema } from '../schemas.js';

export interface JobRoutesOptions {
  cfg: ServerConfig;
}

/** The job, or HttpError 404. */
export async function jobOr404(queue: JobQueue, id: string): Promise<JobRecord> {
  const job = await queue.get(id);
  if (!job) throw new HttpError(404, 'E_NOT_FOUND', `No job ${JSON.stringify(id)}.`);
  return job;
}

export async function jobRoutes(app: FastifyInstance, { cfg }: JobRoutesOptions): Promise<void> {
  const z = app.withTypeProvider<ZodTypeProvider>();
  const base = cfg.publicBaseUrl;
  const getJob = async (req: FastifyRequest<{ Params: { id: string } }>) =>
    presentJob(await jobOr404(app.queue, req.params.id), base) as never;
  const deleteJob = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    await jobOr404(app.queue, req.params.id);
    return presentJob((await app.queue.cancel(req.params.id))!, base) as never;
  };
  for (const prefix of ['/api/background/jobs', '/v1/jobs']) {
    z.get(`${prefix}/:id`, {
      schema: {
        tags: ['jobs'],
        summary: 'A job: status, progress, result or error',
        params: JobParamsSchema,
        response: { 200: JobViewSchema, 401: ErrorSchema, 404: ErrorSchema },
      },
      handler: getJob,
    });
    z.delete(`${prefix}/:id`, {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job (queued: at once; running: at its next step)',
        params: JobParamsSchema,
        response: { 200: JobViewSchema, 401: ErrorSchema, 404: ErrorSchema },
      },
      handler: deleteJob,
    });
  }
  registerPreviewRoute(app, { outputDir: cfg.outputDir, jobOr404: (id) => jobOr404(app.queue, id) });
}
