/**
 * Edge colour decontamination: the foreground colour F where 0 < α < 1, so the old background
 * does not bleed into the new one. Pure.
 *
 * Method (the matting equation I = αF + (1−α)B solved for F with local estimates of B; the
 * local-mean idea follows Forte & Pitié, "Approximate Fast Foreground Colour Estimation",
 * ICIP 2021, and the normalised convolution of Knutsson & Westin 1993):
 *   B̂ = blur(I·[α ≤ lo]) / blur([α ≤ lo])   local mean of the pure background
 *   F̂ = blur(I·[α ≥ hi]) / blur([α ≥ hi])   local mean of the pure foreground
 * both on a block grid (≤ 512 cells on the long side, two box passes), backed by a wide blur on a
 * coarser grid and the global mean where nothing is near, and upsampled bilinearly. Per pixel:
 *   α = 255      → I unchanged (bit-exact)
 *   0 < α < 255  → F solved on the line from B̂ through I: F = I + k·(1−α)/α·(I − B̂), with the
 *                  step k ≤ 1 the largest that keeps F inside the colour box spanned by I and F̂
 *                  (widened by `slack`): one factor for all three channels, so the hue of the
 *                  correction is kept (a per-channel clamp turns amplified noise into magenta and
 *                  blue specks). Below `stable` the result is blended toward F̂ in proportion to α,
 *                  where B̂'s error divided by α would dominate.
 *   α = 0        → F̂ (so a later feather that widens α outward shows the subject's colour, not
 *                  the old background) within `fillReach` px of the subject; I elsewhere.
 * Composited over a new background N, αF + (1−α)N = I − (1−α)(B̂ − N) wherever the step is not
 * limited: the old background's share of the edge is swapped for the new one's.
 *
 * Cost: one pass over the alpha and photo to sum the grid, box blurs on the cells around the
 * subject only, and per-pixel work only in the cells that hold soft alpha (or α = 0 within the
 * fill reach); the rest of the output is one copy.
 */
import { blockTaps, scaledPx } from './resample.js';

export interface DecontaminateOptions {
  /** Radius of the local colour estimates, px at a 1024-px long side (default 24). */
  radius?: number;
  /** α ≤ this counts as pure background (default 8). */
  background?: number;
  /** α ≥ this counts as pure foreground (default 247). */
  foreground?: number;
  /** Below this α (0..1) the solved F is blended toward F̂ (default 0.1). */
  stable?: number;
  /** Give α = 0 pixels the extrapolated foreground colour (default true). */
  fill?: boolean;
  /**
   * Only α = 0 pixels within this many px (full resolution, Chebyshev distance) of a pixel with
   * α > 0 are filled; the rest keep I (default: all). A later feather of radius r widens α by at
   * most 3r, so that is all the fill a compositing chain needs.
   */
  fillReach?: number;
  /** Write into `rgb` itself instead of a copy (the caller gives the buffer up). */
  inPlace?: boolean;
  /** How far (8-bit units) F may leave the box spanned by I and F̂ (default 40). */
  slack?: number;
}

/** Cells per long side of the estimate grid, at most. */
const GRID_LONG_SIDE = 512;

/**
 * Box sums of radius r (unnormalised, clipped) over an interleaved 4-channel grid region, in place:
 * `p` holds cw×ch cells × 4 floats. `tmp` is scratch of the same size.
 */
