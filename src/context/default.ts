/**
 * The default context: the one the package's top-level functions (replaceBackground, cleanup,
 * segment, DiffusionModel, the presets, …) use. It is built from process.env the first time one
 * of them needs it — the only place the library reads the environment — and kept; the
 * environment is not read again unless resetDefaultContext() is called (tests, or a host that
 * changed its environment on purpose). It shares the process-wide segmenter cache and pixel pool
 * that clearSegmenters() and closeComposePool() act on.
 */
import { diffusionModelLoader, type DiffusionModelLoader } from '../diffusion.js';
import {
  hubCacheDir as hubCacheDirOf,
  resolveHubModel as resolveHub,
  type HubModel,
  type HubResolveOptions,
} from '../models/hub.js';
import {
  cacheDir as cacheDirOf,
  resolveModel as resolveSegmentationModel,
  type ResolvedModel,
  type ResolveOptions,
} from '../models/resolve.js';
import type { CleanupOptions, ReplaceOptions, SegmentOptions } from '../options.js';
import type { CleanupResult } from '../pipeline/cleanup.js';
import type { ReplaceResult } from '../pipeline/replace.js';
import type { SegmentResult } from '../pipeline/segment.js';
import type { GetPresetOptions, PresetSourceOptions } from '../presets/load.js';
import type { Preset, PresetFile } from '../presets/schema.js';
import { createProcessContext, diffusionDefaults, type BgNative } from './create.js';
import { fromEnv } from './from-env.js';

let current: BgNative | undefined;

// The calls below are async so a bad setting (E_CONFIG) rejects their promise rather than throwing.

/** The default context, built from process.env on first use (a bad value: E_CONFIG, and the next call reads again). */
export function defaultContext(): BgNative {
  current ??= createProcessContext(fromEnv(process.env));
  return current;
}

/**
 * Forgets the default context: the next top-level call builds it again from process.env as it is
 * then. Models it loaded are left to the garbage collector (a call may still be using them).
 */
export function resetDefaultContext(): void {
  current = undefined;
}

export async function replaceBackground(options: ReplaceOptions): Promise<ReplaceResult> {
  return defaultContext().replaceBackground(options);
}

export async function cleanup(options: CleanupOptions): Promise<CleanupResult> {
  return defaultContext().cleanup(options);
}

export async function segment(options: SegmentOptions): Promise<SegmentResult> {
  return defaultContext().segment(options);
}

/** Diffusion models with the default context's settings, as they are at each load and generation. */
export const DiffusionModel: DiffusionModelLoader = diffusionModelLoader(() =>
  diffusionDefaults(defaultContext().settings),
);

export function listPresets(options?: PresetSourceOptions): string[] {
  return defaultContext().listPresets(options);
}

export function getPreset(name: string, options?: GetPresetOptions): Preset {
  return defaultContext().getPreset(name, options);
}

export function getPresetFile(
  name: string,
  options?: PresetSourceOptions,
): { name: string; file: string; data: PresetFile } {
  return defaultContext().getPresetFile(name, options);
}

/** Forgets the default context's loaded preset files. */
export function clearPresetCache(): void {
  current?.clearPresetCache();
}

/** Releases every diffusion model the default context's replaceBackground loaded; the next call loads again. */
export async function clearDiffusionModels(): Promise<void> {
  await current?.clearDiffusionModels();
}

/** The segmentation model a call would use: from `options.env` when given, else the default context's settings. */
export async function resolveModel(options: ResolveOptions = {}): Promise<ResolvedModel> {
  if (options.env || options.search) return resolveSegmentationModel(options);
  return resolveSegmentationModel({ ...options, search: defaultContext().settings.segmentation });
}

/** The cache folder for assembled models: `env`'s, else the default context's. */
export function cacheDir(env?: NodeJS.ProcessEnv): string {
  return env ? cacheDirOf(env) : defaultContext().settings.segmentation.cacheDir;
}

/** The hub cache folder: `env`'s, else the default context's. */
export function hubCacheDir(env?: NodeJS.ProcessEnv): string {
  return env ? hubCacheDirOf(env) : defaultContext().settings.hub.cacheDir;
}

/**
 * Resolves a model id from the hub: settings from `options.env` when given, else the default
 * context's; the options win.
 */
export async function resolveHubModel(id: string, options: HubResolveOptions = {}): Promise<HubModel> {
  if (options.env) return resolveHub(id, options);
  return resolveHub(id, { ...defaultContext().settings.hub, ...options });
}
