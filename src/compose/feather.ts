/**
 * Edge feathering of an 8-bit alpha. Pure.
 *
 * Three box passes of radius r (≈ a Gaussian of σ ≈ r) over the region around the subject's edge,
 * centred on the existing edge so the subject keeps its apparent size. r = width/2, the width given
 * in px of a 1024-px long side and scaled to the image: a hard edge becomes a ramp of ≈ 2.5·r
 * (10–90 %) spread over ±3r. Windows are clipped at the image sides (the divisor is the number of
 * pixels inside the image). Only pixels within 3r of a pixel with a different alpha can change:
 * the interior stays exactly 255 and the far background exactly 0.
 *
 * Cost: a box mean is separable and the three 2-D passes equal three horizontal passes followed by
 * three vertical ones, so the work is done in horizontal strips, and in each strip only on the runs
 * of columns whose ±3r window is not constant (plus the 3r margin the passes need to be exact
 * there). A 12-MP mask costs one scan plus work proportional to the edge band's area.
 */
import { scaledPx } from './resample.js';

export interface FeatherOptions {
  /** Feather width in px at a 1024-px long side (0 = unchanged). */
  width: number;
}

/** The blur radius (full-resolution px) a feather width gives for a width×height image. */
export function featherRadius(featherWidth: number, width: number, height: number): number {
  if (!(featherWidth > 0)) return 0;
  return Math.max(1, Math.round(scaledPx(featherWidth, width, height) / 2));
}

/** How far (px, Chebyshev) a feather of this width can widen the alpha. */
export function featherReach(featherWidth: number, width: number, height: number): number {
  return 3 * featherRadius(featherWidth, width, height);
}

/** Clipped box mean of radius r along one row: `n` values from src[o…] to dst[o…]. */
function boxLine(src: Float32Array, dst: Float32Array, o: number, n: number, r: number): void {
  if (n <= 2 * r + 1) {
    // Every window is clipped.
    for (let i = 0; i < n; i++) {
      const lo = Math.max(i - r, 0);
      const hi = i + r >= n ? n - 1 : i + r;
      let s = 0;
      for (let j = lo; j <= hi; j++) s += src[o + j]!;
      dst[o + i] = s / (hi - lo + 1);
    }
    return;
  }
  let s = 0;
  for (let i = 0; i < r; i++) s += src[o + i]!;
  // Left end: windows [0, i + r].
  for (let i = 0; i <= r; i++) {
    s += src[o + i + r]!;
    dst[o + i] = s / (i + r + 1);
  }
  // Interior: full windows.
  const inv = 1 / (2 * r + 1);
  const end = n - r;
  for (let i = r + 1; i < end; i++) {
    s += src[o + i + r]! - src[o + i - r - 1]!;
    dst[o + i] = s * inv;
  }
  // Right end: windows [i − r, n − 1].
  for (let i = Math.max(end, r + 1); i < n; i++) {
    s -= src[o + i - r - 1]!;
    dst[o + i] = s / (n - i + r);
  }
}

/**
 * Vertical clipped box mean of radius r over columns [c0, c1) of a region of `rw` columns and `rh`
 * rows: running sums along each column, one row at a time.
 */
function boxColumns(
  src: Float32Array,
  dst: Float32Array,
  rw: number,
  rh: number,
  c0: number,
  c1: number,
  r: number,
  acc: Float64Array,
): void {
  const w = c1 - c0;
  acc.fill(0, 0, w);
  const first = Math.min(r, rh - 1);
  for (let y = 0; y <= first; y++) {
    const base = y * rw + c0;
    for (let j = 0; j < w; j++) acc[j]! += src[base + j]!;
  }
  for (let y = 0; y < rh; y++) {
    const inv = 1 / (Math.min(y + r, rh - 1) - Math.max(y - r, 0) + 1);
    const base = y * rw + c0;
    for (let j = 0; j < w; j++) dst[base + j] = acc[j]! * inv;
    const add = y + r + 1;
    if (add < rh) {
      const a = add * rw + c0;
      for (let j = 0; j < w; j++) acc[j]! += src[a + j]!;
    }
    const sub = y - r;
    if (sub >= 0) {
      const b = sub * rw + c0;
      for (let j = 0; j < w; j++) acc[j]! -= src[b + j]!;
    }
  }
}

