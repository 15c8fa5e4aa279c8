/**
 * The local engine's UNet compute on the CPU: the call's `model.precision`, else the context's
 * precision (env BG_DIFFUSION_PRECISION), else 'auto' (bf16 where the CPU has AVX512-BF16, else f32).
 */
import { BgNativeError } from '../errors.js';
import type { DiffusionPrecision } from '../native.js';

const NAMES: readonly DiffusionPrecision[] = ['auto', 'f32', 'bf16'];

/** BG_DIFFUSION_PRECISION → a precision; undefined when unset or empty, E_CONFIG when misspelt. */
export function precisionFromEnv(env: NodeJS.ProcessEnv): DiffusionPrecision | undefined {
  const v = env.BG_DIFFUSION_PRECISION?.trim();
  if (!v) return undefined;
  if (!(NAMES as readonly string[]).includes(v)) {
    throw new BgNativeError('E_CONFIG', `BG_DIFFUSION_PRECISION must be auto, f32 or bf16 (got "${v}").`);
  }
  return v as DiffusionPrecision;
}

/** What the local engine loads its model with: the call's choice, else the configured one, else 'auto'. */
export function localPrecision(
  option: DiffusionPrecision | undefined,
  configured: DiffusionPrecision | undefined,
): DiffusionPrecision {
  return option ?? configured ?? 'auto';
}
