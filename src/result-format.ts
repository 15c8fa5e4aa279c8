/**
 * The result format as it travels as JSON — one definition for every front door: the CLI's
 * `--json` (and each batch line), the server's job `result` and webhook `result`, the orchestrator
 * node, the ingest step and the OpenAPI document. The zod schema is the contract; the TS type is
 * inferred from it; `toResultMetadata` turns a library result (Buffers inside) into it.
 *
 * Always present, with these names: `engine`, `preset`, `seed`, `artifacts: { output, mask }`,
 * `metrics: { elapsed_ms, stages }`. Everything else is an extra, and more may be added.
 *
 * The client imports the type only (`import type`), so it never loads zod through this file.
 * Library results convert structurally (ReplaceResult, CleanupResult fit ResultSource).
 */
import { z } from 'zod';

/** The engine ids a replacement reports: the values the `engine` option takes. */
export const RESULT_ENGINES = ['local', 'studio', 'runway'] as const;

/** The seeds' engine names, finer than the id for the local engine. */
export const ENGINE_FAMILIES = ['stable-diffusion', 'SDXL', 'RUNWAY', 'studio'] as const;
type ReplaceFamily = (typeof ENGINE_FAMILIES)[number];
/** 'none' for a cleanup. */
export type EngineFamily = ReplaceFamily | 'none';

export const ResultArtifactsSchema = z
  .looseObject({
    output: z.string().describe('The output image: an absolute path (CLI, orchestrator, ingest) or a URL (server).'),
    mask: z.string().nullable().describe('The mask (8-bit greyscale PNG), like output; null when none was written.'),
  })
  .describe('Where the files are.');

export const ResultMetricsSchema = z
  .looseObject({
    elapsed_ms: z.number().describe('Wall-clock time of the whole call, in milliseconds.'),
    stages: z.record(z.string(), z.number()).describe('Milliseconds per stage, in the order the stages ran.'),
  })
  .describe('Timings.');

const ModelSchema = z
  .looseObject({
    path: z.string(),
    source: z.string(),
    profile: z.string(),
    inputSize: z.tuple([z.number(), z.number()]),
  })
  .describe('The segmentation model (CLI, orchestrator, ingest).');

const SkippedSchema = z.looseObject({ engine: z.string(), reason: z.string(), code: z.string().optional() });

/** Fields both kinds of result have. */
const common = {
  artifacts: ResultArtifactsSchema,
  metrics: ResultMetricsSchema,
  width: z.number().int().describe('Output width in pixels.'),
  height: z.number().int().describe('Output height in pixels.'),
  format: z.string().describe('png, jpeg or webp.'),
  model: ModelSchema.optional(),
};

export const ReplaceResultMetadataSchema = z
  .looseObject({
    op: z.literal('replace'),
    engine: z
      .enum(RESULT_ENGINES)
      .describe('The engine that painted the background, as the `engine` option names it (it can be passed back).'),
    engineFamily: z
      .enum(ENGINE_FAMILIES)
      .describe("The seeds' name: 'stable-diffusion' (local, SD 1.x/2.x), 'SDXL' (local, SDXL), 'RUNWAY', 'studio'."),
    engineReason: z.string().describe('Why that engine ran.'),
    preset: z.string(),
    promptType: z.string().nullable().describe("The preset's prompt type in effect; null when the preset has none."),
    prompt: z.string().nullable().describe('The prompt a generative engine used; null for the studio engine.'),
    seed: z.number(),
    skipped: z.array(SkippedSchema).optional().describe('Engines considered before it, each with why it was skipped.'),
    engineInfo: z.record(z.string(), z.unknown()).optional().describe('Facts the engine reported (model family, …).'),
    ...common,
  })
  .describe('A background replacement.');

export const CleanupResultMetadataSchema = z
  .looseObject({
    op: z.literal('cleanup'),
    engine: z.literal('none').describe('No background engine runs in a cleanup.'),
    engineFamily: z.literal('none'),
    preset: z.null(),
    seed: z.null(),
    mode: z.string().describe('transparent, color, blur or gradient.'),
    ...common,
  })
  .describe('A cleanup: the background removed or replaced by a colour, a blur or a gradient.');

