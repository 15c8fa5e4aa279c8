/**
 * Full-resolution alpha from a coarse network mask, with edges that follow the photo.
 *
 * Fast guided filter with the photo's colour as guide: the coefficients (a, b) are solved on a
 * grid of about `gridSize` pixels on the long side (box-averaged photo, coarse mask resampled
 * to it), then upsampled bilinearly and applied to every full-resolution pixel:
 *   alpha_i = a(i) · RGB_i + b(i)
 * Only the uncertain band of the coarse mask is refined: where the network is confident (alpha
 * near 0 or 1 everywhere in the neighbourhood) the coarse value is kept, blended smoothly into
 * the refined band, so interiors and backgrounds do not pick up the photo's texture.
 * Pure; cost is dominated by one pass over the full-size image.
 */
import { boxMean, guidedCoefficientsColor } from './guided-filter.js';
import { blockTaps, downsampleRgbPlanes, resizeBilinear } from './resample.js';

export interface RefineOptions {
  /** Long side of the grid the filter is solved on (default 768). */
  gridSize?: number;
  /** Filter radius in grid pixels (default 8). */
  radius?: number;
  /** Regularisation (default 1e-3, guide in [0, 1]). */
  eps?: number;
  /** Coarse values within this distance of 0 or 1 count as confident (default 0.04). */
  confident?: number;
  /** Skip refinement: plain bilinear upsampling of the coarse mask. */
  disabled?: boolean;
  /**
   * The photo already reduced to the grid (`refineGrid(...)` size), interleaved 8-bit RGB — e.g.
   * made by libvips while the network ran. Computed here by box averaging when absent.
   */
  guide?: { data: Uint8Array; width: number; height: number };
}

/** The grid refinement solves on for a photo: block factor s and its size. */
export function refineGrid(
  width: number,
  height: number,
  gridSize = 768,
): { s: number; width: number; height: number } {
  const s = Math.max(1, Math.round(Math.max(width, height) / gridSize));
  return { s, width: Math.ceil(width / s), height: Math.ceil(height / s) };
}

function planesFromInterleaved(img: { data: Uint8Array; width: number; height: number }) {
  const n = img.width * img.height;
  const r = new Float32Array(n);
  const g = new Float32Array(n);
  const b = new Float32Array(n);
  const k = 1 / 255;
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    r[i] = img.data[s]! * k;
    g[i] = img.data[s + 1]! * k;
    b[i] = img.data[s + 2]! * k;
  }
  return { r, g, b, width: img.width, height: img.height };
}

export interface CoarseMask {
  /** Alpha in [0, 1], row-major, width*height. */
  data: Float32Array;
  width: number;
  height: number;
}

function clamp255(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 255 : (v * 255 + 0.5) | 0;
}

/**
 * Refines `coarse` into an 8-bit alpha of the photo's size. `rgb` is interleaved 8-bit RGB,
 * width*height*3.
 */
export function refineAlpha(
  rgb: Uint8Array,
  width: number,
  height: number,
  coarse: CoarseMask,
  options: RefineOptions = {},
): Uint8Array {
  if (rgb.length !== width * height * 3)
    throw new RangeError(`refineAlpha: ${rgb.length} bytes for ${width}×${height} RGB`);
  const gridSize = options.gridSize ?? 768;
  const radius = options.radius ?? 8;
  const eps = options.eps ?? 1e-3;
  const conf = options.confident ?? 0.04;

  const grid = refineGrid(width, height, gridSize);
  const s = grid.s;
  const given = options.guide;
  const guide =
    given &&
    given.width === grid.width &&
    given.height === grid.height &&
    given.data.length === grid.width * grid.height * 3
      ? planesFromInterleaved(given)
      : downsampleRgbPlanes(rgb, width, height, s);
  const gw = guide.width;
  const gh = guide.height;
  const p = resizeBilinear(coarse.data, coarse.width, coarse.height, gw, gh);
  const n = gw * gh;

  // Per grid pixel: A = w·a, B = w·b + (1 − w)·p, interleaved as [Ar, Ag, Ab, B] (A pre-divided
  // by 255 so it applies to 8-bit samples directly).
  const coef = new Float32Array(n * 4);
  if (options.disabled) {
    for (let i = 0; i < n; i++) coef[i * 4 + 3] = p[i]!;
  } else {
    // Uncertain band, dilated by the radius, then feathered: weight 1 on and near the band.
    const band = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = p[i]!;
      band[i] = v > conf && v < 1 - conf ? 1 : 0;
    }
    const rb = radius + 1;
    const near = boxMean(band, gw, gh, rb);
    for (let i = 0; i < n; i++) band[i] = near[i]! > 1e-6 ? 1 : 0;
    const weight = boxMean(band, gw, gh, rb, near);
    const { ar, ag, ab, b } = guidedCoefficientsColor(guide.r, guide.g, guide.b, p, gw, gh, { radius, eps });
    const k = 1 / 255;
    for (let i = 0; i < n; i++) {
      const w = weight[i]!;
      coef[i * 4] = w * ar[i]! * k;
      coef[i * 4 + 1] = w * ag[i]! * k;
      coef[i * 4 + 2] = w * ab[i]! * k;
      coef[i * 4 + 3] = w * b[i]! + (1 - w) * p[i]!;
    }
  }

  // Full resolution: bilinear coefficients, applied to the photo's own pixels.
  const out = new Uint8Array(width * height);
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(gh, height, s);
  const row = new Float32Array(gw * 4);
  const x0 = tx.i0;
  const x1 = tx.i1;
  const fx = tx.f;
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y]! * gw * 4;
    const r1 = ty.i1[y]! * gw * 4;
    const fy = ty.f[y]!;
    for (let j = 0; j < gw * 4; j++) {
      const a = coef[r0 + j]!;
      row[j] = a + (coef[r1 + j]! - a) * fy;
    }
    let src = y * width * 3;
    let dst = y * width;
    for (let x = 0; x < width; x++, src += 3, dst++) {
      const c0 = x0[x]! * 4;
      const c1 = x1[x]! * 4;
      const f = fx[x]!;
      const a0 = row[c0]!;
      const a1 = row[c0 + 1]!;
      const a2 = row[c0 + 2]!;
      const a3 = row[c0 + 3]!;
      const v0 = a0 + (row[c1]! - a0) * f;
      const v1 = a1 + (row[c1 + 1]! - a1) * f;
      const v2 = a2 + (row[c1 + 2]! - a2) * f;
      const v3 = a3 + (row[c1 + 3]! - a3) * f;
      out[dst] = clamp255(v0 * rgb[src]! + v1 * rgb[src + 1]! + v2 * rgb[src + 2]! + v3);
    }
  }
  return out;
}
