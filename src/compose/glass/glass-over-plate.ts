/**
 * The glass matte where the background behind the glass is known (a clean plate). Pure.
 *
 * Over a pane C = (1 − α)·B + α·F with α = α₀ + r + e: the glass lets (1 − α₀) of the plate through
 * and adds its own light u = α₀·tint, a reflection adds r of the reflected light L while hiding as
 * much of the plate, and towards a glass body's silhouette (grazing angles, a longer path through
 * the glass) e more of the plate is hidden behind the glass's own colour, darkened. With B known
 * each pane is solved on its own:
 * Shot and plate are compared box-smoothed (a few pixels, on a grid of at most 1024 cells a side):
 * a plate aligned to a pixel, not better, still matches the shot there, where fine texture would
 * lower the fitted transmission.
 *   s, u    a line C ≈ s·B + u over the pane's pixels (one s for the three channels, u per channel),
 *           refit without the pixels a reflection or an edge moves; where the plate is flat the
 *           line says little, so s is held towards the look's transmission (a ridge with the
 *           weight of a plate that varies by a few levels); a transmission the user gave is used
 *           as it is
 *   r, e    per pixel, the parts of C − (s·B + u) that point from B towards L and from B towards
 *           the edge colour (least squares over the three channels, both ≥ 0)
 *   α, F    α = 1 − s + r + e; F = (C − (1 − α)·B)/α, so that over the plate the cut-out gives
 *           the shot back exactly
 * A pixel the model does not explain (its residual beyond the layers is well above the noise:
 * an opaque object taken for glass) keeps the matte it had.
 */
import { boxMean } from '../guided-filter.js';
import { cellGrid, scaledPx } from '../resample.js';
import { boundsWhere, components } from './pixel-ops.js';

export interface GlassOverPlateLook {
  /** The transmission assumed where the plate cannot measure it (default 0.9). */
  transmission: number;
  /** True when the transmission is the user's: then it is not fitted. */
  given?: boolean;
}

/** The light a reflection adds (a bright sky or studio light), as in the single-shot glass layer. */
const LIGHT = [240, 243, 246] as const;
/** The ridge weight holding s towards the look: the plate's variance, in levels², it counts as. */
const RIDGE = 36;
/** Fitted transmission bounds. */
const MIN_S = 0.5;
const MAX_S = 0.99;
/** A pixel counts towards the line while its reflection is below this. */
const LINE_REFLECTION = 0.03;
/** A pixel counts towards the line while the line explains it to within this (rms, levels). */
const LINE_MISFIT = 8;
/** Residual (rms, levels) beyond which a pixel is not glass over the plate. */
const MISFIT = 14;
/** Fits of the line, each without the pixels the one before could not explain. */
const PASSES = 4;
/** The glass edge's colour: its own colour darkened by this. */
const EDGE_SHADE = 0.65;
/** Smallest move (levels, rms over the channels) an edge must make to count. */
const EDGE_MIN = 3;
/** Damping of the layers' least squares where B is close to L or to the edge colour (levels²). */
const DAMP = 900;

/** A glass's line C ≈ s·B + u: its transmission s and its own light u (per channel, levels). */
export interface GlassLine {
  s: number;
  u: [number, number, number];
}

/** Channel k of the edge colour minus B: E = EDGE_SHADE·u/(1 − s), u read at `uo`. */
function edgeMove(u: ArrayLike<number>, uo: number, s: number, k: number, bk: number): number {
  return (EDGE_SHADE * u[uo + k]!) / Math.max(1e-3, 1 - s) - bk;
}

/**
 * The layers at one pixel on the line C ≈ s·B + u (u read at `uo`): what C − (s·B + u) holds of a
 * reflection (from B towards the light L) and of a glass edge (from B towards the glass's own
 * colour darkened, E = EDGE_SHADE·u/(1 − s): at grazing angles, as at a jar's silhouette, the
 * light crosses more glass and takes more of its colour), least squares over the channels with
 * both shares ≥ 0. `c` / `b` hold the colours interleaved, the pixel at `i`.
 */
function layersOn(
  c: ArrayLike<number>,
  b: ArrayLike<number>,
  i: number,
  s: number,
  u: ArrayLike<number>,
  uo: number,
): [number, number] {
  let e11 = DAMP,
    e12 = 0,
    e22 = DAMP,
    d1 = 0,
    d2 = 0;
  for (let k = 0; k < 3; k++) {
    const bk = b[i * 3 + k]!;
    const d = c[i * 3 + k]! - s * bk - u[uo + k]!;
    const l = LIGHT[k]! - bk;
    const e = edgeMove(u, uo, s, k, bk);
    e11 += l * l;
    e12 += l * e;
    e22 += e * e;
    d1 += l * d;
    d2 += e * d;
  }
  const det = e11 * e22 - e12 * e12;
  const r1 = (d1 * e22 - d2 * e12) / det,
    r2 = (d2 * e11 - d1 * e12) / det;
  const only1 = Math.max(0, d1 / e11);
  // An edge counts where it moves the colour beyond the noise (rms over the channels).
  const edge = (r: number) => r * Math.sqrt((e22 - DAMP) / 3) >= EDGE_MIN;
  if (r1 >= 0 && r2 >= 0) return edge(r2) ? [r1, r2] : [only1, 0];
  // One layer alone: the one that explains more.
  const only2 = Math.max(0, d2 / e22);
  return only1 * d1 >= only2 * d2 || !edge(only2) ? [only1, 0] : [0, only2];
}

