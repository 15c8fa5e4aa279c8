/**
 * replaceBackground(): a product photo in, the product on a new background out — at the photo's
 * full resolution (or the framing's size), with the mask as a PNG and the seed's metadata.
 *
 *   options + preset → settings ─► segment (full-res alpha) ─► framing ─► background
 *   (studio | local | runway, by the engine policy) ─► compose off-thread (decontaminate →
 *   enhance → colour-match → feather → shadow → composite) ─► encode output ∥ mask ─► write
 *
 * Nothing is written unless every stage succeeded; the output appears atomically.
 */
import { keepWeightsResident } from '../models/residency.js';
import { randomInt } from 'node:crypto';
import path from 'node:path';

import { alphaBounds, computeFraming } from '../compose/framing.js';
import { frameMask } from '../compose/glass/frame-mask.js';
import type { Runtime } from '../context/runtime.js';
import { createLocalGenerator } from '../engines/local.js';
import { createHubLocalGenerator } from '../engines/hub-local.js';
import type { GenerateRequest, GeneratorName } from '../engines/generator.js';
import { generateBackground, type EngineSetup, type SkippedEngine } from '../engines/policy.js';
import { createRunwayGenerator } from '../engines/runway/engine.js';
import { createStudioGenerator } from '../engines/studio.js';
import { BgNativeError, throwIfCancelled } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../image/atomic-write.js';
import { encodeImage, formatFromPath } from '../image/encode.js';
import {
  parseReplaceOptions,
  type EngineName,
  type OutputFormat,
  type ParsedReplaceOptions,
  type ReplaceOptions,
  type ReplaceProgress,
} from '../options.js';
import { composeOffThread, frameOffThread } from '../workers/pixel-pool.js';
import { resolveReplaceSettings } from './replace-settings.js';
import { runSegmentation, type ModelInfo } from './segment.js';
import { Timer, type Metrics } from './timer.js';

export interface ReplaceArtifacts {
  /** The result: the absolute path written when `output` was given, else the encoded bytes. */
  output: Buffer | string;
  /** The subject's alpha as an 8-bit greyscale PNG, the output's size. */
  mask: Buffer;
}

export interface ReplaceResult {
  /** The engine that painted the background. */
  engine: GeneratorName;
  /** Why that engine ran. */
  engineReason: string;
  /** Engines tried or considered before it, each with the reason it was skipped. */
  skipped: SkippedEngine[];
  /** Facts the engine reported: model, generation size, task id, background kind, … */
  engineInfo: Record<string, unknown>;
  preset: string;
  /** The preset's prompt type in effect, when it has prompt types. */
  promptType?: string;
  /** The prompt a generative engine used. */
  prompt?: string;
  seed: number;
  artifacts: ReplaceArtifacts;
  width: number;
  height: number;
  format: OutputFormat;
  /** The segmentation model. */
  model: ModelInfo;
  metrics: Metrics;
}

/** Share of the call's progress each stage ends at. */
const PROGRESS = { segment: 0.2, generateLocal: 0.85, generateFast: 0.35, compose: 0.95, encode: 1 };

/**
 * The diffusion weights: model.diffusion, else the context's (BG_DIFFUSION_MODEL → MODEL_PATH
 * (local paths) → MODEL_ID (org/name, from the hub cache, downloaded on first use)).
 */
function configuredDiffusion(
  opts: ParsedReplaceOptions,
  rt: Runtime,
): { path: string; source: string; hubId?: string } | undefined {
  if (opts.model?.diffusion) return { path: opts.model.diffusion, source: 'model.diffusion' };
  return rt.settings.diffusion;
}

function engineSetup(opts: ParsedReplaceOptions, rt: Runtime): EngineSetup {
  const setup: EngineSetup = { studio: createStudioGenerator(rt.pool) };
  const diffusion = configuredDiffusion(opts, rt);
  if (diffusion) {
    const tokenizer = opts.model?.tokenizer;
    const precision = opts.model?.precision;
    const extra = { ...(tokenizer ? { tokenizer } : {}), ...(precision ? { precision } : {}), runtime: rt };
    setup.local = diffusion.hubId
      ? createHubLocalGenerator({ id: diffusion.hubId, ...extra })
      : createLocalGenerator({ model: diffusion.path, ...extra });
    setup.localSource = diffusion.source;
  }
  const runway = rt.settings.runway;
  if (runway.apiKey) {
    setup.runway = createRunwayGenerator({
      apiKey: runway.apiKey,
      ...(runway.apiUrl ? { baseUrl: runway.apiUrl } : {}),
      ...(runway.pollIntervalMs !== undefined ? { pollIntervalMs: runway.pollIntervalMs } : {}),
    });
  }
  return setup;
}

