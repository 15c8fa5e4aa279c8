/**
 * The one interface every background engine implements. The pipeline hands a generator the
 * framed photo, the subject's alpha and the resolved preset; the generator returns a background
 * the photo's size (interleaved 8-bit RGB). What lies under the subject does not matter: the
 * subject is composited over it, and its edge band is filled from the surroundings afterwards.
 *
 *   studio  procedural (solid, gradient, blurred original, texture) — no weights, deterministic
 *   local   the native diffusion runtime: inpaint outside the dilated mask at model resolution
 *   runway  Runway's text_to_image with the photo as reference; our mask composites it
 */
import type { Preset } from '../presets/schema.js';
import type { Device, EngineName } from '../options.js';

export type GeneratorName = Exclude<EngineName, 'auto'>;

export interface GenerateRequest {
  /** The framed photo: interleaved RGB, width·height·3. */
  photo: Uint8Array;
  /** The subject's alpha on the same frame, width·height (255 = subject). */
  alpha: Uint8Array;
  width: number;
  height: number;
  /** The preset with the call's prompt, generation and background settings merged in. */
  preset: Preset;
  /** Integer seed; generators that draw random numbers must use only this. */
  seed: number;
  /** Where local generation runs. */
  device: Device;
  /** Native worker threads, when the caller limited them. */
  threads?: number;
  signal?: AbortSignal;
  /**
   * Fraction 0..1 of this generator's work done, with steps when it counts them, and every
   * `previewEvery`-th step (local engine) a small preview of the background: RGB, width·height·3.
   */
  onProgress?: (fraction: number, step?: number, steps?: number, preview?: GeneratedPreview) => void;
  /** Every N-th step, a generator that can (local) passes a preview to onProgress. */
  previewEvery?: number;
}

/** A step preview: RGB, row-major, width·height·3 bytes. */
export interface GeneratedPreview {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface GeneratedBackground {
  /** Interleaved RGB, width·height·3 — the request's size. */
  rgb: Uint8Array;
  /** Facts for the result metadata: model, resolution, task id, … (JSON-serialisable). */
  info: Record<string, unknown>;
  /** Sub-stage timings in ms (e.g. load, generate, upscale), merged into the result's metrics. */
  stages?: Record<string, number>;
}

export interface Generator {
  readonly name: GeneratorName;
  generate(request: GenerateRequest): Promise<GeneratedBackground>;
}
