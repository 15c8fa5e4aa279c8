/**
 * The `local` engine: the native Stable Diffusion runtime inpaints the background.
 *
 *   photo, alpha (frame size) ─► generation size (≈ the model's native area, the frame's aspect,
 *   multiples of 64) ─► repaint mask = outside the subject dilated by ~1.5 % of the long side ─►
 *   inpaint (initImage + mask, no paste-back) ─► the kept region (subject + margin) filled from
 *   the new surroundings ─► enlarged to the frame (lanczos3)
 *
 * Only the background is resampled: the subject is composited later from the full-size photo.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { fillHoles, dilateMask } from '../compose/fill.js';
import type { Runtime } from '../context/runtime.js';
import { addonDevice } from '../context/runtime.js';
import type { DiffusionPrecision, NativeDiffusionModel } from '../diffusion.js';
import { BgNativeError, toBgError } from '../errors.js';
import { resizeRaw } from '../image/resize.js';
import { backends } from '../native.js';
import type { Preset, PresetResolution } from '../presets/schema.js';
import { stopwatch } from '../stopwatch.js';
import type { GenerateRequest, GeneratedBackground, Generator } from './generator.js';
import { resolveGenerationProfile } from './generation-profile.js';
import { localPrecision } from './precision.js';

export interface LocalEngineOptions {
  /** Checkpoint file (.safetensors) or diffusers folder. */
  model: string;
  /** CLIP tokenizer folder for single-file checkpoints. */
  tokenizer?: string;
  /** The UNet's CPU compute (default: the context's, BG_DIFFUSION_PRECISION, else 'auto'; engines/precision.ts). */
  precision?: DiffusionPrecision;
  /** The context: its settings (LoRAs, precision, device, tokenizer, TAESD) and its loaded models. */
  runtime: Runtime;
}

/** The side of the square the model was trained at: SDXL 1024, else from its text-context width. */
export function nativeSide(
  model: Pick<NativeDiffusionModel, 'contextDim'> & Partial<Pick<NativeDiffusionModel, 'family'>>,
): number {
  if (model.family === 'sdxl') return 1024;
  return model.contextDim >= 2048 ? 1024 : model.contextDim >= 1024 ? 768 : 512;
}

/**
 * SDXL's aspect buckets (width × height, about 1 megapixel each, multiples of 64), as in the SDXL
 * report's multi-aspect training table: the sizes SDXL models were fine-tuned at.
 */
export const SDXL_BUCKETS: readonly (readonly [number, number])[] = (() => {
  const tall: [number, number][] = [
    [512, 2048],
    [512, 1984],
    [512, 1920],
    [512, 1856],
    [576, 1792],
    [576, 1728],
    [576, 1664],
    [640, 1600],
    [640, 1536],
    [704, 1472],
    [704, 1408],
    [704, 1344],
    [768, 1344],
    [768, 1280],
    [832, 1216],
    [832, 1152],
    [896, 1152],
    [896, 1088],
    [960, 1088],
    [960, 1024],
  ];
  return [...tall, [1024, 1024], ...tall.map(([w, h]) => [h, w] as [number, number]).reverse()];
})();

/** The preset's prompt with its style for the model's family (`styles.sdxl`, …) applied. */
export function applyPromptStyle(
  preset: Pick<Preset, 'prompt' | 'negativePrompt' | 'styles'>,
  family: string | undefined,
): { prompt: string; negativePrompt: string } {
  const style = family === 'sd1' || family === 'sd2' || family === 'sdxl' ? preset.styles?.[family] : undefined;
  if (!style) return { prompt: preset.prompt, negativePrompt: preset.negativePrompt };
  const join = (...parts: (string | undefined)[]) =>
    parts
      .map((p) => p?.trim())
      .filter(Boolean)
      .join(', ');
  return {
    prompt: join(style.prefix, preset.prompt, style.suffix),
    negativePrompt: join(preset.negativePrompt, style.negativeSuffix),
  };
}

const round64 = (v: number) => Math.max(64, Math.round(v / 64) * 64);