export const ResultMetadataSchema = z
  .discriminatedUnion('op', [ReplaceResultMetadataSchema, CleanupResultMetadataSchema])
  .describe(
    'The result: engine, preset, seed, artifacts { output, mask } and metrics { elapsed_ms, stages } are ' +
      'always there (preset and seed are null for a cleanup); op says which kind it is.',
  );

export type ReplaceResultMetadata = z.infer<typeof ReplaceResultMetadataSchema>;
export type CleanupResultMetadata = z.infer<typeof CleanupResultMetadataSchema>;
export type ResultMetadata = z.infer<typeof ResultMetadataSchema>;
export type ResultArtifacts = z.infer<typeof ResultArtifactsSchema>;

interface SourceCommon {
  width: number;
  height: number;
  format: string;
  metrics: unknown;
  model?: { path: string; source: string; profile: string; inputSize: [number, number] } | undefined;
}

/** What toResultMetadata reads of a cleanup: CleanupResult, or a stored copy of one. */
export interface CleanupSource extends SourceCommon {
  mode: string;
}

/** What toResultMetadata reads of a replacement: ReplaceResult, or a stored copy of one. */
export interface ReplaceSource extends SourceCommon {
  mode?: undefined;
  engine: (typeof RESULT_ENGINES)[number];
  /** Kept from a stored copy (whose engineInfo may be gone). */
  engineFamily?: ReplaceFamily | undefined;
  engineReason: string;
  preset: string;
  seed: number;
  promptType?: string | null | undefined;
  prompt?: string | null | undefined;
  skipped?: { engine: string; reason: string; code?: string | undefined }[] | undefined;
  engineInfo?: Record<string, unknown> | undefined;
}

/**
 * A library result (ReplaceResult, CleanupResult) or a stored copy of one: the server's queue
 * keeps results written by earlier versions, without the newer fields.
 */
export type ResultSource = ReplaceSource | CleanupSource;

function isCleanup(r: ResultSource): r is CleanupSource {
  return r.mode !== undefined;
}

/** The seeds' name of the engine that ran: the local engine's model family decides between SD and SDXL. */
export function engineFamily(engine: ReplaceSource['engine'], engineInfo?: Record<string, unknown>): ReplaceFamily {
  if (engine === 'studio') return 'studio';
  if (engine === 'runway') return 'RUNWAY';
  return engineInfo?.family === 'sdxl' ? 'SDXL' : 'stable-diffusion';
}

function metricsOf(m: unknown): ResultMetadata['metrics'] {
  const x = (m ?? {}) as { elapsed_ms?: unknown; stages?: unknown };
  return {
    ...(x as object),
    elapsed_ms: typeof x.elapsed_ms === 'number' ? x.elapsed_ms : 0,
    stages: x.stages && typeof x.stages === 'object' ? (x.stages as Record<string, number>) : {},
  };
}

/**
 * The documented JSON result for a library result, given where its artifacts are (paths, or the
 * server's URLs; `mask: null` when no mask file was written). Buffers never get through.
 */
export function toResultMetadata(result: ResultSource, artifacts: ResultArtifacts): ResultMetadata {
  const files = { output: artifacts.output, mask: artifacts.mask };
  const size = { width: result.width, height: result.height, format: result.format };
  const model = result.model ? { model: { ...result.model } } : {};
  if (isCleanup(result)) {
    return {
      op: 'cleanup',
      engine: 'none',
      engineFamily: 'none',
      preset: null,
      seed: null,
      artifacts: files,
      metrics: metricsOf(result.metrics),
      mode: result.mode,
      ...size,
      ...model,
    };
  }
  return {
    op: 'replace',
    engine: result.engine,
    engineFamily: result.engineFamily ?? engineFamily(result.engine, result.engineInfo),
    preset: result.preset,
    seed: result.seed,
    artifacts: files,
    metrics: metricsOf(result.metrics),
    engineReason: result.engineReason,
    promptType: result.promptType ?? null,
    prompt: result.prompt ?? null,
    ...(result.skipped ? { skipped: result.skipped } : {}),
    ...(result.engineInfo ? { engineInfo: result.engineInfo } : {}),
    ...size,
    ...model,
  };
}
