/**
 * The `runway` generator: Runway's text_to_image with the framed product photo as the reference
 * image and the preset's prompt, at the documented ratio closest to the photo's aspect. The
 * output is downloaded at once, decoded and resized to cover the request's size (centre crop);
 * the pipeline then composites our own cutout over it, as for the local engine.
 *
 * Runway has no negative prompt, so the preset's negativePrompt is not sent. The reference image
 * is tagged `product`; a preset prompt may name it as `@product`.
 */
import sharp from 'sharp';

import { BgNativeError } from '../../errors.js';
import type { GeneratedBackground, GenerateRequest, Generator } from '../generator.js';
import { RunwayClient, runwayConfigured, type RunwayClientOptions } from './client.js';
import {
  capPrompt,
  pickRatio,
  runwayCredits,
  runwaySeed,
  RUNWAY_MODELS,
  RUNWAY_RESOLUTIONS,
  RUNWAY_TAG,
  type RunwayModel,
  type RunwayResolution,
} from './ratio.js';
import { encodeReference, type ReferenceOptions } from './reference.js';

export { runwayConfigured };

export interface RunwayGeneratorOptions extends RunwayClientOptions {
  /** gen4_image (default) or gen4_image_turbo. */
  model?: RunwayModel;
  /** The ratio tier: 1080p (default, 8 credits with gen4_image) or 720p (5 credits). */
  resolution?: RunwayResolution;
  /** Limits of the reference image (default: Runway's 5 MB data URI limit). */
  reference?: ReferenceOptions;
}

/** The reference image's tag (3–16 letters/digits/_, starting with a letter). */
export const REFERENCE_TAG = 'product';

/**
 * A Generator backed by Runway. Throws E_CONFIG at once when no API key is configured
 * (RUNWAY_API_KEY or `apiKey`), naming the variable.
 */
export function createRunwayGenerator(options: RunwayGeneratorOptions = {}): Generator {
  const model = options.model ?? 'gen4_image';
  if (!(RUNWAY_MODELS as readonly string[]).includes(model)) {
    throw new BgNativeError(
      'E_CONFIG',
      `Runway model must be one of ${RUNWAY_MODELS.join(', ')}; got '${String(model)}'.`,
    );
  }
  const resolution = options.resolution ?? '1080p';
  if (!(RUNWAY_RESOLUTIONS as readonly string[]).includes(resolution)) {
    throw new BgNativeError(
      'E_CONFIG',
      `Runway resolution must be one of ${RUNWAY_RESOLUTIONS.join(', ')}; got '${String(resolution)}'.`,
    );
  }
  if (!RUNWAY_TAG.test(REFERENCE_TAG))
    throw new BgNativeError('E_INTERNAL', 'The Runway reference tag breaks Runway’s tag rules.');
  const client = new RunwayClient(options);

  return {
    name: 'runway',
    async generate(request: GenerateRequest): Promise<GeneratedBackground> {
      const { width, height, signal } = request;
      if (signal?.aborted)
        throw new BgNativeError('E_CANCELLED', 'The Runway generation was cancelled before it started.');
      const promptText = capPrompt(request.preset.prompt);
      if (promptText === '')
        throw new BgNativeError('E_BAD_INPUT', 'The runway engine needs a non-empty prompt (preset.prompt).');

      const t0 = performance.now();
      const ratio = pickRatio(width, height, resolution);
      const reference = await encodeReference(request.photo, width, height, options.reference);
      const prepare = performance.now() - t0;
      const seed = runwaySeed(request.seed);

      request.onProgress?.(0);
      const run = await client.textToImage(
        { model, promptText, ratio, referenceImages: [{ uri: reference.uri, tag: REFERENCE_TAG }], seed },
        {
          ...(signal ? { signal } : {}),
          // Runway's progress covers most of the work; the download and resize finish it.
          onProgress: (p) => request.onProgress?.(0.95 * p),
        },
      );

      const t1 = performance.now();
      let rgb: Buffer;
      let source: { width: number; height: number };
      try {
        const img = sharp(run.data, { failOn: 'error' });
        const meta = await img.metadata();
        source = { width: meta.width ?? 0, height: meta.height ?? 0 };
        rgb = await img
          .rotate()
          .removeAlpha()
          .toColourspace('srgb')
          .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
          .raw()
          .toBuffer();
      } catch {
        throw new BgNativeError(
          'E_PROVIDER_FAILED',
          `The output of Runway task ${run.taskId} is not an image sharp can decode (content type ` +
            `'${run.contentType || 'none'}').`,
        );
      }
      if (rgb.length !== width * height * 3) {
        throw new BgNativeError('E_PROVIDER_FAILED', `The output of Runway task ${run.taskId} did not decode to RGB.`);
      }
      const decode = performance.now() - t1;
      request.onProgress?.(1);

      return {
        rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength),
        info: {
          provider: 'runway',
          engine: 'runway',
          taskId: run.taskId,
          model,
          ratio,
          resolution,
          credits: runwayCredits(model, resolution),
          seed,
          outputSize: `${source.width}x${source.height}`,
          reference: { width: reference.width, height: reference.height, bytes: reference.bytes, tag: REFERENCE_TAG },
          promptTruncated: promptText.length < request.preset.prompt.replace(/\s+/g, ' ').trim().length,
        },
        stages: {
          prepare,
          submit: run.stages.submit,
          wait: run.stages.wait,
          download: run.stages.download + decode,
        },
      };
    },
  };
}