/**
 * The generation size for a frame: `{ width, height }` from the preset as given; `{ longSide }`
 * keeps the frame's aspect at about the model's native area (`native`² pixels), scaled down when
 * the native side exceeds `longSide`. With `buckets` (SDXL_BUCKETS for SDXL models) the size is
 * the bucket nearest the frame's aspect (by log ratio), scaled the same way.
 */
export function generationSize(
  resolution: PresetResolution,
  frameWidth: number,
  frameHeight: number,
  native: number,
  buckets?: readonly (readonly [number, number])[],
): { width: number; height: number } {
  if (resolution.width !== undefined && resolution.height !== undefined)
    return { width: resolution.width, height: resolution.height };
  const aspect = frameWidth / frameHeight;
  // `longSide` caps the model's native side: a preset's 1024 leaves SD 1.x/2.x and SDXL at their
  // native area, a smaller value scales the generation down (faster, softer).
  const scale = Math.min(1, Math.max(64, resolution.longSide ?? native) / native);
  if (buckets && buckets.length > 0) {
    let best = buckets[0]!;
    for (const b of buckets)
      if (Math.abs(Math.log(b[0] / b[1] / aspect)) < Math.abs(Math.log(best[0] / best[1] / aspect))) best = b;
    if (scale === 1) return { width: best[0], height: best[1] };
    return { width: round64(best[0] * scale), height: round64(best[1] * scale) };
  }
  const w = native * Math.sqrt(aspect) * scale;
  const h = (native / Math.sqrt(aspect)) * scale;
  return { width: round64(w), height: round64(h) };
}

type LoraSet = { path: string; scale: number }[];

/**
 * One loaded instance per LoRA set: the set is merged at load, so a generation never keeps the
 * plain model and a merged copy resident side by side.
 */
function loadModel(
  options: LocalEngineOptions,
  request: GenerateRequest,
  loras: LoraSet,
): Promise<NativeDiffusionModel> {
  const { settings, diffusionModels } = options.runtime;
  const key = JSON.stringify([
    options.model,
    options.tokenizer ?? '',
    addonDevice(request.device, settings),
    request.threads ?? 0,
    localPrecision(options.precision, settings.precision),
    loras,
  ]);
  return diffusionModels.get(key, () => openModel(options, request, loras));
}

async function openModel(
  options: LocalEngineOptions,
  request: GenerateRequest,
  loras: LoraSet,
): Promise<NativeDiffusionModel> {
  try {
    await stat(options.model);
  } catch {
    throw new BgNativeError(
      'E_MODEL_NOT_FOUND',
      `Diffusion model not found: ${options.model}. Point model.diffusion (or BG_DIFFUSION_MODEL) at a ` +
        '.safetensors checkpoint or a diffusers folder.',
    );
  }
  const { settings, diffusion } = options.runtime;
  const load: Parameters<typeof diffusion.load>[1] = { device: request.device };
  if (request.threads !== undefined) load.threads = request.threads;
  if (options.tokenizer !== undefined) load.tokenizer = options.tokenizer;
  load.precision = localPrecision(options.precision, settings.precision);
  if (loras.length) load.loras = loras;
  return diffusion.load(options.model, load);
}

/**
 * With device 'auto', a GPU that runs out of memory (at load or during the run) is not the end:
 * the same generation runs again on the CPU, and the result says so. An explicit 'cuda' keeps
 * the error (E_OUT_OF_MEMORY), so the engine policy moves on and reports why.
 */
async function generateWithFallback(
  options: LocalEngineOptions,
  request: GenerateRequest,
): Promise<GeneratedBackground> {
  try {
    return await generateOn(options, request);
  } catch (err) {
    const e = toBgError(err);
    if (e.code !== 'E_OUT_OF_MEMORY' || request.device !== 'auto' || !cudaAvailable()) throw e;
    const onCpu = await generateOn(options, { ...request, device: 'cpu' });
    return {
      ...onCpu,
      info: { ...onCpu.info, deviceFallback: `the GPU ran out of memory (${e.message}); ran on the CPU` },
    };
  }
}

let cudaAnswer: boolean | undefined;
function cudaAvailable(): boolean {
  cudaAnswer ??= backends().some((b) => b.name === 'cuda' && b.available);
  return cudaAnswer;
}

