/** Resizing of raw RGB with sharp (libvips, off the event loop). */
import sharp from 'sharp';

import { toBgError } from '../errors.js';

/**
 * Interleaved 8-bit RGB → the exact size `width`×`height` (aspect ratio not kept, as segmentation
 * networks expect), with a linear (triangle) kernel that averages properly when shrinking.
 */
export async function resizeRgbExact(rgb: Uint8Array, srcWidth: number, srcHeight: number, width: number, height: number): Promise<Uint8Array> {
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
