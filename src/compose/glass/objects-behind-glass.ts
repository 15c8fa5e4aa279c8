/**
 * Opaque objects seen through a pane: the vase in a vitrine, an ornament behind a glass door. Pure.
 *
 * The background seen through a pane runs on to the pane's edges (it continues behind the frame),
 * and a reflection is a band across the glass. An object standing behind the glass is neither: a
 * compact region wholly surrounded by glass, set off from it by its own sharp outline all the way
 * round. Such a region is opaque whatever its colours — its colours may well occur in the
 * background (a green vase in front of a garden) or be brighter than the glass around it.
 */
import { regionBounds } from './pixel-ops.js';
import { CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';

/** Share of the region's border that must be glass. */
const ENCLOSED = 0.95;
/** Share of its bounding box the region fills, and the bounding box's longest aspect. */
const MIN_FILL = 0.5;
const MAX_ASPECT = 3;
/** Largest size beside the glass regions around it (an object, not the view or a glass body). */
const MAX_SHARE_OF_HOLDER = 0.25;
/**
 * Mean step (levels, largest channel) across its outline: a sharp edge of its own (an object in
 * focus), not the soft edges of a view behind.
 */
const MIN_OUTLINE_STEP = 40;

/**
 * Sets `cls[c]` (the class of region c, as classifyProduct keeps them) to opaque for the regions
 * that are objects behind glass. `minSize` is the smallest region judged.
 */
export function objectsBehindGlass(
  labels: Int32Array,
  cls: Uint8Array,
  sizes: readonly number[],
  rgb: Uint8Array,
  width: number,
  minSize: number,
): void {
  const count = cls.length - 1;
  const n = labels.length;
  const glassSide = new Float64Array(count + 1);
  const otherSide = new Float64Array(count + 1);
  const stepSum = new Float64Array(count + 1);
  const { x0, y0, x1, y1 } = regionBounds(labels, count, width);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    const x = i % width;
    for (const j of [x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1, i - width, i + width]) {
      if (j < 0 || j >= n || labels[j] === c) continue;
      // Specks (undecided, often the anti-aliased rim itself) neither enclose nor open a region.
      if (cls[labels[j]!] === 0) continue;
      if (cls[labels[j]!] !== CLASS_GLASS) {
        otherSide[c]!++;
        continue;
      }
      glassSide[c]!++;
      const d = Math.max(
        Math.abs(rgb[i * 3]! - rgb[j * 3]!),
        Math.abs(rgb[i * 3 + 1]! - rgb[j * 3 + 1]!),
        Math.abs(rgb[i * 3 + 2]! - rgb[j * 3 + 2]!),
      );
      stepSum[c]! += d;
    }
  }
  const candidates: number[] = [];
  for (let c = 1; c <= count; c++) {
    const size = sizes[c]!;
    if (size < minSize || glassSide[c]! === 0) continue;
    if (glassSide[c]! < ENCLOSED * (glassSide[c]! + otherSide[c]!)) continue;
    const w = x1[c]! - x0[c]! + 1,
      h = y1[c]! - y0[c]! + 1;
    if (size < MIN_FILL * w * h || Math.max(w, h) > MAX_ASPECT * Math.min(w, h)) continue;
    if (stepSum[c]! / glassSide[c]! < MIN_OUTLINE_STEP) continue;
    candidates.push(c);
  }
  if (candidates.length === 0) return;
  // The glass regions around each candidate: an object is small beside the pane that holds it, where
  // a glass body ringed by its own thin rims (a jar among jars) is not.
  const around = new Map<number, Set<number>>(candidates.map((c) => [c, new Set<number>()]));
  for (let i = 0; i < n; i++) {
    const set = around.get(labels[i]!);
    if (!set) continue;
    const x = i % width;
    for (const j of [x > 0 ? i - 1 : -1, x + 1 < width ? i + 1 : -1, i - width, i + width]) {
      if (j >= 0 && j < n && labels[j] !== labels[i] && cls[labels[j]!] === CLASS_GLASS) set.add(labels[j]!);
    }
  }
  for (const c of candidates) {
    let holding = 0;
    for (const g of around.get(c)!) holding += sizes[g]!;
    if (sizes[c]! <= MAX_SHARE_OF_HOLDER * holding) cls[c] = CLASS_OPAQUE;
  }
}
