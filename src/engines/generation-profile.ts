/**
 * Generation profiles of the local engine. 'fast' is the few-step recipe of latent consistency
 * models and LCM-LoRAs: 4 LCM steps at guidance 1 (one UNet pass per step, no negative prompt).
 * Without an explicit `generation.profile`, 'fast' applies when the model or a LoRA looks like an
 * LCM one: 'lcm' in its path (lcm-lora-sdv1-5/pytorch_lora_weights.safetensors, LCM_Dreamshaper_v7),
 * an LCMScheduler in a diffusers folder's scheduler config, or an LCM hint in a .safetensors file's
 * __metadata__ (sd-scripts' ss_output_name, modelspec.title, ...).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

import type { Preset } from '../presets/schema.js';

type Generation = Preset['generation'];

export const FAST_PROFILE = { steps: 4, sampler: 'lcm', guidanceScale: 1 } as const;

const LCM_WORD = /(^|[^a-z])lcm([^a-z]|$)|latent[-_ ]?consistency/i;
const MAX_HEADER = 1 << 20;

/** The `__metadata__` strings of a .safetensors file; empty when it has none or is not one. */
function safetensorsMetadata(file: string): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(8);
    if (readSync(fd, head, 0, 8, 0) !== 8) return [];
    const n = Number(head.readBigUInt64LE(0));
    if (n < 2 || n > MAX_HEADER) return [];
    const json = Buffer.alloc(n);
    if (readSync(fd, json, 0, n, 8) !== n) return [];
    const meta = (JSON.parse(json.toString('utf8')) as { __metadata__?: Record<string, unknown> }).__metadata__;
    return meta ? Object.values(meta).filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function schedulerClass(folder: string): string | undefined {
  const file = path.join(folder, 'scheduler', 'scheduler_config.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { _class_name?: string })._class_name;
  } catch {
    return undefined;
  }
}

/** Whether a checkpoint (file or diffusers folder) or LoRA file is an LCM one, by the heuristics above. */
export function looksLikeLcm(file: string): boolean {
  if (LCM_WORD.test(file)) return true;
  if (!existsSync(file)) return false;
  if (statSync(file).isDirectory()) return schedulerClass(file) === 'LCMScheduler';
  // Only the keys' metadata: sd-scripts' training arguments mention every scheduler name.
  return safetensorsMetadata(file).some((v) => v.length < 200 && LCM_WORD.test(v));
}

/**
 * The generation settings a local run uses: 'fast' (explicit, or chosen because the model or a
 * LoRA is an LCM one) replaces steps, sampler and guidance; 'standard' keeps them as written.
 */
export function resolveGenerationProfile(
  g: Generation,
  model: string,
  loras: readonly { path: string }[] = [],
): Generation {
  const auto = g.profile === undefined && [model, ...loras.map((l) => l.path)].some(looksLikeLcm);
  const fast = g.profile === 'fast' || auto;
  return fast ? { ...g, ...FAST_PROFILE, profile: 'fast' } : g;
}
