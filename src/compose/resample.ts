/**
 * Resampling helpers on planar and interleaved typed arrays. Pure. Pixel centres are aligned
 * (align_corners = false): source coordinate = (dst + 0.5) · (srcSize / dstSize) − 0.5, clamped.
 */

/** Per destination index: the two source indices and the weight of the second. */
export interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}

export function axisTaps(srcSize: number, dstSize: number): AxisTaps {
  const i0 = new Int32Array(dstSize);
  const i1 = new Int32Array(dstSize);
  const f = new Float32Array(dstSize);
  const scale = srcSize / dstSize;
  for (let d = 0; d < dstSize; d++) {
    let s = (d + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    if (s > srcSize - 1) s = srcSize - 1;
    const a = Math.floor(s);
    i0[d] = a;
    i1[d] = Math.min(a + 1, srcSize - 1);
    f[d] = s - a;
  }
  return { i0, i1, f };
}

/** Bilinear resize of one float plane. */
export function resizeBilinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  if (src.length !== sw * sh) throw new RangeError(`resizeBilinear: ${src.length} values for ${sw}×${sh}`);
  const out = new Float32Array(dw * dh);
  const tx = axisTaps(sw, dw);
  const ty = axisTaps(sh, dh);
  const row = new Float32Array(sw);
  for (let y = 0; y < dh; y++) {
    const r0 = ty.i0[y]! * sw;
    const r1 = ty.i1[y]! * sw;
    const fy = ty.f[y]!;
    for (let x = 0; x < sw; x++) {
      const a = src[r0 + x]!;
      row[x] = a + (src[r1 + x]! - a) * fy;
    }
    const base = y * dw;
    for (let x = 0; x < dw; x++) {
      const a = row[tx.i0[x]!]!;
      out[base + x] = a + (row[tx.i1[x]!]! - a) * tx.f[x]!;
    }
  }
  return out;
}

/**
 * Box-average downsampling of interleaved 8-bit RGB by an integer factor into three float planes
 * scaled to [0, 1]. Output size is ceil(W/s)×ceil(H/s); partial blocks at the edges average the
 * pixels they have.
 */
export function downsampleRgbPlanes(
  rgb: Uint8Array,
  width: number,
  height: number,
  factor: number,
): { r: Float32Array; g: Float32Array; b: Float32Array; width: number; height: number } {
  const s = Math.max(1, Math.floor(factor));
  const w = Math.ceil(width / s);
  const h = Math.ceil(height / s);
  const r = new Float32Array(w * h);
  const g = new Float32Array(w * h);
  const b = new Float32Array(w * h);
  for (let gy = 0; gy < h; gy++) {
    const y0 = gy * s;
    const y1 = Math.min(y0 + s, height);
    const o = gy * w;
    for (let y = y0; y < y1; y++) {
      const rowBase = y * width * 3;
      for (let gx = 0; gx < w; gx++) {
        let p = rowBase + gx * s * 3;
        const end = rowBase + Math.min(gx * s + s, width) * 3;
        let sr = 0;
        let sg = 0;
        let sb = 0;
        for (; p < end; p += 3) {
          sr += rgb[p]!;
          sg += rgb[p + 1]!;
          sb += rgb[p + 2]!;
        }
        r[o + gx]! += sr;
        g[o + gx]! += sg;
        b[o + gx]! += sb;
      }
    }
    const rows = y1 - y0;
    for (let gx = 0; gx < w; gx++) {
      const cols = Math.min(gx * s + s, width) - gx * s;
      const k = 1 / (255 * rows * cols);
      r[o + gx]! *= k;
      g[o + gx]! *= k;
      b[o + gx]! *= k;
    }
  }
  return { r, g, b, width: w, height: h };
}

/**
 * Taps for upsampling a grid made by `downsampleRgbPlanes(…, s)` back to full size: block centres
 * sit at (i + 0.5)·s − 0.5 in full-resolution pixels.
 */
export function blockTaps(lowSize: number, fullSize: number, s: number): AxisTaps {
  const i0 = new Int32Array(fullSize);
  const i1 = new Int32Array(fullSize);
  const f = new Float32Array(fullSize);
  for (let d = 0; d < fullSize; d++) {
    let c = (d + 0.5) / s - 0.5;
    if (c < 0) c = 0;
    if (c > lowSize - 1) c = lowSize - 1;
    const a = Math.floor(c);
    i0[d] = a;
    i1[d] = Math.min(a + 1, lowSize - 1);
    f[d] = c - a;
  }
  return { i0, i1, f };
}

/** Sizes given "for a 1024-px long side" are scaled by this reference to the image at hand. */
export const REFERENCE_LONG_SIDE = 1024;

/** A length given in pixels of a 1024-px-long-side image, in pixels of a width×height image. */
export function scaledPx(px: number, width: number, height: number): number {
  return (px * Math.max(width, height)) / REFERENCE_LONG_SIDE;
}

/**
 * Bilinear upsampling of one float plane on a block grid (as made with factor s) to 8-bit values
 * at full size: out = round(255 · v), clamped to [0, 255].
 */
export function upsampleGridTo8(
  grid: Float32Array,
  gw: number,
  gh: number,
  width: number,
  height: number,
  s: number,
): Uint8Array {
  if (grid.length !== gw * gh) throw new RangeError(`upsampleGridTo8: ${grid.length} values for ${gw}×${gh}`);
  const out = new Uint8Array(width * height);
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(gh, height, s);
  const row = new Float32Array(gw);
  for (let y = 0; y < height; y++) {
    const r0 = ty.i0[y]! * gw;
    const r1 = ty.i1[y]! * gw;
    const fy = ty.f[y]!;
    for (let j = 0; j < gw; j++) {
      const a = grid[r0 + j]!;
      row[j] = a + (grid[r1 + j]! - a) * fy;
    }
    for (let x = 0, d = y * width; x < width; x++, d++) {
      const a = row[tx.i0[x]!]!;
      const v = (a + (row[tx.i1[x]!]! - a) * tx.f[x]!) * 255 + 0.5;
      out[d] = Math.min(Math.max(v, 0), 255);
    }
  }
  return out;
}

/** A grid of cells of f × f pixels over a photo (the last row and column of cells cut short). */
export interface CellGrid {
  /** Pixels a cell side. */
  f: number;
  width: number;
  height: number;
  /** The cell of pixel i (row-major index into the grid). */
  cellOf(i: number): number;
}

/** The grid of at most `maxSide` cells on the long side of a `width` × `height` photo. */
export function cellGrid(width: number, height: number, maxSide: number): CellGrid {
  const f = Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
  const gw = Math.ceil(width / f);
  return {
    f,
    width: gw,
    height: Math.ceil(height / f),
    cellOf: (i: number) => {
      const x = i % width;
      return (((i - x) / width / f) | 0) * gw + ((x / f) | 0);
    },
  };
}