function boxSum4(p: Float32Array, cw: number, ch: number, r: number, tmp: Float32Array): void {
  // Horizontal: p → tmp.
  for (let y = 0; y < ch; y++) {
    const base = y * cw * 4;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const first = Math.min(r, cw - 1);
    for (let x = 0; x <= first; x++) {
      const o = base + x * 4;
      s0 += p[o]!;
      s1 += p[o + 1]!;
      s2 += p[o + 2]!;
      s3 += p[o + 3]!;
    }
    for (let x = 0; x < cw; x++) {
      const o = base + x * 4;
      tmp[o] = s0;
      tmp[o + 1] = s1;
      tmp[o + 2] = s2;
      tmp[o + 3] = s3;
      const add = x + r + 1;
      if (add < cw) {
        const a = base + add * 4;
        s0 += p[a]!;
        s1 += p[a + 1]!;
        s2 += p[a + 2]!;
        s3 += p[a + 3]!;
      }
      const sub = x - r;
      if (sub >= 0) {
        const b = base + sub * 4;
        s0 -= p[b]!;
        s1 -= p[b + 1]!;
        s2 -= p[b + 2]!;
        s3 -= p[b + 3]!;
      }
    }
  }
  // Vertical: tmp → p, one row of running sums.
  const w4 = cw * 4;
  const acc = new Float64Array(w4);
  const firstRows = Math.min(r, ch - 1);
  for (let y = 0; y <= firstRows; y++) {
    const base = y * w4;
    for (let j = 0; j < w4; j++) acc[j]! += tmp[base + j]!;
  }
  for (let y = 0; y < ch; y++) {
    const base = y * w4;
    for (let j = 0; j < w4; j++) p[base + j] = acc[j]!;
    const add = y + r + 1;
    const sub = y - r;
    if (add < ch) {
      const a = add * w4;
      for (let j = 0; j < w4; j++) acc[j]! += tmp[a + j]!;
    }
    if (sub >= 0) {
      const b = sub * w4;
      for (let j = 0; j < w4; j++) acc[j]! -= tmp[b + j]!;
    }
  }
}

/** Masked colour sums of one region of the grid, blurred twice: the normalised-convolution parts. */
interface Sums {
  /** Region of the grid the blurred sums cover: x0, y0, width, height (cells). */
  x0: number;
  y0: number;
  cw: number;
  ch: number;
  /** Blurred (r, g, b, weight) sums, cw×ch×4. */
  local: Float32Array;
  /** The same over the coarse grid with the wide radius, sampled per cell of the region. */
  far: Float32Array;
  /** Global mean colour of the masked pixels; undefined when there are none. */
  global: [number, number, number] | undefined;
}

function blurredSums(
  sums: Float32Array,
  gw: number,
  gh: number,
  region: { x0: number; y0: number; x1: number; y1: number },
  radius: number,
): Sums {
  const { x0, y0 } = region;
  const cw = region.x1 - x0;
  const ch = region.y1 - y0;
  // Global totals.
  let tr = 0;
  let tg = 0;
  let tb = 0;
  let tw = 0;
  for (let i = 0, n = gw * gh * 4; i < n; i += 4) {
    tr += sums[i]!;
    tg += sums[i + 1]!;
    tb += sums[i + 2]!;
    tw += sums[i + 3]!;
  }
  const global: [number, number, number] | undefined = tw > 0 ? [tr / tw, tg / tw, tb / tw] : undefined;
  // Local: the region's cells, two box passes. The region has a margin of 2·radius cells beyond
  // every cell that is read, so the clipped windows at its artificial sides change nothing read.
  const local = new Float32Array(cw * ch * 4);
  for (let y = 0; y < ch; y++)
    local.set(sums.subarray(((y + y0) * gw + x0) * 4, ((y + y0) * gw + x0 + cw) * 4), y * cw * 4);
  const tmp = new Float32Array(local.length);
  boxSum4(local, cw, ch, radius, tmp);
  boxSum4(local, cw, ch, radius, tmp);
  // Far: the whole grid summed into coarse blocks of k cells, blurred with a wide radius, sampled
  // at the nearest coarse block. It only matters where no masked pixel is within the local reach.
  const wide = Math.max(radius * 4, Math.round(Math.max(gw, gh) / 6));
  const k = Math.max(1, Math.floor(wide / 4));
  const kw = Math.ceil(gw / k);
  const kh = Math.ceil(gh / k);
  const coarse = new Float32Array(kw * kh * 4);
  for (let gy = 0; gy < gh; gy++) {
    const cy = ((gy / k) | 0) * kw;
    for (let gx = 0; gx < gw; gx++) {
      const s = (gy * gw + gx) * 4;
      const d = (cy + ((gx / k) | 0)) * 4;
      coarse[d]! += sums[s]!;
      coarse[d + 1]! += sums[s + 1]!;
      coarse[d + 2]! += sums[s + 2]!;
      coarse[d + 3]! += sums[s + 3]!;
    }
  }
  const wr = Math.max(1, Math.round(wide / k));
  const ctmp = new Float32Array(coarse.length);
  boxSum4(coarse, kw, kh, wr, ctmp);
  boxSum4(coarse, kw, kh, wr, ctmp);
  // Normalise both to means over their (unclipped) windows, so they mix as the means would.
  const localArea = (2 * radius + 1) ** 4;
  for (let i = 0; i < local.length; i++) local[i]! /= localArea;
  const farArea = ((2 * wr + 1) * k) ** 4;
  const far = new Float32Array(cw * ch * 4);
  for (let y = 0; y < ch; y++) {
    const cy = Math.min(kh - 1, ((y + y0) / k) | 0) * kw;
    for (let x = 0; x < cw; x++) {
      const s = (cy + Math.min(kw - 1, ((x + x0) / k) | 0)) * 4;
      const d = (y * cw + x) * 4;
      far[d] = coarse[s]! / farArea;
      far[d + 1] = coarse[s + 1]! / farArea;
      far[d + 2] = coarse[s + 2]! / farArea;
      far[d + 3] = coarse[s + 3]! / farArea;
    }
  }
  return { x0, y0, cw, ch, local, far, global };
}