const CANCELLED = 'replaceBackground was cancelled.';

/**
 * A studio mode's F is exact: no decontamination (it would take the plate's colour for old
 * background), and no feather over its exact alpha unless the call asks for one.
 */
function studioCompose(studio: unknown, opts: ParsedReplaceOptions): { decontaminate?: false; featherEdges?: number } {
  if (!studio) return {};
  return { decontaminate: false, ...(opts.featherEdges === undefined ? { featherEdges: 0 } : {}) };
}

/** Replaces the background of a product photo, with the context `rt`'s settings and models. */
export async function replaceBackground(options: ReplaceOptions, rt: Runtime): Promise<ReplaceResult> {
  const timer = new Timer();
  const opts = parseReplaceOptions(options, rt.settings.limits);
  const { preset, compose } = resolveReplaceSettings(opts, rt.presets);
  const requested: EngineName = opts.engine ?? rt.settings.engine;
  const setup = engineSetup(opts, rt);
  const threads = opts.threads ?? rt.settings.threads;
  const format = opts.format ?? (opts.output ? formatFromPath(opts.output) : undefined) ?? 'png';
  if (opts.output) await checkWritable(opts.output);
  const seed = opts.seed ?? randomInt(0, 2 ** 32);
  const signal = opts.signal;
  const report = (p: ReplaceProgress) => {
    try {
      opts.onProgress?.(p);
    } catch {
      // A throwing progress callback must not break the job.
    }
  };
  throwIfCancelled(signal, CANCELLED);

  // 1. The subject, at full resolution. Glass: the call's setting, else the preset's (compositing.glass).
  const glassSetting = opts.glass ?? preset.compositing.glass;
  report({ stage: 'segment', progress: 0 });
  const seg = await runSegmentation(
    {
      input: opts.input,
      model: opts.model?.segmentation,
      segmentation: opts.segmentation,
      threads,
      // A demanded 'cuda' is the local engine's to honour or skip (the engine policy); the
      // cutout runs on the GPU whenever there is one, unless the CPU was asked for.
      device: opts.device === 'cpu' ? 'cpu' : 'auto',
      maxPixels: opts.maxPixels,
      refine: opts.refine,
      cleanPlate: opts.cleanPlate,
      second: opts.second,
      ...(opts.subject ? { prompt: opts.subject } : {}),
      ...(glassSetting !== undefined ? { glass: glassSetting } : {}),
    },
    timer,
    rt,
  );
  throwIfCancelled(signal, CANCELLED);
  let photo = seg.image.data;
  let alpha = seg.alpha;
  let width = seg.image.width;
  let height = seg.image.height;
  const subject = alphaBounds(alpha, width, height, 128);
  if (!subject) {
    throw new BgNativeError(
      'E_NO_SUBJECT',
      'No subject was found in the photo: the mask is empty. Check that the product is in view and stands ' +
        'out from the background, or try another segmentation model (model.segmentation / --model).',
    );
  }
  report({ stage: 'segment', progress: PROGRESS.segment });

  // 2. Framing: margins, output size or aspect around the subject (the glass mask moves with it).
  let glass = seg.glass;
  if (opts.framing) {
    const f = opts.framing;
    const framed = await timer.time('framing', async () => {
      const frame = computeFraming(alphaBounds(alpha, width, height) ?? subject, {
        ...(f.padding !== undefined ? { padding: f.padding } : {}),
        ...(f.outputSize !== undefined ? { outputSize: f.outputSize } : {}),
        ...(f.aspectRatio !== undefined ? { aspectRatio: f.aspectRatio } : {}),
      });
      if (glass) glass = frameMask(glass, width, height, frame);
      return frameOffThread(photo, alpha, width, height, frame, { pool: rt.pool, ...(signal ? { signal } : {}) });
    });
    ({ rgb: photo, alpha, width, height } = framed);
  }
  let background = 0;
  for (let i = 0; i < alpha.length; i++) if (alpha[i]! < 8) background++;
  if (background < alpha.length * 0.002) {
    throw new BgNativeError(
      'E_NO_BACKGROUND',
      'The subject fills the whole photo: there is no background to replace. Add room around it with ' +
        'framing.padding (CLI --padding), or check the mask with `bg-native segment`.',
    );
  }

  // 3. The new background, by the engine policy.
  const generateEnd =
    requested === 'studio' || (requested === 'auto' && !setup.local && !setup.runway)
      ? PROGRESS.generateFast
      : PROGRESS.generateLocal;
  // Glass is see-through: the new background is generated behind it too.
  const panes = glass;
  const request: GenerateRequest = {
    photo,
    alpha: panes ? alpha.map((a, i) => (panes[i] ? 0 : a)) : alpha,
    width,
    height,
    preset,
    seed,
    device: opts.device ?? 'auto',
    ...(threads !== undefined ? { threads } : {}),
    ...(signal ? { signal } : {}),
    onProgress: (fraction, step, steps, preview) =>
      report({
        stage: 'generate',
        progress: PROGRESS.segment + (generateEnd - PROGRESS.segment) * Math.min(1, Math.max(0, fraction)),
        ...(step !== undefined ? { step } : {}),
        ...(steps !== undefined ? { steps } : {}),
        ...(preview ? { preview } : {}),
      }),
    ...(opts.previewEvery !== undefined ? { previewEvery: opts.previewEvery } : {}),
  };
  // A local generation holds the diffusion model; the segmentation models go meanwhile (loaded
  // again for the next photo), so that peak memory is the diffusion model's, not both.
  if (setup.local && (requested === 'local' || requested === 'auto') && !keepWeightsResident()) {
    rt.segmenters.letGoIdle();
  }
  const outcome = await timer.time('generate', () => generateBackground(requested, setup, request));
  for (const [k, v] of Object.entries(outcome.background.stages ?? {})) timer.add(`generate.${k}`, v);
  throwIfCancelled(signal, CANCELLED);
  report({ stage: 'generate', progress: generateEnd });

  // 4. Compositing, off the event loop.
  const t0 = performance.now();
  const layers = await composeOffThread(
    {
      width,
      height,
      photo,
      alpha,
      background: outcome.background.rgb,
      ...compose,
      ...studioCompose(seg.studio, opts),
      ...(glass ? { glass } : {}),
    },
    { pool: rt.pool, ...(signal ? { signal } : {}) },
  );
  const composeMs = performance.now() - t0;
  const inner = Object.values(layers.stages).reduce((a, b) => a + b, 0);
  for (const [k, v] of Object.entries(layers.stages)) timer.add(k, v);
  timer.add('compose.transfer', Math.max(0, composeMs - inner));
  throwIfCancelled(signal, CANCELLED);
  report({ stage: 'compose', progress: PROGRESS.compose });

  // 5. Encode and write.
  const [outBytes, mask] = await timer.time('encode', () =>
    Promise.all([
      encodeImage({ data: layers.rgb, width, height, channels: 3 }, format, {
        quality: typeof opts.quality === 'number' ? opts.quality : undefined,
      }),
      encodeImage({ data: layers.alpha, width, height, channels: 1 }, 'png'),
    ]),
  );
  throwIfCancelled(signal, CANCELLED);
  let output: Buffer | string = outBytes;
  if (opts.output) {
    const dest = path.resolve(opts.output);
    await timer.time('write', () => writeFileAtomic(dest, outBytes));
    output = dest;
  }
  report({ stage: 'done', progress: PROGRESS.encode });

  const generative = outcome.engine !== 'studio';
  return {
    engine: outcome.engine,
    engineReason: outcome.reason,
    skipped: outcome.skipped,
    engineInfo: outcome.background.info,
    preset: preset.name,
    ...(preset.promptType !== undefined ? { promptType: preset.promptType } : {}),
    ...(generative ? { prompt: preset.prompt } : {}),
    seed,
    artifacts: { output, mask },
    width,
    height,
    format,
    model: seg.model,
    metrics: timer.metrics(),
  };
}
