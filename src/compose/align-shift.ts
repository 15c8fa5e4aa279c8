/**
 * Small-shift alignment of two shots of one framing (a tripod still moves a few pixels between a
 * shot and its clean plate, or between two backdrops). Pure.
 *
 * A global translation within ±maxShift px is found by normalised cross-correlation of gradient
 * magnitudes — not of the colours themselves, which differ where the backdrops differ — on an
 * image pyramid: an exhaustive search on the coarsest level (long side ≤ 256 px), then ±1 px
 * refinements level by level down to full resolution. Normalised correlation ignores the contrast
 * of an edge (a frame against black or against white), only where it is.
 *
 * Two shots over different backdrops share only the product: they are aligned on their
 * differences from their own plates (the product's silhouette), not on their colours.
 *
 * A pair with nothing to match (two flat backdrops: only noise has gradients) keeps shift 0: a
 * shift is taken only when its correlation is clearly better than that of no shift.
 */

export interface Shift {
  /** `moving(x + dx, y + dy)` matches `ref(x, y)`. Whole pixels. */
  dx: number;
  dy: number;
  /** Correlation of the gradient images at this shift, −1..1 (full resolution). */
  score: number;
}

export interface AlignOptions {
  /** Largest shift searched, px at full resolution (default 8). */
  maxShift?: number;
  /** A shift is taken only when its correlation beats no shift by this much (default 0.02). */
  minGain?: number;
  /** …and reaches at least this correlation (default 0.2). */
  minScore?: number;
}

interface Plane {
  data: Float32Array;
  width: number;
  height: number;
}

/** Luma of interleaved 8-bit RGB. */
function luma(rgb: Uint8Array, width: number, height: number): Plane {
  const n = width * height;
  const data = new Float32Array(n);
  for (let i = 0, s = 0; i < n; i++, s += 3) data[i] = 0.299 * rgb[s]! + 0.587 * rgb[s + 1]! + 0.114 * rgb[s + 2]!;
  return { data, width, height };
}

/** 2×2 box reduction. */
function halve(p: Plane): Plane {
  const width = Math.max(1, p.width >> 1);
  const height = Math.max(1, p.height >> 1);
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r0 = Math.min(p.height - 1, 2 * y) * p.width;
    const r1 = Math.min(p.height - 1, 2 * y + 1) * p.width;
    for (let x = 0; x < width; x++) {
      const x0 = Math.min(p.width - 1, 2 * x);
      const x1 = Math.min(p.width - 1, 2 * x + 1);
      data[y * width + x] = 0.25 * (p.data[r0 + x0]! + p.data[r0 + x1]! + p.data[r1 + x0]! + p.data[r1 + x1]!);
    }
  }
  return { data, width, height };
}

/** |∂x| + |∂y| by central differences (0 on the border). */
function gradient(p: Plane): Plane {
  const { width, height } = p;
  const out = new Float32Array(width * height);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1, i = y * width + 1; x < width - 1; x++, i++) {
      out[i] = Math.abs(p.data[i + 1]! - p.data[i - 1]!) + Math.abs(p.data[i + width]! - p.data[i - width]!);
    }
  }
  return { data: out, width, height };
}

/**
 * Normalised cross-correlation of `a(x, y)` and `b(x + dx, y + dy)` over the pixels at least
 * `margin` from the border (so every shift compares the same pixels of `a`).
 */
function correlation(a: Plane, b: Plane, dx: number, dy: number, margin: number): number {
  const { width, height } = a;
  let sa = 0,
    sb = 0,
    saa = 0,
    sbb = 0,
    sab = 0,
    n = 0;
  for (let y = margin; y < height - margin; y++) {
    const ra = y * width;
    const rb = (y + dy) * width + dx;
    for (let x = margin; x < width - margin; x++) {
      const va = a.data[ra + x]!;
      const vb = b.data[rb + x]!;
      sa += va;
      sb += vb;
      saa += va * va;
      sbb += vb * vb;
      sab += va * vb;
      n++;
    }
  }
  if (n === 0) return 0;
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return va > 1e-9 && vb > 1e-9 ? cov / Math.sqrt(va * vb) : 0;
}

/** The whole-pixel shift that best maps `moving` onto `ref` (both interleaved RGB, same size). */
export function estimateShift(
  ref: Uint8Array,
  moving: Uint8Array,
  width: number,
  height: number,
  options: AlignOptions = {},
): Shift {
  if (ref.length !== width * height * 3 || moving.length !== ref.length)
    throw new RangeError('estimateShift: sizes do not match');
  return estimatePlaneShift(luma(ref, width, height).data, luma(moving, width, height).data, width, height, options);
}

