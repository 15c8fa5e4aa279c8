/**
 * Faces of a frame's profile that the flood joined to the pane they hold. Pure.
 *
 * A white profile's shaded lower face can have the colour of a light wall seen through the glass,
 * and with no step between them the flood runs on from the pane into the face: a strip of the
 * frame comes out as glass along the pane's edge. Such a strip is extruded — even along the edge,
 * line after line — where the view through the pane changes along any line across it (its
 * texture, the reflections crossing the glass). So each glass region's lines along its straight
 * edges are peeled off, from the edge inwards, while they are even along the edge, span the
 * region's width there, and the view inside is clearly less even; they are opaque. Over an even
 * view (a plain wall through the panes) nothing can be told, and nothing is peeled.
 */
import { components, regionBounds } from './pixel-ops.js';
import { CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';

/** Deepest strip peeled, as a share of the product's short side. */
const MAX_DEPTH = 0.03;
/** Mean deviation (levels per channel) of a line from its mean colour below which it is even. */
const EVEN = 2.5;
/** How much less even the view inside must be, and at least. */
const VIEW_RATIO = 2.5;
const MIN_VIEW = 4;
/** Share of the region's extent a line must cover to count as part of a straight edge. */
const MIN_SPAN = 0.9;
/** Largest step (levels, largest channel) from the frame next to the strip to the strip. */
const FRAME_STEP = 40;
/** Lines of the view measured beyond the deepest strip. */
const VIEW_LINES = 8;

/** Rewrites `classes` (0 background, 1 opaque, 2 glass per pixel) in place. */
export function peelFrameFaces(
  classes: Uint8Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  side: number,
): void {
  const maxDepth = Math.max(1, Math.round(side * MAX_DEPTH));
  const minSize = (maxDepth * 4) ** 2;
  const { labels, count, sizes } = components(undefined, width, height, (i) => classes[i] === CLASS_GLASS);
  const { x0, y0, x1, y1 } = regionBounds(labels, count, width);
  for (let c = 1; c <= count; c++) {
    if (sizes[c]! < minSize) continue;
    const box = { x0: x0[c]!, y0: y0[c]!, x1: x1[c]!, y1: y1[c]! };
    if (box.x1 - box.x0 < maxDepth * 4 || box.y1 - box.y0 < maxDepth * 4) continue;
    for (const [alongRows, fromStart] of [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ] as const) {
      peelSide(classes, labels, c, rgb, width, box, alongRows, fromStart, maxDepth);
    }
  }
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * One side of region `c`: its lines parallel to that side (rows for the top and bottom, columns for
 * the left and right), from the edge inwards.
 */
function peelSide(
  classes: Uint8Array,
  labels: Int32Array,
  c: number,
  rgb: Uint8Array,
  width: number,
  box: Box,
  alongRows: boolean,
  fromStart: boolean,
  maxDepth: number,
): void {
  const [lo, hi] = alongRows ? [box.y0, box.y1] : [box.x0, box.x1];
  const [a0, a1] = alongRows ? [box.x0, box.x1] : [box.y0, box.y1];
  const lineAt = (k: number) => (fromStart ? lo + k : hi - k);
  const at = (line: number, p: number) => (alongRows ? line * width + p : p * width + line);
  const ofRegion = (i: number) => labels[i] === c;
  const measure = (line: number) => lineStats(rgb, at, line, a0, a1, ofRegion);
  const span = a1 - a0 + 1;
  let view = 0;
  for (let k = maxDepth; k < maxDepth + VIEW_LINES && k <= hi - lo; k++) view += measure(lineAt(k)).deviation;
  view /= VIEW_LINES;
  if (view < MIN_VIEW) return;
  // A face is of the frame's material: its colour runs on from the frame's next to it.
  const outside = fromStart ? lo - 1 : hi + 1;
  if (outside < 0 || outside >= (alongRows ? classes.length / width : width)) return;
  const frame = lineStats(rgb, at, outside, a0, a1, (i) => classes[i] === CLASS_OPAQUE);
  const face = measure(lineAt(0));
  if (frame.count <= span / 2 || face.count <= span / 2) return;
  if (Math.max(...[0, 1, 2].map((k) => Math.abs(frame.mean[k]! - face.mean[k]!))) > FRAME_STEP) return;
  let depth = 0;
  for (; depth < maxDepth; depth++) {
    const m = measure(lineAt(depth));
    if (m.count < MIN_SPAN * span || m.deviation > EVEN || m.deviation * VIEW_RATIO > view) break;
  }
  for (let k = 0; k < depth; k++) {
    const line = lineAt(k);
    for (let p = a0; p <= a1; p++) {
      const i = at(line, p);
      if (labels[i] === c) classes[i] = CLASS_OPAQUE;
    }
  }
}

/**
 * The pixels `take` admits on one line (from a0 to a1): how many, their mean colour, and how even
 * they are (mean deviation from that mean, levels per channel).
 */
function lineStats(
  rgb: Uint8Array,
  at: (line: number, p: number) => number,
  line: number,
  a0: number,
  a1: number,
  take: (i: number) => boolean,
): { count: number; mean: number[]; deviation: number } {
  const mean = [0, 0, 0];
  let count = 0;
  for (let p = a0; p <= a1; p++) {
    const i = at(line, p);
    if (!take(i)) continue;
    for (let ch = 0; ch < 3; ch++) mean[ch]! += rgb[i * 3 + ch]!;
    count++;
  }
  if (count === 0) return { count, mean, deviation: 0 };
  for (let ch = 0; ch < 3; ch++) mean[ch]! /= count;
  let dev = 0;
  for (let p = a0; p <= a1; p++) {
    const i = at(line, p);
    if (!take(i)) continue;
    for (let ch = 0; ch < 3; ch++) dev += Math.abs(rgb[i * 3 + ch]! - mean[ch]!);
  }
  return { count, mean, deviation: dev / (3 * count) };
}
