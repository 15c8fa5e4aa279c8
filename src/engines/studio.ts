/**
 * The studio engine: paints the preset's procedural background (solid, gradient, blurred
 * original, texture) at the request's size with the request's seed. No weights, no network,
 * deterministic; also what the other engines fall back to.
 */
import { BgNativeError, throwIfCancelled } from '../errors.js';
import { paintOffThread, type PixelPool } from '../workers/pixel-pool.js';
import type { GenerateRequest, GeneratedBackground, Generator } from './generator.js';

const CANCELLED = 'Background generation was cancelled (the request was aborted before the studio engine finished).';

/** The studio engine painting on `pool`'s workers (default: the shared pool). */
export function createStudioGenerator(pool?: PixelPool): Generator {
  return {
    name: 'studio',
    generate: (request) => paintStudio(request, pool),
  };
}

export const studioGenerator: Generator = createStudioGenerator();

async function paintStudio(request: GenerateRequest, pool: PixelPool | undefined): Promise<GeneratedBackground> {
  throwIfCancelled(request.signal, CANCELLED);
  const spec = request.preset.background;
  const t0 = performance.now();
  let rgb: Uint8Array;
  try {
    // Painted on a pixel worker: a 12-MP texture is ~0.2 s of work.
    rgb = await paintOffThread(
      spec,
      request.width,
      request.height,
      {
        seed: request.seed,
        photo: request.photo,
        alpha: request.alpha,
        referenceSize: request.preset.compositing.referenceSize,
      },
      { ...(request.signal ? { signal: request.signal } : {}), ...(pool ? { pool } : {}) },
    );
  } catch (err) {
    if (err instanceof RangeError)
      throw new BgNativeError('E_BAD_INPUT', `studio engine: ${err.message}`, { cause: err });
    throw err;
  }
  const paint = performance.now() - t0;
  throwIfCancelled(request.signal, CANCELLED);
  request.onProgress?.(1);
  const info: Record<string, unknown> = {
    background: spec.type,
    width: request.width,
    height: request.height,
    seed: request.seed,
  };
  if (spec.type === 'texture')
    Object.assign(info, { pattern: spec.pattern, scale: spec.scale, intensity: spec.intensity });
  if (spec.type === 'gradient')
    Object.assign(info, { shape: spec.shape, angle: spec.angle, stops: spec.colors.length });
  return { rgb, info, stages: { paint } };
}
