/**
 * Edge feathering of an 8-bit alpha. Pure.
 *
 * Three box passes of radius r (≈ a Gaussian of σ ≈ r) over the region around the subject's edge,
 * centred on the existing edge so the subject keeps its apparent size. r = width/2, the width given
 * in px of a 1024-px long side and scaled to the image: a hard edge becomes a ramp of ≈ 2.5·r
 * (10–90 %) spread over ±3r. Only pixels within 3r of a pixel with a different alpha can change:
 * the interior stays exactly 255 and the far background exactly 0 (the box sums are exact there).
 */
import { boxMean } from './guided-filter.js';
import { scaledPx } from './resample.js';

export interface FeatherOptions {
  /** Feather width in px at a 1024-px long side (0 = unchanged). */
  width: number;
}

/** The blur radius (full-resolution px) a feather width gives for a width×height image. */
export function featherRadius(featherWidth: number, width: number, height: number): number {
  if (!(featherWidth > 0)) return 0;
  return Math.max(1, Math.round(scaledPx(featherWidth, width, height) / 2));
}

/** Returns a new feathered alpha (width*height bytes). */
export function featherAlpha(alpha: Uint8Array, width: number, height: number, options: FeatherOptions): Uint8Array {
  if (alpha.length !== width * height) throw new RangeError('featherAlpha: sizes do not match');
  const out = Uint8Array.from(alpha);
  const r = featherRadius(options.width, width, height);
  if (r === 0) return out;
  // Bounding box of the pixels that are not 0 (where anything can change), grown by the reach.
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) {
      if (alpha[base + x] !== 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  if (x1 < 0) return out;
  // 4r + 2: after two passes the non-zero values are ≥ 2r + 2 from a crop side, beyond the windows
  // the third pass clips there.
  const reach = 4 * r + 2;
  x0 = Math.max(0, x0 - reach);
  y0 = Math.max(0, y0 - reach);
  x1 = Math.min(width - 1, x1 + reach);
  y1 = Math.min(height - 1, y1 + reach);
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  // boxMean clips its windows at the crop sides; the margin above keeps every clipped window
  // all-zero, so the crop gives the same values as the whole image would.
  const a = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) {
    const src = (y + y0) * width + x0;
    for (let x = 0; x < cw; x++) a[y * cw + x] = alpha[src + x]!;
  }
  const b = boxMean(a, cw, ch, r);
  boxMean(b, cw, ch, r, a);
  boxMean(a, cw, ch, r, b);
  for (let y = 0; y < ch; y++) {
    const dst = (y + y0) * width + x0;
    for (let x = 0; x < cw; x++) {
      const v = b[y * cw + x]! + 0.5;
      out[dst + x] = v <= 0 ? 0 : v >= 255 ? 255 : v;
    }
  }
  return out;
}
