/**
 * Difference matting against a clean plate: the same framing shot without the product gives the
 * background B behind every pixel, so the matting equation C = αF + (1 − α)B has one unknown
 * fewer. Pure; `plate` must already be aligned to the shot and brought to its exposure.
 *
 * Per pixel, with d = rms over the channels of C − B (8-bit units) and the noise level measured on
 * the model's background:
 *   p = smoothstep(t0, t1, d)        evidence that something stands in front of the plate
 * Where the plate has texture, a local linear fit C ≈ t·B + b (one t for the three channels, as
 * in a guided filter with B as the guide, solved on a grid of ≤ 1024 px) measures the light that
 * passes: t ≈ 1 over the background, t ≈ 1 − α behind glass, t ≈ 0 over opaque parts (counted
 * only where C and B correlate well: an opaque part's shading follows the plate by chance). There
 *   α = 1 − t, raised to 1 where the pixel does not fit the window's line (an opaque edge), and
 *   lowered toward 0 where the pixel equals the plate within the noise (a background edge).
 * Where the plate is flat the fit says nothing: there α is the model's value where the model sees
 * anything (a glass matte's soft α included) and p where it sees nothing; where the shot barely
 * differs from the plate, the model is trusted only within the product (a part coloured like the
 * backdrop, judged by q, the share of "in front" pixels around), not out in the background (its
 * false positives). A flat plate cannot measure a pane's transmission: that takes two shots. Physics
 * sets a floor everywhere: F lies in [0, 255], so α ≥ |C − B| / max(B, 255 − B) per channel
 * (less the noise). Finally the foreground colour is solved with the plate as B:
 *   F = (C − (1 − α)·B) / α,
 * so over the plate itself the cut-out gives back the shot exactly.
 */
import { boxMean } from './guided-filter.js';
import { blockTaps, downsampleRgbPlanes, scaledPx } from './resample.js';

export interface DifferenceMatteOptions {
  /** Radius of the transmission fit, px at a 1024-px long side (default 4). */
  radius?: number;
  /** The shot's noise against the plate, when the caller has measured it already (noiseLevels). */
  noise?: NoiseLevels;
  /** Radius of the neighbourhood that decides where the model is trusted, same units (default 24). */
  contextRadius?: number;
}

export interface Matte {
  /** 8-bit alpha, width*height. */
  alpha: Uint8Array;
  /** The foreground colour F (not premultiplied), interleaved 8-bit RGB; the shot where α = 0. */
  fg: Uint8Array;
}

export interface NoiseLevels {
  /** The median of d over pure noise between shot and plate, 8-bit units. */
  median: number;
  /** Below this d a pixel equals the plate. */
  t0: number;
  /** Above it something surely stands in front. */
  t1: number;
}

/** Grid cells per long side, at most. */
const GRID_LONG_SIDE = 1024;

function smoothstep(e0: number, e1: number, x: number): number {
  if (x <= e0) return 0;
  if (x >= e1) return 1;
  const t = (x - e0) / (e1 - e0);
  return t * t * (3 - 2 * t);
}

/** rms over the three channels of a − b at pixel offset s. */
export function rmsDiff(a: Uint8Array, b: Uint8Array, s: number): number {
  const d0 = a[s]! - b[s]!;
  const d1 = a[s + 1]! - b[s + 1]!;
  const d2 = a[s + 2]! - b[s + 2]!;
  return Math.sqrt((d0 * d0 + d1 * d1 + d2 * d2) / 3);
}

/**
 * The noise between a shot and its plate, from the differences over the pixels the model calls
 * background (all pixels when it leaves fewer than 1 %).
 */
export function noiseLevels(shot: Uint8Array, plate: Uint8Array, model: Uint8Array): NoiseLevels {
  const n = model.length;
  const hist = new Uint32Array(256);
  let count = 0;
  const step = Math.max(1, Math.floor(n / 400_000));
  for (let pass = 0; pass < 2 && count < Math.max(16, n / step / 100); pass++) {
    hist.fill(0);
    count = 0;
    for (let i = 0; i < n; i += step) {
      if (pass === 0 && model[i]! > 8) continue;
      hist[Math.min(255, Math.round(rmsDiff(shot, plate, i * 3)))]!++;
      count++;
    }
  }
  // The lower quartile, scaled to the median of pure noise (d of Gaussian noise is chi-distributed
  // with 3 degrees of freedom: median ≈ 1.40 × lower quartile), so product pixels the model lets
  // through (up to about two thirds) do not raise it.
  let q1 = 0;
  for (let acc = 0; q1 < 255; q1++) {
    acc += hist[q1]!;
    if (acc * 4 >= count) break;
  }
  const median = 1.4 * q1;
  const t0 = Math.max(3, 2.5 * median + 1);
  return { median, t0, t1: Math.max(3 * t0, t0 + 20) };
}

