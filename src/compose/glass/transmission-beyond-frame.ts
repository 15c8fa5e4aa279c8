/**
 * A pane's transmission read from the view that goes on beyond the product. Pure.
 *
 * Through a pane the view behind is C = T·B + (1−T)·tint (a reflection only adds light); just beyond
 * the frame the same view shows bare. A row or column out of a pane that crosses the frame and reaches
 * the background pairs the pane's light near its edge with the view's a frame's width away, and each
 * pair reads T as the least-squares slope of one against the other, towards the tint (three channels).
 *
 * One pair says little: the view changes across the frame (weighed by how fast it changes along the
 * line there, times the distance between the two reads), and a reflection the layer did not find
 * lowers the read. Nor does the view always go on: a window standing on a floor shows the wall
 * through its lower panes and the floor below its bottom rail. So the pairs are read per side of the
 * panes (out of their left, right, top and bottom edges) and T is only given where two sides agree:
 * the weighted median of the pairs of the sides that agree.
 */
import { CLASS_BACKGROUND, CLASS_GLASS } from './region-classes.js';

/** The farthest a line may cross the frame, as a share of the product's short side. */
const MAX_FRAME = 0.12;
/** Fewest frame pixels a line must cross. */
const MIN_CROSSED = 2;
/** Pixels left out next to each edge (a frame's shadow, a soft edge), share of the short side. */
const MARGIN = 0.008;
/** Pixels averaged on each side, share of the short side. */
const SPAN = 0.015;
/** Least squared distance (summed over channels) between the view and the tint for a pair to count. */
const MIN_SPREAD = 300;
/** The view's change between the reads that weighs as much as the noise (squared levels, summed). */
const NOISE = 12;
/** Fewest pairs for a side's read. */
const MIN_SIDE_PAIRS = 20;
/** Sides whose reads differ by at most this agree. */
const AGREE = 0.05;

export interface TransmissionRead {
  transmission: number;
  /** Pairs the read was taken over. */
  pairs: number;
}

/** Weighted median of `values`. */
function weightedMedian(values: number[], weights: number[]): number {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  let total = 0;
  for (const w of weights) total += w;
  let seen = 0;
  for (const i of order) {
    seen += weights[i]!;
    if (seen >= total / 2) return values[i]!;
  }
  return values[order[order.length - 1]!]!;
}

/**
 * T of the panes in `classes` (glass 2 inside a product, background 0 beyond it), or undefined
 * where the view beyond does not say. `bounds` holds every glass pixel; `unread(i)` marks glass
 * pixels not to read (a reflection lies there, or the glass is not a framed pane); `prior` is the
 * transmission assumed before the read (0 < prior ≤ 1).
 */