/** Mean colours per cell of the region (cw×ch×3) from the blurred sums. */
function meanColours(s: Sums): Float32Array {
  const n = s.cw * s.ch;
  const out = new Float32Array(n * 3);
  const g = s.global ?? [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const w = s.local[o + 3]! + 1e-3 * s.far[o + 3]! + 1e-7;
    out[i * 3] = (s.local[o]! + 1e-3 * s.far[o]! + 1e-7 * g[0]) / w;
    out[i * 3 + 1] = (s.local[o + 1]! + 1e-3 * s.far[o + 1]! + 1e-7 * g[1]) / w;
    out[i * 3 + 2] = (s.local[o + 2]! + 1e-3 * s.far[o + 2]! + 1e-7 * g[2]) / w;
  }
  return out;
}

/** Cell flags. */
const SOFT = 1;
const ZERO = 2;
const NONZERO = 4;

/**
 * Per cell of an s×s grid (gw cells per row): SOFT if it holds 0 < α < 255, ZERO if it holds α = 0,
 * NONZERO if it holds α > 0. Reads four alpha values per compare where rows are word-aligned.
 */
export function cellFlags(alpha: Uint8Array, width: number, height: number, s: number, gw: number): Uint8Array {
  const gh = Math.ceil(height / s);
  const flags = new Uint8Array(gw * gh);
  const words =
    width % 4 === 0 && alpha.byteOffset % 4 === 0
      ? new Uint32Array(alpha.buffer, alpha.byteOffset, alpha.length >> 2)
      : undefined;
  for (let y = 0; y < height; y++) {
    const grow = ((y / s) | 0) * gw;
    for (let gx = 0; gx < gw; gx++) {
      const x0 = gx * s;
      const x1 = Math.min(width, x0 + s);
      let f = 0;
      let x = x0;
      if (words) {
        // Whole words inside the cell.
        let q = (y * width + x + 3) >> 2;
        const qEnd = (y * width + x1) >> 2;
        for (let i = y * width + x; i < q * 4 && x < x1; i++, x++) f |= flagOf(alpha[i]!);
        for (; q < qEnd; q++, x += 4) {
          const w = words[q]!;
          f |=
            w === 0
              ? ZERO
              : w === 0xffffffff
                ? NONZERO
                : flagOf(alpha[q * 4]!) |
                  flagOf(alpha[q * 4 + 1]!) |
                  flagOf(alpha[q * 4 + 2]!) |
                  flagOf(alpha[q * 4 + 3]!);
        }
      }
      for (let i = y * width + x; x < x1; i++, x++) f |= flagOf(alpha[i]!);
      flags[grow + gx]! |= f;
    }
  }
  return flags;
}

