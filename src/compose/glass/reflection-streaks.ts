/**
 * Straight reflection streaks across glass: the narrow bright line a window or a tube light
 * leaves on a flat pane. Pure.
 *
 * The glass layer keeps a reflection only where it shows at a fine and at a wide scale, so that a
 * light object seen through the glass (a white strap, a lock of pale fur) is not taken for one; a
 * streak narrower than the wide scale loses most of its lift to that gate. A streak is told apart
 * by its shape: it is a ridge of the fine scale's lift (higher than on both sides of it) that runs
 * straight across the glass, present along most of the glass its line crosses — a view's light
 * parts are rarely long straight ridges, and where they cross a line they cover little of it. The
 * lines are found by voting (a Hough transform of the ridge pixels), each pixel voting for the
 * lines whose direction its ridge allows; a line's profile across must be soft, as a reflection's
 * is, not the sharp-sided one of a light object behind the glass (a strap). The same search at a
 * larger scale finds the broad bands: a window's reflection as wide as a tenth of the pane.
 */

/** Smallest fine-scale lift on a ridge. */
const MIN_LIFT = 0.04;
/**
 * Distances across (shares of the product's short side) at which a narrow streak's lift must have
 * fallen, to this share; its width is where its profile stays above that share of its middle.
 */
export const NARROW_ACROSS = [0.03, 0.06];
const FALL = 0.5;
/**
 * Steepest step of the streak's profile (its lift averaged along it, per pixel across) over its
 * middle's lift per pixel of its width: a reflection's profile is soft; a light object of the view
 * (a strap hanging behind the pane) has sharp sides of its own.
 */
export const MAX_STEEPNESS = 2.5;
/** Share of the glass along a line that its ridge must cover, and the shortest glass along it (share of the side). */
const MIN_COVER = 0.5;
const MIN_LENGTH = 0.3;
/** The most voted lines walked to measure their cover (a pane has a few streaks, not dozens). */
const MAX_PEAKS = 32;
/** Steps of direction (degrees) and the spread a ridge pixel votes over around its own direction. */
const SPREAD = 22;

/** A straight streak: the line x·c + y·s = ρ (unit normal (c, s)); its width runs from lo ≤ 0 to hi ≥ 0 across. */
export interface Streak {
  c: number;
  s: number;
  rho: number;
  lo: number;
  hi: number;
}

/**
 * Visits, row by row, the pixels of the `w`×`h` grid whose distance x·c + y·s − ρ from the streak's
 * line lies in [lo, hi], with that distance.
 */
export function visitStrip(
  line: Pick<Streak, 'c' | 's' | 'rho'>,
  w: number,
  h: number,
  lo: number,
  hi: number,
  visit: (i: number, d: number) => void,
): void {
  const { c, s, rho } = line;
  for (let y = 0; y < h; y++) {
    let xa = 0,
      xb = w - 1;
    if (Math.abs(c) > 1e-9) {
      const u = (lo + rho - y * s) / c,
        v = (hi + rho - y * s) / c;
      xa = Math.max(0, Math.ceil(Math.min(u, v)));
      xb = Math.min(w - 1, Math.floor(Math.max(u, v)));
    } else if (y * s - rho < lo || y * s - rho > hi) continue;
    for (let x = xa; x <= xb; x++) visit(y * w + x, x * c + y * s - rho);
  }
}

/** Per pixel of the `w`×`h` grid: 1 where it lies on one of `streaks` (within its own width). */
export function streakMask(streaks: readonly Streak[], w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h);
  for (const k of streaks) {
    visitStrip(k, w, h, k.lo - 0.5, k.hi + 0.5, (i) => {
      out[i] = 1;
    });
  }
  return out;
}

/**
 * The straight streaks of a lift. `lift` is a scale's lift per pixel, `glass` 1 on the glass,
 * `side` the product's short side in pixels, `across` the distances (shares of the side) within
 * which a ridge's lift must fall.
 */
