/**
 * The media-ingest step (`@vitrinealu/bg-native/ingest`): for one ingested photo and its sidecar
 * JSON, replace (or clean up) the background and record what was done in the sidecar's
 * `background` block.
 *
 *   env MEDIA_INGEST_BACKGROUND_AUTOMATION   replace | cleanup | empty (off: nothing is touched)
 *       MEDIA_INGEST_BACKGROUND_API_URL      a bg-native server to send the photo to; unset = in-process
 *       MEDIA_INGEST_BACKGROUND_API_TOKEN    its API_TOKEN (default env API_TOKEN)
 *       MEDIA_INGEST_BACKGROUND_PRESET       preset (default 'vitrinealu')
 *       MEDIA_INGEST_BACKGROUND_PROMPT_TYPE  the preset's prompt type (vitrinealu: studio, garden, minimal, lifestyle)
 *       MEDIA_INGEST_BACKGROUND_ENGINE       auto | local | runway | studio (default auto)
 *       MEDIA_INGEST_BACKGROUND_ENHANCE_FG   true/false (default false)
 *       MEDIA_INGEST_BACKGROUND_CLEANUP_MODE color | blur | gradient | transparent (default color: white)
 *       MEDIA_INGEST_BACKGROUND_TIMEOUT      seconds a remote call may take (default 300)
 *
 * The output goes next to the photo as `<name>.bg.jpg` (`<name>.bg.png` for a transparent
 * cleanup); photos whose name already ends in `.bg.<ext>` are skipped, so re-running the ingest
 * over a folder never processes its own outputs. The sidecar gains
 *
 *   "background": { "mode", "engine", "outJpg", "processedAt", "prompt",
 *                   "settings": { "steps", "guidanceScale", "enhanceFg", "matchColors", "featherEdges" } }
 *
 * written atomically, with every other byte of the file as it was; the returned item also carries
 * the result format (`result`: engine, engineFamily, preset, seed, artifacts { output, mask: null },
 * metrics, …) with the output's absolute path. A failure (bad sidecar,
 * missing photo, no subject, server error, …) leaves the sidecar untouched and is reported in
 * the result — processIngestItem never throws for one bad item.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { BgNativeError, toBgError } from '../errors.js';
import { writeFileAtomic } from '../image/atomic-write.js';
import type { BgNative } from '../context/create.js';
import { CleanupModeSchema, EngineSchema, type CleanupMode, type EngineName } from '../options.js';
import { toResultMetadata, type ResultMetadata, type ResultSource } from '../result-format.js';
import { runRemote } from './remote.js';
import { parseSidecar, setTopLevelMember } from './sidecar.js';

export { parseSidecar, setTopLevelMember } from './sidecar.js';

export type IngestMode = 'replace' | 'cleanup';

export interface IngestItem {
  /** The ingested photo. */
  imagePath: string;
  /** The sidecar JSON file to update (atomically). */
  sidecarPath?: string;
  /** Or the sidecar's parsed content: the updated copy is returned, nothing is written but the image. */
  sidecar?: Record<string, unknown>;
  /** Environment to read the MEDIA_INGEST_BACKGROUND_* settings from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The library configuration local work runs with (default: the package's, from process.env). */
  library?: BgNative;
  signal?: AbortSignal;
}

/** The block written into the sidecar (the seed's shape). */
export interface BackgroundBlock {
  mode: IngestMode;
  /** The engine that painted the background (studio, local, runway), or 'cleanup'. */
  engine: string;
  /** The output image: `<name>.bg.jpg` next to the photo, in the same form (relative/absolute) as imagePath. */
  outJpg: string;
  /** ISO 8601. */
  processedAt: string;
  /** The prompt of the preset / prompt type in effect; null for cleanup. */
  prompt: string | null;
  settings: {
    steps: number | null;
    guidanceScale: number | null;
    enhanceFg: boolean;
    /** Colour-match strength 0..1 (0 = off); null for cleanup. */
    matchColors: number | null;
    /** Feather width in px at a 1024-px long side (0 = off); null for cleanup. */
    featherEdges: number | null;
  };
}

