/**
 * The matte of glass pixels: C = α·F + (1−α)·B with the background B unknown. Pure.
 *
 * Each pane (a connected glass region) is solved on its own:
 *   α₀       1 − transmission, at most what the pane's darkest light allows: where the view behind
 *            is near black, C is the glass's own light α₀·tint, so a low quantile of C bounds α₀.
 *            Where the view goes on beyond the frames, the panes' light near their frames against
 *            the view's just beyond reads the transmission (transmission-beyond-frame.ts), which
 *            moves α₀ by at most MAX_SHIFT
 *   base     the pane's light without reflections: a reflection only adds light, so the base is
 *            the lower envelope of the pane's colours (a morphological opening, per channel and per
 *            scale, wider than a reflection band), i.e. (1−α₀)·B + α₀·tint; a mean would be raised
 *            by the band it should leave out
 *   r        the reflection: the pane's smoothed colour beyond the base, towards the reflected light
 *            (near white), least squares over the three channels; kept only where that move
 *            explains the colour change (its direction is that of the light) at two scales, so a
 *            brighter object of another hue seen through the glass is not taken for a reflection;
 *            a straight streak across the glass at the fine scale alone, and a broad straight band
 *            over a base as wide as itself (reflection-streaks.ts); on a streak or band whose
 *            profile, read along its whole length, is a reflection's, that profile (streak-profiles.ts:
 *            over a pale view, nearly as light as the reflection, no pixel can be read on its own);
 *            elsewhere on flat panes, the bands parallel to those found, read along every line in
 *            their direction at once, and on a glass body its thick base, read along its rows
 *            (parallel-reflections.ts)
 *   α        α₀ + r
 *   F        (α₀·tint + r·light) / α — the glass's own tint and its reflections, never the old
 *            background seen through it
 *   rim      on a glass body whose silhouette is the outline (a jar), α rises towards the
 *            silhouette as Fresnel's law says, with the surroundings' light (glassware-rims.ts)
 * The transmission and tint a user gives are used as they are (no bound).
 */
import { boxMean } from '../guided-filter.js';
import { CLASS_BACKGROUND, CLASS_GLASS } from './region-classes.js';
import { maskedOpening } from './morphology.js';
import { boundsWhere, components } from './pixel-ops.js';
import { glasswareRims, rimLight } from './glassware-rims.js';
import { findStreaks, streakMask, summedBands, NARROW_ACROSS, type Streak } from './reflection-streaks.js';
import { streakProfiles } from './streak-profiles.js';
import { parallelReflection, sharedDirection } from './parallel-reflections.js';
import { transmissionBeyondFrame } from './transmission-beyond-frame.js';

export interface GlassLook {
  /** Share of light the glass lets through, 0..1 (default 0.9). */
  transmission: number;
  /** The glass's own colour (default a light cyan-green). */
  tint: [number, number, number];
  /** True when the transmission is the user's: it is then not bounded by the pane's darkest light. */
  given?: boolean;
}

export const DEFAULT_TRANSMISSION = 0.9;
export const DEFAULT_TINT: [number, number, number] = [190, 210, 208];
/** The light a pane reflects (a bright sky or studio light). */
export const REFLECTED: readonly [number, number, number] = [240, 243, 246];
/** Radii as shares of the product's short side: colour smoothing, and the reflection-free base. */
const SMOOTH = 0.01;
const BASE = 0.03;
/**
 * The base under a broad band (radius, share of the product's short side), and the distances
 * within which such a band's lift must fall on both sides (reflection-streaks.ts).
 */
const BROAD = 0.12;
const BROAD_ACROSS = [0.1, 0.2];
/**
 * Least e·e at which a reflection is read to search for streaks (about 26 levels a channel): a
 * streak over a pale view is found by its shape and measured along its length (streak-profiles.ts).
 */
const SEEN_CONTRAST = 2000;
/**
 * The most a broad band reflects: the image of a window or the sky on a flat pane, whose share is
 * glass's reflectance (Fresnel, both faces: under 0.2 up to 60° from square, 0.4 near 75°); a
 * brighter straight band is a light part of the view. A narrow streak, the image of a lamp, may
 * clip to white and is not bounded.
 */
