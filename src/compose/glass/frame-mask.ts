/**
 * A 0/255 mask (the glass mask) moved by a framing (out = src · scale + offset) the way
 * applyFraming moves the photo and its alpha: nearest source pixel, 0 outside the source. Pure.
 */
import type { Framing } from '../framing.js';

export function frameMask(mask: Uint8Array, width: number, height: number, frame: Framing): Uint8Array {
  if (mask.length !== width * height) throw new RangeError('frameMask: the mask does not match its size');
  const out = new Uint8Array(frame.width * frame.height);
  const inv = 1 / frame.scale;
  const col = new Int32Array(frame.width);
  for (let x = 0; x < frame.width; x++) col[x] = Math.floor((x + 0.5 - frame.offsetX) * inv);
  for (let y = 0; y < frame.height; y++) {
    const sy = Math.floor((y + 0.5 - frame.offsetY) * inv);
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < frame.width; x++) {
      const sx = col[x]!;
      if (sx >= 0 && sx < width) out[y * frame.width + x] = mask[sy * width + sx]!;
    }
  }
  return out;
}