export function findStreaks(
  lift: Float32Array,
  glass: Float32Array,
  w: number,
  h: number,
  side: number,
  across: readonly number[] = NARROW_ACROSS,
): Streak[] {
  const n = w * h;
  const found: Streak[] = [];
  const reach = across.map((s) => Math.max(2, Math.round(side * s)));
  const dirs: [number, number, number][] = [
    [1, 0, 0],
    [0, 1, 90],
    [1, 1, 45],
    [1, -1, 135],
  ];
  // Per distance across, the steps along each direction that cover it (a diagonal step is √2 long).
  const stepsAt = reach.map((d) => dirs.map(([dx, dy]) => Math.max(1, Math.round(d / Math.hypot(dx, dy)))));
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < w && y < h && glass[y * w + x]! > 0 ? y * w + x : -1);
  // Ridge pixels, with the direction (degrees) across their ridge.
  const ridgeX: number[] = [],
    ridgeY: number[] = [],
    ridgeA: number[] = [];
  const isRidge = new Uint8Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const l = lift[i]!;
      if (glass[i]! <= 0 || l < MIN_LIFT) continue;
      // Across the ridge: of the directions along which the pixel is a local maximum whose lift
      // falls away on both sides, the one where it falls most — over the same distance, the
      // nearest at which any does.
      let best = -1,
        bestFall = 0;
      for (const steps of stepsAt) {
        for (let k = 0; k < 4; k++) {
          const [dx, dy, angle] = dirs[k]!;
          const a = at(x - dx, y - dy),
            b = at(x + dx, y + dy);
          if (a < 0 || b < 0 || lift[a]! > l || lift[b]! > l) continue;
          const m = steps[k]!;
          const p = at(x - dx * m, y - dy * m),
            q = at(x + dx * m, y + dy * m);
          if (p < 0 || q < 0) continue;
          const far = Math.max(lift[p]!, lift[q]!);
          if (far < FALL * l && l - far > bestFall) [best, bestFall] = [angle, l - far];
        }
        if (best >= 0) break;
      }
      if (best < 0) continue;
      ridgeX.push(x);
      ridgeY.push(y);
      ridgeA.push(best);
      isRidge[i] = 1;
    }
  }
  if (ridgeX.length === 0) return found;
  // Votes per (direction across, offset) with the line x·cos φ + y·sin φ = ρ.
  const diag = Math.ceil(Math.hypot(w, h));
  const cos = new Float64Array(180),
    sin = new Float64Array(180);
  for (let t = 0; t < 180; t++) [cos[t], sin[t]] = [Math.cos((t * Math.PI) / 180), Math.sin((t * Math.PI) / 180)];
  const votes = new Uint32Array(180 * (2 * diag + 1));
  for (let k = 0; k < ridgeX.length; k++) {
    for (let s = -SPREAD; s <= SPREAD; s++) {
      const t = (((ridgeA[k]! + s) % 180) + 180) % 180;
      const rho = Math.round(ridgeX[k]! * cos[t]! + ridgeY[k]! * sin[t]!);
      votes[t * (2 * diag + 1) + rho + diag]!++;
    }
  }
  const minLength = side * MIN_LENGTH;
  // The local maxima of the votes, most voted first; only the first few are walked.
  const peaks: [number, number, number][] = [];
  for (let t = 0; t < 180; t++) {
    for (let r = 0; r <= 2 * diag; r++) {
      const v = votes[t * (2 * diag + 1) + r]!;
      if (v < minLength * MIN_COVER) continue;
      let peak = true;
      for (let dt = -2; dt <= 2 && peak; dt++) {
        for (let dr = -2; dr <= 2; dr++) {
          if (!dt && !dr) continue;
          const tt = (t + dt + 180) % 180,
            rr = r + dr;
          if (rr < 0 || rr > 2 * diag) continue;
          if (votes[tt * (2 * diag + 1) + rr]! > v) {
            peak = false;
            break;
          }
        }
      }
      if (peak) peaks.push([v, t, r - diag]);
    }
  }
  peaks.sort((a, b) => b[0] - a[0]);
  const lines: [number, number][] = [];
  for (const [, t, rho] of peaks.slice(0, MAX_PEAKS)) {
    // The glass along the line, and how much of it the ridge covers (within a pixel).
    let glassLen = 0,
      covered = 0;
    for (let u = -diag; u <= diag; u++) {
      const x = Math.round(rho * cos[t]! - u * sin[t]!),
        y = Math.round(rho * sin[t]! + u * cos[t]!);
      if (at(x, y) < 0) continue;
      glassLen++;
      let near = false;
      for (let e = -1; e <= 1 && !near; e++) {
        const p = at(Math.round(x + e * cos[t]!), Math.round(y + e * sin[t]!));
        if (p >= 0 && isRidge[p]) near = true;
      }
      if (near) covered++;
    }
    if (glassLen >= minLength && covered >= MIN_COVER * glassLen) lines.push([t, rho]);
  }
  // Each streak's own width: where its lift, averaged along it, falls below FALL of its middle's.
  const far = Math.max(...reach);
  for (const [t, rho] of lines) {
    const c = cos[t]!,
      s = sin[t]!;
    const sum = new Float64Array(2 * far + 1),
      count = new Float64Array(2 * far + 1);
    visitStrip({ c, s, rho }, w, h, -far - 0.5, far + 0.5, (i, d) => {
      if (glass[i]! <= 0) return;
      const k = Math.max(-far, Math.min(far, Math.round(d))) + far;
      sum[k]! += lift[i]!;
      count[k]!++;
    });
    const mean = (d: number) => (count[d + far]! > 0 ? sum[d + far]! / count[d + far]! : 0);
    const middle = mean(0);
    let lo = 0,
      hi = 0;
    while (lo < far && mean(-lo - 1) >= FALL * middle) lo++;
    while (hi < far && mean(hi + 1) >= FALL * middle) hi++;
    let steepest = 0;
    for (let d = -Math.min(far, lo + 3); d < Math.min(far, hi + 3); d++) {
      steepest = Math.max(steepest, Math.abs(mean(d + 1) - mean(d)));
    }
    if (steepest > (MAX_STEEPNESS * middle) / (lo + hi + 1)) continue;
    found.push({ c, s, rho, lo: -lo, hi });
  }
  return found;
}

