/**
 * A reflection streak's strength across it, measured along its whole length. Pure.
 *
 * Pixel by pixel, a reflection's share r is the colour change d over the move towards the
 * reflected light e (d ≈ r·e), and where the view behind is nearly as light as the reflection
 * (a pale wall) e is small and r cannot be read from one pixel. A streak is a straight line whose
 * strength varies little along it, so r at each distance across is read from all the pixels at
 * that distance together: the median of d·e / e·e weighted by e·e (the pixels with the most
 * contrast count most, and a light object of the view crossing the line, a minority, does not
 * move it). The profile is kept where it has a reflection band's shape (bandProfile) and reads
 * about as strong on each third of the line's length.
 */
import { histogramMedian, READ_BUCKETS, readBucket } from './read-histogram.js';
import { MAX_STEEPNESS, visitStrip, type Streak } from './reflection-streaks.js';

/** The profile's tails: it is kept out to where it falls below this share of its height; and half. */
const TAIL = 0.1;
const FALL = 0.5;
/** The farthest the tail may lie from the peak, times the distance at which the profile has halved. */
const TAIL_SPAN = 2.5;
/** The most one side of a band may be wider than the other (to half its height). */
const LOPSIDED = 2;
/** Parts of the line's length read apart, and the least share of the strongest the weakest may read. */
const PARTS = 3;
const EVEN = 0.5;
const BUCKETS = READ_BUCKETS;
/** Least mean e·e over a distance's pixels for its r to be read (about 18 levels a channel). */
const MIN_CONTRAST = 1000;

/** Position along `line` of pixel i of a grid `w` wide. */
function along(line: { c: number; s: number }, i: number, w: number): number {
  const x = i % w;
  return -x * line.s + ((i - x) / w) * line.c;
}

/**
 * Writes into `out` (max with what is there; NaN where no streak lies) the profile of each of
 * `streaks` that is a reflection's, and returns those. The streaks were found on a grid `scale`
 * times coarser (a cell (x, y) covering pixels scale·x …); `de` / `ee` (d·e and e·e per pixel) and
 * `glass` (1 on the glass) are on this `w`×`h` grid. `reach` is the farthest distance across, in
 * pixels of this grid, the profile may run; a band higher than `maxHeight` is not a reflection.
 */
export function streakProfiles(
  streaks: readonly Streak[],
  scale: number,
  de: Float32Array,
  ee: Float32Array,
  glass: Float32Array,
  w: number,
  h: number,
  reach: number,
  out: Float32Array,
  maxHeight = Infinity,
): Streak[] {
  const kept: Streak[] = [];
  const far = Math.max(1, Math.round(reach));
  // Per third of the line's length and distance across (a cell), the reads' histogram weighted
  // by e·e (the weighted median without sorting), their total weight and count.
  const bins = 2 * far + 1;
  const hist = new Float32Array(PARTS * bins * BUCKETS);
  const weight = new Float64Array(PARTS * bins);
  const count = new Uint32Array(PARTS * bins);
  for (const k of streaks) {
    // The line on this grid: a coarse cell's centre is scale·x + (scale − 1)/2.
    const shift = (scale - 1) / 2;
    const line = { c: k.c, s: k.s, rho: k.rho * scale + shift * (k.c + k.s) };
    let uMin = Infinity,
      uMax = -Infinity;
    visitStrip(line, w, h, -0.5, 0.5, (i) => {
      if (!(glass[i]! > 0)) return;
      const u = along(line, i, w);
      uMin = Math.min(uMin, u);
      uMax = Math.max(uMax, u);
    });
    if (!(uMax > uMin)) continue;
    hist.fill(0);
    weight.fill(0);
    count.fill(0);
    visitStrip(line, w, h, -far - 0.5, far + 0.5, (i, d) => {
      if (!(glass[i]! > 0) || !(ee[i]! > 0)) return;
      const b = Math.max(-far, Math.min(far, Math.round(d))) + far;
      const part = Math.max(0, Math.min(PARTS - 1, Math.floor(((along(line, i, w) - uMin) / (uMax - uMin)) * PARTS)));
      const cell = part * bins + b;
      hist[cell * BUCKETS + readBucket(de[i]!, ee[i]!)]! += ee[i]!;
      weight[cell]! += ee[i]!;
      count[cell]!++;
    });
    // The weighted median of the reads at distance bin b over the thirds `parts`.
    const read = (b: number, parts: readonly number[]): number => {
      let total = 0,
        n = 0;
      for (const p of parts) {
        total += weight[p * bins + b]!;
        n += count[p * bins + b]!;
      }
      if (n === 0 || total / n < MIN_CONTRAST) return Number.NaN;
      return histogramMedian(
        hist,
        parts.map((p) => (p * bins + b) * BUCKETS),
        total,
      );
    };
    const all = Array.from({ length: PARTS }, (_, p) => p);
    const band = bandProfile(
      Array.from({ length: bins }, (_, b) => read(b, all)),
      Math.floor(k.lo * scale) + far,
      Math.ceil(k.hi * scale) + far,
    );
    if (!band) continue;
    // And it is as strong along the whole line: its peak read on each third alone.
    const { lo, hi, peak, height, level } = band;
    const thirds = all.map((p) => read(peak, [p]) - level[peak]!).filter((x) => !Number.isNaN(x));
    if (thirds.length === 0 || Math.min(...thirds) < EVEN * Math.max(...thirds)) continue;
    if (band.height[peak]! > maxHeight) continue;
    visitStrip(line, w, h, lo - far - 0.5, hi - far + 0.5, (i, d) => {
      if (!(glass[i]! > 0)) return;
      const v = height[Math.max(lo, Math.min(hi, Math.round(d) + far))]!;
      if (!(out[i]! >= v)) out[i] = v;
    });
    kept.push(k);
  }
  return kept;
}

