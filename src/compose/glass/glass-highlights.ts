/**
 * Highlights on glass that were judged opaque: the bright stripe down a jar, its thick base, a
 * reflection line across a pane. Pure.
 *
 * A highlight is the glass beside it brightened towards the reflected light, C = (1−t)·G + t·L,
 * where G is what the glass shows next to it. The view behind keeps showing through at (1−t): as G
 * changes along the highlight (the view's texture, its colours), C changes with it. An opaque part
 * next to glass — a mullion, a handle, an object behind the pane, a lid — has colours of its own
 * that do not follow the glass beside it.
 *
 * The opaque pixels are walked in runs along rows and columns. A run with glass at both ends is a
 * bridge (a stripe across the glass, or a mullion), G interpolated between the ends; a run with glass
 * at one end and the background at the other is a fringe on the product's outline (a jar's base, or
 * its lid), G the glass at its end. Runs longer than a share of the product are neither. Pixels of
 * one kind (bridges across rows, across columns, fringes by the side their glass is on) are joined
 * into parts. A part whose mean move from the glass beside it points towards the light becomes
 * glass when its colours follow those of that glass (slope and correlation) once the component
 * along that move, which t absorbs, is taken out — where that glass varies enough to tell. Over an
 * even view (a plain sky through the panes) nothing can be told, and the part stays opaque.
 */
import { REFLECTED as LIGHT, MIN_CONTRAST } from './glass-layer.js';
import { components } from './pixel-ops.js';
import { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE } from './region-classes.js';

/** Longest run judged, as a share of the product's short side. */
const MAX_RUN = 0.25;
/** Shortest fringe run (shorter ones are the outline's anti-aliased rim). */
const MIN_FRINGE = 3;
/** Spread (levels, standard deviation per direction) the glass beside must show. */
const MIN_TEXTURE = 2;
/** Slope of the part's colours on the glass's, and their correlation. */
const MIN_SLOPE = 0.15;
const MAX_SLOPE = 1.3;
const MIN_CORRELATION = 0.6;
/** Mean move towards the light: a highlight brightens, and lets the view through. */
const MIN_LIFT = 0.02;
const MAX_LIFT = 0.6;
/** Largest lift written for a pixel. */
const MAX_PIXEL_LIFT = 0.9;
/** Cosine between the mean move and the move towards the light. */
const MIN_LIGHT_COSINE = 0.8;
/** Pixels skipped past the run's end (an anti-aliased edge), then averaged beyond it. */
const SKIP = 1;
const SPAN = 3;
/** Sums kept per part: pixels, Σg, ΣC, Σg·gᵀ, Σg·Cᵀ, ΣC·Cᵀ. */
const STRIDE = 34;

interface Runs {
  /** Per pixel: 0 none, 1 bridge, 2 fringe with the glass before it (left / above), 3 after it. */
  kind: Uint8Array;
  /** Per pixel: G (RGB), and the length of its run. */
  g: Float32Array;
  run: Float32Array;
}

/**
 * Rewrites `classes` (per pixel: 0 background, 1 opaque, 2 glass) in place: the opaque parts that
 * are highlights on the glass beside them become glass, and `lift` (if given) gets their t per pixel (0..0.9;
 * other pixels are left as they are). `side` is the product's short side, `minSize` the smallest
 * part judged.
 */
export function glassHighlights(
  classes: Uint8Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  side: number,
  minSize: number,
  lift?: Float32Array,
): void {
  const n = width * height;
  const maxRun = Math.max(4, Math.round(side * MAX_RUN));
  const rows = walkRuns(classes, rgb, width, height, true, maxRun);
  const cols = walkRuns(classes, rgb, width, height, false, maxRun);
  // One kind per pixel, from the shorter of its two runs: a stripe is crossed along its width.
  const kind = new Float32Array(n);
  const g = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const r = rows.kind[i] ? rows.run[i]! : Number.POSITIVE_INFINITY;
    const c = cols.kind[i] ? cols.run[i]! : Number.POSITIVE_INFINITY;
    if (r === Number.POSITIVE_INFINITY && c === Number.POSITIVE_INFINITY) continue;
    const [from, offset] = r <= c ? [rows, 0] : [cols, 3];
    kind[i] = from.kind[i]! + offset;
    for (let ch = 0; ch < 3; ch++) g[i * 3 + ch] = from.g[i * 3 + ch]!;
  }
  const parts = components([kind, kind, kind], width, height, (i) => kind[i]! !== 0, 0);
  const stats = new Float64Array((parts.count + 1) * STRIDE);
  for (let i = 0; i < n; i++) {
    const c = parts.labels[i]!;
    if (c === 0 || parts.sizes[c]! < minSize) continue;
    const s = c * STRIDE;
    stats[s]!++;
    for (let a = 0; a < 3; a++) {
      const ga = g[i * 3 + a]!;
      const ca = rgb[i * 3 + a]!;
      stats[s + 1 + a]! += ga;
      stats[s + 4 + a]! += ca;
      for (let b = 0; b < 3; b++) {
        stats[s + 7 + a * 3 + b]! += ga * g[i * 3 + b]!;
        stats[s + 16 + a * 3 + b]! += ga * rgb[i * 3 + b]!;
        stats[s + 25 + a * 3 + b]! += ca * rgb[i * 3 + b]!;
      }
    }
  }
  const flip = new Uint8Array(parts.count + 1);
  for (let c = 1; c <= parts.count; c++) {
    if (parts.sizes[c]! >= minSize && followsGlass(stats.subarray(c * STRIDE, (c + 1) * STRIDE))) flip[c] = 1;
  }
  for (let i = 0; i < n; i++) {
    if (!flip[parts.labels[i]!]) continue;
    classes[i] = CLASS_GLASS;
    if (!lift) continue;
    let num = 0,
      den = 0;
    for (let ch = 0; ch < 3; ch++) {
      const e = LIGHT[ch]! - g[i * 3 + ch]!;
      num += (rgb[i * 3 + ch]! - g[i * 3 + ch]!) * e;
      den += e * e;
    }
    lift[i] = den > 0 ? Math.min(MAX_PIXEL_LIFT, Math.max(0, num / den)) : 0;
  }
}