/** Steps of direction (degrees) of the line sums, and how many of the most prominent lines are kept. */
const SUM_STEP = 2;
const MAX_SUMMED = 8;
/** Directions (degrees) within which two summed lines as near as a band's width are one. */
const NEAR_TURN = 10;

/**
 * Candidate broad bands of a lift, by its means along straight lines (a Radon transform): a band
 * over a detailed view is a broken ridge, but its lift averaged along its line still stands out
 * from the lines beside it, where the view's own lifts average away. Per direction, a line whose
 * mean lift is a local maximum and has fallen below half of it within `across` (shares of `side`)
 * on both sides, over at least MIN_LENGTH of glass; the most prominent first. These are
 * candidates only: a band's profile read along it must confirm it (streak-profiles.ts).
 */
export function summedBands(
  lift: Float32Array,
  glass: Float32Array,
  w: number,
  h: number,
  side: number,
  across: readonly number[],
): Streak[] {
  const far = Math.max(2, Math.round(side * Math.max(...across)));
  const near = Math.max(1, Math.round(side * Math.min(...across)));
  const minLength = side * MIN_LENGTH;
  const diag = Math.ceil(Math.hypot(w, h));
  const bins = 2 * diag + 1;
  const sum = new Float64Array(bins),
    count = new Float64Array(bins);
  const found: [number, Streak][] = [];
  // The glass's pixels, listed once: x, y and lift.
  let total = 0;
  for (let i = 0; i < w * h; i++) if (glass[i]! > 0) total++;
  const px = new Float32Array(total),
    py = new Float32Array(total),
    pl = new Float32Array(total);
  for (let i = 0, k = 0; i < w * h; i++) {
    if (glass[i]! <= 0) continue;
    px[k] = i % w;
    py[k] = (i / w) | 0;
    pl[k] = lift[i]!;
    k++;
  }
  for (let t = 0; t < 180; t += SUM_STEP) {
    const c = Math.cos((t * Math.PI) / 180),
      s = Math.sin((t * Math.PI) / 180);
    sum.fill(0);
    count.fill(0);
    for (let k = 0; k < px.length; k++) {
      const b = Math.floor(px[k]! * c + py[k]! * s + diag + 0.5);
      sum[b]! += pl[k]!;
      count[b]!++;
    }
    const mean = (b: number) => (b >= 0 && b < bins && count[b]! >= minLength ? sum[b]! / count[b]! : Number.NaN);
    for (let b = 0; b < bins; b++) {
      const m = mean(b);
      if (!(m >= MIN_LIFT)) continue;
      if (!(m >= mean(b - 1)) || !(m > mean(b + 1))) continue;
      // Fallen below half on both sides within the reach, having stayed above it over a width.
      let lo = 0,
        hi = 0;
      while (lo < far && mean(b - lo - 1) >= FALL * m) lo++;
      while (hi < far && mean(b + hi + 1) >= FALL * m) hi++;
      if (lo >= far || hi >= far || Number.isNaN(mean(b - lo - 1)) || Number.isNaN(mean(b + hi + 1))) continue;
      if (lo + hi + 1 < near) continue;
      const prominence = m - Math.max(mean(b - lo - 1), mean(b + hi + 1));
      found.push([prominence * count[b]!, { c, s, rho: b - diag, lo: -lo, hi }]);
    }
  }
  // The most prominent first, each leaving out the lines near it (in direction and offset).
  found.sort((a, b) => b[0] - a[0]);
  const kept: Streak[] = [];
  for (const [, k] of found) {
    if (kept.length >= MAX_SUMMED) break;
    const close = kept.some((q) => {
      const turn = Math.abs(q.c * k.c + q.s * k.s);
      return (
        turn > Math.cos((NEAR_TURN * Math.PI) / 180) && Math.abs(q.rho - k.rho) <= Math.max(q.hi - q.lo, k.hi - k.lo)
      );
    });
    if (!close) kept.push(k);
  }
  return kept;
}
