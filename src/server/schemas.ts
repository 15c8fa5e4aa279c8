/**
 * The request and response shapes of the HTTP API, as zod schemas: fastify validates with them
 * and the OpenAPI document is generated from them. Job options reuse the library's own schemas
 * (src/options.ts) minus what only the server may decide (files, models, threads, callbacks).
 */
import { z } from 'zod';

import { CleanupOptionsSchema, ReplaceOptionsSchema } from '../options.js';
import { CleanupResultMetadataSchema, ReplaceResultMetadataSchema, ResultMetadataSchema } from '../result-format.js';
import { studioBodyFields } from './studio-sources.js';

/** Preset overrides that name LoRA files (generation.loras): paths on the server's disk. */
function overridesNameLoras(o: Record<string, unknown>): boolean {
  const g = o.generation;
  return typeof g === 'object' && g !== null && 'loras' in g;
}

/** A decoder a request may name: 'full' or 'taesd' (a TAESD path is a file on the server: its presets only). */
const isNamedVae = (v: unknown) => v === undefined || v === 'full' || v === 'taesd';

/** Preset overrides that name a tiny autoencoder file (generation.vae other than 'full' / 'taesd'). */
function overridesNameVaeFile(o: Record<string, unknown>): boolean {
  const g = o.generation;
  return typeof g === 'object' && g !== null && !isNamedVae((g as Record<string, unknown>).vae);
}

/**
 * replaceBackground options a client may set. LoRAs are files on the server: they come from
 * the server's presets or env BG_LORAS only, never from a request (loras, overrides.generation.loras).
 * The same holds for a tiny autoencoder's path: a request says vae 'full' or 'taesd' only.
 */
export const ClientReplaceOptionsSchema = ReplaceOptionsSchema.omit({
  input: true,
  output: true,
  presetDirs: true,
  model: true,
  loras: true,
  segmentation: true,
  device: true,
  threads: true,
  maxPixels: true,
  signal: true,
  onProgress: true,
  // Plates are files: the server takes them as studio sources (paths in INPUT_ROOTS, URLs, uploads).
  cleanPlate: true,
  second: true,
}).extend({
  overrides: ReplaceOptionsSchema.shape.overrides
    .refine((o) => o === undefined || !overridesNameLoras(o), {
      message: 'generation.loras is set by the server (its presets or BG_LORAS), not by a request',
    })
    .refine((o) => o === undefined || !overridesNameVaeFile(o), {
      message: "generation.vae must be 'full' or 'taesd' (a tiny autoencoder's path is set by the server's presets)",
    }),
  vae: z
    .enum(['full', 'taesd'], {
      error: "must be 'full' or 'taesd' (a tiny autoencoder's path is set by the server's presets)",
    })
    .optional()
    .describe("'full' (the model's VAE) or 'taesd' (the server's tiny autoencoder: a draft in a fraction of the time)"),
});

/** cleanup options a client may set. */
export const ClientCleanupOptionsSchema = CleanupOptionsSchema.omit({
  input: true,
  output: true,
  cleanPlate: true,
  second: true,
  model: true,
  segmentation: true,
  threads: true,
  maxPixels: true,
});

const id = z.string().min(1).max(200);
const inputPath = z.string().min(1).max(4096).describe('Absolute path of the photo on the server, inside INPUT_ROOTS.');
const inputUrl = z
  .string()
  .min(1)
  .max(4096)
  .describe('http(s) URL the server downloads the photo from: any public host, or those WEBHOOK_ALLOWED_HOSTS names.');
const callbackUrl = z
  .string()
  .min(1)
  .max(4096)
  .describe('Where the signed `background.job.*` webhook is POSTed when the job ends.');

export const SeedReplaceBodySchema = z
  .strictObject({
    mediaId: id,
    projectId: id,
    inputPath: inputPath.optional(),
    inputUrl: inputUrl.optional(),
    preset: z.string().min(1).max(100).optional().describe("Preset name (default 'product-studio')."),
    promptType: z.string().min(1).max(100).optional(),
    overrides: ClientReplaceOptionsSchema.optional().describe(
      'Any replaceBackground option: engine, prompt, seed, steps, framing, format, …',
    ),
    callbackUrl: callbackUrl.optional(),
  })
  .describe('A background replacement job (the seed API).');

const sources = {
  imagePath: inputPath.optional().describe('Same as inputPath.'),
  inputPath: inputPath.optional(),
  inputUrl: inputUrl.optional(),
  callbackUrl: callbackUrl.optional(),
  mediaId: id.optional(),
  projectId: id.optional(),
  // Studio files by server path or URL; uploads come as the multipart files of the same names.
  ...studioBodyFields,
};

