/**
 * createBgNative(): one configuration of the library, with everything that outlives a call —
 * loaded models, the preset library, the pixel workers — owned by it. Several contexts live side
 * by side in one process without sharing a setting; the package's top-level functions are the
 * default context's (see default.ts).
 */
import { diffusionModelLoader, type DiffusionDefaults, type DiffusionModelLoader } from '../diffusion.js';
import type { NativeDiffusionModel } from '../native.js';
import { LoadCache } from '../models/load-cache.js';
import { listModelsIn, type ListedModel } from '../models/list.js';
import { modelDirs, resolveModel, type ResolvedModel, type ResolveOptions } from '../models/resolve.js';
import { SegmenterCache, sharedSegmenters } from '../models/segmenters.js';
import { parseReplaceOptions, type CleanupOptions, type ReplaceOptions, type SegmentOptions } from '../options.js';
import { cleanup, type CleanupResult } from '../pipeline/cleanup.js';
import { replaceBackground, type ReplaceResult } from '../pipeline/replace.js';
import { resolveReplaceSettings, type ReplaceSettings } from '../pipeline/replace-settings.js';
import { segment, type SegmentResult } from '../pipeline/segment.js';
import { PresetLibrary, type GetPresetOptions, type PresetSourceOptions } from '../presets/load.js';
import type { Preset, PresetFile } from '../presets/schema.js';
import { PixelPool, sharedPixelPool } from '../workers/pixel-pool.js';
import type { Runtime } from './runtime.js';
import { resolveSettings, type BgNativeConfig, type BgNativeSettings } from './settings.js';

export interface BgNative {
  /** Every setting, resolved once when the context was made (frozen). */
  readonly settings: BgNativeSettings;
  replaceBackground(options: ReplaceOptions): Promise<ReplaceResult>;
  cleanup(options: CleanupOptions): Promise<CleanupResult>;
  segment(options: SegmentOptions): Promise<SegmentResult>;
  /** Checks replaceBackground options and the preset they name, as a call would, without running anything. */
  checkReplaceOptions(options: unknown): ReplaceSettings;
  /** Diffusion models loaded with this context's tokenizer, device, size limit and TAESD settings. */
  readonly DiffusionModel: DiffusionModelLoader;
  /** The presets: built-in, then the context's presetDirs, then the call's. */
  listPresets(options?: PresetSourceOptions): string[];
  getPreset(name: string, options?: GetPresetOptions): Preset;
  getPresetFile(name: string, options?: PresetSourceOptions): { name: string; file: string; data: PresetFile };
  /** The segmentation models in the context's model folders (rembg's, then the cache). */
  listModels(): Promise<ListedModel[]>;
  /** The segmentation model a call with `options` would use. */
  resolveModel(options?: Omit<ResolveOptions, 'env' | 'search'>): Promise<ResolvedModel>;
  /** Forgets the loaded preset files; the next call reads them again. */
  clearPresetCache(): void;
  /** Releases the loaded segmentation models. */
  clearSegmenters(): Promise<void>;
  /** Releases the loaded diffusion models. */
  clearDiffusionModels(): Promise<void>;
  /** Stops the pixel workers (they start again on the next call). */
  closePixelPool(): Promise<void>;
  /** Releases everything the context holds: models, pixel workers, cached presets. It stays usable. */
  close(): Promise<void>;
  /** The same as close(). */
  dispose(): Promise<void>;
}

/** What a context owns; the default context passes the process-wide segmenters and pixel pool. */
export interface ContextResources {
  segmenters?: SegmenterCache;
  pool?: PixelPool;
}

/** The settings a diffusion model load and generation default to. */
export function diffusionDefaults(settings: BgNativeSettings): DiffusionDefaults {
  return {
    maxModelBytes: settings.limits.maxModelBytes,
    ...(settings.tokenizer ? { tokenizer: settings.tokenizer } : {}),
    ...(settings.device ? { device: settings.device } : {}),
    ...(settings.taesd ? { taesd: settings.taesd } : {}),
    ...(settings.taesdxl ? { taesdxl: settings.taesdxl } : {}),
  };
}

/** Builds a context from `config`; E_CONFIG naming the setting when one is unusable. */
export function createBgNative(config: BgNativeConfig = {}): BgNative {
  return createContext(config, {});
}

/**
 * A context on the process-wide segmenter cache and pixel pool (the default context's and the CLI's),
 * so clearSegmenters() / closeComposePool() reach what it loaded.
 */
export function createProcessContext(config: BgNativeConfig): BgNative {
  return createContext(config, { segmenters: sharedSegmenters(), pool: sharedPixelPool() });
}

/** createBgNative() with some of what the context owns handed in (the default context's shared parts). */
export function createContext(config: BgNativeConfig, resources: ContextResources): BgNative {
  const settings = resolveSettings(config);
  const defaults = diffusionDefaults(settings);
  const diffusion = diffusionModelLoader(() => defaults);
  const rt: Runtime = {
    settings,
    segmenters: resources.segmenters ?? new SegmenterCache(),
    diffusion,
    diffusionModels: new LoadCache<NativeDiffusionModel>(),
    hubResolutions: new Map(),
    presets: new PresetLibrary(settings.presetDirs),
    pool: resources.pool ?? new PixelPool(),
  };
  const close = async (): Promise<void> => {
    rt.presets.clear();
    await Promise.allSettled([rt.segmenters.clear(), rt.diffusionModels.clear(), rt.pool.close()]);
  };
  return {
    settings,
    replaceBackground: (options) => replaceBackground(options, rt),
    cleanup: (options) => cleanup(options, rt),
    segment: (options) => segment(options, rt),
    checkReplaceOptions: (options) => resolveReplaceSettings(parseReplaceOptions(options, settings.limits), rt.presets),
    DiffusionModel: diffusion,
    listPresets: (options) => rt.presets.list(options),
    getPreset: (name, options) => rt.presets.get(name, options),
    getPresetFile: (name, options) => rt.presets.getFile(name, options),
    listModels: () => listModelsIn(modelDirs(settings.segmentation)),
    resolveModel: (options = {}) => resolveModel({ ...options, search: settings.segmentation }),
    clearPresetCache: () => rt.presets.clear(),
    clearSegmenters: () => rt.segmenters.clear(),
    clearDiffusionModels: () => rt.diffusionModels.clear(),
    closePixelPool: () => rt.pool.close(),
    close,
    dispose: close,
  };
}
