/**
 * The view through a pane that goes on beyond the product: a picture on the wall behind a door,
 * the floor's planks, a strap of the person standing behind. Pure.
 *
 * Seen through the glass such a part of the view can look like an object (its own sharp outline,
 * colours of its own), but it does not end where the pane ends: it runs on behind the frame and
 * shows again in the background just outside the product, in line with it and of the same colour.
 * An object in a vitrine or a handle does neither: a line out of it crosses glass first, or meets
 * a background of other colours. Such regions are glass. Regions thick enough to be a pane's view,
 * or textured as a view is, are judged by their lines out of every side. A thin, plain region —
 * a strip of the view along a rail, a lens softening its texture — is judged only when it changes
 * along its length (a profile's face or a bar is even along it: extruded-bars.ts), and only by
 * the lines out of its long sides: a handle's lines out of its ends can meet a wall of its colour.
 *
 * Beyond the frame the view may show in a part the background's flood did not reach (the rest of a
 * picture on the wall, above the door it hangs behind, cut off by its own dark frame). For a region
 * thick enough to be a pane's view, a line may end there too, once it has crossed a part of the
 * frame that touches the background: in a textured region (a view, not a profile's even band), in
 * the colour of the region's edge. Where the view ends under the frame, the lines out of the other
 * sides meet the background in another colour, so lines matching there on one side are enough.
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
/** Pixels of frame crossed before a part beyond may end the line. */
const MIN_CROSSED = 2;
/** Long side over short side from which a slim region is a strip. */
const STRIP_ASPECT = 3;
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

/** What is known of the product's regions (per label, 1..count; label 0 is the background). */
export interface ProductRegions {
  labels: Int32Array;
  /** Per region: its class, rewritten in place. */
  cls: Uint8Array;
  sizes: readonly number[];
  /** 1 for the frame's extruded bars on the product's outline (extruded-bars.ts). */
  bars: Uint8Array;
  /** 1 for any bar even along its length, on the outline or not. */
  even: Uint8Array;
  /** 1 for the regions thick enough to be glass (their inscribed radius). */
  thick: Uint8Array;
}

/**
 * Sets `cls[c]` to glass for the opaque regions that go on beyond the product's frame. `side` is
 * the product's short side and `minSize` the smallest region judged.
 */
