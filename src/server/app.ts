/**
 * The bundled HTTP server (fastify). Routes are declared with their zod schemas; the OpenAPI
 * document (/openapi.json) and the /docs page are generated from them. Cross-cutting parts are
 * plugins: auth (bearer token), multipart uploads, the queue, the file store.
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
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, createWriteStream, realpathSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import multipart, { type MultipartFile } from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';

import { BgNativeError } from '../errors.js';
import { backends } from '../native.js';
import { parseCleanupOptions, parseReplaceOptions } from '../options.js';
import { chooseFormat } from '../pipeline/cleanup.js';
import { resolveReplaceSettings } from '../pipeline/replace-settings.js';
import { getPreset, listPresets } from '../presets/load.js';
import { createQueue } from '../queue/index.js';
import { JobFailure, TERMINAL, type JobQueue, type JobRecord } from '../queue/types.js';
import { version } from '../version.js';
import { createWebhookSender } from '../webhooks/deliver.js';
import { checkAuthConfig, describeConfig, loadServerConfig, type ServerConfig, type ServerConfigInput } from './config.js';
import { HttpError, statusForCode } from './http-errors.js';
import { presentJob, runJob, terminalMessage, uploadsDir, type JobPayload, type JobSource } from './jobs.js';
import { registerPreviewRoute } from './preview-route.js';
import { checkUrl, UrlRefusedError } from '../net/guard.js';
import { registerDiskGuard, startRetention, type DiskFree, type Retention } from './retention.js';
import { checkInputPath } from './paths.js';
import { STUDIO_BODY_KEYS, studioSources, UPLOAD_FIELDS, type StudioBodyFields, type UploadField } from './studio-sources.js';
import {
  AcceptedSchema,
  ErrorSchema,
  HealthQuerySchema,
  HealthSchema,
  IdempotencyHeadersSchema,
  JobParamsSchema,
  JobViewSchema,
  PresetListSchema,
  SeedReplaceBodySchema,
  StatusSchema,
  V1CleanupBodySchema,
  V1ReplaceBodySchema,
  WaitQuerySchema,
} from './schemas.js';
import { isPublicWebPath, registerWebPage } from './web.js';

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

function tokenDigest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** A request's uploaded files by field (`file`, and the studio files). */
const uploads = new WeakMap<FastifyRequest, Map<UploadField, string>>();

async function removeUploads(files: ReadonlyMap<string, string> | undefined): Promise<void> {
  await Promise.all([...(files?.values() ?? [])].map((f) => rm(f, { force: true })));
}

/** A plain `GET /health` with no token and no `details`: the liveness probe monitors send. */
function isLivenessProbe(req: FastifyRequest): boolean {
  const [route, query = ''] = req.url.split('?', 2) as [string, string?];
  if (route !== '/health' || req.headers.authorization !== undefined) return false;
  const details = new URLSearchParams(query).get('details');
  return details === null || /^(0|false|no)$/i.test(details);
}

function coerceField(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return v;
    }
  }
  return v;
}

/** multipart fields (keyValues) → the JSON body shape; the file itself stays out of the body. */
async function multipartToBody(req: FastifyRequest): Promise<void> {
  if (!req.isMultipart()) return;
  const raw = (req.body ?? {}) as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((UPLOAD_FIELDS as readonly string[]).includes(k)) continue;
    if (k === 'options') {
      const parsed = coerceField(v);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new HttpError(400, 'E_BAD_INPUT', 'The multipart field `options` must be a JSON object.');
      }
      Object.assign(body, parsed);
    } else body[k] = coerceField(v);
  }
  req.body = body;
}