const MAX_BAND_ALPHA = 0.4;
/** How far across a streak's profile may run, times the distance within which its ridge falls. */
const PROFILE_REACH = 1.5;
/** The second, wider scale a reflection must show at (times SMOOTH). */
const WIDE = 4;
/** Cosine between the colour change and the move towards the light above which it counts fully. */
const MIN_COSINE = 0.95;
/** Below this squared distance between B̂ and the reflected light a reflection cannot be told apart. */
export const MIN_CONTRAST = 20000;
/**
 * The most the view beyond the frames moves α₀ from the look's (clear glass passes 0.8–0.95 of the
 * light; the read is noisy, and a view that does not go on beyond the frame can mislead it).
 */
const MAX_SHIFT = 0.05;
/** A reflection under this α leaves a pixel's light the view's, for the transmission read. */
const NO_REFLECTION = 0.01;
/**
 * A reflection read along the shared direction above this leaves the pixel out of the transmission
 * read (its faint tails do not: they would leave too little of a pane near its frames).
 */
const PARALLEL_SEEN = 0.03;
/** The quantile of a pane's smoothed colours taken as its darkest light. */
const DARK_QUANTILE = 0.005;

/** Normalised local means of the three `planes` over the pixels `weight` marks (0/1), radius r. */
function maskedMeans(
  planes: Float32Array[],
  weight: Float32Array,
  width: number,
  height: number,
  r: number,
): Float32Array[] {
  const n = width * height;
  const norm = boxMean(weight, width, height, r);
  const num = new Float32Array(n);
  return planes.map((plane) => {
    for (let i = 0; i < n; i++) num[i] = plane[i]! * weight[i]!;
    const a = boxMean(num, width, height, r);
    for (let i = 0; i < n; i++) a[i] = norm[i]! > 1e-4 ? a[i]! / norm[i]! : plane[i]!;
    return a;
  });
}

/**
 * Per pixel: the most α₀ its pane's darkest light allows (at most 0.95, at least 0.02; 0.95
 * throughout where the look's transmission is the user's, which is not bounded).
 */
function darkestLightBound(
  smooth: Float32Array[],
  panes: { labels: Int32Array; count: number; sizes: number[] },
  look: GlassLook,
): Float32Array {
  const { labels, count, sizes } = panes;
  const n = labels.length;
  const out = new Float32Array(n).fill(0.95);
  if (look.given) return out;
  // Per pane and channel, a histogram of the smoothed levels: the quantile without sorting.
  const hist = new Uint32Array((count + 1) * 3 * 256);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (!c) continue;
    for (let k = 0; k < 3; k++) hist[(c * 3 + k) * 256 + Math.min(255, Math.max(0, Math.round(smooth[k]![i]!)))]!++;
  }
  const bound = new Float32Array(count + 1);
  for (let c = 1; c <= count; c++) {
    let a = 0.95;
    for (let k = 0; k < 3; k++) {
      const h = (c * 3 + k) * 256;
      const target = DARK_QUANTILE * sizes[c]!;
      let level = 0;
      for (let seen = hist[h]!; seen <= target && level < 255; seen += hist[h + ++level]!);
      a = Math.min(a, level / look.tint[k]!);
    }
    bound[c] = Math.max(0.02, a);
  }
  for (let i = 0; i < n; i++) if (labels[i]) out[i] = bound[labels[i]!]!;
  return out;
}

/**
 * Per pane: 1 where it is held by a frame, no pixel of it next to the background (`at` maps the
 * panes' pixels to the photo's). Near its frame a pane shows the view, dimmed; a glass body's
 * outline is its rim, brighter as Fresnel says.
 */
function framedPanes(
  panes: { labels: Int32Array; count: number },
  classes: Uint8Array,
  width: number,
  height: number,
  at: (i: number) => number,
): Uint8Array {
  const framed = new Uint8Array(panes.count + 1).fill(1);
  for (let i = 0; i < panes.labels.length; i++) {
    const c = panes.labels[i]!;
    if (!c || !framed[c]) continue;
    const j = at(i);
    const x = j % width;
    if (
      (x > 0 && classes[j - 1] === CLASS_BACKGROUND) ||
      (x < width - 1 && classes[j + 1] === CLASS_BACKGROUND) ||
      (j >= width && classes[j - width] === CLASS_BACKGROUND) ||
      (j + width < width * height && classes[j + width] === CLASS_BACKGROUND)
    ) {
      framed[c] = 0;
    }
  }
  return framed;
}

/**
 * `planes` box-averaged 2×2 over the pixels `weight` marks, at ceil(w/2)×ceil(h/2): the weight is 1
 * where a cell holds any marked pixel, and `first` is that cell's first marked pixel.
 */
