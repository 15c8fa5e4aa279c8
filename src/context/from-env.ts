/**
 * The documented environment variables (README, "Environment") as a context's configuration.
 * The one place the library's settings are read from an environment: the default context calls
 * it once with process.env, the CLI, the server and the worker call it with theirs.
 */
import path from 'node:path';

import { lorasFromEnv } from '../engines/lora-spec.js';
import { precisionFromEnv } from '../engines/precision.js';
import { hubSettingsFromEnv } from '../models/hub.js';
import { segmentationSettingsFromEnv } from '../models/resolve.js';
import { resolveMaxModelBytes, resolveMaxPixels, resolveMaxPromptChars } from '../options.js';
import { checkDevice } from './checks.js';
import type { BgNativeConfig } from './settings.js';

export type Environment = Readonly<Record<string, string | undefined>>;

const text = (v: string | undefined): string | undefined => (v?.trim() ? v.trim() : undefined);

/** Only what `env` sets: a limit left unset stays out (the context's default applies). */
function limit(env: Environment, name: string, read: (env: NodeJS.ProcessEnv) => number): number | undefined {
  return text(env[name]) === undefined ? undefined : read(env as NodeJS.ProcessEnv);
}

function runway(env: Environment): BgNativeConfig['runway'] {
  const poll = Number(env.RUNWAY_POLL_INTERVAL_MS);
  return {
    ...(text(env.RUNWAY_API_KEY) ? { apiKey: env.RUNWAY_API_KEY! } : {}),
    ...(text(env.RUNWAY_API_URL) ? { apiUrl: env.RUNWAY_API_URL! } : {}),
    // As before: an unusable interval is ignored (the client's default applies).
    ...(text(env.RUNWAY_POLL_INTERVAL_MS) && Number.isFinite(poll) && poll >= 0 ? { pollIntervalMs: poll } : {}),
  };
}

/** Maps BG_*, BGN_DEVICE, MODEL_*, HF_*, RUNWAY_*, U2NET_HOME, … onto a config; E_CONFIG naming a bad variable. */
export function fromEnv(env: Environment): BgNativeConfig {
  const e = env as NodeJS.ProcessEnv;
  const seg = segmentationSettingsFromEnv(e);
  const loras = lorasFromEnv(e);
  const precision = precisionFromEnv(e);
  const device = text(env.BGN_DEVICE);
  const maxPixels = limit(env, 'BG_MAX_PIXELS', (x) => resolveMaxPixels(undefined, x));
  const maxModelBytes = limit(env, 'BG_MAX_MODEL_BYTES', (x) => resolveMaxModelBytes(undefined, x));
  const maxPromptChars = limit(env, 'BG_MAX_PROMPT_CHARS', (x) => resolveMaxPromptChars(undefined, x));
  const optional = {
    engine: text(env.BG_ENGINE),
    diffusionModel: text(env.BG_DIFFUSION_MODEL),
    modelPath: text(env.MODEL_PATH),
    modelId: text(env.MODEL_ID),
    maxPixels,
    maxModelBytes,
    maxPromptChars,
    device: device === undefined ? undefined : checkDevice(device),
    loras,
    precision,
    tokenizer: text(env.BG_CLIP_TOKENIZER),
    taesd: text(env.BG_TAESD),
    taesdxl: text(env.BG_TAESDXL),
    segmentationModel: seg.model,
    segmentationVariant: seg.variant,
  };
  const config: BgNativeConfig = {
    hub: hubSettingsFromEnv(e),
    runway: runway(env),
    presetDirs: (env.BG_PRESET_DIRS ?? '')
      .split(path.delimiter)
      .map((s) => s.trim())
      .filter(Boolean),
    u2netHome: seg.u2netHome,
    cacheDir: seg.cacheDir,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (config as Record<string, unknown>)[k] = v;
  return config;
}
