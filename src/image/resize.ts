/** Resizing of raw RGB with sharp (libvips, off the event loop). */
import sharp from 'sharp';

import { toBgError } from '../errors.js';

/**
 * Interleaved 8-bit RGB → the exact size `width`×`height` (aspect ratio not kept, as segmentation
 * networks expect), with a linear (triangle) kernel that averages properly when shrinking.
 */
export async function resizeRgbExact(
  rgb: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
): Promise<Uint8Array> {
  if (srcWidth === width && srcHeight === height) return rgb;
  try {
    const data = await sharp(rgb, { raw: { width: srcWidth, height: srcHeight, channels: 3 } })
      .resize(width, height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    throw toBgError(err, 'E_INTERNAL');
  }
}

/**
 * Raw 8-bit pixels with 1, 3 or 4 channels → exactly `width`×`height` with the given kernel
 * (lanczos3 for pictures being enlarged, linear for masks).
 */
export async function resizeRaw(
  data: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  channels: 1 | 3 | 4,
  width: number,
  height: number,
  kernel: 'linear' | 'lanczos3' | 'cubic' = 'lanczos3',
): Promise<Uint8Array> {
  if (srcWidth === width && srcHeight === height) return data;
  try {
    const out = await sharp(data, { raw: { width: srcWidth, height: srcHeight, channels } })
      .resize(width, height, { fit: 'fill', kernel })
      .raw()
      .toBuffer();
    if (channels === 1 && out.byteLength !== width * height) {
      // sharp may widen single-channel raw input; keep the first channel.
      const ch = out.byteLength / (width * height);
      const one = new Uint8Array(width * height);
      for (let i = 0; i < one.length; i++) one[i] = out[i * ch]!;
      return one;
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    throw toBgError(err, 'E_INTERNAL');
  }
}