/**
 * The band in a profile read across a line (`raw` per distance, NaN where unread) whose peak lies
 * in [from, to], or null where the profile is not a band's. Read over the view's lower envelope, a
 * detailed view lifts every distance a little, and not equally on both sides: each side's level is
 * its lowest read, and the band's height is taken over the line between the two levels. A band
 * stands at least half its height over each side's level (a view's plateau edge does not), falls
 * to a tenth of it within the reach on both sides, soon after it has fallen to half (tails, not a
 * shoulder), is about as wide on both sides, and is soft all across (no cliff). Indices are bins of `raw`.
 */
export function bandProfile(
  raw: readonly number[],
  from: number,
  to: number,
): { lo: number; hi: number; peak: number; height: Float64Array; level: Float64Array } | null {
  const bins = raw.length;
  let peak = -1;
  for (let b = Math.max(0, from); b <= Math.min(bins - 1, to); b++) {
    if (raw[b]! > (peak < 0 ? -Infinity : raw[peak]!)) peak = b;
  }
  if (peak < 0) return null;
  const lowest = (xs: readonly number[]) => Math.max(0, Math.min(...xs.filter((x) => !Number.isNaN(x))));
  const levelLo = lowest(raw.slice(0, peak)),
    levelHi = lowest(raw.slice(peak + 1));
  const top = raw[peak]!;
  const tallLo = top - levelLo,
    tallHi = top - levelHi;
  if (!(Math.min(tallLo, tallHi) > 0) || Math.min(tallLo, tallHi) < FALL * Math.max(tallLo, tallHi)) return null;
  // Outwards from the peak to the tails (a tenth of the height over each side's level) and to half.
  const walk = (dir: number, level: number, tall: number, share: number): number => {
    let b = peak;
    while (b + dir >= 0 && b + dir < bins && raw[b + dir]! > level + share * tall) b += dir;
    return b;
  };
  const lo = walk(-1, levelLo, tallLo, TAIL),
    hi = walk(1, levelHi, tallHi, TAIL);
  if (lo === 0 || hi === bins - 1 || Number.isNaN(raw[lo - 1]!) || Number.isNaN(raw[hi + 1]!)) return null;
  const halfLo = walk(-1, levelLo, tallLo, FALL),
    halfHi = walk(1, levelHi, tallHi, FALL);
  if (peak - lo > TAIL_SPAN * Math.max(1, peak - halfLo) || hi - peak > TAIL_SPAN * Math.max(1, halfHi - peak)) {
    return null;
  }
  // About as wide on both sides of its peak: the reflection of a light's straight edge is.
  const halfWidths = [Math.max(1, peak - halfLo), Math.max(1, halfHi - peak)];
  if (Math.max(...halfWidths) > LOPSIDED * Math.min(...halfWidths)) return null;
  const level = new Float64Array(bins),
    height = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    const t = Math.max(0, Math.min(1, (b - lo) / Math.max(1, hi - lo)));
    level[b] = levelLo + t * (levelHi - levelLo);
    height[b] = Math.max(0, raw[b]! - level[b]!);
  }
  // Soft all across, as a ridge's own profile must be; steps are read over a sixth of its width (a
  // broad band's read is noisy from one distance to the next).
  const width = halfHi - halfLo + 1;
  const step = Math.max(1, Math.round(width / 6));
  let steepest = 0;
  for (let b = lo - 1; b + step <= hi + 1; b++) {
    steepest = Math.max(steepest, Math.abs(height[b + step]! - height[b]!) / step);
  }
  if (steepest > (MAX_STEEPNESS * height[peak]!) / width) return null;
  return { lo, hi, peak, height, level };
}
