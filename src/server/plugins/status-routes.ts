/**
 * The server's own state: GET /health (liveness without the token; the detailed view with it)
 * and GET /v1/status (the detailed view: queue depth, engines, backends, version, presets).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';

import { backends } from '../../native.js';
import type { JobQueue } from '../../queue/types.js';
import { version } from '../../version.js';
import type { ServerConfig } from '../config.js';
import { serverEngines, serverLibrary } from '../library.js';
import { ErrorSchema, HealthQuerySchema, HealthSchema, StatusSchema } from '../schemas.js';
import { isLivenessProbe } from './auth.js';

export interface StatusRoutesOptions {
  cfg: ServerConfig;
}

/** The detailed view: queue depth, engines, backends, version, presets (behind the token). */
export async function serverStatus(queue: JobQueue, cfg: ServerConfig) {
  const c = await queue.counts();
  let be: unknown[] = [];
  let status: 'ok' | 'degraded' = 'ok';
  try {
    be = backends() as unknown[];
  } catch {
    status = 'degraded';
  }
  return {
    status,
    version,
    queue: { backend: queue.backend, queued: c.queued, running: c.running, max: cfg.maxQueued },
    engines: serverEngines(cfg),
    backends: be,
    presets: serverLibrary(cfg).listPresets(),
  };
}

export async function statusRoutes(app: FastifyInstance, { cfg }: StatusRoutesOptions): Promise<void> {
  const z = app.withTypeProvider<ZodTypeProvider>();
  const tokenSet = Boolean(cfg.apiToken);
  z.get('/health', {
    schema: {
      tags: ['server'],
      summary:
        'Liveness without the token ({ status }); with the token or ?details=1 (token required) the detailed view',
      querystring: HealthQuerySchema,
      response: { 200: HealthSchema, 401: ErrorSchema },
    },
    // Reaching the handler with a token, or on a server without one, means the caller may see everything.
    handler: async (req) =>
      isLivenessProbe(req) && tokenSet ? { status: 'ok' as const } : serverStatus(app.queue, cfg),
  });

  z.get('/v1/status', {
    schema: {
      tags: ['server'],
      summary: 'Status, engines, backends, queue depth, version, presets',
      response: { 200: StatusSchema, 401: ErrorSchema },
    },
    handler: () => serverStatus(app.queue, cfg),
  });
}
