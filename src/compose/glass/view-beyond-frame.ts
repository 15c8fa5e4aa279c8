/**
 * The view through a pane that goes on beyond the product: a picture on the wall behind a door,
 * the floor's planks, a strap of the person standing behind. Pure.
 *
 * Seen through the glass such a part of the view can look like an object (its own sharp outline,
 * colours of its own), but it does not end where the pane ends: it runs on behind the frame and
 * shows again in the background just outside the product, in line with it and of the same colour.
 * An object in a vitrine or a handle does neither: a line out of it crosses glass first, or meets
 * a background of other colours. Such regions are glass. Only regions thick enough to be a pane's
 * view, or textured as a view is, are judged: a sliver of a profile's shading is even in colour.
 */
import { regionBounds } from './pixel-ops.js';
import { CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';

/** Largest colour step (levels, largest channel) between the region's edge and the background beyond. */
const SAME_COLOUR = 32;
/** The farthest a line may cross the frame, as a share of the product's short side. */
const MAX_FRAME = 0.15;
/** Share of the lines that reach the background beyond the frame that must match, and the fewest. */
const MIN_MATCHING = 0.5;
const MIN_LINES = 4;
/** Pixels averaged on each side (along the line) when comparing colours. */
const SPAN = 3;
/** Spread of a region's grey levels (standard deviation) from which it counts as textured. */
const MIN_TEXTURE = 6;

/** Per region: 1 where its grey levels spread by MIN_TEXTURE or more. */
function textured(labels: Int32Array, sizes: readonly number[], rgb: Uint8Array, count: number): Uint8Array {
  const sum = new Float64Array(count + 1),
    sq = new Float64Array(count + 1);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    if (c === 0) continue;
    const l = (rgb[i * 3]! + rgb[i * 3 + 1]! + rgb[i * 3 + 2]!) / 3;
    sum[c]! += l;
    sq[c]! += l * l;
  }
  const out = new Uint8Array(count + 1);
  for (let c = 1; c <= count; c++) {
    const mean = sum[c]! / Math.max(1, sizes[c]!);
    out[c] = sq[c]! / Math.max(1, sizes[c]!) - mean * mean >= MIN_TEXTURE * MIN_TEXTURE ? 1 : 0;
  }
  return out;
}

/** Mean colour of SPAN pixels on line `t` (a column when `vertical`, else a row) from `start` in direction `dir`. */
function lineMean(
  rgb: Uint8Array,
  width: number,
  len: number,
  vertical: boolean,
  t: number,
  start: number,
  dir: number,
): number[] | undefined {
  const m = [0, 0, 0];
  let k = 0;
  for (let q = 0; q < SPAN; q++) {
    const p = start + dir * q;
    if (p < 0 || p >= len) break;
    const i = vertical ? p * width + t : t * width + p;
    for (let ch = 0; ch < 3; ch++) m[ch]! += rgb[i * 3 + ch]!;
    k++;
  }
  return k ? m.map((v) => v / k) : undefined;
}

/**
 * Sets `cls[c]` to glass for the opaque regions that go on beyond the product's frame.
 * `labels` are the product's regions (0 = background), `bars` marks the frame's extruded bars,
 * `thick` the regions thick enough to be glass (their inscribed radius), `side` is the
 * product's short side and `minSize` the smallest region judged.
 */
export function viewBeyondFrame(
  labels: Int32Array,
  cls: Uint8Array,
  sizes: readonly number[],
  bars: Uint8Array,
  thick: Uint8Array,
  rgb: Uint8Array,
  width: number,
  side: number,
  minSize: number,
): void {
  const count = cls.length - 1;
  const n = labels.length;
  const height = n / width;
  const { x0, y0, x1, y1 } = regionBounds(labels, count, width);
  const texture = textured(labels, sizes, rgb, count);
  const maxFrame = Math.max(4, Math.round(side * MAX_FRAME));
  const flip: number[] = [];
  for (let c = 1; c <= count; c++) {
    if (cls[c] !== CLASS_OPAQUE || bars[c] || !(thick[c] || texture[c]) || sizes[c]! < minSize) continue;
    let reached = 0,
      matching = 0;
    // Lines out of the region: columns upward and downward, rows leftward and rightward.
    for (const [dx, dy] of [
      [0, -1],
      [0, 1],
      [-1, 0],
      [1, 0],
    ] as const) {
      const vertical = dx === 0;
      const from = vertical ? x0[c]! : y0[c]!,
        to = vertical ? x1[c]! : y1[c]!;
      for (let t = from; t <= to; t++) {
        // The region's last pixel on this line in the direction of travel.
        let edge = -1;
        const len = vertical ? height : width;
        const lo = vertical ? y0[c]! : x0[c]!,
          hi = vertical ? y1[c]! : x1[c]!;
        const step = vertical ? dy : dx;
        for (let s = step > 0 ? lo : hi; s >= lo && s <= hi; s += step) {
          const i = vertical ? s * width + t : t * width + s;
          if (labels[i] === c) edge = s;
        }
        if (edge < 0) continue;
        // Walk out across the frame (opaque product pixels only) to the background.
        let s = edge + step,
          crossed = 0,
          out = -1;
        for (; s >= 0 && s < len && crossed <= maxFrame; s += step, crossed++) {
          const i = vertical ? s * width + t : t * width + s;
          const l = labels[i]!;
          if (l === 0) {
            out = s;
            break;
          }
          if (l === c || cls[l] === CLASS_GLASS) break;
        }
        if (out < 0 || crossed === 0) continue;
        const mean = (start: number, dir: number) => lineMean(rgb, width, len, vertical, t, start, dir);
        // Inward from the region's edge, and beyond the anti-aliased rim on the far side.
        const inside = mean(edge, -step),
          beyond = mean(out + step, step),
          frame = mean(edge + step * (1 + (crossed >> 1)), step);
        if (!inside || !beyond || !frame) continue;
        reached++;
        const diff = (a: number[], b: number[]) => Math.max(...[0, 1, 2].map((ch) => Math.abs(a[ch]! - b[ch]!)));
        // The same colour beyond, and another in between: the view hidden by the frame, not the frame.
        if (diff(inside, beyond) <= SAME_COLOUR && diff(inside, frame) > SAME_COLOUR) matching++;
      }
    }
    if (matching >= MIN_LINES && matching >= MIN_MATCHING * reached) flip.push(c);
  }
  for (const c of flip) cls[c] = CLASS_GLASS;
}