/** rms (levels) of what the line, a reflection r1 and an edge r2 leave unexplained at that pixel. */
function misfitOn(
  c: ArrayLike<number>,
  b: ArrayLike<number>,
  i: number,
  s: number,
  u: ArrayLike<number>,
  uo: number,
  r1: number,
  r2: number,
) {
  let res = 0;
  for (let k = 0; k < 3; k++) {
    const bk = b[i * 3 + k]!;
    const e = edgeMove(u, uo, s, k, bk);
    res += (c[i * 3 + k]! - s * bk - u[uo + k]! - r1 * (LIGHT[k]! - bk) - r2 * e) ** 2;
  }
  return Math.sqrt(res / 3);
}

/**
 * α and F of pixel `j` of `shot` as glass on `line` over `plate`, with an unsmoothed pixel; false
 * (nothing written) where the line and its layers leave more than MISFIT unexplained.
 */
export function solveOnLine(
  shot: Uint8Array,
  plate: Uint8Array,
  j: number,
  line: GlassLine,
  alpha: Uint8Array,
  fg: Uint8Array,
): boolean {
  const a0 = 1 - line.s;
  const [r1, r2] = layersOn(shot, plate, j, line.s, line.u, 0);
  if (misfitOn(shot, plate, j, line.s, line.u, 0, r1, r2) > MISFIT) return false;
  writeGlass(shot, plate, j, Math.min(1, a0 + r1 + r2), alpha, fg);
  return true;
}

function writeGlass(shot: Uint8Array, plate: Uint8Array, j: number, a: number, alpha: Uint8Array, fg: Uint8Array) {
  const av = Math.min(1, Math.max(1 / 255, Math.round(a * 255) / 255));
  alpha[j] = Math.round(av * 255);
  for (let k = 0; k < 3; k++) {
    const f = (shot[j * 3 + k]! - (1 - av) * plate[j * 3 + k]!) / av;
    fg[j * 3 + k] = Math.min(255, Math.max(0, Math.round(f)));
  }
}

/** Cells per long side of the grid the panes are fitted on, at most (the difference matte's). */
const GRID_LONG_SIDE = 1024;

/**
 * Rewrites `alpha` and `fg` (8-bit α, interleaved un-premultiplied RGB) over the pixels `glass`
 * marks (> 0), with `shot` and `plate` aligned and at the same exposure. Returns the glass's line
 * over all its panes (their lines weighted by their pixels), or undefined where there is no glass.
 * Panes, lines and reflections are found on a grid of at most GRID_LONG_SIDE cells a side (each
 * cell the mean of its glass pixels); α and F are written per pixel from the cell's answer.
 */