export const V1ReplaceBodySchema = ClientReplaceOptionsSchema.extend(sources).describe(
  'replaceBackground options plus the photo: imagePath/inputPath (server path), inputUrl, or a multipart upload ' +
    '(field `file`; other fields as form fields or one JSON `options` field). ' +
    'Studio files: cleanPlate…, secondInput…, secondCleanPlate… as …Path, …Url or uploads.',
);
export const V1CleanupBodySchema = ClientCleanupOptionsSchema.extend(sources).describe(
  'cleanup options plus the photo: imagePath/inputPath (server path), inputUrl, ' +
    'or a multipart upload (field `file`). ' +
    'Studio files: cleanPlate…, secondInput…, secondCleanPlate… as …Path, …Url or uploads.',
);

export const WaitQuerySchema = z.strictObject({
  wait: z.coerce
    .number()
    .min(0)
    .max(600)
    .optional()
    .describe('Seconds to wait for the result before answering 202 (default SYNC_WAIT).'),
});

export const IdempotencyHeadersSchema = z.looseObject({
  'idempotency-key': z.string().min(1).max(200).optional().describe('Same key → the same job.'),
});

export const JobParamsSchema = z.strictObject({ id: z.string().min(1).max(100) });

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }), jobId: z.string().optional() })
  .describe('An error: a stable code and a message that says what to do.');

/** The error answers every job-submitting route documents. */
export const SUBMIT_ERRORS = {
  400: ErrorSchema,
  401: ErrorSchema,
  403: ErrorSchema,
  404: ErrorSchema,
  413: ErrorSchema,
  422: ErrorSchema,
  503: ErrorSchema,
};

/** The result format (src/result-format.ts) with the artifacts' URLs also at the top level. */
const urls = {
  outputUrl: z.string().describe('The output image: the same URL as artifacts.output.'),
  maskUrl: z.string().describe('The mask: the same URL as artifacts.mask (a server job always writes one).'),
};
export const ResultSchema = z
  .discriminatedUnion('op', [ReplaceResultMetadataSchema.extend(urls), CleanupResultMetadataSchema.extend(urls)])
  .describe(ResultMetadataSchema.description ?? 'The result.');

export const JobViewSchema = z
  .looseObject({
    jobId: z.string(),
    type: z.enum(['replace', 'cleanup']),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']),
    progress: z.number(),
    stage: z.string().optional(),
    previewUrl: z
      .string()
      .optional()
      .describe(
        'While a job that asked for previews (previewEvery) runs: ' +
          "its latest step preview's URL (JPEG; 404 until one arrives).",
      ),
    mediaId: z.string().optional(),
    projectId: z.string().optional(),
    attempts: z.number(),
    maxAttempts: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
    result: ResultSchema.optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .describe('A job: its status, progress, and its result or error once it has ended.');

export const AcceptedSchema = z.looseObject({
  jobId: z.string(),
  status: z.string(),
  statusUrl: z.string(),
});

const statusField = z
  .enum(['ok', 'degraded'])
  .describe('ok: serving; degraded: up, but the native backends could not be listed.');

export const StatusSchema = z
  .looseObject({
    status: statusField,
    version: z.string(),
    queue: z.object({ backend: z.enum(['sqlite', 'redis']), queued: z.number(), running: z.number(), max: z.number() }),
    engines: z.object({ studio: z.boolean(), local: z.boolean(), runway: z.boolean() }),
    backends: z.array(z.unknown()),
    presets: z.array(z.string()),
  })
  .describe('The detailed view of the server: version, queue depth, engines, compute backends, presets.');

export const HealthSchema = z
  .union([StatusSchema, z.strictObject({ status: statusField })])
  .describe('Without the token: `{ status }` only (liveness). With the token: the detailed view, as /v1/status.');

export const HealthQuerySchema = z.looseObject({
  details: z
    .string()
    .max(8)
    .optional()
    .describe('1: the detailed view (needs the token even when HEALTH_PUBLIC is on).'),
});

export const PresetListSchema = z
  .object({
    presets: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        promptTypes: z
          .array(z.string())
          .describe('Values for `promptType`; empty when the preset has a single prompt.'),
        defaultPromptType: z.string().optional(),
      }),
    ),
  })
  .describe('The presets this server knows (built-in and BG_PRESET_DIRS).');