export function viewBeyondFrame(
  regions: ProductRegions,
  rgb: Uint8Array,
  width: number,
  side: number,
  minSize: number,
): void {
  const { labels, cls, sizes, bars, even, thick } = regions;
  const count = cls.length - 1;
  const n = labels.length;
  const height = n / width;
  const { x0, y0, x1, y1 } = regionBounds(labels, count, width);
  const open = touchingBackground(labels, cls, width, count);
  const texture = textured(labels, sizes, rgb, count);
  const maxFrame = Math.max(4, Math.round(side * MAX_FRAME));
  const flip: number[] = [];
  for (let c = 1; c <= count; c++) {
    if (cls[c] !== CLASS_OPAQUE || bars[c] || sizes[c]! < minSize) continue;
    const slim = !(thick[c] || texture[c]);
    if (slim && even[c]) continue;
    const w = x1[c]! - x0[c]! + 1,
      h = y1[c]! - y0[c]! + 1;
    // A slim strip is judged across its length only: up and down out of a lying one.
    const acrossOnly =
      slim && Math.max(w, h) >= STRIP_ASPECT * Math.min(w, h) ? (w > h ? 'vertical' : 'horizontal') : '';
    // Per direction of travel: lines that reached the background or a part beyond, those that
    // matched, and those that matched in a part beyond.
    const reached = [0, 0, 0, 0],
      matching = [0, 0, 0, 0],
      matchingBeyond = [0, 0, 0, 0];
    // Lines out of the region: columns upward and downward, rows leftward and rightward.
    for (const [d, [dx, dy]] of (
      [
        [0, -1],
        [0, 1],
        [-1, 0],
        [1, 0],
      ] as const
    ).entries()) {
      const vertical = dx === 0;
      if (acrossOnly && acrossOnly !== (vertical ? 'vertical' : 'horizontal')) continue;
      const from = vertical ? x0[c]! : y0[c]!,
        to = vertical ? x1[c]! : y1[c]!;
      for (let t = from; t <= to; t++) {
        // The region's last pixel on this line in the direction of travel.
        let edge = -1;
        const lo = vertical ? y0[c]! : x0[c]!,
          hi = vertical ? y1[c]! : x1[c]!;
        const step = vertical ? dy : dx;
        for (let s = step > 0 ? lo : hi; s >= lo && s <= hi; s += step) {
          const i = vertical ? s * width + t : t * width + s;
          if (labels[i] === c) edge = s;
        }
        if (edge < 0) continue;
        const len = vertical ? height : width;
        const mean = (start: number, dir: number) => lineMean(rgb, width, len, vertical, t, start, dir);
        const inside = mean(edge, -step);
        if (!inside) continue;
        // Walk out across the frame (opaque product pixels only) to the background, or (a thick
        // region) into a textured part beyond the outline that shows the edge's colour.
        let s = edge + step,
          crossed = 0,
          out = -1,
          into = 0;
        const frameLabels: number[] = [];
        let pastOutline = false;
        for (; s >= 0 && s < len && crossed <= maxFrame; s += step, crossed++) {
          const i = vertical ? s * width + t : t * width + s;
          const l = labels[i]!;
          if (l === 0) {
            out = s;
            break;
          }
          if (l === c || cls[l] === CLASS_GLASS) break;
          if (frameLabels.includes(l)) continue;
          const here = thick[c] && crossed >= MIN_CROSSED && pastOutline && texture[l] ? mean(s, step) : undefined;
          if (here && diff(inside, here) <= SAME_COLOUR) {
            out = s;
            into = l;
            break;
          }
          frameLabels.push(l);
          if (open[l]) pastOutline = true;
        }
        if (out < 0 || crossed === 0) continue;
        // Beyond the anti-aliased rim on the far side (at once, in a part of the view beyond).
        const beyond = mean(into ? out : out + step, step),
          frame = mean(edge + step * (1 + (crossed >> 1)), step);
        if (!beyond || !frame) continue;
        reached[d]!++;
        // The same colour beyond, and another in between: the view hidden by the frame, not the frame.
        if (diff(inside, beyond) <= SAME_COLOUR && diff(inside, frame) > SAME_COLOUR) {
          matching[d]!++;
          if (into) matchingBeyond[d]!++;
        }
      }
    }
    // Most lines out match; or, in a part of the view beyond the outline, most lines out of one
    // side do (where the view ends under the frame, the other sides meet the background in another
    // colour).
    const sum = (a: number[]) => a[0]! + a[1]! + a[2]! + a[3]!;
    const all = sum(matching) >= MIN_LINES && sum(matching) >= MIN_MATCHING * sum(reached);
    if (all || matchingBeyond.some((m, k) => m >= MIN_LINES && m >= MIN_MATCHING * reached[k]!)) flip.push(c);
  }
  for (const c of flip) cls[c] = CLASS_GLASS;
}

/** Largest per-channel difference of two mean colours. */
function diff(a: number[], b: number[]): number {
  return Math.max(Math.abs(a[0]! - b[0]!), Math.abs(a[1]! - b[1]!), Math.abs(a[2]! - b[2]!));
}

/** Per region: 1 for the opaque regions with a pixel next to the background. */
function touchingBackground(labels: Int32Array, cls: Uint8Array, width: number, count: number): Uint8Array {
  const out = new Uint8Array(count + 1);
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (c === 0 || out[c] || cls[c] !== CLASS_OPAQUE) continue;
    const x = i % width;
    if ((x > 0 && labels[i - 1] === 0) || (x + 1 < width && labels[i + 1] === 0)) out[c] = 1;
    else if ((i >= width && labels[i - width] === 0) || (i + width < n && labels[i + width] === 0)) out[c] = 1;
  }
  return out;
}
