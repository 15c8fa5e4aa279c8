/**
 * Soft rims: the thin regions a soft edge leaves between two regions. Pure.
 *
 * A lens, a downscale or anti-aliasing spreads an edge over two or three pixels; the step limit that
 * splits the product into regions then cuts that ramp into slivers of its own, one or two pixels
 * wide, running along the edge. They are no part of anything: their colours lie between those of
 * the two regions they separate. Judged as regions they would be thin, hence opaque, and would ring
 * every pane and every object seen through it with a false outline. So they are left undecided and
 * take the class of what surrounds them, as specks do. A rim that is a part in its own right — a
 * glass's bright Fresnel edge, a dark gasket — is brighter or darker than both sides and stays.
 */

import { components, stepBy } from './pixel-ops.js';

/** Regions whose inscribed radius is below this (pixels) are slivers (one or two pixels wide). */
const SLIVER_RADIUS = 2;
/** The widest a rim is walked across, each way from a pixel (pixels). */
const MAX_WIDTH = 3;
/** How far (levels, RGB distance) a pixel's colour may lie from the mix of the two ends. */
const BETWEEN_TOLERANCE = 10;
/** Share of a rim's pixels that must be a ramp's for it to be one. */
const MIN_RAMP_SHARE = 0.5;

/** Per region label (1..count): 1 where the region is a soft edge's sliver (see the file comment). */
export function softRims(
  labels: Int32Array,
  count: number,
  radius: Float32Array,
  rgb: Uint8Array,
  width: number,
): Uint8Array {
  const n = labels.length;
  const out = new Uint8Array(count + 1);
  const sliver = (c: number) => c !== 0 && radius[c]! < SLIVER_RADIUS;
  // A ramp may be cut into several slivers side by side: touching slivers are judged as one rim.
  const rims = components(undefined, width, n / width, (i) => sliver(labels[i]!));
  // A ramp pixel: walking across the rim (along a row or a column, at most MAX_WIDTH pixels each
  // way) ends in two different regions, and the pixel's colour is a mix of the two ends' colours.
  const rampPixels = new Float64Array(rims.count + 1);
  const end = (i: number, d: number) => {
    let t = i;
    for (let k = 0; k < MAX_WIDTH; k++) {
      t = stepBy(t, d, width, n);
      if (t < 0) return -1;
      if (rims.labels[t] === 0) return labels[t] === 0 ? -1 : t;
    }
    return -1;
  };
  for (let i = 0; i < n; i++) {
    const r = rims.labels[i]!;
    if (r === 0) continue;
    for (const d of [1, width]) {
      const a = end(i, -d),
        b = end(i, d);
      if (a < 0 || b < 0 || labels[a] === labels[b]) continue;
      if (offMix(rgb, i, a, b) <= BETWEEN_TOLERANCE) {
        rampPixels[r]!++;
        break;
      }
    }
  }
  const ramp = new Uint8Array(rims.count + 1);
  for (let r = 1; r <= rims.count; r++) if (rampPixels[r]! >= MIN_RAMP_SHARE * rims.sizes[r]!) ramp[r] = 1;
  for (let i = 0; i < n; i++) if (rims.labels[i]! > 0 && ramp[rims.labels[i]!]) out[labels[i]!] = 1;
  return out;
}

/** Distance (RGB levels) of pixel i's colour from the nearest mix of pixels a's and b's. */
function offMix(rgb: Uint8Array, i: number, a: number, b: number): number {
  let dot = 0,
    len2 = 0;
  for (let ch = 0; ch < 3; ch++) {
    const ab = rgb[b * 3 + ch]! - rgb[a * 3 + ch]!;
    dot += (rgb[i * 3 + ch]! - rgb[a * 3 + ch]!) * ab;
    len2 += ab * ab;
  }
  const t = len2 > 0 ? Math.min(1, Math.max(0, dot / len2)) : 0;
  let off = 0;
  for (let ch = 0; ch < 3; ch++) {
    const ab = rgb[b * 3 + ch]! - rgb[a * 3 + ch]!;
    off += (rgb[i * 3 + ch]! - rgb[a * 3 + ch]! - t * ab) ** 2;
  }
  return Math.sqrt(off);
}