async function generateOn(options: LocalEngineOptions, request: GenerateRequest): Promise<GeneratedBackground> {
  const { width, height, preset } = request;
  const { lap, stages } = stopwatch();
  // LCM models and LCM-LoRAs run the 'fast' profile (4 LCM steps at guidance 1) unless the preset says otherwise.
  const configured = options.runtime.settings.loras;
  const configuredLoras = preset.generation.loras ?? configured ?? [];
  const g = resolveGenerationProfile(preset.generation, options.model, configuredLoras);
  // The call's or preset's LoRAs, else the context's (BG_LORAS), merged into the instance loaded for that set.
  const loras = (g.loras ?? configured ?? []).map((l) => ({ path: l.path, scale: l.scale ?? 1 }));
  const model = await loadModel(options, request, loras);
  lap('load');
  try {
    const gen = generationSize(
      preset.generation.resolution,
      width,
      height,
      nativeSide(model),
      model.family === 'sdxl' ? SDXL_BUCKETS : undefined,
    );
    const photo = await resizeRaw(request.photo, width, height, 3, gen.width, gen.height, 'linear');
    const alpha = await resizeRaw(request.alpha, width, height, 1, gen.width, gen.height, 'linear');
    const margin = Math.max(2, Math.round(0.015 * Math.max(gen.width, gen.height)));
    const keep = dilateMask(alpha, gen.width, gen.height, margin, 32);
    const repaint = keep.map((v) => 255 - v);
    lap('prepare');
    const styled = applyPromptStyle(preset, model.family);
    // 'taesd' or a path: the tiny autoencoder decodes (a draft); relative paths from the working directory.
    // 'taesd' is the context's BG_TAESD / BG_TAESDXL when set (the loader resolves it), else beside the checkpoint.
    const vae = decoderOption(g.vae);
    const image = await model.generate(
      {
        prompt: styled.prompt,
        negativePrompt: styled.negativePrompt,
        width: gen.width,
        height: gen.height,
        steps: g.steps,
        guidanceScale: g.guidanceScale,
        sampler: g.sampler,
        ...(g.timestepSpacing ? { timestepSpacing: g.timestepSpacing } : {}),
        strength: g.strength > 0 ? g.strength : 1,
        seed: request.seed,
        initImage: photo,
        mask: repaint,
        pasteBack: false,
        ...(vae !== 'full' ? { vae } : {}),
        ...(request.previewEvery ? { previewEvery: request.previewEvery } : {}),
      },
      {
        signal: request.signal,
        onProgress: ({ step, steps, preview }) => request.onProgress?.(step / steps, step, steps, preview),
      },
    );
    lap('generate');
    // What the model kept (the subject and its margin) is replaced by the new surroundings,
    // so no trace of the old background shows through the subject's soft edges.
    const filled = fillHoles(image.pixels, repaint, gen.width, gen.height);
    const rgb = await resizeRaw(filled, gen.width, gen.height, 3, width, height, 'lanczos3');
    lap('upscale');
    return {
      rgb,
      stages,
      info: {
        model: model.path,
        device: model.device,
        precision: model.precision,
        family: model.family,
        layout: model.layout,
        prompt: styled.prompt,
        inpainting: model.inChannels === 9,
        resolution: [gen.width, gen.height],
        steps: g.steps,
        sampler: g.sampler,
        guidanceScale: g.guidanceScale,
        ...(g.profile ? { profile: g.profile } : {}),
        strength: g.strength,
        ...(loras.length ? { loras } : {}),
        ...(vae !== 'full' ? { vae } : {}),
        maskMarginPx: margin,
      },
    };
  } catch (err) {
    throw toBgError(err);
  }
}

/** The decoder generate() takes: 'full', 'taesd' or an absolute TAESD path. */
function decoderOption(vae: string | undefined): string {
  if (vae === undefined || vae === 'full' || vae === 'taesd') return vae ?? 'full';
  return path.resolve(vae);
}

export function createLocalGenerator(options: LocalEngineOptions): Generator {
  return {
    name: 'local',
    generate: (request: GenerateRequest) => generateWithFallback(options, request),
  };
}
