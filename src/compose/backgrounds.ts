/**
 * Procedural backgrounds. Pure: pixels in, pixels out.
 */
import { boxMean } from './guided-filter.js';
import { mixColor, type RGB } from './color.js';
import { blockTaps } from './resample.js';

/**
 * A soft vertical gradient, one RGB triple per row (height*3 bytes): from `top` to `bottom` with
 * a smoothstep easing, for `compositeOverRows`.
 */
export function verticalGradientRows(height: number, top: RGB, bottom: RGB): Uint8Array {
  const rows = new Uint8Array(height * 3);
  for (let y = 0; y < height; y++) {
    const t = height > 1 ? y / (height - 1) : 0;
    const e = t * t * (3 - 2 * t);
    const c = mixColor(top, bottom, e);
    rows[y * 3] = c.r;
    rows[y * 3 + 1] = c.g;
    rows[y * 3 + 2] = c.b;
  }
  return rows;
}

/** The gradient used for mode 'gradient': a light tint of `color` at the top, `color` at the bottom. */
export function gradientFor(color: RGB | undefined): { top: RGB; bottom: RGB } {
  const base = color ?? { r: 222, g: 226, b: 232 };
  return { top: mixColor(base, { r: 255, g: 255, b: 255 }, 0.75), bottom: base };
}

export interface BlurOptions {
  /** Blur radius as a fraction of the image's long side (default 0.02). */
  strength?: number;
}

/**
 * The photo blurred strongly, with the subject removed first (normalised convolution: the blur of
 * rgb·(1−α) divided by the blur of (1−α)), so the subject does not leave a dark halo behind
 * itself. Computed on a grid of ≤ 512 px (three box passes ≈ a Gaussian), upsampled bilinearly.
 * Returns interleaved RGB at full size.
 */
export function blurredBackground(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  options: BlurOptions = {},
): Uint8Array {
  const n = width * height;
  if (rgb.length !== n * 3 || alpha.length !== n) throw new RangeError('blurredBackground: sizes do not match');
  const s = Math.max(1, Math.ceil(Math.max(width, height) / 512));
  const gw = Math.ceil(width / s);
  const gh = Math.ceil(height / s);
  const gn = gw * gh;
  // Box-average rgb·(1−α) and (1−α) onto the grid.
  const planes = [new Float32Array(gn), new Float32Array(gn), new Float32Array(gn)] as const;
  const wsum = new Float32Array(gn);
  const [pr, pg, pb] = planes;
  for (let y = 0; y < height; y++) {
    const gy = ((y / s) | 0) * gw;
    for (let gx = 0; gx < gw; gx++) {
      const x0 = gx * s;
      const x1 = Math.min(x0 + s, width);
      let sr = 0;
      let sg = 0;
      let sb = 0;
      let sw = 0;
      for (let i = y * width + x0, si = i * 3, end = y * width + x1; i < end; i++, si += 3) {
        const w = 255 - alpha[i]!;
        sr += rgb[si]! * w;
        sg += rgb[si + 1]! * w;
        sb += rgb[si + 2]! * w;
        sw += w;
      }
      const o = gy + gx;
      pr[o]! += sr / 255;
      pg[o]! += sg / 255;
      pb[o]! += sb / 255;
      wsum[o]! += sw / 255;
    }
  }
  const longGrid = Math.max(gw, gh);
  const r = Math.max(1, Math.round(((options.strength ?? 0.02) * longGrid) / 1.7));
  const wide = Math.max(r * 6, Math.round(longGrid / 6));
  const blur = (p: Float32Array, radius: number): Float32Array => {
    let a = boxMean(p, gw, gh, radius);
    a = boxMean(a, gw, gh, radius);
    return boxMean(a, gw, gh, radius, a === p ? undefined : p);
  };
  // Local normalised blur, backed by a wide one (and the global mean) where the subject hides
  // everything nearby: weights δ keep the local estimate wherever it exists.
  const wLocal = blur(Float32Array.from(wsum), r);
  const wWide = blur(Float32Array.from(wsum), wide);
  let wTotal = 0;
  for (let i = 0; i < gn; i++) wTotal += wsum[i]!;
  const grid = new Float32Array(gn * 3);
  for (let c = 0; c < 3; c++) {
    const plane = planes[c]!;
    let total = 0;
    for (let i = 0; i < gn; i++) total += plane[i]!;
    const globalMean = wTotal > 0 ? total / wTotal : 0;
    const local = blur(Float32Array.from(plane), r);
    const far = blur(plane, wide);
    for (let i = 0; i < gn; i++) {
      const num = local[i]! + 1e-3 * far[i]! + 1e-7 * globalMean;
      const den = wLocal[i]! + 1e-3 * wWide[i]! + 1e-7;
      grid[i * 3 + c] = num / den;
    }
  }
  if (wTotal === 0) {
    // No background visible at all: blur the photo itself.
    const plain = plainBlur(rgb, width, height, s, gw, gh, (p) => blur(p, r));
    for (let i = 0; i < gn; i++) for (let c = 0; c < 3; c++) grid[i * 3 + c] = plain[c]![i]!;
  }
  return upsampleInterleaved3(grid, gw, gh, width, height, s);
}

function plainBlur(
  rgb: Uint8Array,
  width: number,
  height: number,
  s: number,
  gw: number,
  gh: number,
  blur: (p: Float32Array) => Float32Array,
): Float32Array[] {
  const planes = [new Float32Array(gw * gh), new Float32Array(gw * gh), new Float32Array(gw * gh)];
  const count = new Float32Array(gw * gh);
  for (let y = 0; y < height; y++) {
    const gy = ((y / s) | 0) * gw;
    for (let x = 0, si = y * width * 3; x < width; x++, si += 3) {
      const o = gy + ((x / s) | 0);
      planes[0]![o]! += rgb[si]!;
      planes[1]![o]! += rgb[si + 1]!;
      planes[2]![o]! += rgb[si + 2]!;
      count[o]! += 1;
    }
  }
  return planes.map((p) => {
    for (let i = 0; i < p.length; i++) p[i]! /= count[i]!;
    return blur(p);
  });
}

/** Bilinear upsampling of an interleaved 3-channel float grid (block centres) to 8-bit RGB. */
function upsampleInterleaved3(
  grid: Float32Array,
  gw: number,
  gh: number,
  width: number,
  height: number,
  s: number,
): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(gh, height, s);
  const row = new Float32Array(gw * 3);
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y]! * gw * 3;
    const r1 = ty.i1[y]! * gw * 3;
    const fy = ty.f[y]!;
    for (let j = 0; j < gw * 3; j++) {
      const a = grid[r0 + j]!;
      row[j] = a + (grid[r1 + j]! - a) * fy;
    }
    for (let x = 0, d = y * width * 3; x < width; x++, d += 3) {
      const c0 = tx.i0[x]! * 3;
      const c1 = tx.i1[x]! * 3;
      const f = tx.f[x]!;
      for (let c = 0; c < 3; c++) {
        const a = row[c0 + c]!;
        out[d + c] = a + (row[c1 + c]! - a) * f + 0.5;
      }
    }
  }
  return out;
}