export function transmissionBeyondFrame(
  rgb: Uint8Array,
  width: number,
  height: number,
  classes: Uint8Array,
  bounds: { x0: number; y0: number; x1: number; y1: number },
  side: number,
  tint: readonly number[],
  unread: (i: number) => boolean,
  prior: number,
): TransmissionRead | undefined {
  const maxFrame = Math.max(3, Math.round(side * MAX_FRAME));
  const margin = Math.max(1, Math.round(side * MARGIN));
  const span = Math.max(4, Math.round(side * SPAN));
  const half = span >> 1;
  const values: number[] = [];
  const weights: number[] = [];
  const sides: number[] = [];
  const mean = (start: number, step: number, count: number, out: number[]) => {
    out[0] = out[1] = out[2] = 0;
    for (let k = 0; k < count; k++) {
      const i = start + k * step;
      for (let c = 0; c < 3; c++) out[c]! += rgb[i * 3 + c]!;
    }
    for (let c = 0; c < 3; c++) out[c]! /= count;
  };
  const inside = [0, 0, 0],
    beyond = [0, 0, 0],
    inNear = [0, 0, 0],
    inFar = [0, 0, 0],
    outNear = [0, 0, 0],
    outFar = [0, 0, 0];
  // Lines `from`..`to` (pixel p of line t at t·`across` + p·`along`, p in 0..length−1), out of each
  // glass run's end in direction `dir` (side `sideOf(dir)`); glass lies within [lo, hi] along them.
  const walk = (
    from: number,
    to: number,
    across: number,
    along: number,
    length: number,
    lo: number,
    hi: number,
    sideOf: (dir: number) => number,
  ) => {
    for (let t = from; t <= to; t++) {
      const line = t * across;
      for (let p = lo; p <= hi; p++) {
        if (classes[line + p * along] !== CLASS_GLASS) continue;
        for (const dir of [-1, 1]) {
          const q = p + dir;
          if (q < 0 || q >= length || classes[line + q * along] === CLASS_GLASS) continue;
          // p is the pane's last pixel: cross the frame to the background.
          let b = q;
          while (b >= 0 && b < length && Math.abs(b - p) <= maxFrame) {
            const k = classes[line + b * along];
            if (k === CLASS_BACKGROUND || k === CLASS_GLASS) break;
            b += dir;
          }
          if (b < 0 || b >= length || classes[line + b * along] !== CLASS_BACKGROUND || Math.abs(b - q) < MIN_CROSSED) {
            continue;
          }
          const inStart = p - dir * margin,
            outStart = b + dir * margin;
          const inEnd = inStart - dir * (span - 1),
            outEnd = outStart + dir * (span - 1);
          if (inEnd < 0 || inEnd >= length || outEnd < 0 || outEnd >= length) continue;
          const inward = -dir * along,
            inAt = line + inStart * along,
            outAt = line + outStart * along;
          let ok = true;
          for (let k = 0; k < span && ok; k++) {
            const i = inAt + k * inward;
            ok = classes[i] === CLASS_GLASS && !unread(i) && classes[outAt - k * inward] === CLASS_BACKGROUND;
          }
          if (!ok) continue;
          mean(inAt, inward, span, inside);
          mean(outAt, -inward, span, beyond);
          // How far the view may change between the reads: its slope along the line (each read's far
          // half against its near half; through the pane dimmed by about the `prior` transmission)
          // times their distance.
          mean(inAt, inward, half, inNear);
          mean(inAt + (span - half) * inward, inward, half, inFar);
          mean(outAt, -inward, half, outNear);
          mean(outAt - (span - half) * inward, -inward, half, outFar);
          const gap = Math.abs(outStart - inStart) + span;
          let drift = 0,
            xy = 0,
            xx = 0;
          for (let c = 0; c < 3; c++) {
            const slope = ((inNear[c]! - inFar[c]!) / prior + (outFar[c]! - outNear[c]!)) / 2 / (span - half);
            drift += (slope * gap) ** 2;
            const x = beyond[c]! - tint[c]!;
            xy += x * (inside[c]! - tint[c]!);
            xx += x * x;
          }
          if (xx < MIN_SPREAD) continue;
          values.push(xy / xx);
          weights.push(xx / (drift + NOISE));
          sides.push(sideOf(dir));
        }
      }
    }
  };
  const { x0, y0, x1, y1 } = bounds;
  walk(y0, y1, width, 1, width, x0, x1, (dir) => (dir < 0 ? 0 : 1));
  walk(x0, x1, 1, width, height, y0, y1, (dir) => (dir < 0 ? 2 : 3));
  const sideT = [0, 1, 2, 3].map((s) => {
    const v = values.filter((_, k) => sides[k] === s);
    return v.length >= MIN_SIDE_PAIRS
      ? weightedMedian(
          v,
          weights.filter((_, k) => sides[k] === s),
        )
      : Number.NaN;
  });
  // The two sides that agree best, and any other within AGREE of them.
  let agreed = Number.NaN,
    gap = Infinity;
  for (let a = 0; a < 4; a++) {
    for (let b = a + 1; b < 4; b++) {
      const d = Math.abs(sideT[a]! - sideT[b]!);
      if (d < gap) {
        gap = d;
        agreed = (sideT[a]! + sideT[b]!) / 2;
      }
    }
  }
  if (!(gap <= AGREE)) return undefined;
  const v: number[] = [],
    w: number[] = [];
  for (let k = 0; k < values.length; k++) {
    if (Math.abs(sideT[sides[k]!]! - agreed) <= AGREE) {
      v.push(values[k]!);
      w.push(weights[k]!);
    }
  }
  return { transmission: weightedMedian(v, w), pairs: v.length };
}
