/**
 * Edge colour decontamination: the foreground colour F where 0 < α < 1, so the old background
 * does not bleed into the new one. Pure.
 *
 * Method (the matting equation I = αF + (1−α)B solved for F with local estimates of B; the
 * local-mean idea follows Forte & Pitié, "Approximate Fast Foreground Colour Estimation",
 * ICIP 2021, and the normalised convolution of Knutsson & Westin 1993):
 *   B̂ = blur(I·[α ≤ lo]) / blur([α ≤ lo])   local mean of the pure background
 *   F̂ = blur(I·[α ≥ hi]) / blur([α ≥ hi])   local mean of the pure foreground
 * both on a block grid (≤ 1024 px on the long side, two box passes), backed by a wide blur and the
 * global mean where nothing is near, and upsampled bilinearly. Per pixel:
 *   α = 255      → I unchanged (bit-exact)
 *   0 < α < 255  → F = clamp((I − (1−α)·B̂) / α), blended toward F̂ as α → 0 (below `stable`),
 *                  where the division would amplify noise
 *   α = 0        → F̂ (so a later feather that widens α outward shows the subject's colour, not
 *                  the old background); `fill: false` keeps I there.
 * Composited over a new background N, αF + (1−α)N = I − (1−α)(B̂ − N) up to clamping: the old
 * background's share of the edge is swapped for the new one's.
 */
import { boxMean } from './guided-filter.js';
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
}

/** Block grid of the local estimates: factor s and size. */
function estimateGrid(width: number, height: number): { s: number; gw: number; gh: number } {
  const s = Math.max(1, Math.ceil(Math.max(width, height) / 1024));
  return { s, gw: Math.ceil(width / s), gh: Math.ceil(height / s) };
}

/**
 * Masked local mean of the photo on the grid, interleaved RGB floats (0..255): the pixels with
 * lo ≤ alpha ≤ hi only; a wide blur and the global mean back it where none is within `radius`.
 * Undefined when no pixel qualifies anywhere.
 */
function maskedGridMean(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  grid: { s: number; gw: number; gh: number },
  radius: number,
  lo: number,
  hi: number,
): Float32Array | undefined {
  const { s, gw, gh } = grid;
  const gn = gw * gh;
  const pr = new Float32Array(gn);
  const pg = new Float32Array(gn);
  const pb = new Float32Array(gn);
  const pw = new Float32Array(gn);
  for (let y = 0; y < height; y++) {
    const gy = ((y / s) | 0) * gw;
    for (let x = 0, i = y * width, si = i * 3; x < width; x++, i++, si += 3) {
      const a = alpha[i]!;
      if (a < lo || a > hi) continue;
      const o = gy + ((x / s) | 0);
      pr[o]! += rgb[si]!;
      pg[o]! += rgb[si + 1]!;
      pb[o]! += rgb[si + 2]!;
      pw[o]! += 1;
    }
  }
  const tmp = new Float32Array(gn);
  const blur2 = (p: Float32Array, r: number, out: Float32Array): Float32Array => {
    boxMean(p, gw, gh, r, tmp);
    return boxMean(tmp, gw, gh, r, out);
  };
  const wide = Math.max(radius * 4, Math.round(Math.max(gw, gh) / 6));
  const wLocal = blur2(pw, radius, new Float32Array(gn));
  const wWide = blur2(pw, wide, new Float32Array(gn));
  let wTotal = 0;
  for (let i = 0; i < gn; i++) wTotal += pw[i]!;
  if (wTotal === 0) return undefined;
  const out = new Float32Array(gn * 3);
  const local = new Float32Array(gn);
  const far = new Float32Array(gn);
  const planes = [pr, pg, pb];
  for (let c = 0; c < 3; c++) {
    const plane = planes[c]!;
    let total = 0;
    for (let i = 0; i < gn; i++) total += plane[i]!;
    const globalMean = wTotal > 0 ? total / wTotal : 0;
    blur2(plane, radius, local);
    blur2(plane, wide, far);
    for (let i = 0; i < gn; i++) {
      out[i * 3 + c] = (local[i]! + 1e-3 * far[i]! + 1e-7 * globalMean) / (wLocal[i]! + 1e-3 * wWide[i]! + 1e-7);
    }
  }
  return out;
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
  const grid = estimateGrid(width, height);
  const { s, gw } = grid;
  const radius = Math.max(1, Math.round(scaledPx(options.radius ?? 24, width, height) / s / 2));
  const bgGrid = maskedGridMean(rgb, alpha, width, height, grid, radius, 0, lo);
  const fgGrid = maskedGridMean(rgb, alpha, width, height, grid, radius, hi, 255);
  // No pure background anywhere: nothing to remove. No pure foreground: nothing to extrapolate.
  if (!bgGrid) return Uint8Array.from(rgb);
  const canFill = fgGrid !== undefined;

  const fill = (options.fill ?? true) && canFill;
  const solvedOnly = !canFill;
  const fg = fgGrid ?? bgGrid;
  const out = new Uint8Array(n * 3);
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(grid.gh, height, s);
  const rowB = new Float32Array(gw * 3);
  const rowF = new Float32Array(gw * 3);
  const gw3 = gw * 3;
  for (let y = 0; y < height; y++) {
    // Interpolate the two grids' rows only when this row needs them.
    let needed = false;
    for (let i = y * width, end = i + width; i < end; i++) {
      const a = alpha[i]!;
      if (a !== 255 && (a !== 0 || fill)) {
        needed = true;
        break;
      }
    }
    if (needed) {
      const r0 = ty.i0[y]! * gw3;
      const r1 = ty.i1[y]! * gw3;
      const fy = ty.f[y]!;
      for (let j = 0; j < gw3; j++) {
        const b0 = bgGrid[r0 + j]!;
        rowB[j] = b0 + (bgGrid[r1 + j]! - b0) * fy;
        const f0 = fg[r0 + j]!;
        rowF[j] = f0 + (fg[r1 + j]! - f0) * fy;
      }
    }
    for (let x = 0, i = y * width, si = i * 3; x < width; x++, i++, si += 3) {
      const a8 = alpha[i]!;
      if (a8 === 255 || (a8 === 0 && !fill)) {
        out[si] = rgb[si]!;
        out[si + 1] = rgb[si + 1]!;
        out[si + 2] = rgb[si + 2]!;
        continue;
      }
      const c0 = tx.i0[x]! * 3;
      const c1 = tx.i1[x]! * 3;
      const fx = tx.f[x]!;
      const a = a8 / 255;
      // Weight of the solved colour vs the local foreground mean.
      const t = a >= stable || solvedOnly ? 1 : a / stable;
      const ia = 1 - a;
      for (let c = 0; c < 3; c++) {
        const f0 = rowF[c0 + c]!;
        const fHat = f0 + (rowF[c1 + c]! - f0) * fx;
        let v = fHat;
        if (a8 !== 0) {
          const b0 = rowB[c0 + c]!;
          const bHat = b0 + (rowB[c1 + c]! - b0) * fx;
          let f = (rgb[si + c]! - ia * bHat) / a;
          f = f < 0 ? 0 : f > 255 ? 255 : f;
          v = fHat + (f - fHat) * t;
        }
        out[si + c] = v + 0.5;
      }
    }
  }
  return out;
}
