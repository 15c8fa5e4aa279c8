/**
 * The reflection across the whole glass, in the direction of the streaks found on it. Pure.
 *
 * A flat pane mirrors its surroundings, and the straight edges of a window or a tube light give
 * straight bands; panes in one plane (a door's, a vitrine's front) mirror the same light, so their
 * bands run parallel. Once a streak or band is found (reflection-streaks.ts, confirmed by its
 * profile), the reflection is read along every line in its direction at once: at each distance
 * across, the weighted median of the pixels' reads (d·e / e·e, weighted by e·e, as along one
 * streak: streak-profiles.ts), over the whole glass. A band cut short by a pane's corner, or
 * broken over a detailed view, still stands out in that profile, where the search for lines of
 * its own (long, falling off on both sides within the glass) missed it. The view's own lifts
 * raise every distance a little; the reflection is what stands over the profile's lower envelope
 * (an opening wider than a band).
 *
 * A glass body (a jar, a glass) is curved and its highlights follow its shape, but its base is thick
 * glass: a band of rows above its bottom outline that shows lifted alike across the body. Read
 * along rows, only a bump that runs down to the body's last rows is taken for it (a light part of
 * the view across the body's middle is not a base).
 */
import { histogramMedian, READ_BUCKETS, readBucket } from './read-histogram.js';
import type { Streak } from './reflection-streaks.js';

const BUCKETS = READ_BUCKETS;
/** Least mean e·e over a distance's pixels for its read to count (about 18 levels a channel). */
const MIN_CONTRAST = 1000;
/** Fewest pixels (share of the product's short side) at a distance for it to be read. */
const MIN_PIXELS = 0.08;
/** A kept bump's least peak (absolute, and times the profile's noise) and the noise its edges sink to. */
const MIN_HEIGHT = 0.04;
const NOISE_PEAK = 4;
const NOISE_EDGE = 1.5;
/** A kept bump's least width, as a share of the product's short side. */
const MIN_WIDTH = 0.01;
/**
 * Least angle (degrees) between the lines and the photo's axes: along a frame's own axes the view's
 * horizon, floor and shelf lines run too, and a line's mean cannot tell them from a reflection.
 */
const OFF_AXIS = 8;
/** Directions (degrees) within which found lines vote for one direction. */
const TURN = 4;

/** The direction most of the `found` lines off the axes share (unit normal), or undefined when none is. */
export function sharedDirection(found: readonly Streak[]): { c: number; s: number } | undefined {
  const angle = (k: Streak) => ((((Math.atan2(k.s, k.c) * 180) / Math.PI) % 180) + 180) % 180;
  const lines = found.filter((k) => {
    const a = angle(k) % 90;
    return Math.min(a, 90 - a) >= OFF_AXIS;
  });
  if (lines.length === 0) return undefined;
  let best = lines[0]!,
    bestVotes = 0;
  for (const k of lines) {
    const a = angle(k);
    let votes = 0;
    for (const q of lines) {
      const d = Math.abs(angle(q) - a);
      if (Math.min(d, 180 - d) <= TURN) votes++;
    }
    if (votes > bestVotes) [best, bestVotes] = [k, votes];
  }
  return { c: best.c, s: best.s };
}

/**
 * Per pixel of the `w`×`h` grid (0 off the glass): the reflection read along lines of normal
 * `dir`, over the profile's lower envelope within `envelope` pixels; a bump higher than
 * `maxHeight` is brighter than glass reflects, a light part of the view, and is not kept; nor is
 * one whose peak lies on one of the `taken` lines (on this grid), whose own profile was read.
 * `lastOnly` keeps only a bump that runs to the glass's last read distance (a glass body's base).
 * `de` / `ee` are d·e and e·e per pixel, `glass` 1 on the glass, `side` the product's short side.
 */
