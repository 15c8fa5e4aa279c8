/**
 * GET /v1/jobs/:id/preview (and /api/background/jobs/:id/preview): the latest step preview of a
 * running replace job that asked for previews (previewEvery), as image/jpeg; 404 E_NOT_FOUND when
 * the job is not running or no preview has arrived yet. Behind the token like every job route.
 */
import { readFile } from 'node:fs/promises';

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import type { JobRecord } from '../queue/types.js';
import { HttpError } from './http-errors.js';
import { previewPath } from './job-preview.js';
import { JobParamsSchema } from './schemas.js';

export interface PreviewRouteOptions {
  outputDir: string;
  /** The job, or HttpError 404. */
  jobOr404(id: string): Promise<JobRecord>;
}

const NONE_YET =
  'No preview yet: previews come every previewEvery steps while the local engine runs (with a tiny ' +
  'autoencoder, TAESD).';

export function registerPreviewRoute(app: FastifyInstance, options: PreviewRouteOptions): void {
  for (const prefix of ['/api/background/jobs', '/v1/jobs']) {
    app.withTypeProvider<ZodTypeProvider>().get(
      `${prefix}/:id/preview`,
      {
        schema: {
          tags: ['jobs'],
          summary: "A running job's latest step preview (image/jpeg, longer side at most 256 px; 404 when none)",
          params: JobParamsSchema,
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        const job = await options.jobOr404(id);
        if (job.status !== 'running') {
          throw new HttpError(404, 'E_NOT_FOUND', `Job ${id} is ${job.status}: previews are shown only while it runs.`);
        }
        let jpeg: Buffer;
        try {
          jpeg = await readFile(previewPath(options.outputDir, job.id));
        } catch {
          throw new HttpError(404, 'E_NOT_FOUND', NONE_YET);
        }
        return reply
          .header('content-type', 'image/jpeg')
          .header('cache-control', 'no-store')
          .header('x-content-type-options', 'nosniff')
          .send(jpeg);
      },
    );
  }
}