/** Returns a new feathered alpha (width*height bytes). */
export function featherAlpha(alpha: Uint8Array, width: number, height: number, options: FeatherOptions): Uint8Array {
  if (alpha.length !== width * height) throw new RangeError('featherAlpha: sizes do not match');
  const out = alpha.slice();
  const r = featherRadius(options.width, width, height);
  if (r === 0) return out;
  const reach = 3 * r;
  const strip = Math.max(32, 4 * reach);
  const colVal = new Uint8Array(width);
  const colVar = new Uint8Array(width);
  const need = new Int32Array(width + 1);
  let buf = new Float32Array(0);
  let tmp = new Float32Array(0);
  const acc = new Float64Array(width);
  // A 32-bit view of the rows when they are word-aligned.
  const w4 = width >> 2;
  const words =
    width % 4 === 0 && alpha.byteOffset % 4 === 0
      ? new Uint32Array(alpha.buffer, alpha.byteOffset, (width * height) >> 2)
      : undefined;

  for (let y0 = 0; y0 < height; y0 += strip) {
    const y1 = Math.min(height, y0 + strip);
    const ry0 = Math.max(0, y0 - reach);
    const ry1 = Math.min(height, y1 + reach);
    const rh = ry1 - ry0;
    // Which columns vary over the strip's rows (±reach), and each one's value where it does not.
    colVal.set(alpha.subarray(ry0 * width, ry0 * width + width));
    colVar.fill(0);
    if (words) {
      // Four columns per compare; the rare differing word is resolved byte by byte.
      const ref = ry0 * w4;
      for (let y = ry0 + 1; y < ry1; y++) {
        const base = y * w4;
        for (let q = 0; q < w4; q++) {
          if (words[base + q] !== words[ref + q]) {
            const x = q * 4;
            const b = y * width + x;
            for (let j = 0; j < 4; j++) if (alpha[b + j] !== colVal[x + j]) colVar[x + j] = 1;
          }
        }
      }
    } else {
      for (let y = ry0 + 1; y < ry1; y++) {
        const base = y * width;
        for (let x = 0; x < width; x++) if (alpha[base + x] !== colVal[x]) colVar[x] = 1;
      }
    }
    // Output columns whose window (±reach) holds a varying column or two different ones.
    need.fill(0);
    let anyNeed = false;
    for (let c = 0; c < width; c++) {
      let from = width;
      let to = -1;
      if (colVar[c]) {
        from = c - reach;
        to = c + reach;
      }
      if (c + 1 < width && colVal[c] !== colVal[c + 1]) {
        from = Math.min(from, c + 1 - reach);
        to = Math.max(to, c + reach);
      }
      if (to < 0) continue;
      need[Math.max(0, from)]!++;
      need[Math.min(width, to + 1)]!--;
      anyNeed = true;
    }
    if (!anyNeed) continue;
    // Runs of needed columns, merged across gaps narrower than the margins they would share.
    const runs: number[] = [];
    let level = 0;
    for (let x = 0; x < width; x++) {
      const was = level > 0;
      level += need[x]!;
      const is = level > 0;
      if (is && !was) {
        if (runs.length && x - runs[runs.length - 1]! <= 2 * reach) runs.pop();
        else runs.push(x);
      } else if (!is && was) runs.push(x);
    }
    if (runs.length % 2) runs.push(width);
    for (let k = 0; k < runs.length; k += 2) {
      const xs = runs[k]!;
      const xe = runs[k + 1]!;
      const rx0 = Math.max(0, xs - reach);
      const rx1 = Math.min(width, xe + reach);
      const rw = rx1 - rx0;
      if (buf.length < rw * rh) {
        buf = new Float32Array(rw * rh);
        tmp = new Float32Array(rw * rh);
      }
      for (let y = 0; y < rh; y++) {
        const src = (ry0 + y) * width + rx0;
        const d = y * rw;
        for (let x = 0; x < rw; x++) buf[d + x] = alpha[src + x]!;
      }
      // Three horizontal passes over every row of the region (the margins make [xs, xe) exact),
      // then three vertical passes over the needed columns only.
      for (let y = 0; y < rh; y++) {
        const o = y * rw;
        boxLine(buf, tmp, o, rw, r);
        boxLine(tmp, buf, o, rw, r);
        boxLine(buf, tmp, o, rw, r);
      }
      const c0 = xs - rx0;
      const c1 = xe - rx0;
      boxColumns(tmp, buf, rw, rh, c0, c1, r, acc);
      boxColumns(buf, tmp, rw, rh, c0, c1, r, acc);
      boxColumns(tmp, buf, rw, rh, c0, c1, r, acc);
      for (let y = y0; y < y1; y++) {
        const s = (y - ry0) * rw + c0;
        const d = y * width + xs;
        for (let x = 0, w = xe - xs; x < w; x++) {
          const v = buf[s + x]! + 0.5;
          out[d + x] = Math.min(Math.max(v, 0), 255);
        }
      }
    }
  }
  return out;
}
