/**
 * The seed API: POST /api/background/replace enqueues a replacement and answers 202 { jobId,
 * status, statusUrl } (200 when the Idempotency-Key found the job already made).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import type { ServerConfig } from '../config.js';
import { AcceptedSchema, IdempotencyHeadersSchema, SeedReplaceBodySchema, SUBMIT_ERRORS } from '../schemas.js';
import { jobUrl, submitJob } from '../submit.js';

export interface RouteOptions {
  cfg: ServerConfig;
}

export async function seedRoutes(app: FastifyInstance, { cfg }: RouteOptions): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post('/api/background/replace', {
    schema: {
      tags: ['background'],
      summary: 'Enqueue a background replacement',
      body: SeedReplaceBodySchema,
      headers: IdempotencyHeadersSchema,
      response: { 202: AcceptedSchema, 200: AcceptedSchema, ...SUBMIT_ERRORS },
    },
    handler: async (req, reply) => {
      const b = req.body;
      const options: Record<string, unknown> = { ...(b.overrides ?? {}) };
      if (b.preset !== undefined) options.preset = b.preset;
      if (b.promptType !== undefined) options.promptType = b.promptType;
      const { job, created } = await submitJob(app.queue, cfg, {
        op: 'replace',
        inputPath: b.inputPath,
        inputUrl: b.inputUrl,
        options,
        callbackUrl: b.callbackUrl,
        mediaId: b.mediaId,
        projectId: b.projectId,
        idempotencyKey: req.headers['idempotency-key'],
      });
      const url = jobUrl('/api/background/jobs', job.id, cfg.publicBaseUrl);
      void reply.header('location', url).status(created ? 202 : 200);
      return { jobId: job.id, status: job.status, statusUrl: url };
    },
  });
}
