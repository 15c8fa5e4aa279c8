/**
 * Opaque objects seen through a pane: the vase in a vitrine, an ornament behind a glass door. Pure.
 *
 * The background seen through a pane runs on to the pane's edges (it continues behind the frame),
 * and a reflection is a band across the glass. An object standing behind the glass is neither: a
 * compact region wholly surrounded by glass, set off from it by its own sharp outline all the way
 * round. Such a region is opaque whatever its colours — its colours may well occur in the
 * background (a green vase in front of a garden) or be brighter than the glass around it.
 */
import { colourStep, regionBounds, stepBy } from './pixel-ops.js';
import { CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';

/** Share of the region's border that must be glass. */
const ENCLOSED = 0.95;
/** Share of its bounding box the region fills, and the bounding box's longest aspect. */
const MIN_FILL = 0.5;
const MAX_ASPECT = 3;
/** Largest size beside the glass regions around it (an object, not the view or a glass body). */
const MAX_SHARE_OF_HOLDER = 0.35;
/**
 * Mean step (levels, largest channel) across its outline: a sharp edge of its own (an object in
 * focus), not the soft edges of a view behind. Measured from a pixel inside the outline to one
 * beyond its rim, so that a lens's softness does not halve it.
 */
const MIN_OUTLINE_STEP = 30;

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
  thick: Uint8Array,
  rim: number,
): void {
  const count = cls.length - 1;
  const n = labels.length;
  const glassSide = new Float64Array(count + 1);
  const otherSide = new Float64Array(count + 1);
  const stepSum = new Float64Array(count + 1);
  const { x0, y0, x1, y1 } = regionBounds(labels, count, width);
  // Across the rim: specks (undecided, the soft or anti-aliased rim itself) and thin opaque parts (a
  // glass shelf's edge the object stands on) are stepped over, up to `rim` pixels. The pixel reached
  // from region c's pixel i going by d: -1 where the step leaves the image or stays in c.
  const over = (t: number) => labels[t] !== 0 && (cls[labels[t]!] === 0 || !thick[labels[t]!]);
  const across = (i: number, d: number, c: number): number => {
    let t = stepBy(i, d, width, n);
    if (t < 0 || labels[t] === c) return -1;
    for (let k = 1; k < rim && over(t); k++) {
      const next = stepBy(t, d, width, n);
      if (next < 0) break;
      t = next;
    }
    return labels[t] === c ? -1 : t;
  };
  const directions = [-1, 1, -width, width];
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    for (const d of directions) {
      const t = across(i, d, c);
      if (t < 0) continue;
      // A rim wider than `rim` neither encloses nor opens the region.
      if (labels[t] !== 0 && cls[labels[t]!] === 0) continue;
      if (labels[t] === 0 || cls[labels[t]!] !== CLASS_GLASS) {
        otherSide[c]!++;
        continue;
      }
      glassSide[c]!++;
      // From the region's side of its outline (a pixel in, where it has one) to the glass beyond the rim.
      const before = stepBy(i, -d, width, n),
        beyond = stepBy(t, d, width, n);
      const inner = before >= 0 && labels[before] === c ? before : i;
      const outer = beyond >= 0 && labels[beyond] === labels[t] ? beyond : t;
      stepSum[c]! += colourStep(rgb, inner, outer);
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
    for (const d of directions) {
      const t = across(i, d, labels[i]!);
      if (t >= 0 && labels[t] !== 0 && cls[labels[t]!] === CLASS_GLASS) set.add(labels[t]!);
    }
  }
  for (const c of candidates) {
    let holding = 0;
    for (const g of around.get(c)!) holding += sizes[g]!;
    if (sizes[c]! <= MAX_SHARE_OF_HOLDER * holding) cls[c] = CLASS_OPAQUE;
  }
}