function flagOf(a: number): number {
  return a === 0 ? ZERO : a === 255 ? NONZERO : SOFT | NONZERO;
}

/**
 * Decontaminated foreground colours: interleaved 8-bit RGB, same size as `rgb`. Pixels with
 * α = 255 are copied exactly.
 */
export function decontaminate(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  options: DecontaminateOptions = {},
): Uint8Array {
  const n = width * height;
  if (rgb.length !== n * 3 || alpha.length !== n) throw new RangeError('decontaminate: sizes do not match');
  const lo = options.background ?? 8;
  const hi = options.foreground ?? 247;
  const stable = options.stable ?? 0.1;
  const slack = options.slack ?? 40;
  const s = Math.max(1, Math.ceil(Math.max(width, height) / GRID_LONG_SIDE));
  const gw = Math.ceil(width / s);
  const gh = Math.ceil(height / s);
  const gn = gw * gh;
  const radius = Math.max(1, Math.round(scaledPx(options.radius ?? 24, width, height) / s / 2));

  // 1. What each cell holds (every pixel, four at a time where the rows are word-aligned), and the
  //    masked sums per cell (r, g, b, count) of the background and the foreground. The sums are
  //    means over windows of hundreds of pixels: on large grids every other row and column is
  //    plenty.
  const flags = cellFlags(alpha, width, height, s, gw);
  const bgSums = new Float32Array(gn * 4);
  const fgSums = new Float32Array(gn * 4);
  const step = s >= 4 ? 2 : 1;
  for (let y = 0; y < height; y += step) {
    const grow = ((y / s) | 0) * gw;
    for (let gx = 0; gx < gw; gx++) {
      const xEnd = Math.min(width, gx * s + s);
      let br = 0,
        bg = 0,
        bb = 0,
        bw = 0,
        fr = 0,
        fg = 0,
        fb = 0,
        fw = 0;
      for (let i = y * width + gx * s, si = i * 3, end = y * width + xEnd; i < end; i += step, si += 3 * step) {
        const a = alpha[i]!;
        if (a <= lo) {
          br += rgb[si]!;
          bg += rgb[si + 1]!;
          bb += rgb[si + 2]!;
          bw++;
        } else if (a >= hi) {
          fr += rgb[si]!;
          fg += rgb[si + 1]!;
          fb += rgb[si + 2]!;
          fw++;
        }
      }
      const o = (grow + gx) * 4;
      if (bw) {
        bgSums[o]! += br;
        bgSums[o + 1]! += bg;
        bgSums[o + 2]! += bb;
        bgSums[o + 3]! += bw;
      }
      if (fw) {
        fgSums[o]! += fr;
        fgSums[o + 1]! += fg;
        fgSums[o + 2]! += fb;
        fgSums[o + 3]! += fw;
      }
    }
  }

  let haveBg = false;
  let haveFg = false;
  for (let g = 0; g < gn; g++) {
    if (bgSums[g * 4 + 3]! > 0) haveBg = true;
    if (fgSums[g * 4 + 3]! > 0) haveFg = true;
  }
  // No pure background anywhere: nothing to remove. No pure foreground: nothing to extrapolate.
  const out = options.inPlace ? rgb : rgb.slice();
  if (!haveBg) return out;
  const fill = (options.fill ?? true) && haveFg;

  // 2. The cells that need per-pixel work: soft alpha, or α = 0 within the fill reach.
  let near: Uint8Array | undefined;
  if (fill) {
    const reach = options.fillReach ?? Infinity;
    near = new Uint8Array(gn);
    if (reach === Infinity) near.fill(1);
    else {
      // Chebyshev dilation of the cells with α > 0 by the reach in cells (+1 for partial cells).
      const rc = Math.ceil(Math.max(0, reach) / s) + 1;
      const rowHit = new Uint8Array(gn);
      for (let gy = 0; gy < gh; gy++) {
        let last = -Infinity;
        const base = gy * gw;
        for (let gx = 0; gx < gw; gx++) {
          if (flags[base + gx]! & NONZERO) last = gx;
          if (gx - last <= rc) rowHit[base + gx] = 1;
        }
        last = Infinity;
        for (let gx = gw - 1; gx >= 0; gx--) {
          if (flags[base + gx]! & NONZERO) last = gx;
          if (last - gx <= rc) rowHit[base + gx] = 1;
        }
      }
      for (let gx = 0; gx < gw; gx++) {
        let last = -Infinity;
        for (let gy = 0; gy < gh; gy++) {
          if (rowHit[gy * gw + gx]) last = gy;
          if (gy - last <= rc) near[gy * gw + gx] = 1;
        }
        last = Infinity;
        for (let gy = gh - 1; gy >= 0; gy--) {
          if (rowHit[gy * gw + gx]) last = gy;
          if (last - gy <= rc) near[gy * gw + gx] = 1;
        }
      }
    }
  }
  const active = new Uint8Array(gn);
  let ax0 = gw;
  let ay0 = gh;
  let ax1 = -1;
  let ay1 = -1;
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      const g = gy * gw + gx;
      const f = flags[g]!;
      if (f & SOFT || (near?.[g] && f & ZERO)) {
        active[g] = 1;
        if (gx < ax0) ax0 = gx;
        if (gx > ax1) ax1 = gx;
        if (gy < ay0) ay0 = gy;
        ay1 = gy;
      }
    }
  }
  if (ax1 < 0) return out;

  // 3. Estimates on the active cells' box (+1 for the bilinear taps), from sums over that box plus
  //    a margin of two blur radii.
  const m = 2 * radius + 1;
  const region = {
    x0: Math.max(0, ax0 - 1 - m),
    y0: Math.max(0, ay0 - 1 - m),
    x1: Math.min(gw, ax1 + 2 + m),
    y1: Math.min(gh, ay1 + 2 + m),
  };
  const bgMean = meanColours(blurredSums(bgSums, gw, gh, region, radius));
  const fgMean = haveFg ? meanColours(blurredSums(fgSums, gw, gh, region, radius)) : bgMean;
  const { x0: rx0, y0: ry0 } = region;
  const rw = region.x1 - rx0;

  // 4. Per pixel, in the active cells only.
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(gh, height, s);
  const cx0 = Math.max(0, ax0 - 1);
  const cx1 = Math.min(gw - 1, ax1 + 1);
  const span = (cx1 - cx0 + 1) * 3;
  const rowB = new Float32Array(span);
  const rowF = new Float32Array(span);
  const stamp = new Int32Array(cx1 - cx0 + 1);
  const solvedOnly = !haveFg;
  // Without a foreground estimate the box is only the 8-bit range.
  const box = solvedOnly ? 255 : slack;
  const invStable = 1 / stable;
  for (let y = ay0 * s, yEnd = Math.min(height, (ay1 + 1) * s); y < yEnd; y++) {
    const gy = (y / s) | 0;
    const arow = gy * gw;
    let any = false;
    for (let gx = ax0; gx <= ax1; gx++)
      if (active[arow + gx]) {
        any = true;
        break;
      }
    if (!any) continue;
    // Interpolate the two estimate rows at the cells this row's active cells read (gx − 1 … gx + 1).
    const r0 = (ty.i0[y]! - ry0) * rw;
    const r1 = (ty.i1[y]! - ry0) * rw;
    const fy = ty.f[y]!;
    for (let gx = ax0; gx <= ax1; gx++) {
      if (!active[arow + gx]) continue;
      for (let cx = Math.max(cx0, gx - 1), last = Math.min(cx1, gx + 1); cx <= last; cx++) {
        if (stamp[cx - cx0] === y + 1) continue;
        stamp[cx - cx0] = y + 1;
        const j = (cx - cx0) * 3;
        const a0 = (r0 + cx - rx0) * 3;
        const a1 = (r1 + cx - rx0) * 3;
        for (let c = 0; c < 3; c++) {
          const b0 = bgMean[a0 + c]!;
          rowB[j + c] = b0 + (bgMean[a1 + c]! - b0) * fy;
          const f0 = fgMean[a0 + c]!;
          rowF[j + c] = f0 + (fgMean[a1 + c]! - f0) * fy;
        }
      }
    }
    for (let gx = ax0; gx <= ax1; gx++) {
      if (!active[arow + gx]) continue;
      const xEnd = Math.min(width, gx * s + s);
      for (let x = gx * s, i = y * width + x, si = i * 3; x < xEnd; x++, i++, si += 3) {
        const a8 = alpha[i]!;
        if (a8 === 255) continue;
        const c0 = (tx.i0[x]! - cx0) * 3;
        const c1 = (tx.i1[x]! - cx0) * 3;
        const fx = tx.f[x]!;
        const f0r = rowF[c0]!,
          f0g = rowF[c0 + 1]!,
          f0b = rowF[c0 + 2]!;
        const fr = f0r + (rowF[c1]! - f0r) * fx;
        const fg = f0g + (rowF[c1 + 1]! - f0g) * fx;
        const fb = f0b + (rowF[c1 + 2]! - f0b) * fx;
        if (a8 === 0) {
          if (!fill || !near![arow + gx]) continue;
          out[si] = fr + 0.5;
          out[si + 1] = fg + 0.5;
          out[si + 2] = fb + 0.5;
          continue;
        }
        const b0r = rowB[c0]!,
          b0g = rowB[c0 + 1]!,
          b0b = rowB[c0 + 2]!;
        const br = b0r + (rowB[c1]! - b0r) * fx;
        const bg = b0g + (rowB[c1 + 1]! - b0g) * fx;
        const bb = b0b + (rowB[c1 + 2]! - b0b) * fx;
        const ir = rgb[si]!,
          ig = rgb[si + 1]!,
          ib = rgb[si + 2]!;
        const a = a8 / 255;
        const gain = (1 - a) / a;
        // The full step from I away from B̂, and the largest k ≤ 1 that keeps every channel inside
        // [min(I, F̂) − slack, max(I, F̂) + slack] ∩ [0, 255]: one k for all channels.
        const dr = (ir - br) * gain;
        const dg = (ig - bg) * gain;
        const db = (ib - bb) * gain;
        let k = 1;
        k = limitStep(k, ir, dr, fr, box);
        k = limitStep(k, ig, dg, fg, box);
        k = limitStep(k, ib, db, fb, box);
        let vr = ir + k * dr;
        let vg = ig + k * dg;
        let vb = ib + k * db;
        // Toward F̂ where α is small: there B̂'s error, divided by α, would dominate.
        if (a < stable && !solvedOnly) {
          const t = a * invStable;
          vr = fr + (vr - fr) * t;
          vg = fg + (vg - fg) * t;
          vb = fb + (vb - fb) * t;
        }
        out[si] = vr + 0.5;
        out[si + 1] = vg + 0.5;
        out[si + 2] = vb + 0.5;
      }
    }
  }
  return out;
}

/**
 * The largest step factor ≤ k for which v + k·d stays inside [min(v, f) − slack, max(v, f) + slack]
 * clipped to [0, 255]. v itself is always inside, so the factor is ≥ 0.
 */
function limitStep(k: number, v: number, d: number, f: number, slack: number): number {
  if (d > 0) {
    let top = Math.max(v, f) + slack;
    if (top > 255) top = 255;
    const room = top - v;
    if (room < k * d) return room > 0 ? room / d : 0;
  } else if (d < 0) {
    let bottom = Math.min(v, f) - slack;
    if (bottom < 0) bottom = 0;
    const room = bottom - v;
    if (room > k * d) return room < 0 ? room / d : 0;
  }
  return k;
}