interface Fit {
  /** Transmission t, fit weight (the plate's texture) and b per channel, on the grid (0..1 units). */
  t: Float32Array;
  w: Float32Array;
  b: [Float32Array, Float32Array, Float32Array];
  /** Share of "in front" cells around each cell. */
  q: Float32Array;
  gw: number;
  gh: number;
  s: number;
}

/** The local line C ≈ t·B + b on a grid, averaged over the windows as a guided filter does. */
function fitTransmission(
  shot: Uint8Array,
  plate: Uint8Array,
  width: number,
  height: number,
  noise: NoiseLevels,
  o: DifferenceMatteOptions,
): Fit {
  const s = Math.max(1, Math.ceil(Math.max(width, height) / GRID_LONG_SIDE));
  const C = downsampleRgbPlanes(shot, width, height, s);
  const B = downsampleRgbPlanes(plate, width, height, s);
  const { width: gw, height: gh } = C;
  const gn = gw * gh;
  const r = Math.max(2, Math.round(scaledPx(o.radius ?? 4, width, height) / s));
  const cs = [C.r, C.g, C.b];
  const bs = [B.r, B.g, B.b];
  const cov = new Float32Array(gn);
  const vb = new Float32Array(gn);
  const vc = new Float32Array(gn);
  const mB: Float32Array[] = [];
  const mC: Float32Array[] = [];
  const tmp = new Float32Array(gn);
  const tmp2 = new Float32Array(gn);
  for (let c = 0; c < 3; c++) {
    const bc = bs[c]!;
    const cc = cs[c]!;
    const mb = boxMean(bc, gw, gh, r);
    const mc = boxMean(cc, gw, gh, r);
    for (let i = 0; i < gn; i++) tmp[i] = bc[i]! * bc[i]!;
    boxMean(tmp, gw, gh, r, tmp2);
    for (let i = 0; i < gn; i++) vb[i]! += tmp2[i]! - mb[i]! * mb[i]!;
    for (let i = 0; i < gn; i++) tmp[i] = bc[i]! * cc[i]!;
    boxMean(tmp, gw, gh, r, tmp2);
    for (let i = 0; i < gn; i++) cov[i]! += tmp2[i]! - mb[i]! * mc[i]!;
    for (let i = 0; i < gn; i++) tmp[i] = cc[i]! * cc[i]!;
    boxMean(tmp, gw, gh, r, tmp2);
    for (let i = 0; i < gn; i++) vc[i]! += tmp2[i]! - mc[i]! * mc[i]!;
    mB.push(mb);
    mC.push(mc);
  }
  // The plate's noise (about half the shot-plate difference, per channel) sets both the
  // regulariser and what counts as texture.
  // (d of two images with noise σ each has its median near 1.25σ.)
  const sigma = Math.max(0.5, 0.8 * noise.median) / 255;
  const eps = 3 * sigma * sigma;
  const tex0 = 3 * (4 * sigma) ** 2;
  const tex1 = 3 * (10 * sigma) ** 2;
  const t = new Float32Array(gn);
  const w = new Float32Array(gn);
  const b: [Float32Array, Float32Array, Float32Array] = [
    new Float32Array(gn),
    new Float32Array(gn),
    new Float32Array(gn),
  ];
  for (let i = 0; i < gn; i++) {
    // Light passes only where the shot follows the plate: an opaque part's own shading may
    // correlate with the plate by chance, but weakly.
    const rho = cov[i]! / Math.sqrt((vb[i]! + eps) * (vc[i]! + eps));
    // The plate's own noise inflates its variance (errors in variables): taken out.
    const ti = Math.min(1, Math.max(0, cov[i]! / Math.max(vb[i]! - eps, eps))) * smoothstep(0.4, 0.75, rho);
    t[i] = ti;
    w[i] = smoothstep(tex0, tex1, vb[i]!);
    for (let c = 0; c < 3; c++) b[c]![i] = mC[c]![i]! - ti * mB[c]![i]!;
  }
  const out: Fit = {
    t: boxMean(t, gw, gh, r),
    w: boxMean(w, gw, gh, r),
    b: [boxMean(b[0], gw, gh, r), boxMean(b[1], gw, gh, r), boxMean(b[2], gw, gh, r)],
    q: tmp,
    gw,
    gh,
    s,
  };
  // Where something stands in front, by cell, and its share around each cell.
  const t0 = noise.t0 / 255;
  const t1 = noise.t1 / 255;
  for (let i = 0; i < gn; i++) {
    const d0 = C.r[i]! - B.r[i]!;
    const d1 = C.g[i]! - B.g[i]!;
    const d2 = C.b[i]! - B.b[i]!;
    tmp2[i] = Math.sqrt((d0 * d0 + d1 * d1 + d2 * d2) / 3) > 0.5 * (t0 + t1) ? 1 : 0;
  }
  out.q = boxMean(tmp2, gw, gh, Math.max(2, Math.round(scaledPx(o.contextRadius ?? 24, width, height) / s)));
  return out;
}

