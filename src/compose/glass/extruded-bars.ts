/**
 * Regions that are extruded bars: a plinth, a top rail, a wide frame member. Pure.
 *
 * An extruded profile is a long axis-aligned rectangle whose colour does not change along its
 * length (its shading runs across it, if at all). The background seen through a pane does change
 * along any long stretch — its texture, its objects, the reflections on the glass — so such a
 * region is opaque even where its colours also occur in the background (a wooden plinth over a
 * photo with brown in it). Only bars on the product's outline count for that: inside a frame, a
 * band of plain sky between two rails, or a glass shelf, is as even as a bar and is seen through.
 * The even bars inside are still told apart, for a rail between two panes is not the view either.
 */

import { regionBounds } from './pixel-ops.js';

/** Long side over short side of the region's bounding box for it to be a bar. */
const MIN_ASPECT = 3;
/** Share of the bounding box the region fills. */
const MIN_FILL = 0.85;
/** Share of its length along which the bar touches the known background. */
const MIN_OUTLINE = 0.25;
/** Mean distance (levels, per channel) of its pixels from the mean of their line along the bar. */
const MAX_DEVIATION = 3;

/** Per region label (1..count), 1 where the region is: */
export interface ExtrudedBars {
  /** a long even bar, on the outline or not (a rail between two panes as well as a band of view); */
  even: Uint8Array;
  /** such a bar on the product's outline (it touches `outside` along enough of its length). */
  outline: Uint8Array;
}

export function extrudedBars(
  labels: Int32Array,
  count: number,
  sizes: readonly number[],
  rgb: Uint8Array,
  width: number,
  minSize: number,
  outside: Uint8Array,
): ExtrudedBars {
  const n = labels.length;
  // How many of each region's pixels touch the known background.
  const outline = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    const x = i % width;
    if ((x > 0 && outside[i - 1]) || (x + 1 < width && outside[i + 1]) || outside[i - width] || outside[i + width])
      outline[c]!++;
  }
  const { x0, y0, x1, y1 } = regionBounds(labels, count, width);
  // Candidates by shape; each gets the sums of its lines across the bar (rows of a horizontal bar).
  const lines = new Map<number, { horizontal: boolean; sum: Float64Array; count: Float64Array }>();
  for (let c = 1; c <= count; c++) {
    if (sizes[c]! < minSize) continue;
    const w = x1[c]! - x0[c]! + 1,
      h = y1[c]! - y0[c]! + 1;
    if (sizes[c]! < MIN_FILL * w * h || Math.max(w, h) < MIN_ASPECT * Math.min(w, h)) continue;
    const horizontal = w > h;
    const k = horizontal ? h : w;
    lines.set(c, { horizontal, sum: new Float64Array(k * 3), count: new Float64Array(k) });
  }
  const out: ExtrudedBars = { even: new Uint8Array(count + 1), outline: new Uint8Array(count + 1) };
  if (lines.size === 0) return out;
  const lineOf = (c: number, i: number, horizontal: boolean) => {
    const x = i % width;
    return horizontal ? (i - x) / width - y0[c]! : x - x0[c]!;
  };
  for (let i = 0; i < n; i++) {
    const l = lines.get(labels[i]!);
    if (!l) continue;
    const k = lineOf(labels[i]!, i, l.horizontal);
    l.count[k]!++;
    for (let ch = 0; ch < 3; ch++) l.sum[k * 3 + ch]! += rgb[i * 3 + ch]!;
  }
  const deviation = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) {
    const l = lines.get(labels[i]!);
    if (!l) continue;
    const k = lineOf(labels[i]!, i, l.horizontal);
    const m = l.count[k]!;
    for (let ch = 0; ch < 3; ch++) deviation[labels[i]!]! += Math.abs(rgb[i * 3 + ch]! - l.sum[k * 3 + ch]! / m);
  }
  for (const c of lines.keys()) {
    if (deviation[c]! / (3 * sizes[c]!) > MAX_DEVIATION) continue;
    out.even[c] = 1;
    const length = Math.max(x1[c]! - x0[c]! + 1, y1[c]! - y0[c]! + 1);
    if (outline[c]! >= MIN_OUTLINE * length) out.outline[c] = 1;
  }
  return out;
}