/** The same on single planes (luma, or any image the two share: e.g. |shot − plate|). */
export function estimatePlaneShift(
  ref: Float32Array,
  moving: Float32Array,
  width: number,
  height: number,
  options: AlignOptions = {},
): Shift {
  if (ref.length !== width * height || moving.length !== ref.length)
    throw new RangeError('estimatePlaneShift: sizes do not match');
  const maxShift = Math.max(0, Math.floor(options.maxShift ?? 8));
  const minGain = options.minGain ?? 0.02;
  const minScore = options.minScore ?? 0.2;
  // Pyramids of luma, coarsest last.
  const pa: Plane[] = [{ data: ref, width, height }];
  const pb: Plane[] = [{ data: moving, width, height }];
  while (
    Math.max(pa[pa.length - 1]!.width, pa[pa.length - 1]!.height) > 256 &&
    Math.min(pa[pa.length - 1]!.width, pa[pa.length - 1]!.height) >= 32
  ) {
    pa.push(halve(pa[pa.length - 1]!));
    pb.push(halve(pb[pb.length - 1]!));
  }
  let dx = 0;
  let dy = 0;
  let best = -Infinity;
  for (let level = pa.length - 1; level >= 0; level--) {
    const ga = gradient(pa[level]!);
    const gb = gradient(pb[level]!);
    const scale = 2 ** level;
    const reach = Math.ceil(maxShift / scale);
    const margin = reach + 2;
    if (ga.width <= 2 * margin + 2 || ga.height <= 2 * margin + 2) continue;
    let cx = dx * 2;
    let cy = dy * 2;
    let r = 1;
    if (level === pa.length - 1) {
      cx = 0;
      cy = 0;
      r = reach;
    }
    best = -Infinity;
    let bx = 0;
    let by = 0;
    for (let sy = cy - r; sy <= cy + r; sy++) {
      for (let sx = cx - r; sx <= cx + r; sx++) {
        if (Math.abs(sx) > reach || Math.abs(sy) > reach) continue;
        const s = correlation(ga, gb, sx, sy, margin);
        // Ties go to the smaller shift.
        if (
          s > best + 1e-9 ||
          (Math.abs(s - best) <= 1e-9 && Math.abs(sx) + Math.abs(sy) < Math.abs(bx) + Math.abs(by))
        ) {
          best = s;
          bx = sx;
          by = sy;
        }
      }
    }
    dx = bx;
    dy = by;
    if (level === 0) {
      const still = correlation(ga, gb, 0, 0, margin);
      if ((dx !== 0 || dy !== 0) && (best < minScore || best < still + minGain)) return { dx: 0, dy: 0, score: still };
      // Never beyond the limit at full resolution.
      dx = Math.max(-maxShift, Math.min(maxShift, dx));
      dy = Math.max(-maxShift, Math.min(maxShift, dy));
    }
  }
  return { dx, dy, score: best === -Infinity ? 0 : best };
}

/** `out(x, y) = rgb(x + dx, y + dy)`, the border pixels repeated where that falls outside. */
export function applyShift(rgb: Uint8Array, width: number, height: number, dx: number, dy: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError('applyShift: size does not match');
  if (dx === 0 && dy === 0) return rgb;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.max(0, y + dy));
    const src = sy * width;
    const dst = y * width;
    const x0 = Math.max(0, -dx);
    const x1 = Math.min(width, width - dx);
    if (x1 > x0) out.set(rgb.subarray((src + x0 + dx) * 3, (src + x1 + dx) * 3), (dst + x0) * 3);
    for (let x = 0; x < Math.min(width, x0); x++) out.set(rgb.subarray(src * 3, src * 3 + 3), (dst + x) * 3);
    const last = (src + width - 1) * 3;
    for (let x = Math.max(0, x1); x < width; x++) out.set(rgb.subarray(last, last + 3), (dst + x) * 3);
  }
  return out;
}

/** rms over the channels of a − b, per pixel: what stands in front of a plate. */
export function differencePlane(a: Uint8Array, b: Uint8Array): Float32Array {
  const n = a.length / 3;
  const out = new Float32Array(n);
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    const d0 = a[s]! - b[s]!;
    const d1 = a[s + 1]! - b[s + 1]!;
    const d2 = a[s + 2]! - b[s + 2]!;
    out[i] = Math.sqrt((d0 * d0 + d1 * d1 + d2 * d2) / 3);
  }
  return out;
}