export interface IngestConfig {
  mode: IngestMode | undefined;
  apiUrl: string | undefined;
  token: string | undefined;
  preset: string;
  promptType: string | undefined;
  engine: EngineName | undefined;
  enhanceFg: boolean;
  cleanupMode: CleanupMode;
  timeoutMs: number;
}

export type IngestResult =
  | {
      status: 'processed';
      mode: IngestMode;
      imagePath: string;
      outputPath: string;
      background: BackgroundBlock;
      /** The result format, the output as an absolute path (no mask file is written: `mask` is null). */
      result: ResultMetadata;
      /** The sidecar with the block added. */
      sidecar: Record<string, unknown>;
      sidecarPath?: string;
      /** Where it ran: 'remote' (the server's job id in jobId) or 'in-process'. */
      ranAt: 'remote' | 'in-process';
      jobId?: string;
    }
  | { status: 'skipped'; reason: string; imagePath: string }
  | { status: 'failed'; imagePath: string; sidecarPath?: string; error: { code: string; message: string } };

/** The default preset of the ingest step. */
export const INGEST_DEFAULT_PRESET = 'vitrinealu';

function bool(v: string | undefined, name: string): boolean | undefined {
  const t = v?.trim().toLowerCase();
  if (!t) return undefined;
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw new BgNativeError('E_CONFIG', `${name} must be true or false, got ${JSON.stringify(v)}.`);
}

/** Reads and checks the MEDIA_INGEST_BACKGROUND_* settings. */
export function readIngestConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const auto = env.MEDIA_INGEST_BACKGROUND_AUTOMATION?.trim().toLowerCase() ?? '';
  let mode: IngestMode | undefined;
  if (auto === 'replace' || auto === 'cleanup') mode = auto;
  else if (!['', 'off', 'none', 'false', '0', 'disabled'].includes(auto)) {
    throw new BgNativeError(
      'E_CONFIG',
      `MEDIA_INGEST_BACKGROUND_AUTOMATION must be 'replace', 'cleanup' or empty (off), got ` +
        `${JSON.stringify(env.MEDIA_INGEST_BACKGROUND_AUTOMATION)}.`,
    );
  }
  const apiUrl = env.MEDIA_INGEST_BACKGROUND_API_URL?.trim() || undefined;
  if (apiUrl) {
    let ok = false;
    try {
      ok = /^https?:$/.test(new URL(apiUrl).protocol);
    } catch {
      ok = false;
    }
    if (!ok)
      throw new BgNativeError(
        'E_CONFIG',
        'MEDIA_INGEST_BACKGROUND_API_URL must be an http(s) URL such as http://127.0.0.1:8080, got ' +
          `${JSON.stringify(apiUrl)}.`,
      );
  }
  const engineText = env.MEDIA_INGEST_BACKGROUND_ENGINE?.trim();
  let engine: EngineName | undefined;
  if (engineText) {
    const parsed = EngineSchema.safeParse(engineText);
    if (!parsed.success)
      throw new BgNativeError(
        'E_CONFIG',
        `MEDIA_INGEST_BACKGROUND_ENGINE must be auto, local, runway or studio, got ${JSON.stringify(engineText)}.`,
      );
    engine = parsed.data;
  }
  const cm = env.MEDIA_INGEST_BACKGROUND_CLEANUP_MODE?.trim().toLowerCase() || 'color';
  const cleanupMode = CleanupModeSchema.safeParse(cm);
  if (!cleanupMode.success)
    throw new BgNativeError(
      'E_CONFIG',
      `MEDIA_INGEST_BACKGROUND_CLEANUP_MODE must be color, blur, gradient or transparent, got ${JSON.stringify(cm)}.`,
    );
  const timeoutText = env.MEDIA_INGEST_BACKGROUND_TIMEOUT?.trim();
  const timeoutSec = timeoutText ? Number(timeoutText) : 300;
  if (!(timeoutSec > 0) || !Number.isFinite(timeoutSec))
    throw new BgNativeError(
      'E_CONFIG',
      `MEDIA_INGEST_BACKGROUND_TIMEOUT must be a number of seconds, got ${JSON.stringify(timeoutText)}.`,
    );
  return {
    mode,
    apiUrl,
    token: env.MEDIA_INGEST_BACKGROUND_API_TOKEN?.trim() || env.API_TOKEN?.trim() || undefined,
    preset: env.MEDIA_INGEST_BACKGROUND_PRESET?.trim() || INGEST_DEFAULT_PRESET,
    promptType: env.MEDIA_INGEST_BACKGROUND_PROMPT_TYPE?.trim() || undefined,
    engine,
    enhanceFg: bool(env.MEDIA_INGEST_BACKGROUND_ENHANCE_FG, 'MEDIA_INGEST_BACKGROUND_ENHANCE_FG') ?? false,
    cleanupMode: cleanupMode.data,
    timeoutMs: timeoutSec * 1000,
  };
}

