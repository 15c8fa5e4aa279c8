/**
 * A context's configuration: `BgNativeConfig` is what a caller passes (plain options, all
 * optional; `fromEnv()` maps the documented environment variables onto it), `BgNativeSettings`
 * is what the pipeline reads — every setting resolved and checked once, defaults filled in,
 * frozen. Nothing below the front doors reads the environment: they read these settings.
 */
import path from 'node:path';

import type { DiffusionPrecision, LoraOption } from '../native.js';
import { hubCacheDir, parseModelId } from '../models/hub.js';
import { cacheDir, u2netHome } from '../models/resolve.js';
import {
  DEFAULT_MAX_MODEL_BYTES,
  DEFAULT_MAX_PIXELS,
  DEFAULT_MAX_PROMPT_CHARS,
  type EngineName,
  type ModelVariant,
} from '../options.js';
import {
  checkDevice,
  checkEngine,
  checkLoras,
  checkPositive,
  checkPrecision,
  checkVariant,
  type DefaultDevice,
} from './checks.js';

export type { DefaultDevice } from './checks.js';

/** The Hugging Face cache and endpoint MODEL_ID weights come from. */
export interface HubConfig {
  /** Branch, tag or commit (MODEL_REVISION; default 'main'). */
  revision?: string;
  /** The hub's base URL (HF_ENDPOINT; default https://huggingface.co). */
  endpoint?: string;
  /** The hub cache folder (HF_HUB_CACHE, HF_HOME/hub, …; default ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Bearer token for gated or private models (HF_TOKEN / HUGGING_FACE_HUB_TOKEN). */
  token?: string;
  /** Never use the network (HF_HUB_OFFLINE=1). */
  offline?: boolean;
}

export interface RunwayConfig {
  /** Enables the runway engine (RUNWAY_API_KEY). */
  apiKey?: string;
  /** Runway API base URL (RUNWAY_API_URL). */
  apiUrl?: string;
  /** Task polling interval (RUNWAY_POLL_INTERVAL_MS; never under 5000 against Runway itself). */
  pollIntervalMs?: number;
}

/** Everything a context can be told; each field names the environment variable fromEnv() maps onto it. */
export interface BgNativeConfig {
  /** replaceBackground's default engine (BG_ENGINE; default 'auto'). Aliases such as 'SDXL' are accepted. */
  engine?: EngineName | string;
  /** Diffusion checkpoint or diffusers folder for the local engine (BG_DIFFUSION_MODEL). */
  diffusionModel?: string;
  /** The same, by its older name (MODEL_PATH); diffusionModel wins. */
  modelPath?: string;
  /** Diffusion weights by Hugging Face id, org/name (MODEL_ID); local paths win. */
  modelId?: string;
  hub?: HubConfig;
  runway?: RunwayConfig;
  /** Extra preset folders, after the built-in ones (BG_PRESET_DIRS). */
  presetDirs?: readonly string[];
  /** Images above this many pixels are refused (BG_MAX_PIXELS; default 100 000 000). */
  maxPixels?: number;
  /** Model files above this many bytes are refused (BG_MAX_MODEL_BYTES; default 64 GiB). */
  maxModelBytes?: number;
  /** Prompts longer than this many characters are refused (BG_MAX_PROMPT_CHARS; default 4000). */
  maxPromptChars?: number;
  /** Where `device: 'auto'` runs (BGN_DEVICE); unset: a CUDA GPU when there is one. */
  device?: DefaultDevice;
  /** Native threads for calls that do not say (default: all cores). */
  threads?: number;
  /** LoRAs the local engine merges when neither the call nor the preset names any (BG_LORAS). */
  loras?: readonly LoraOption[];
  /** The local engine's UNet compute when the call does not say (BG_DIFFUSION_PRECISION; default 'auto'). */
  precision?: DiffusionPrecision;
  /** CLIP tokenizer folder used instead of the built-in vocabulary (BG_CLIP_TOKENIZER). */
  tokenizer?: string;
  /** The tiny autoencoder `vae: 'taesd'` and previews use for SD 1.x/2.x (BG_TAESD; default: beside the checkpoint). */
  taesd?: string;
  /** The same for SDXL models (BG_TAESDXL). */
  taesdxl?: string;
  /** Segmentation model file or catalog name (BG_SEG_MODEL). */
  segmentationModel?: string;
  /** The bundled ISNet's variant (BG_SEG_VARIANT; default 'medium'). */
  segmentationVariant?: ModelVariant;
  /** rembg's model folder (U2NET_HOME; default $XDG_DATA_HOME/.u2net or ~/.u2net). */
  u2netHome?: string;
  /** Where the bundled model is assembled (BG_NATIVE_CACHE_DIR; default $XDG_CACHE_HOME/bg-native or ~/.cache). */
  cacheDir?: string;
}

/** The diffusion weights a context names, and which setting named them (for the engine reasons). */
export interface DiffusionSource {
  path: string;
  source: 'BG_DIFFUSION_MODEL' | 'MODEL_PATH' | 'MODEL_ID';
  /** Set for MODEL_ID: the checked org/name. */
  hubId?: string;
}