/** The opaque runs along rows (or columns), with the glass at their ends. */
function walkRuns(
  classes: Uint8Array,
  rgb: Uint8Array,
  width: number,
  height: number,
  alongRows: boolean,
  maxRun: number,
): Runs {
  const n = width * height;
  const out: Runs = { kind: new Uint8Array(n), g: new Float32Array(n * 3), run: new Float32Array(n) };
  const lines = alongRows ? height : width;
  const len = alongRows ? width : height;
  const at = (line: number, p: number) => (alongRows ? line * width + p : p * width + line);
  // What lies beyond the run from `start` going `dir`: the glass's mean colour, 'background', or undefined.
  const beyond = (line: number, start: number, dir: number): number[] | 'background' | undefined => {
    if (start < 0 || start >= len || classes[at(line, start)] === CLASS_BACKGROUND) return 'background';
    const m = [0, 0, 0];
    let k = 0;
    for (let q = 0; q < SKIP + SPAN; q++) {
      const p = start + dir * q;
      if (p < 0 || p >= len) break;
      const i = at(line, p);
      if (classes[i] !== CLASS_GLASS) break;
      if (q < SKIP) continue;
      for (let ch = 0; ch < 3; ch++) m[ch]! += rgb[i * 3 + ch]!;
      k++;
    }
    return k ? m.map((v) => v / k) : undefined;
  };
  for (let line = 0; line < lines; line++) {
    let p = 0;
    while (p < len) {
      if (classes[at(line, p)] !== CLASS_OPAQUE) {
        p++;
        continue;
      }
      let q = p;
      while (q + 1 < len && classes[at(line, q + 1)] === CLASS_OPAQUE) q++;
      const run = q - p + 1;
      if (run <= maxRun) {
        const before = beyond(line, p - 1, -1);
        const after = beyond(line, q + 1, 1);
        const glassBefore = Array.isArray(before),
          glassAfter = Array.isArray(after);
        for (let r = p; r <= q; r++) {
          const i = at(line, r);
          out.run[i] = run;
          if (glassBefore && glassAfter) {
            const w = (r - p + 1) / (run + 1);
            out.kind[i] = 1;
            for (let ch = 0; ch < 3; ch++) out.g[i * 3 + ch] = before[ch]! * (1 - w) + after[ch]! * w;
          } else if (run >= MIN_FRINGE && (glassBefore || glassAfter)) {
            const other = glassBefore ? after : before;
            if (other !== 'background') continue;
            const glass = (glassBefore ? before : after) as number[];
            out.kind[i] = glassBefore ? 2 : 3;
            for (let ch = 0; ch < 3; ch++) out.g[i * 3 + ch] = glass[ch]!;
          }
        }
      }
      p = q + 1;
    }
  }
  return out;
}

/**
 * From a part's sums (pixels, Σg, ΣC, Σg·gᵀ, Σg·Cᵀ, ΣC·Cᵀ): whether its colours follow the glass
 * beside it, across the two directions perpendicular to the move towards the light.
 */
function followsGlass(s: Float64Array): boolean {
  const m = s[0]!;
  if (m < 2) return false;
  const gm = [s[1]! / m, s[2]! / m, s[3]! / m];
  const cm = [s[4]! / m, s[5]! / m, s[6]! / m];
  // The mean move from the glass to the part: towards a light, by a share that lets the view through.
  const d = [cm[0]! - gm[0]!, cm[1]! - gm[1]!, cm[2]! - gm[2]!];
  const l = [LIGHT[0] - gm[0]!, LIGHT[1] - gm[1]!, LIGHT[2] - gm[2]!];
  const dd = d[0]! * d[0]! + d[1]! * d[1]! + d[2]! * d[2]!;
  const ll = l[0]! * l[0]! + l[1]! * l[1]! + l[2]! * l[2]!;
  const dl = d[0]! * l[0]! + d[1]! * l[1]! + d[2]! * l[2]!;
  // Over glass that is already light, a highlight cannot be told from a light part of its own.
  if (ll < MIN_CONTRAST || dd < 1) return false;
  const lift = dl / ll;
  if (lift < MIN_LIFT || lift > MAX_LIFT || dl < MIN_LIGHT_COSINE * Math.sqrt(dd * ll)) return false;
  // The part's own variation along that move (how far each pixel is lifted) is set aside.
  const u = d;
  const uu = dd;
  // tr(P·Cov) with P = I − u·uᵀ/|u|²: the covariance across the plane perpendicular to u.
  const perp = (offset: number, am: number[], bm: number[]): number => {
    let tr = 0,
      uCu = 0;
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const cov = s[offset + a * 3 + b]! / m - am[a]! * bm[b]!;
        if (a === b) tr += cov;
        uCu += u[a]! * cov * u[b]!;
      }
    }
    return tr - uCu / uu;
  };
  const gg = perp(7, gm, gm);
  const gc = perp(16, gm, cm);
  const cc = perp(25, cm, cm);
  if (gg < MIN_TEXTURE * MIN_TEXTURE * 2 || cc <= 0) return false;
  const slope = gc / gg;
  const correlation = gc / Math.sqrt(gg * cc);
  return slope >= MIN_SLOPE && slope <= MAX_SLOPE && correlation >= MIN_CORRELATION;
}