export function parallelReflection(
  dir: { c: number; s: number },
  de: Float32Array,
  ee: Float32Array,
  glass: Float32Array,
  w: number,
  h: number,
  side: number,
  envelope: number,
  maxHeight: number,
  options: { taken?: readonly Streak[]; lastOnly?: boolean } = {},
): Float32Array {
  const { taken = [], lastOnly = false } = options;
  const n = w * h;
  const { c, s } = dir;
  let lo = Infinity,
    hi = -Infinity;
  for (const [x, y] of [
    [0, 0],
    [w - 1, 0],
    [0, h - 1],
    [w - 1, h - 1],
  ] as const) {
    const p = x * c + y * s;
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  const offset = Math.floor(lo);
  const bins = Math.ceil(hi) - offset + 1;
  const bin = (i: number) => {
    const x = i % w;
    return Math.round(x * c + ((i - x) / w) * s) - offset;
  };
  const hist = new Float32Array(bins * BUCKETS);
  const weight = new Float64Array(bins);
  const count = new Uint32Array(bins);
  for (let i = 0; i < n; i++) {
    if (!(glass[i]! > 0) || !(ee[i]! > 0)) continue;
    const b = bin(i);
    hist[b * BUCKETS + readBucket(de[i]!, ee[i]!)]! += ee[i]!;
    weight[b]! += ee[i]!;
    count[b]!++;
  }
  const minPixels = Math.max(4, side * MIN_PIXELS);
  const minWidth = Math.max(2, side * MIN_WIDTH);
  const profile = new Float64Array(bins).fill(Number.NaN);
  for (let b = 0; b < bins; b++) {
    if (count[b]! < minPixels || weight[b]! / count[b]! < MIN_CONTRAST) continue;
    profile[b] = histogramMedian(hist, [b * BUCKETS], weight[b]!);
  }
  // The lower envelope: an opening (erosion, then dilation) over the read distances.
  const r = Math.max(1, Math.round(envelope));
  const eroded = new Float64Array(bins).fill(Number.NaN);
  for (let b = 0; b < bins; b++) {
    if (Number.isNaN(profile[b]!)) continue;
    let m = Infinity;
    for (let k = Math.max(0, b - r); k <= Math.min(bins - 1, b + r); k++) {
      if (!Number.isNaN(profile[k]!)) m = Math.min(m, profile[k]!);
    }
    eroded[b] = m;
  }
  const height = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    if (Number.isNaN(profile[b]!)) continue;
    let m = -Infinity;
    for (let k = Math.max(0, b - r); k <= Math.min(bins - 1, b + r); k++) {
      if (!Number.isNaN(eroded[k]!)) m = Math.max(m, eroded[k]!);
    }
    height[b] = Math.max(0, profile[b]! - Math.max(0, m));
  }
  // Kept: the bumps that stand out of the profile's own noise (the median height over all distances,
  // most of which no band crosses), each to where it sinks back into that noise.
  const read: number[] = [];
  for (let b = 0; b < bins; b++) if (!Number.isNaN(profile[b]!)) read.push(height[b]!);
  read.sort((x, y) => x - y);
  const noise = read.length ? read[read.length >> 1]! : 0;
  const bumps: { from: number; to: number; peak: number }[] = [];
  for (let b = 0; b < bins; ) {
    if (!(height[b]! > NOISE_EDGE * noise)) {
      b++;
      continue;
    }
    let e = b,
      peak = b;
    for (; e < bins && height[e]! > NOISE_EDGE * noise; e++) if (height[e]! > height[peak]!) peak = e;
    const tall = height[peak]!;
    if (tall >= Math.max(MIN_HEIGHT, NOISE_PEAK * noise) && tall <= maxHeight && e - b >= minWidth) {
      bumps.push({ from: b, to: e, peak });
    }
    b = e;
  }
  // Distances (bins) the taken lines in this direction cover.
  const onTaken = new Uint8Array(bins);
  for (const k of taken) {
    const dot = k.c * c + k.s * s;
    if (Math.abs(dot) < Math.cos((TURN * Math.PI) / 180)) continue;
    const ends = [k.rho + k.lo, k.rho + k.hi].map((v) => Math.sign(dot) * v - offset);
    for (
      let b = Math.max(0, Math.floor(Math.min(...ends)));
      b <= Math.min(bins - 1, Math.ceil(Math.max(...ends)));
      b++
    ) {
      onTaken[b] = 1;
    }
  }
  let last = bins - 1;
  while (last > 0 && Number.isNaN(profile[last]!)) last--;
  for (let m = bumps.length - 1; m >= 0; m--) {
    if (onTaken[bumps[m]!.peak] || (lastOnly && bumps[m]!.to <= last)) bumps.splice(m, 1);
  }
  // And each reads alike over most of its length: a light object of the view that fills most of a
  // few lines raises their median, but only where it lies.
  const even = evenAlong(bumps, bins, bin, dir, de, ee, glass, w, profile, height);
  const kept = new Float64Array(bins);
  bumps.forEach((k, m) => {
    if (even[m]) for (let b = k.from; b < k.to; b++) kept[b] = height[b]!;
  });
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) if (glass[i]! > 0) out[i] = kept[bin(i)]!;
  return out;
}

