/**
 * Alpha compositing on interleaved 8-bit pixels. Pure.
 *   out = fg · α + bg · (1 − α),  α = alpha / 255, rounded to nearest.
 */
import type { RGB } from './color.js';
import { blockTaps, type AxisTaps } from './resample.js';

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
  if (!Number.isInteger(height) || rows.length !== height * 3)
    throw new RangeError('compose: row colours do not match the image height');
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

/** A soft alpha on a block grid (values 0..1, gw×gh cells of s×s px), as `shadowGrid` makes. */
export interface GridAlpha {
  grid: Float32Array;
  gw: number;
  gh: number;
  s: number;
}

/**
 * Foreground over a background darkened by a shadow on a grid, in one pass:
 *   out = fg·α + (bg·(1 − σ))·(1 − α)
 * with σ the grid upsampled bilinearly to 8 bits and the darkened background rounded to 8 bits,
 * exactly as `compositeOverImage(fg, alpha, applyShadow(bg, upsampleGridTo8(shadow…)))` gives.
 * `out` may be `bg` itself (the background is then overwritten in place). Background pixels with
 * α = 0 and no shadow are left as they are in `out`.
 */
export function compositeWithShadow(
  fg: Uint8Array,
  alpha: Uint8Array,
  bg: Uint8Array,
  width: number,
  shadow?: GridAlpha,
  out: Uint8Array = bg.slice(),
): Uint8Array {
  const n = checkSizes(fg, alpha);
  if (bg.length !== fg.length || out.length !== fg.length)
    throw new RangeError('compose: background and foreground differ in size');
  const height = n / width;
  if (!Number.isInteger(height)) throw new RangeError('compose: alpha does not fill whole rows');
  if (out !== bg) out.set(bg);
  let tx: AxisTaps | undefined;
  let ty: AxisTaps | undefined;
  let row: Float32Array | undefined;
  let rowLive: Uint8Array | undefined;
  if (shadow) {
    if (shadow.grid.length !== shadow.gw * shadow.gh) throw new RangeError('compose: shadow grid size does not match');
    tx = blockTaps(shadow.gw, width, shadow.s);
    ty = blockTaps(shadow.gh, height, shadow.s);
    row = new Float32Array(shadow.gw);
    rowLive = new Uint8Array(shadow.gh);
    for (let gy = 0; gy < shadow.gh; gy++) {
      for (let gx = 0, i = gy * shadow.gw; gx < shadow.gw; gx++, i++) {
        if (shadow.grid[i]! > 0) {
          rowLive[gy] = 1;
          break;
        }
      }
    }
  }
  const words =
    width % 4 === 0 && alpha.byteOffset % 4 === 0 ? new Uint32Array(alpha.buffer, alpha.byteOffset, n >> 2) : undefined;
  for (let y = 0; y < height; y++) {
    let shaded = false;
    if (shadow && ty && row && rowLive) {
      const g0 = ty.i0[y]!;
      const g1 = ty.i1[y]!;
      if (rowLive[g0] || rowLive[g1]) {
        shaded = true;
        const r0 = g0 * shadow.gw;
        const r1 = g1 * shadow.gw;
        const fy = ty.f[y]!;
        for (let j = 0; j < shadow.gw; j++) {
          const a = shadow.grid[r0 + j]!;
          row[j] = a + (shadow.grid[r1 + j]! - a) * fy;
        }
      }
    }
    const base = y * width;
    if (!shaded && words) {
      // Four pixels at a time: all-transparent words need nothing, all-opaque ones copy fg.
      const q0 = base >> 2;
      for (let q = 0, w4 = width >> 2; q < w4; q++) {
        const w = words[q0 + q]!;
        if (w === 0) continue;
        const i0 = base + q * 4;
        if (w === 0xffffffff) {
          out.set(fg.subarray(i0 * 3, i0 * 3 + 12), i0 * 3);
          continue;
        }
        for (let i = i0; i < i0 + 4; i++) blendPixel(fg, alpha[i]!, bg, out, i * 3, 0);
      }
      continue;
    }
    for (let x = 0, i = base; x < width; x++, i++) {
      const a = alpha[i]!;
      let sh = 0;
      if (shaded && a !== 255) {
        const r = row![tx!.i0[x]!]!;
        const v = (r + (row![tx!.i1[x]!]! - r) * tx!.f[x]!) * 255 + 0.5;
        sh = v <= 0 ? 0 : v >= 255 ? 255 : v | 0;
      }
      if (a === 0 && sh === 0) continue;
      blendPixel(fg, a, bg, out, i * 3, sh);
    }
  }
  return out;
}

/** One pixel of compositeWithShadow: the shadow `sh` (0..255) darkens bg first. */
function blendPixel(fg: Uint8Array, a: number, bg: Uint8Array, out: Uint8Array, s: number, sh: number): void {
  if (a === 255) {
    out[s] = fg[s]!;
    out[s + 1] = fg[s + 1]!;
    out[s + 2] = fg[s + 2]!;
    return;
  }
  let b0 = bg[s]!;
  let b1 = bg[s + 1]!;
  let b2 = bg[s + 2]!;
  if (sh !== 0) {
    const ish = 255 - sh;
    b0 = div255(b0 * ish);
    b1 = div255(b1 * ish);
    b2 = div255(b2 * ish);
  }
  if (a === 0) {
    out[s] = b0;
    out[s + 1] = b1;
    out[s + 2] = b2;
    return;
  }
  const ia = 255 - a;
  out[s] = div255(fg[s]! * a + b0 * ia);
  out[s + 1] = div255(fg[s + 1]! * a + b1 * ia);
  out[s + 2] = div255(fg[s + 2]! * a + b2 * ia);
}
