/**
 * The checks a context's settings pass once, when the context is made. Each error is E_CONFIG
 * and names the environment variable the setting comes from (the documented names).
 */
import { BgNativeError } from '../errors.js';
import { parseLoraSpec } from '../engines/lora-spec.js';
import type { DiffusionPrecision, LoraOption } from '../native.js';
import { EngineSchema, type EngineName, type ModelVariant } from '../options.js';

/** Where `device: 'auto'` runs instead: the CPU, the first CUDA GPU or the N-th one. */
export type DefaultDevice = 'cpu' | 'cuda' | `cuda:${number}`;

export function checkEngine(value: string): EngineName {
  const parsed = EngineSchema.safeParse(value);
  if (!parsed.success) {
    throw new BgNativeError(
      'E_CONFIG',
      'BG_ENGINE must be auto, local, runway or studio (or SDXL, stable-diffusion, RUNWAY), ' +
        `got ${JSON.stringify(value)}.`,
    );
  }
  return parsed.data;
}

export function checkDevice(value: string): DefaultDevice {
  const v = value.trim();
  if (v === 'cpu' || v === 'cuda' || /^cuda:\d+$/.test(v)) return v as DefaultDevice;
  throw new BgNativeError('E_CONFIG', `BGN_DEVICE must be 'cpu', 'cuda' or 'cuda:<index>'; got '${value}'`);
}

const PRECISIONS: readonly string[] = ['auto', 'f32', 'bf16'];

export function checkPrecision(value: string): DiffusionPrecision {
  const v = value.trim();
  if (!PRECISIONS.includes(v))
    throw new BgNativeError('E_CONFIG', `BG_DIFFUSION_PRECISION must be auto, f32 or bf16 (got "${v}").`);
  return v as DiffusionPrecision;
}

export function checkVariant(value: string): ModelVariant {
  if (value === 'medium' || value === 'small') return value;
  throw new BgNativeError('E_CONFIG', `BG_SEG_VARIANT must be 'medium' or 'small', got ${JSON.stringify(value)}.`);
}

/** LoRAs with their scale filled in; a path or scale a spec would refuse is E_CONFIG. */
export function checkLoras(loras: readonly LoraOption[]): Required<LoraOption>[] {
  return loras.map((l) => {
    const checked = parseLoraSpec(`${l.path}:${l.scale ?? 1}`, 'BG_LORAS', 'E_CONFIG');
    return { path: l.path.trim(), scale: checked.scale };
  });
}

/** A positive whole number, or undefined when not given. */
export function checkPositive(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new BgNativeError('E_CONFIG', `${name} must be a positive whole number, got ${JSON.stringify(value)}.`);
  }
  return value;
}