/** `<dir>/<name>.bg.jpg` (or .png) for `<dir>/<name>.<ext>`, in the same form as the input path. */
export function ingestOutputPath(imagePath: string, ext: 'jpg' | 'png' = 'jpg'): string {
  const dir = path.dirname(imagePath);
  const name = path.basename(imagePath, path.extname(imagePath));
  return path.join(dir, `${name}.bg.${ext}`);
}

const OUTPUT_NAME = /\.bg\.(jpe?g|png|webp)$/i;

async function readSidecarFile(p: string): Promise<string> {
  try {
    return await readFile(p, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BgNativeError(
      'E_IO',
      code === 'ENOENT'
        ? `The sidecar ${p} does not exist; check sidecarPath (or pass the sidecar's content as \`sidecar\`).`
        : `Cannot read the sidecar ${p}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Processes one ingested photo; see the module comment. Never throws: failures come back as `status: 'failed'`. */
export async function processIngestItem(item: IngestItem): Promise<IngestResult> {
  const imagePath = typeof item?.imagePath === 'string' ? item.imagePath : '';
  const sidecarPath = typeof item?.sidecarPath === 'string' ? item.sidecarPath : undefined;
  const failed = (err: unknown): IngestResult => {
    const e = toBgError(err);
    return {
      status: 'failed',
      imagePath,
      ...(sidecarPath !== undefined ? { sidecarPath } : {}),
      error: { code: e.code, message: e.message },
    };
  };
  try {
    if (!imagePath) throw new BgNativeError('E_BAD_INPUT', 'processIngestItem needs `imagePath`, the ingested photo.');
    if ((sidecarPath === undefined) === (item.sidecar === undefined)) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        'processIngestItem needs exactly one of `sidecarPath` (a JSON file to update) and `sidecar` (its ' +
          'parsed content).',
      );
    }
    const cfg = readIngestConfig(item.env ?? process.env);
    if (!cfg.mode)
      return {
        status: 'skipped',
        reason: 'MEDIA_INGEST_BACKGROUND_AUTOMATION is off (set it to replace or cleanup).',
        imagePath,
      };
    if (OUTPUT_NAME.test(imagePath))
      return {
        status: 'skipped',
        reason: `${path.basename(imagePath)} is an output of this step (*.bg.*).`,
        imagePath,
      };

    // Everything that can be checked is checked before any work: the sidecar, the photo, the settings.
    let sidecar: Record<string, unknown>;
    if (sidecarPath !== undefined) sidecar = parseSidecar(await readSidecarFile(sidecarPath), sidecarPath);
    else {
      const s = item.sidecar;
      if (s === null || typeof s !== 'object' || Array.isArray(s))
        throw new BgNativeError('E_BAD_INPUT', '`sidecar` must be a JSON object (the parsed sidecar).');
      sidecar = s;
    }
    try {
      if (!(await stat(imagePath)).isFile()) throw new Error('not a file');
    } catch (err) {
      throw new BgNativeError('E_BAD_INPUT', `The photo ${imagePath} does not exist or is not a file.`, { cause: err });
    }
    const mode = cfg.mode;
    const replaceOptions: Record<string, unknown> = { preset: cfg.preset, enhanceFg: cfg.enhanceFg, format: 'jpeg' };
    if (cfg.promptType) replaceOptions.promptType = cfg.promptType;
    if (cfg.engine) replaceOptions.engine = cfg.engine;
    const lib = item.library ?? (await import('../context/default.js')).defaultContext();
    const settings = mode === 'replace' ? lib.checkReplaceOptions({ ...replaceOptions, input: imagePath }) : undefined;
    const cleanupOptions: Record<string, unknown> = {
      mode: cfg.cleanupMode,
      enhanceFg: cfg.enhanceFg,
      format: cfg.cleanupMode === 'transparent' ? 'png' : 'jpeg',
    };
    const outputPath = ingestOutputPath(
      imagePath,
      mode === 'cleanup' && cfg.cleanupMode === 'transparent' ? 'png' : 'jpg',
    );

    let engine: string;
    let prompt: string | null = null;
    let jobId: string | undefined;
    let result: ResultMetadata;
    const artifacts = { output: path.resolve(outputPath), mask: null };
    if (cfg.apiUrl) {
      const r = await runRemote({
        baseUrl: cfg.apiUrl,
        token: cfg.token,
        op: mode,
        imagePath,
        options: mode === 'replace' ? replaceOptions : cleanupOptions,
        timeoutMs: cfg.timeoutMs,
        signal: item.signal,
      });
      await writeFileAtomic(outputPath, r.output);
      jobId = r.jobId;
      engine = mode === 'replace' ? String(r.result.engine ?? 'unknown') : 'cleanup';
      if (mode === 'replace') prompt = typeof r.result.prompt === 'string' ? r.result.prompt : settings!.preset.prompt;
      // The server's result, its URLs swapped for the file written here.
      result = toResultMetadata(r.result as unknown as ResultSource, artifacts);
    } else if (mode === 'replace') {
      const r = await lib.replaceBackground({
        ...replaceOptions,
        input: imagePath,
        output: outputPath,
        ...(item.signal ? { signal: item.signal } : {}),
      });
      engine = r.engine;
      prompt = r.prompt ?? settings!.preset.prompt;
      result = toResultMetadata(r, artifacts);
    } else {
      const r = await lib.cleanup({ ...cleanupOptions, input: imagePath, output: outputPath });
      engine = 'cleanup';
      result = toResultMetadata(r, artifacts);
    }

    const background: BackgroundBlock = {
      mode,
      engine,
      outJpg: outputPath,
      processedAt: new Date().toISOString(),
      prompt,
      settings: settings
        ? {
            steps: settings.preset.generation.steps,
            guidanceScale: settings.preset.generation.guidanceScale,
            enhanceFg: settings.compose.enhanceFg,
            matchColors: settings.compose.matchColors,
            featherEdges: settings.compose.featherEdges,
          }
        : { steps: null, guidanceScale: null, enhanceFg: cfg.enhanceFg, matchColors: null, featherEdges: null },
    };

    let updated: Record<string, unknown>;
    if (sidecarPath !== undefined) {
      // Re-read: an edit made while the photo was processed is kept.
      const now = await readSidecarFile(sidecarPath);
      const text = setTopLevelMember(now, 'background', background, sidecarPath);
      await writeFileAtomic(sidecarPath, Buffer.from(text, 'utf8'));
      updated = parseSidecar(text, sidecarPath);
    } else {
      updated = { ...sidecar, background };
    }
    return {
      status: 'processed',
      mode,
      imagePath,
      outputPath,
      background,
      result,
      sidecar: updated,
      ...(sidecarPath !== undefined ? { sidecarPath } : {}),
      ranAt: cfg.apiUrl ? 'remote' : 'in-process',
      ...(jobId ? { jobId } : {}),
    };
  } catch (err) {
    return failed(err);
  }
}