function halve(planes: Float32Array[], weight: Float32Array, w: number, h: number) {
  const hw = Math.ceil(w / 2),
    hh = Math.ceil(h / 2);
  const sum = new Float32Array(hw * hh);
  const first = new Int32Array(hw * hh).fill(-1);
  const out = planes.map(() => new Float32Array(hw * hh));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (weight[i]! <= 0) continue;
      const k = (y >> 1) * hw + (x >> 1);
      sum[k]! += 1;
      if (first[k]! < 0) first[k] = i;
      for (let c = 0; c < planes.length; c++) out[c]![k]! += planes[c]![i]!;
    }
  }
  const halfWeight = new Float32Array(hw * hh);
  for (let k = 0; k < hw * hh; k++) {
    if (sum[k]! === 0) continue;
    halfWeight[k] = 1;
    for (const p of out) p[k]! /= sum[k]!;
  }
  return { planes: out, weight: halfWeight, first, w: hw, h: hh };
}

/** A line found on a grid twice as coarse, on this one (a coarse cell (x, y) covers 2x … 2x + 1). */
function twiceFiner(k: Streak): Streak {
  return { ...k, rho: k.rho * 2 + (k.c + k.s) / 2, lo: k.lo * 2, hi: k.hi * 2 };
}

/**
 * Writes α and F of the glass pixels (`classes` = 2) into `alpha` / `fg` (F un-premultiplied RGB).
 * `side` is the product's short side in pixels (sets the scales). `lift`, where given and not NaN,
 * is a highlight's share of reflected light over the glass beside it (glass-highlights.ts): there
 * C = (1−t)·G + t·light, so α = α₀ + t·(1 − α₀) and the layer's own reflection is not sought.
 */
