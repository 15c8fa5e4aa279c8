/**
 * cleanup(): photo in, the subject on a new background (or transparent) out, at the photo's full
 * resolution, plus the mask as a PNG.
 *   segment → (enhance foreground) → background + composite → encode output ∥ encode mask → write
 */
import path from 'node:path';

import { attachAlpha, compositeOverColor, compositeOverImage, compositeOverRows } from '../compose/alpha.js';
import { blurredBackground, gradientFor, verticalGradientRows } from '../compose/backgrounds.js';
import { parseColor } from '../compose/color.js';
import { enhanceForeground } from '../compose/enhance.js';
import type { Runtime } from '../context/runtime.js';
import { BgNativeError } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../image/atomic-write.js';
import { encodeImage, formatFromPath } from '../image/encode.js';
import { parseCleanupOptions, type CleanupMode, type CleanupOptions, type OutputFormat } from '../options.js';
import { runSegmentation, type ModelInfo } from './segment.js';
import { Timer, type Metrics } from './timer.js';

export interface CleanupArtifacts {
  /** The result: the absolute path written when `output` was given, else the encoded bytes. */
  output: Buffer | string;
  /** The alpha as an 8-bit greyscale PNG, the photo's size. */
  mask: Buffer;
}

export interface CleanupResult {
  artifacts: CleanupArtifacts;
  width: number;
  height: number;
  mode: CleanupMode;
  format: OutputFormat;
  model: ModelInfo;
  metrics: Metrics;
}

/** Picks the output format: option → output extension → PNG; refuses JPEG for transparency. */
export function chooseFormat(
  mode: CleanupMode,
  format: OutputFormat | undefined,
  output: string | undefined,
): OutputFormat {
  const chosen = format ?? (output ? formatFromPath(output) : undefined) ?? 'png';
  if (mode === 'transparent' && chosen === 'jpeg') {
    throw new BgNativeError(
      'E_BAD_INPUT',
      "JPEG cannot store transparency: use a .png or .webp output (or `format`), or a background mode such as 'color'.",
    );
  }
  return chosen;
}

/** Removes (or replaces) the background of a photo. */
export async function cleanup(options: CleanupOptions, rt: Runtime): Promise<CleanupResult> {
  const timer = new Timer();
  const opts = parseCleanupOptions(options);
  const mode = opts.mode ?? 'transparent';
  const format = chooseFormat(mode, opts.format, opts.output);
  if (opts.output) await checkWritable(opts.output);

  const { image, alpha, model } = await runSegmentation(opts, timer, rt);
  const { width, height } = image;

  const fg = opts.enhanceFg
    ? timer.timeSync('enhance', () => enhanceForeground(image.data, alpha, width, height))
    : image.data;

  const raw = timer.timeSync('composite', () => {
    switch (mode) {
      case 'transparent':
        return { data: attachAlpha(fg, alpha), channels: 4 as const };
      case 'color':
        return {
          data: compositeOverColor(fg, alpha, width, parseColor(opts.color ?? '#ffffff')!),
          channels: 3 as const,
        };
      case 'gradient': {
        const { top, bottom } = gradientFor(opts.color ? parseColor(opts.color) : undefined);
        return {
          data: compositeOverRows(fg, alpha, width, verticalGradientRows(height, top, bottom)),
          channels: 3 as const,
        };
      }
      case 'blur':
        return {
          data: compositeOverImage(fg, alpha, blurredBackground(image.data, alpha, width, height)),
          channels: 3 as const,
        };
    }
  });

  const [outBytes, mask] = await timer.time('encode', () =>
    Promise.all([
      encodeImage({ data: raw.data, width, height, channels: raw.channels }, format, { quality: opts.quality }),
      encodeImage({ data: alpha, width, height, channels: 1 }, 'png'),
    ]),
  );

  let output: Buffer | string = outBytes;
  if (opts.output) {
    const dest = path.resolve(opts.output);
    await timer.time('write', () => writeFileAtomic(dest, outBytes));
    output = dest;
  }
  return { artifacts: { output, mask }, width, height, mode, format, model, metrics: timer.metrics() };
}