/** Parts of a bump's length read apart, and the share of the strongest that all but one must read. */
const PARTS = 3;
const EVEN = 0.5;

/**
 * Per bump: true where its middle (the distances within half its peak's height), read over each
 * third of its length alone (over the level the whole profile's envelope set there), reads at
 * least EVEN of the strongest third on all thirds but one, and nowhere less than nothing: a band
 * lies along the whole line, though over a part of the view a reflection can hardly be read (a
 * saturated colour, a pale wall); a light object of the view lifts the lines it lies on in one
 * part and leaves the rest, read over the same level, at or below it.
 */
function evenAlong(
  bumps: readonly { from: number; to: number; peak: number }[],
  bins: number,
  bin: (i: number) => number,
  dir: { c: number; s: number },
  de: Float32Array,
  ee: Float32Array,
  glass: Float32Array,
  w: number,
  profile: Float64Array,
  height: Float64Array,
): boolean[] {
  const owner = new Int32Array(bins).fill(-1);
  bumps.forEach((k, m) => {
    for (let b = k.from; b < k.to; b++) if (height[b]! >= height[k.peak]! / 2) owner[b] = m;
  });
  const uMin = new Float64Array(bumps.length).fill(Infinity),
    uMax = new Float64Array(bumps.length).fill(-Infinity);
  // A pixel's position along the lines.
  const along = (i: number) => {
    const x = i % w;
    return -x * dir.s + ((i - x) / w) * dir.c;
  };
  const n = glass.length;
  for (let i = 0; i < n; i++) {
    if (!(glass[i]! > 0) || !(ee[i]! > 0)) continue;
    const m = owner[bin(i)]!;
    if (m < 0) continue;
    const u = along(i);
    uMin[m] = Math.min(uMin[m]!, u);
    uMax[m] = Math.max(uMax[m]!, u);
  }
  const hist = new Float32Array(bumps.length * PARTS * BUCKETS);
  const weight = new Float64Array(bumps.length * PARTS);
  const level = new Float64Array(bumps.length);
  bumps.forEach((k, m) => {
    level[m] = profile[k.peak]! - height[k.peak]!;
  });
  for (let i = 0; i < n; i++) {
    if (!(glass[i]! > 0) || !(ee[i]! > 0)) continue;
    const m = owner[bin(i)]!;
    if (m < 0) continue;
    const span = uMax[m]! - uMin[m]!;
    const part = span > 0 ? Math.min(PARTS - 1, Math.floor(((along(i) - uMin[m]!) / span) * PARTS)) : 0;
    hist[(m * PARTS + part) * BUCKETS + readBucket(de[i]!, ee[i]!)]! += ee[i]!;
    weight[m * PARTS + part]! += ee[i]!;
  }
  return bumps.map((_, m) => {
    const reads: number[] = [];
    for (let p = 0; p < PARTS; p++) {
      const total = weight[m * PARTS + p]!;
      if (!(total > 0)) continue;
      reads.push(histogramMedian(hist, [(m * PARTS + p) * BUCKETS], total) - level[m]!);
    }
    const top = Math.max(...reads);
    return (
      reads.length === PARTS &&
      top > 0 &&
      Math.min(...reads) >= 0 &&
      reads.filter((r) => r >= EVEN * top).length >= PARTS - 1
    );
  });
}