export function glassLayer(
  rgb: Uint8Array,
  width: number,
  height: number,
  classes: Uint8Array,
  side: number,
  look: GlassLook,
  alpha: Uint8Array,
  fg: Uint8Array,
  lift?: Float32Array,
): void {
  // Work on the glass's bounding box only: the rest of the photo plays no part.
  const bounds = boundsWhere(width, height, (i) => classes[i] === CLASS_GLASS);
  if (!bounds) return;
  const { x0, y0, x1, y1 } = bounds;
  const w = x1 - x0 + 1,
    h = y1 - y0 + 1;
  const n = w * h;
  const at = (i: number) => (y0 + ((i / w) | 0)) * width + x0 + (i % w);
  const cls = new Uint8Array(n);
  const planes = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const weight = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const j = at(i);
    cls[i] = classes[j]!;
    weight[i] = cls[i] === CLASS_GLASS ? 1 : 0;
    for (let c = 0; c < 3; c++) planes[c]![i] = rgb[j * 3 + c]!;
  }
  const rho = Math.max(1, Math.round(side * SMOOTH));
  const fine = maskedMeans(planes, weight, w, h, rho);
  const wide = maskedMeans(planes, weight, w, h, rho * WIDE);
  const baseRadius = Math.max(2, Math.round(side * BASE));
  const baseFine = fine.map((p) => maskedOpening(p, weight, w, h, baseRadius));
  const baseWide = wide.map((p) => maskedOpening(p, weight, w, h, baseRadius));
  const a0 = Math.min(0.95, Math.max(0.02, 1 - look.transmission));
  // α₀ per pixel: the look's, at most what its pane's darkest light allows.
  const panes = components(undefined, w, h, (i) => cls[i] === CLASS_GLASS);
  const darkBound = darkestLightBound(fine, panes, look);
  const paneA = darkBound.map((b) => Math.min(a0, b));
  const tint = look.tint;
  // The colour change at pixel i seen in `src` over its `base` (at pixel k of it), d, against the
  // move from the view it implies towards the reflected light, e: d·e, e·e and d·d.
  const move = new Float64Array(3);
  const towardsLight = (src: Float32Array[], base: Float32Array[], i: number, a: number, k = i): Float64Array => {
    move.fill(0);
    for (let c = 0; c < 3; c++) {
      const m = base[c]![k]!;
      const b = (m - a * tint[c]!) / (1 - a);
      const d = src[c]![i]! - m;
      const e = REFLECTED[c]! - b;
      move[0]! += d * e;
      move[1]! += e * e;
      move[2]! += d * d;
    }
    return move;
  };
  // The reflection: d over e, gated by how well the move towards the light explains it; where e·e
  // is below `floor` a reflection cannot be told apart and none is read.
  const reflection = (src: Float32Array[], base: Float32Array[], i: number, a: number, k = i, floor = MIN_CONTRAST) => {
    const m = towardsLight(src, base, i, a, k);
    const de = m[0]!,
      ee = m[1]!,
      dd = m[2]!;
    if (ee <= floor || de <= 0) return 0;
    const cosine = de / Math.sqrt(dd * ee);
    return (de / ee) * Math.min(1, Math.max(0, (cosine - MIN_COSINE) / (1 - MIN_COSINE)));
  };
  // The fine scale's reflection read over a paler view, to search for streaks; and as the pixel's
  // own, where e·e (left in `move` by the read) clears the usual floor.
  const fineLift = new Float32Array(n);
  const fineSeen = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (cls[i] !== CLASS_GLASS) continue;
    fineSeen[i] = reflection(fine, baseFine, i, paneA[i]!, i, SEEN_CONTRAST);
    fineLift[i] = move[1]! > MIN_CONTRAST ? fineSeen[i]! : 0;
  }
  // Streaks and bands are searched for on a copy of half the size (their lifts are smooth).
  const half = halve([...fine, fineSeen], weight, w, h);
  const halfAt = (i: number) => {
    const x = i % w;
    return (((i - x) / w) >> 1) * half.w + (x >> 1);
  };
  const streaks = findStreaks(half.planes[3]!, half.weight, half.w, half.h, side / 2);
  const broadBase = half.planes.map((p) =>
    maskedOpening(p, half.weight, half.w, half.h, Math.max(2, Math.round((side * BROAD) / 2))),
  );
  const halfLift = new Float32Array(half.w * half.h);
  for (let k = 0; k < halfLift.length; k++) {
    if (half.weight[k]! > 0) {
      halfLift[k] = reflection(half.planes, broadBase, k, paneA[half.first[k]!]!, k, SEEN_CONTRAST);
    }
  }
  const bands = findStreaks(halfLift, half.weight, half.w, half.h, side / 2, BROAD_ACROSS);
  // Broad band candidates from the lift's means along lines, on a copy of a quarter the size.
  const quarter = halve([halfLift], half.weight, half.w, half.h);
  const summed = summedBands(quarter.planes[0]!, quarter.weight, quarter.w, quarter.h, side / 4, BROAD_ACROSS);
  // Each streak's and band's strength across it, read along its whole length.
  const onLine = new Float32Array(n).fill(Number.NaN);
  const de = new Float32Array(n),
    ee = new Float32Array(n);
  // d·e and e·e per pixel over a base, for the profiles; then the streaks' over the fine base and
  // the bands' over the broad one (those found on the quarter-size copy brought to the half-size).
  let readsBase: 'fine' | 'broad' | undefined;
  const readsOver = (which: 'fine' | 'broad') => {
    if (readsBase === which) return;
    readsBase = which;
    const base = (i: number): [Float32Array[], number] => (which === 'fine' ? [baseFine, i] : [broadBase, halfAt(i)]);
    for (let i = 0; i < n; i++) {
      if (!weight[i]) continue;
      const [b, k] = base(i);
      const m = towardsLight(fine, b, i, paneA[i]!, k);
      de[i] = m[0]!;
      ee[i] = m[1]!;
    }
  };
  const profiles = (found: Streak[], scale: number, across: number, maxHeight?: number) =>
    streakProfiles(found, scale, de, ee, weight, w, h, side * across * PROFILE_REACH, onLine, maxHeight);
  let keptStreaks: Streak[] = [],
    keptBands: Streak[] = [];
  if (streaks.length > 0) {
    readsOver('fine');
    keptStreaks = profiles(streaks, 2, NARROW_ACROSS[1]!);
  }
  if (bands.length + summed.length > 0) {
    readsOver('broad');
    keptBands = [
      ...profiles(bands, 2, BROAD_ACROSS[1]!, MAX_BAND_ALPHA),
      ...profiles(summed, 4, BROAD_ACROSS[1]!, MAX_BAND_ALPHA).map(twiceFiner),
    ];
  }
  // Along the found lines' direction over the whole glass: bands cut short by a corner, or broken.
  // Flat panes only (held by a frame): a glass body is curved, its highlights follow its shape.
  const framed = framedPanes(panes, classes, width, height, at);
  const direction = sharedDirection([...keptStreaks, ...keptBands]);
  let parallel: Float32Array | undefined;
  if (direction) {
    readsOver('broad');
    const flat = weight.map((v, i) => (v > 0 && framed[panes.labels[i]!] ? 1 : 0));
    // The kept lines on this grid (found on the half-size copy), whose own profiles were read.
    const taken = [...keptStreaks, ...keptBands].map(twiceFiner);
    parallel = parallelReflection(direction, de, ee, flat, w, h, side, side * BROAD, MAX_BAND_ALPHA, { taken });
  }
  // A glass body's thick base: rows above its bottom outline, lifted alike across the body.
  const bodies = weight.map((v, i) => (v > 0 && !framed[panes.labels[i]!] ? 1 : 0));
  if (bodies.some((v) => v > 0)) {
    readsOver('broad');
    const base = parallelReflection({ c: 0, s: 1 }, de, ee, bodies, w, h, side, side * BROAD, MAX_BAND_ALPHA, {
      lastOnly: true,
    });
    parallel ??= new Float32Array(n);
    for (let i = 0; i < n; i++) if (bodies[i]) parallel[i] = base[i]!;
  }
  const halfStreak = streakMask(keptStreaks, half.w, half.h);
  const halfBand = streakMask(keptBands, half.w, half.h);
  // A highlight's share of the reflected light at photo pixel j, where glass-highlights.ts measured one.
  const highlight = (j: number): number | undefined => {
    const t = lift?.[j];
    return t === undefined || Number.isNaN(t) ? undefined : t;
  };
  // Each glass pixel's reflection.
  const reflected = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (cls[i] !== CLASS_GLASS) continue;
    const a = paneA[i]!;
    const t = highlight(at(i));
    if (t !== undefined) reflected[i] = t * (1 - a);
    else {
      // At two scales, or at the fine one alone on a streak; at least the broad band's where one lies.
      const k = halfAt(i);
      const seen = Math.min(fineLift[i]!, halfStreak[k] ? 1 : reflection(wide, baseWide, i, a));
      const broad = halfBand[k] ? reflection(fine, broadBase, i, a, k) : 0;
      const line = onLine[i]!;
      reflected[i] = Math.max(0, Math.min(0.9 - a, Number.isNaN(line) ? Math.max(broad, seen) : line));
    }
  }
  // α₀ from the view beyond the frames, read where no reflection was found on framed panes; it
  // moves the look's α₀ by at most MAX_SHIFT, and stays under each pane's darkest light.
  const read = look.given
    ? undefined
    : transmissionBeyondFrame(
        rgb,
        width,
        height,
        classes,
        bounds,
        side,
        tint,
        (j) => {
          const i = (((j / width) | 0) - y0) * w + (j % width) - x0;
          return reflected[i]! > NO_REFLECTION || (parallel?.[i] ?? 0) > PARALLEL_SEEN || !framed[panes.labels[i]!];
        },
        1 - a0,
      );
  const seenA = read ? Math.min(a0 + MAX_SHIFT, Math.max(a0 - MAX_SHIFT, 1 - read.transmission)) : a0;
  // The glass's own α and light (premultiplied) per pixel of the photo: tint and reflections.
  const own = new Float32Array(width * height);
  const light = new Float32Array(width * height * 3);
  for (let i = 0; i < n; i++) {
    if (cls[i] !== CLASS_GLASS) continue;
    const a = Math.max(0.02, Math.min(seenA, darkBound[i]!));
    const j = at(i);
    // A highlight's share of the light is over the glass's own α₀.
    const t = highlight(j);
    // Off the streaks and bands read along their own line, the reflection read along the shared direction.
    const along = parallel && t === undefined && Number.isNaN(onLine[i]!) ? parallel[i]! : 0;
    const refl = t !== undefined ? t * (1 - a) : Math.min(0.9 - a, Math.max(reflected[i]!, along));
    own[j] = a + refl;
    for (let c = 0; c < 3; c++) light[j * 3 + c] = a * tint[c]! + refl * REFLECTED[c]!;
  }
  // A glass body's rim (glassware-rims.ts) adds the surroundings' light over what is left.
  const rims = glasswareRims(classes, rgb, width, height);
  const rimColour = rimLight(rims, rgb, width, height, own, light);
  for (let i = 0; i < n; i++) {
    if (cls[i] !== CLASS_GLASS) continue;
    const j = at(i);
    const rim = rims.share[j]! * (1 - own[j]!);
    const total = own[j]! + rim;
    alpha[j] = Math.round(total * 255);
    for (let c = 0; c < 3; c++) {
      fg[j * 3 + c] = Math.min(255, Math.round((light[j * 3 + c]! + rim * rimColour[j * 3 + c]!) / total));
    }
  }
}
