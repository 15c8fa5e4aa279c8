/**
 * Alpha compositing on interleaved 8-bit pixels. Pure.
 *   out = fg · α + bg · (1 − α),  α = alpha / 255, rounded to nearest.
 */
import type { RGB } from './color.js';

/** Rounded (x / 255) for 0 ≤ x ≤ 255·255, exact. */
function div255(x: number): number {
  return ((x + 128) * 257) >>> 16;
}

function checkSizes(rgb: Uint8Array, alpha: Uint8Array): number {
  const n = alpha.length;
  if (rgb.length !== n * 3) throw new RangeError(`compose: ${rgb.length} RGB bytes for ${n} alpha values`);
  return n;
}

/** RGB + alpha → interleaved RGBA. */
export function attachAlpha(rgb: Uint8Array, alpha: Uint8Array): Uint8Array {
  const n = checkSizes(rgb, alpha);
  const out = new Uint8Array(n * 4);
  for (let i = 0, s = 0, d = 0; i < n; i++, s += 3, d += 4) {
    out[d] = rgb[s]!;
    out[d + 1] = rgb[s + 1]!;
    out[d + 2] = rgb[s + 2]!;
    out[d + 3] = alpha[i]!;
  }
  return out;
}

/** Foreground over a full-size background image (both interleaved RGB). */
export function compositeOverImage(fg: Uint8Array, alpha: Uint8Array, bg: Uint8Array): Uint8Array {
  const n = checkSizes(fg, alpha);
  if (bg.length !== fg.length) throw new RangeError('compose: background and foreground differ in size');
  const out = new Uint8Array(n * 3);
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    const a = alpha[i]!;
    if (a === 255) {
      out[s] = fg[s]!;
      out[s + 1] = fg[s + 1]!;
      out[s + 2] = fg[s + 2]!;
    } else if (a === 0) {
      out[s] = bg[s]!;
      out[s + 1] = bg[s + 1]!;
      out[s + 2] = bg[s + 2]!;
    } else {
      const ia = 255 - a;
      out[s] = div255(fg[s]! * a + bg[s]! * ia);
      out[s + 1] = div255(fg[s + 1]! * a + bg[s + 1]! * ia);
      out[s + 2] = div255(fg[s + 2]! * a + bg[s + 2]! * ia);
    }
  }
  return out;
}

/**
 * Foreground over a background that is constant along each row: `rows` holds one RGB triple per
 * row (height*3 bytes). Covers solid colours and vertical gradients without a full-size buffer.
 */
export function compositeOverRows(fg: Uint8Array, alpha: Uint8Array, width: number, rows: Uint8Array): Uint8Array {
  const n = checkSizes(fg, alpha);
  const height = n / width;
  if (!Number.isInteger(height) || rows.length !== height * 3) throw new RangeError('compose: row colours do not match the image height');
  const out = new Uint8Array(n * 3);
  for (let y = 0; y < height; y++) {
    const br = rows[y * 3]!;
    const bgc = rows[y * 3 + 1]!;
    const bb = rows[y * 3 + 2]!;
    for (let x = 0, i = y * width, s = i * 3; x < width; x++, i++, s += 3) {
      const a = alpha[i]!;
      const ia = 255 - a;
      out[s] = div255(fg[s]! * a + br * ia);
      out[s + 1] = div255(fg[s + 1]! * a + bgc * ia);
      out[s + 2] = div255(fg[s + 2]! * a + bb * ia);
    }
  }
  return out;
}

/** Foreground over one solid colour. */
export function compositeOverColor(fg: Uint8Array, alpha: Uint8Array, width: number, color: RGB): Uint8Array {
  const height = alpha.length / width;
  const rows = new Uint8Array(height * 3);
  for (let y = 0; y < height; y++) {
    rows[y * 3] = color.r;
    rows[y * 3 + 1] = color.g;
    rows[y * 3 + 2] = color.b;
  }
  return compositeOverRows(fg, alpha, width, rows);
}