export interface HubSettings {
  revision: string;
  endpoint: string;
  cacheDir: string;
  token?: string;
  offline: boolean;
}

export interface SegmentationSettings {
  model?: string;
  variant?: ModelVariant;
  u2netHome: string;
  cacheDir: string;
}

export interface LimitSettings {
  maxPixels: number;
  maxModelBytes: number;
  maxPromptChars: number;
}

/** Every setting resolved; read-only (frozen). */
export interface BgNativeSettings {
  readonly engine: EngineName;
  readonly diffusion?: DiffusionSource;
  readonly hub: Readonly<HubSettings>;
  readonly runway: Readonly<RunwayConfig>;
  readonly presetDirs: readonly string[];
  readonly limits: Readonly<LimitSettings>;
  readonly device?: DefaultDevice;
  readonly threads?: number;
  readonly loras?: readonly Readonly<Required<LoraOption>>[];
  readonly precision?: DiffusionPrecision;
  readonly tokenizer?: string;
  readonly taesd?: string;
  readonly taesdxl?: string;
  readonly segmentation: Readonly<SegmentationSettings>;
}

const text = (v: string | undefined): string | undefined => (v?.trim() ? v.trim() : undefined);

function diffusionSource(config: BgNativeConfig): DiffusionSource | undefined {
  const local = text(config.diffusionModel);
  if (local) return { path: local, source: 'BG_DIFFUSION_MODEL' };
  const legacy = text(config.modelPath);
  if (legacy) return { path: legacy, source: 'MODEL_PATH' };
  const id = text(config.modelId);
  if (id) return { path: id, source: 'MODEL_ID', hubId: parseModelId(id) };
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Checks `config` and fills in the defaults; E_CONFIG (naming the setting) on a bad value. */
export function resolveSettings(config: BgNativeConfig): BgNativeSettings {
  // Folders nobody named: the home-based defaults (fromEnv() names the XDG / HF ones it finds).
  const defaults = { hubCacheDir: hubCacheDir({}), u2netHome: u2netHome({}), cacheDir: cacheDir({}) };
  const hub = config.hub ?? {};
  const runway = config.runway ?? {};
  const apiKey = text(runway.apiKey);
  const apiUrl = text(runway.apiUrl);
  const diffusion = diffusionSource(config);
  const loras = config.loras === undefined ? undefined : checkLoras(config.loras);
  const device = config.device === undefined ? undefined : checkDevice(config.device);
  const precision = config.precision === undefined ? undefined : checkPrecision(config.precision);
  const variant = config.segmentationVariant === undefined ? undefined : checkVariant(config.segmentationVariant);
  const settings: BgNativeSettings = {
    engine: config.engine === undefined ? 'auto' : checkEngine(config.engine),
    ...(diffusion ? { diffusion } : {}),
    hub: {
      revision: text(hub.revision) ?? 'main',
      endpoint: text(hub.endpoint) ?? 'https://huggingface.co',
      cacheDir: path.resolve(text(hub.cacheDir) ?? defaults.hubCacheDir),
      ...(text(hub.token) ? { token: text(hub.token)! } : {}),
      offline: hub.offline ?? false,
    },
    runway: {
      ...(apiKey ? { apiKey } : {}),
      ...(apiUrl ? { apiUrl } : {}),
      ...(runway.pollIntervalMs !== undefined ? { pollIntervalMs: runway.pollIntervalMs } : {}),
    },
    presetDirs: (config.presetDirs ?? []).map((d) => d.trim()).filter(Boolean),
    limits: {
      maxPixels: checkPositive(config.maxPixels, 'maxPixels (BG_MAX_PIXELS)') ?? DEFAULT_MAX_PIXELS,
      maxModelBytes:
        checkPositive(config.maxModelBytes, 'maxModelBytes (BG_MAX_MODEL_BYTES)') ?? DEFAULT_MAX_MODEL_BYTES,
      maxPromptChars:
        checkPositive(config.maxPromptChars, 'maxPromptChars (BG_MAX_PROMPT_CHARS)') ?? DEFAULT_MAX_PROMPT_CHARS,
    },
    ...(device ? { device } : {}),
    ...(config.threads !== undefined ? { threads: checkPositive(config.threads, 'threads')! } : {}),
    ...(loras ? { loras } : {}),
    ...(precision ? { precision } : {}),
    ...(text(config.tokenizer) ? { tokenizer: text(config.tokenizer)! } : {}),
    ...(text(config.taesd) ? { taesd: text(config.taesd)! } : {}),
    ...(text(config.taesdxl) ? { taesdxl: text(config.taesdxl)! } : {}),
    segmentation: {
      ...(text(config.segmentationModel) ? { model: text(config.segmentationModel)! } : {}),
      ...(variant ? { variant } : {}),
      u2netHome: path.resolve(text(config.u2netHome) ?? defaults.u2netHome),
      cacheDir: path.resolve(text(config.cacheDir) ?? defaults.cacheDir),
    },
  };
  return deepFreeze(settings);
}