/** Builds the server (not yet listening). Configuration: `loadServerConfig()` from env, `overrides` on top. */
export async function createServer(overrides: ServerConfigInput | ServerConfig = {}, options: CreateServerOptions = {}): Promise<BgServer> {
  const cfg = loadServerConfig(overrides as ServerConfigInput);
  checkAuthConfig(cfg);
  if (cfg.runwayApiKey) process.env.RUNWAY_API_KEY = cfg.runwayApiKey;
  if (cfg.modelId) process.env.MODEL_ID = cfg.modelId; // resolved by the library's model loader
  await mkdir(uploadsDir(cfg), { recursive: true });
  const outputReal = realpathSync(cfg.outputDir);

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
  const log = (level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>) => app.log[level](extra ?? {}, msg);
  log('info', 'bg-native server configuration', describeConfig(cfg));

  const queue = await createQueue(cfg, { onTerminal: (job) => terminalMessage(job, cfg), log });
  const runWorker = options.worker ?? cfg.concurrency > 0;
  if (runWorker && cfg.concurrency > 0) queue.startWorker((job, ctx) => runJob(job, ctx, cfg), cfg.concurrency);
  if (cfg.webhookSecret) queue.startDeliveries(createWebhookSender({ secret: cfg.webhookSecret, allowedHosts: cfg.allowedHosts, timeoutMs: cfg.webhookTimeoutMs }));
  const retention = startRetention(queue, cfg, log);

  // ---- cross-cutting ---------------------------------------------------------------------------
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = err as { code?: string; statusCode?: number; message?: string; validation?: { instancePath?: string; message?: string; params?: unknown }[]; validationContext?: string };
    let status = 500;
    let code = 'E_INTERNAL';
    let message = 'Internal error; see the server log.';
    if (err instanceof HttpError) {
      status = err.statusCode;
      code = err.code;
      message = err.message;
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    } else if (e.validation) {
      status = 400;
      code = 'E_BAD_INPUT';
      const where = e.validationContext ?? 'body';
      const parts = e.validation.map((v) => {
        const field = (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
        const keys = (v.params as { issue?: { code?: string; keys?: string[] } } | undefined)?.issue;
        if (keys?.code === 'unrecognized_keys' && keys.keys) return `unknown field${keys.keys.length > 1 ? 's' : ''} ${keys.keys.map((k) => `\`${k}\``).join(', ')}${field ? ` in \`${field}\`` : ''}`;
        const text = (v.message ?? 'is invalid').replace(/^Invalid input: /, '');
        return field ? `\`${field}\` ${text}` : text;
      });
      message = `Invalid request ${where}: ${parts.join('; ')}.`;
    } else if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.code === 'FST_REQ_FILE_TOO_LARGE' || e.code === 'FST_PARTS_LIMIT' || e.code === 'FST_FILES_LIMIT' || e.code === 'FST_FIELDS_LIMIT') {
      status = 413;
      code = 'E_TOO_LARGE';
      message =
        e.code === 'FST_REQ_FILE_TOO_LARGE'
          ? `The upload is larger than the server's limit (UPLOAD_LIMIT, ${cfg.uploadLimit} bytes).`
          : e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? `The request body is larger than the server's limit (BODY_LIMIT, ${cfg.bodyLimit} bytes).`
            : 'Too many parts in the multipart request: send one `file` (and the studio files), then the option fields.';
    } else if (/INVALID_JSON/.test(e.code ?? '') || err instanceof SyntaxError || e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      status = 400;
      code = 'E_BAD_JSON';
      message = `The request body is not valid JSON: ${e.message}`;
    } else if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      status = 415;
      code = 'E_UNSUPPORTED_MEDIA_TYPE';
      message = 'Send application/json or multipart/form-data.';
    } else if (err instanceof BgNativeError || err instanceof JobFailure) {
      code = err.code;
      status = code === 'E_FORBIDDEN' ? 403 : code === 'E_BAD_INPUT' && err instanceof JobFailure ? 422 : statusForCode(code);
      message = err.message;
    } else if (err instanceof UrlRefusedError) {
      status = 403;
      code = 'E_FORBIDDEN';
      message = err.message;
    } else if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      status = e.statusCode;
      code = 'E_BAD_REQUEST';
      message = e.message ?? 'Bad request.';
    }
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code, status }, message);
    void reply.status(status).send({ error: { code, message } });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}.` } });
  });

  const expected = cfg.apiToken ? tokenDigest(cfg.apiToken) : undefined;
  app.addHook('onRequest', async (req) => {
    if (!expected) return;
    if (cfg.healthPublic && isLivenessProbe(req)) return;
    if (isPublicWebPath(req.method, req.url)) return;
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (!m || !timingSafeEqual(tokenDigest(m[1]!.trim()), expected)) {
      throw new HttpError(401, 'E_UNAUTHORIZED', m ? 'The bearer token is not valid.' : 'Send `Authorization: Bearer <API_TOKEN>`.', {
        'www-authenticate': 'Bearer',
      });
    }
  });

  registerDiskGuard(app, cfg, ['/api/background/replace', '/v1/replace', '/v1/cleanup'], options.diskFree);

  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: cfg.uploadLimit, files: UPLOAD_FIELDS.length, fields: 64, fieldSize: cfg.bodyLimit, parts: 64 + UPLOAD_FIELDS.length + 1 },
    async onFile(this: FastifyRequest, part: MultipartFile) {
      const field = part.fieldname as UploadField;
      const files = uploads.get(this) ?? new Map<UploadField, string>();
      uploads.set(this, files);
      if (!(UPLOAD_FIELDS as readonly string[]).includes(field) || files.has(field)) {
        part.file.resume();
        await removeUploads(files);
        throw new HttpError(
          400, 'E_BAD_INPUT',
          files.has(field)
            ? `The multipart field \`${field}\` came twice: upload each file once.`
            : `Upload the photo in the multipart field \`file\`, studio files in \`cleanPlate\`, \`secondInput\` and \`secondCleanPlate\` (got \`${part.fieldname}\`).`,
        );
      }
      const ext = (path.extname(part.filename ?? '').toLowerCase().match(/^\.[a-z0-9]{1,5}$/) ?? [''])[0];
      const dest = path.join(uploadsDir(cfg), `${randomUUID()}${ext}`);
      await pipeline(part.file, createWriteStream(dest));
      if (part.file.truncated) {
        await rm(dest, { force: true });
        await removeUploads(files);
        throw new HttpError(413, 'E_TOO_LARGE', `The upload is larger than the server's limit (UPLOAD_LIMIT, ${cfg.uploadLimit} bytes).`);
      }
      files.set(field, dest);
      (part as unknown as { value: unknown }).value = '';
    },
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'bg-native', description: 'Background replacement for product photos: jobs, results and signed webhooks.', version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // ---- helpers ---------------------------------------------------------------------------------
  /** Resolves when shutdown starts: requests waiting for a result answer 202 at once. */
  let startClosing!: () => void;
  const closing = new Promise<void>((resolve) => (startClosing = resolve));
  const base = cfg.publicBaseUrl;

  async function checkCapacity(): Promise<void> {
    const c = await queue.counts();
    if (c.queued + c.running >= cfg.maxQueued) {
      throw new HttpError(503, 'E_QUEUE_FULL', `The queue is full (${c.queued + c.running} jobs); try again in ${cfg.retryAfterSec} s.`, {
        'retry-after': String(cfg.retryAfterSec),
      });
    }
  }

  function validateOptions(op: 'replace' | 'cleanup', options: Record<string, unknown>): void {
    if (op === 'replace') resolveReplaceSettings(parseReplaceOptions({ ...options, input: 'x' }));
    else {
      const o = parseCleanupOptions({ ...options, input: 'x' });
      chooseFormat(o.mode ?? 'transparent', o.format, undefined);
    }
  }

  interface SubmitArgs {
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

  async function submit(a: SubmitArgs): Promise<{ job: JobRecord; created: boolean }> {
    const upload = a.uploads?.get('file');
    const given = [a.inputPath, a.inputUrl, upload].filter((x) => x !== undefined).length;
    if (given !== 1) {
      await removeUploads(a.uploads);
      throw new HttpError(400, 'E_BAD_INPUT', given === 0 ? 'Give the photo: inputPath (or imagePath), inputUrl, or a multipart `file`.' : 'Give only one of inputPath/imagePath, inputUrl and an uploaded file.');
    }
    try {
      let source: JobSource;
      if (a.inputPath !== undefined) source = { kind: 'path', path: checkInputPath(a.inputPath, cfg.inputRoots) };
      else if (a.inputUrl !== undefined) source = { kind: 'url', url: (await checkUrl(a.inputUrl, cfg, 'inputUrl')).toString() };
      else source = { kind: 'upload', path: upload! };
      const studio = await studioSources(a.studio ?? {}, a.uploads ?? new Map(), {
        path: (p, field) => checkInputPath(p, cfg.inputRoots, field),
        url: async (u, field) => (await checkUrl(u, cfg, field)).toString(),
      });
      if (a.callbackUrl !== undefined) {
        await checkUrl(a.callbackUrl, cfg, 'callbackUrl');
        if (!cfg.webhookSecret) throw new HttpError(422, 'E_CONFIG', 'This server cannot send webhooks: APP_WEBHOOK_SECRET is not set. Leave callbackUrl out and poll the job instead.');
      }
      // The library's own rules on the studio files (a second shot needs the clean plate too).
      const placeholders = {
        ...(studio?.cleanPlate ? { cleanPlate: 'x' } : {}),
        ...(studio?.secondInput ? { second: { input: 'x', cleanPlate: 'x' } } : {}),
      };
      validateOptions(a.op, { ...a.options, ...placeholders });
      await checkCapacity();
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

  async function jobOr404(id: string): Promise<JobRecord> {
    const job = await queue.get(id);
    if (!job) throw new HttpError(404, 'E_NOT_FOUND', `No job ${JSON.stringify(id)}.`);
    return job;
  }

  function statusUrl(prefix: string, id: string): string {
    return `${base ?? ''}${prefix}/${id}`;
  }

  const z = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 422: ErrorSchema, 503: ErrorSchema };

  // ---- seed API --------------------------------------------------------------------------------
  z.post('/api/background/replace', {
    schema: {
      tags: ['background'],
      summary: 'Enqueue a background replacement',
      body: SeedReplaceBodySchema,
      headers: IdempotencyHeadersSchema,
      response: { 202: AcceptedSchema, 200: AcceptedSchema, ...errors },
    },
    handler: async (req, reply) => {
      const b = req.body;
      const options: Record<string, unknown> = { ...(b.overrides ?? {}) };
      if (b.preset !== undefined) options.preset = b.preset;
      if (b.promptType !== undefined) options.promptType = b.promptType;
      const { job, created } = await submit({
        op: 'replace',
        inputPath: b.inputPath,
        inputUrl: b.inputUrl,
        options,
        callbackUrl: b.callbackUrl,
        mediaId: b.mediaId,
        projectId: b.projectId,
        idempotencyKey: req.headers['idempotency-key'],
      });
      const url = statusUrl('/api/background/jobs', job.id);
      void reply.header('location', url).status(created ? 202 : 200);
      return { jobId: job.id, status: job.status, statusUrl: url };
    },
  });

  const getJob = async (req: FastifyRequest<{ Params: { id: string } }>) => presentJob(await jobOr404(req.params.id), base) as never;
  const deleteJob = async (req: FastifyRequest<{ Params: { id: string } }>) => {
    await jobOr404(req.params.id);
    return presentJob((await queue.cancel(req.params.id))!, base) as never;
  };
  for (const prefix of ['/api/background/jobs', '/v1/jobs']) {
    z.get(`${prefix}/:id`, {
      schema: { tags: ['jobs'], summary: 'A job: status, progress, result or error', params: JobParamsSchema, response: { 200: JobViewSchema, 401: ErrorSchema, 404: ErrorSchema } },
      handler: getJob,
    });
    z.delete(`${prefix}/:id`, {
      schema: { tags: ['jobs'], summary: 'Cancel a job (queued: at once; running: at its next step)', params: JobParamsSchema, response: { 200: JobViewSchema, 401: ErrorSchema, 404: ErrorSchema } },
      handler: deleteJob,
    });
  }
  registerPreviewRoute(app, { outputDir: cfg.outputDir, jobOr404 });

  // ---- client API ------------------------------------------------------------------------------
  async function runSync(
    op: 'replace' | 'cleanup',
    req: FastifyRequest<{ Body: Record<string, unknown>; Querystring: { wait?: number | undefined }; Headers: { 'idempotency-key'?: string | undefined } }>,
    reply: FastifyReply,
  ) {
    const { imagePath, inputPath, inputUrl, callbackUrl, mediaId, projectId, ...rest } = req.body as Record<string, unknown> & {
      imagePath?: string;
      inputPath?: string;
      inputUrl?: string;
      callbackUrl?: string;
      mediaId?: string;
      projectId?: string;
    };
    if (imagePath !== undefined && inputPath !== undefined) throw new HttpError(400, 'E_BAD_INPUT', 'Give imagePath or inputPath, not both.');
    const studio: StudioBodyFields = {};
    const options: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) {
      if ((STUDIO_BODY_KEYS as string[]).includes(k)) studio[k as keyof StudioBodyFields] = v as string;
      else options[k] = v;
    }
    const { job } = await submit({
      op,
      inputPath: imagePath ?? inputPath,
      inputUrl,
      uploads: uploads.get(req),
      studio,
      options,
      callbackUrl,
      mediaId,
      projectId,
      idempotencyKey: req.headers['idempotency-key'],
    });
    const waitMs = req.query.wait !== undefined ? req.query.wait * 1000 : cfg.syncWaitMs;
    const ended =
      (await Promise.race([queue.waitFor(job.id, waitMs), closing.then(() => queue.get(job.id))])) ?? job;
    const view = presentJob(ended, base);
    const url = statusUrl('/v1/jobs', job.id);
    void reply.header('location', url);
    if (!TERMINAL.has(ended.status)) return reply.status(202).send({ ...view, statusUrl: url } as never);
    if (ended.status === 'succeeded') return reply.status(200).send(view as never);
    const error = ended.error ?? { code: 'E_INTERNAL', message: 'The job failed.' };
    return reply.status(statusForCode(error.code)).send({ error, jobId: job.id } as never);
  }

  z.post('/v1/replace', {
    schema: {
      tags: ['client'],
      summary: 'Replace the background; answers with the result when done within the wait, else 202 + job',
      consumes: ['application/json', 'multipart/form-data'],
      body: V1ReplaceBodySchema,
      querystring: WaitQuerySchema,
      headers: IdempotencyHeadersSchema,
      response: { 200: JobViewSchema, 202: JobViewSchema, ...errors, 500: ErrorSchema, 502: ErrorSchema },
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
      response: { 200: JobViewSchema, 202: JobViewSchema, ...errors, 500: ErrorSchema, 502: ErrorSchema },
    },
    preValidation: multipartToBody,
    handler: (req, reply) => runSync('cleanup', req as never, reply),
  });

  // ---- health, files ---------------------------------------------------------------------------
  /** The detailed view: queue depth, engines, backends, version, presets (behind the token). */
  async function serverStatus() {
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
      engines: {
        studio: true,
        local: Boolean(cfg.modelPath || process.env.BG_DIFFUSION_MODEL || process.env.MODEL_PATH || process.env.MODEL_ID),
        runway: Boolean(process.env.RUNWAY_API_KEY?.trim()),
      },
      backends: be,
      presets: listPresets(),
    };
  }

  z.get('/health', {
    schema: {
      tags: ['server'],
      summary: 'Liveness without the token ({ status }); with the token or ?details=1 (token required) the detailed view',
      querystring: HealthQuerySchema,
      response: { 200: HealthSchema, 401: ErrorSchema },
    },
    // Reaching the handler with a token, or on a server without one, means the caller may see everything.
    handler: async (req) => (isLivenessProbe(req) && expected ? { status: 'ok' as const } : serverStatus()),
  });

  z.get('/v1/status', {
    schema: { tags: ['server'], summary: 'Status, engines, backends, queue depth, version, presets', response: { 200: StatusSchema, 401: ErrorSchema } },
    handler: serverStatus,
  });

  const CONTENT_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };
  app.get('/files/*', { schema: { hide: true } }, async (req, reply) => {
    const rel = (req.params as { '*': string })['*'] ?? '';
    const parts = rel.split('/');
    if (!parts.length || parts.some((p) => !/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(p) || p.includes('..'))) {
      throw new HttpError(404, 'E_NOT_FOUND', 'No such file.');
    }
    const file = path.join(cfg.outputDir, ...parts);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      throw new HttpError(404, 'E_NOT_FOUND', 'No such file.');
    }
    if (!real.startsWith(outputReal + path.sep)) throw new HttpError(404, 'E_NOT_FOUND', 'No such file.');
    const st = await stat(real);
    if (!st.isFile()) throw new HttpError(404, 'E_NOT_FOUND', 'No such file.');
    void reply
      .header('content-type', CONTENT_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream')
      .header('content-length', String(st.size))
      .header('cache-control', 'private, max-age=86400')
      .header('x-content-type-options', 'nosniff');
    return reply.send(createReadStream(real));
  });

  z.get('/v1/presets', {
    schema: { tags: ['client'], summary: 'The presets: names, descriptions and prompt types', response: { 200: PresetListSchema, 401: ErrorSchema } },
    handler: async () => ({
      presets: listPresets().map((name) => {
        const p = getPreset(name);
        return { name, description: p.description, promptTypes: p.promptTypes, ...(p.promptType !== undefined ? { defaultPromptType: p.promptType } : {}) };
      }),
    }),
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerWebPage(app, { publicBaseUrl: cfg.publicBaseUrl });

  let closed: Promise<void> | undefined;
  return {
    app,
    queue,
    config: cfg,
    retention,
    async listen() {
      return app.listen({ port: cfg.port, host: cfg.host });
    },
    close() {
      closed ??= (async () => {
        startClosing();
        await app.close();
        await retention.stop();
        await queue.close(cfg.shutdownGraceMs);
      })();
      return closed;
    },
  };
}

export { loadServerConfig };