export function glassOverPlate(
  shot: Uint8Array,
  plate: Uint8Array,
  glass: Uint8Array,
  width: number,
  height: number,
  look: GlassOverPlateLook,
  alpha: Uint8Array,
  fg: Uint8Array,
): GlassLine | undefined {
  const { f, width: gw, height: gh, cellOf } = cellGrid(width, height, GRID_LONG_SIDE);
  // Glass pixels per cell, and the sums of shot and plate over them.
  const weight = new Float32Array(gw * gh);
  for (let j = 0; j < width * height; j++) if (glass[j]! > 0) weight[cellOf(j)]!++;
  const { labels: cellLabels, count } = components(undefined, gw, gh, (c) => weight[c]! > 0);
  if (count === 0) return undefined;
  // The glass's cells' bounds, grown by the smoothing radius: nothing else takes part.
  const rho = Math.max(1, Math.round(scaledPx(2, width, height) / f));
  const { x0, y0, x1, y1 } = boundsWhere(gw, gh, (c) => cellLabels[c]! > 0, rho)!;
  const w = x1 - x0 + 1,
    h = y1 - y0 + 1;
  const n = w * h;
  const at = (i: number) => (y0 + ((i / w) | 0)) * gw + x0 + (i % w);
  const labels = new Int32Array(n);
  const cellWeight = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = cellLabels[at(i)]!;
    cellWeight[i] = weight[at(i)]!;
  }
  // Shot and plate: per cell the sum over its glass pixels, then means over the glass of the window.
  const C = new Float32Array(n * 3);
  const B = new Float32Array(n * 3);
  {
    const sc = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    const sb = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
    for (let y = y0 * f; y < Math.min(height, (y1 + 1) * f); y++) {
      for (let x = x0 * f, j = y * width + x; x < Math.min(width, (x1 + 1) * f); x++, j++) {
        if (!(glass[j]! > 0)) continue;
        const i = (((y / f) | 0) - y0) * w + ((x / f) | 0) - x0;
        for (let k = 0; k < 3; k++) {
          sc[k]![i]! += shot[j * 3 + k]!;
          sb[k]![i]! += plate[j * 3 + k]!;
        }
      }
    }
    const norm = boxMean(cellWeight, w, h, rho);
    for (let k = 0; k < 3; k++) {
      const mc = boxMean(sc[k]!, w, h, rho);
      const mb = boxMean(sb[k]!, w, h, rho);
      for (let i = 0; i < n; i++) {
        const m = norm[i]! > 1e-6 ? norm[i]! : 1;
        C[i * 3 + k] = mc[i]! / m;
        B[i * 3 + k] = mb[i]! / m;
      }
    }
  }
  const prior = Math.min(MAX_S, Math.max(MIN_S, look.transmission));
  const s = new Float64Array(count + 1).fill(prior);
  const u = new Float64Array((count + 1) * 3);
  const inLine = new Uint8Array(n).fill(1);
  const sums = new Float64Array((count + 1) * 7);
  const layersAt = (i: number, c: number) => layersOn(C, B, i, s[c]!, u, c * 3);
  const misfit = (i: number, c: number, r1: number, r2: number) => misfitOn(C, B, i, s[c]!, u, c * 3, r1, r2);
  for (let pass = 0; pass < PASSES; pass++) {
    // Weighted means of B and C over the line's cells, then the pooled centred moments.
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      if (!c || !inLine[i]) continue;
      const o = c * 7,
        wi = cellWeight[i]!;
      sums[o]! += wi;
      for (let k = 0; k < 3; k++) {
        sums[o + 1 + k]! += wi * B[i * 3 + k]!;
        sums[o + 4 + k]! += wi * C[i * 3 + k]!;
      }
    }
    const cov = new Float64Array(count + 1);
    const varB = new Float64Array(count + 1);
    for (let i = 0; i < n; i++) {
      const c = labels[i]!;
      if (!c || !inLine[i]) continue;
      const o = c * 7,
        wi = cellWeight[i]!;
      for (let k = 0; k < 3; k++) {
        const db = B[i * 3 + k]! - sums[o + 1 + k]! / sums[o]!;
        cov[c]! += wi * db * (C[i * 3 + k]! - sums[o + 4 + k]! / sums[o]!);
        varB[c]! += wi * db * db;
      }
    }
    for (let c = 1; c <= count; c++) {
      const o = c * 7;
      const m = sums[o]!;
      if (m < 1) continue;
      const fitted = (cov[c]! + RIDGE * 3 * m * prior) / (varB[c]! + RIDGE * 3 * m);
      s[c] = look.given ? prior : Math.min(MAX_S, Math.max(MIN_S, fitted));
      const a0 = 1 - s[c]!;
      for (let k = 0; k < 3; k++) {
        const uk = (sums[o + 4 + k]! - s[c]! * sums[o + 1 + k]!) / m;
        u[c * 3 + k] = Math.min(255 * a0, Math.max(0, uk));
      }
    }
    if (pass < PASSES - 1) {
      for (let i = 0; i < n; i++) {
        const c = labels[i]!;
        if (!c) continue;
        const [r1, r2] = layersAt(i, c);
        inLine[i] = r1 + r2 < LINE_REFLECTION && misfit(i, c, 0, 0) < LINE_MISFIT ? 1 : 0;
      }
    }
  }
  // Per cell: α, or −1 where the line and a reflection do not explain it; then each glass pixel.
  const cellAlpha = new Float32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (!c) continue;
    const [r1, r2] = layersAt(i, c);
    if (misfit(i, c, r1, r2) <= MISFIT) cellAlpha[i] = Math.min(1, 1 - s[c]! + r1 + r2);
  }
  for (let y = y0 * f; y < Math.min(height, (y1 + 1) * f); y++) {
    for (let x = x0 * f, j = y * width + x; x < Math.min(width, (x1 + 1) * f); x++, j++) {
      if (!(glass[j]! > 0)) continue;
      const a = cellAlpha[(((y / f) | 0) - y0) * w + ((x / f) | 0) - x0]!;
      if (a >= 0) writeGlass(shot, plate, j, a, alpha, fg);
    }
  }
  let total = 0;
  const line: GlassLine = { s: 0, u: [0, 0, 0] };
  for (let c = 1; c <= count; c++) {
    const m = sums[c * 7]!;
    total += m;
    line.s += m * s[c]!;
    for (let k = 0; k < 3; k++) line.u[k]! += m * u[c * 3 + k]!;
  }
  if (total === 0) return undefined;
  line.s /= total;
  for (let k = 0; k < 3; k++) line.u[k]! /= total;
  return line;
}
