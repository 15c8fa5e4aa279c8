/**
 * The bundled HTTP server (fastify). Routes are declared with their zod schemas; the OpenAPI
 * document (/openapi.json) and the /docs page are generated from them. Cross-cutting parts are
 * plugins (src/server/plugins/): the queue, error mapping, auth (bearer token), multipart uploads,
 * the docs; the routes come in groups by resource, each its own plugin.
 *
 *   POST   /api/background/replace      seed API: enqueue → 202 { jobId }
 *   GET    /api/background/jobs/:id     status, progress, result / error
 *   DELETE /api/background/jobs/:id     cancel
 *   POST   /v1/replace, /v1/cleanup     path, URL or upload; the result within SYNC_WAIT, else 202
 *   GET    /v1/jobs/:id, DELETE …       the same job view
 *   GET    /v1/jobs/:id/preview         a running job's latest step preview (JPEG; 404 when none)
 *   GET    /health                      liveness { status } (open); with the token: the detailed view
 *   GET    /v1/status                   status, engines, backends, queue depth, version (token)
 *   GET    /files/<jobId>/<name>        artifacts under OUTPUT_DIR
 *   GET    /v1/presets                  preset names, descriptions and prompt types
 *   GET    /                            the web page (static shell; its data comes from the routes above)
 */
import { mkdir } from 'node:fs/promises';

import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';

import type { JobQueue } from '../queue/types.js';
import {
  checkAuthConfig,
  describeConfig,
  loadServerConfig,
  type ServerConfig,
  type ServerConfigInput,
} from './config.js';
import { uploadsDir } from './jobs.js';
import { authPlugin } from './plugins/auth.js';
import { clientRoutes } from './plugins/client-routes.js';
import { docsPlugin } from './plugins/docs.js';
import { errorMappingPlugin } from './plugins/errors.js';
import { jobRoutes } from './plugins/job-routes.js';
import { multipartPlugin } from './plugins/multipart.js';
import { presetRoutes } from './plugins/preset-routes.js';
import { queuePlugin } from './plugins/queue.js';
import { seedRoutes } from './plugins/seed-routes.js';
import { staticFiles } from './plugins/static-files.js';
import { statusRoutes } from './plugins/status-routes.js';
import { closeServerLibrary, serverLibrary } from './library.js';
import { registerDiskGuard, type DiskFree, type Retention } from './retention.js';

export interface CreateServerOptions {
  /** fastify logger: true/false or pino options (default: info, debug with DEBUG; secrets redacted). */
  logger?: boolean | Record<string, unknown>;
  /** Run jobs in this process (default: config.concurrency > 0). */
  worker?: boolean;
  /** Free bytes under OUTPUT_DIR (default: the file system's answer); lets tests play a full disk. */
  diskFree?: DiskFree;
}

export interface BgServer {
  readonly app: FastifyInstance;
  readonly queue: JobQueue;
  readonly config: ServerConfig;
  /** The sweep deleting ended jobs and their files after JOB_RETENTION. */
  readonly retention: Retention;
  /** Starts listening; resolves with the base URL (http://host:port). */
  listen(): Promise<string>;
  /** Graceful shutdown: stops accepting requests, lets running jobs finish (SHUTDOWN_GRACE) or requeues them. */
  close(): Promise<void>;
}

/** The routes that create jobs: refused while the disk is short of MIN_FREE_DISK. */
const SUBMIT_ROUTES = ['/api/background/replace', '/v1/replace', '/v1/cleanup'];

function fastifyFor(cfg: ServerConfig, options: CreateServerOptions): FastifyInstance {
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: cfg.debug ? 'debug' : 'info',
            redact: ['req.headers.authorization', 'req.headers["webhook-signature"]'],
            ...(typeof options.logger === 'object' ? options.logger : {}),
          },
    bodyLimit: cfg.bodyLimit,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  return app;
}

/** Builds the server (not yet listening). Configuration: `loadServerConfig()` from env, `overrides` on top. */
export async function createServer(
  overrides: ServerConfigInput | ServerConfig = {},
  options: CreateServerOptions = {},
): Promise<BgServer> {
  const cfg = loadServerConfig(overrides as ServerConfigInput);
  checkAuthConfig(cfg);
  // The jobs' library context (the environment's settings, MODEL_ID and RUNWAY_API_KEY on top): checked now.
  serverLibrary(cfg);
  await mkdir(uploadsDir(cfg), { recursive: true });

  const app = fastifyFor(cfg, options);
  app.log.info(describeConfig(cfg), 'bg-native server configuration');

  // Cross-cutting, in this order: hooks and handlers are in place before any route is added.
  await app.register(queuePlugin, { cfg, worker: options.worker });
  await app.register(errorMappingPlugin, { cfg });
  await app.register(authPlugin, { cfg });
  registerDiskGuard(app, cfg, SUBMIT_ROUTES, options.diskFree);
  await app.register(multipartPlugin, { cfg });
  await app.register(docsPlugin);

  // Routes, in the order the OpenAPI document lists them.
  await app.register(seedRoutes, { cfg });
  await app.register(jobRoutes, { cfg });
  await app.register(clientRoutes, { cfg });
  await app.register(statusRoutes, { cfg });
  await app.register(presetRoutes, { cfg });
  await app.register(staticFiles, { cfg });

  let closed: Promise<void> | undefined;
  return {
    app,
    queue: app.queue,
    config: cfg,
    retention: app.retention,
    async listen() {
      return app.listen({ port: cfg.port, host: cfg.host });
    },
    close() {
      // The plugins' preClose and onClose hooks answer waiting requests, stop the sweep and close the queue.
      closed ??= app.close().then(() => closeServerLibrary(cfg));
      return closed;
    },
  };
}

export { loadServerConfig };
