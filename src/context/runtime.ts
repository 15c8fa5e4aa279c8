/**
 * What a context hands its pipeline stages: the settings, and the things it owns that outlive a
 * call (loaded models, the preset library, the pixel workers, hub resolutions in flight).
 * Stages take it as a parameter; nothing below the front doors keeps state of its own.
 */
import type { DiffusionModelLoader } from '../diffusion.js';
import type { NativeDiffusionModel } from '../native.js';
import type { HubModel } from '../models/hub.js';
import type { LoadCache } from '../models/load-cache.js';
import type { SegmenterCache } from '../models/segmenters.js';
import type { PresetLibrary } from '../presets/load.js';
import type { PixelPool } from '../workers/pixel-pool.js';
import type { BgNativeSettings } from './settings.js';

export interface Runtime {
  readonly settings: BgNativeSettings;
  readonly segmenters: SegmenterCache;
  /** Loads diffusion models with the settings' defaults (tokenizer, device, size limit, TAESD). */
  readonly diffusion: DiffusionModelLoader;
  /** The local engine's loaded models, one per (weights, device, threads, precision, LoRA set). */
  readonly diffusionModels: LoadCache<NativeDiffusionModel>;
  /** MODEL_ID resolutions in flight or done, per id and hub settings: one download at a time. */
  readonly hubResolutions: Map<string, Promise<HubModel>>;
  readonly presets: PresetLibrary;
  readonly pool: PixelPool;
}

/** The device the addon is asked for: 'auto' becomes the configured default device (BGN_DEVICE) when there is one. */
export function addonDevice(requested: string | undefined, settings: Pick<BgNativeSettings, 'device'>): string {
  const device = requested ?? 'auto';
  return device === 'auto' && settings.device ? settings.device : device;
}