/** Bilinear sample of a grid plane at full-resolution pixel (x, y) through precomputed taps. */
function sample(p: Float32Array, ry0: number, ry1: number, fy: number, x0: number, x1: number, fx: number): number {
  const a = p[ry0 + x0]! + (p[ry0 + x1]! - p[ry0 + x0]!) * fx;
  const c = p[ry1 + x0]! + (p[ry1 + x1]! - p[ry1 + x0]!) * fx;
  return a + (c - a) * fy;
}

/**
 * The matte of `shot` against its clean `plate` (both interleaved 8-bit RGB, aligned, same
 * exposure), helped by the segmentation model's alpha where the plate cannot tell.
 */
export function differenceMatte(
  shot: Uint8Array,
  plate: Uint8Array,
  model: Uint8Array,
  width: number,
  height: number,
  options: DifferenceMatteOptions = {},
): Matte {
  const n = width * height;
  if (shot.length !== n * 3 || plate.length !== n * 3 || model.length !== n)
    throw new RangeError('differenceMatte: sizes do not match');
  const noise = options.noise ?? noiseLevels(shot, plate, model);
  const fit = fitTransmission(shot, plate, width, height, noise, options);
  const { gw, s } = fit;
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(fit.gh, height, s);
  const alpha = new Uint8Array(n);
  const fg = new Uint8Array(n * 3);
  const { t0, t1 } = noise;
  for (let y = 0; y < height; y++) {
    const ry0 = ty.i0[y]! * gw;
    const ry1 = ty.i1[y]! * gw;
    const fy = ty.f[y]!;
    for (let x = 0, i = y * width, si = i * 3; x < width; x++, i++, si += 3) {
      const x0 = tx.i0[x]!;
      const x1 = tx.i1[x]!;
      const fx = tx.f[x]!;
      const d = rmsDiff(shot, plate, si);
      const p = smoothstep(t0, t1, d);
      const w = sample(fit.w, ry0, ry1, fy, x0, x1, fx);
      let a = 0;
      if (w > 0) {
        // The plate has texture: the transmission fit, corrected per pixel at edges.
        const t = sample(fit.t, ry0, ry1, fy, x0, x1, fx);
        let at = 1 - t;
        let r2 = 0;
        for (let c = 0; c < 3; c++) {
          const pred = t * plate[si + c]! + 255 * sample(fit.b[c]!, ry0, ry1, fy, x0, x1, fx);
          r2 += (shot[si + c]! - pred) ** 2;
        }
        const res = Math.sqrt(r2 / 3);
        // The plate explains it better, or the fit's α is within its noise: background.
        if (d <= t0 && res > d + 0.5 * t0) at *= d / t0;
        else if (d <= t0 && at < 0.05) at *= smoothstep(0.02, 0.05, at);
        else {
          const opaque = smoothstep(t0, t1, res) * p; // the window's line does not: an opaque edge
          if (opaque > at) at = opaque;
        }
        a = w * at;
      }
      if (w < 1) {
        const q = sample(fit.q, ry0, ry1, fy, x0, x1, fx);
        // The model's value where it says anything (a glass matte's soft α included), trusted
        // out in the open only where the shot differs from the plate; the difference alone
        // where the model sees nothing.
        const m = model[i]! / 255;
        const inside = smoothstep(0.15, 0.5, q);
        const trusted = m * Math.max(p, inside);
        const k = smoothstep(0.01, 0.06, m);
        a += (1 - w) * (k * trusted + (1 - k) * p);
      }
      // Physics sets a floor: F lies in [0, 255], so α ≥ |C − B| / max(B, 255 − B) per channel.
      let floor = 0;
      for (let c = 0; c < 3; c++) {
        const bc = plate[si + c]!;
        const f = (Math.abs(shot[si + c]! - bc) - t0) / (bc > 127 ? bc : 255 - bc);
        if (f > floor) floor = f;
      }
      if (floor > a) a = floor;
      const a8 = Math.round(Math.min(1, Math.max(0, a)) * 255);
      alpha[i] = a8;
      if (a8 === 0) {
        fg[si] = shot[si]!;
        fg[si + 1] = shot[si + 1]!;
        fg[si + 2] = shot[si + 2]!;
        continue;
      }
      const av = a8 / 255;
      for (let c = 0; c < 3; c++) {
        const v = (shot[si + c]! - (1 - av) * plate[si + c]!) / av + 0.5;
        fg[si + c] = Math.min(Math.max(v, 0), 255);
      }
    }
  }
  return { alpha, fg };
}
