/**
 * Guided image filter (He, Sun, Tang, "Guided Image Filtering", ECCV 2010 / TPAMI 2013) and its
 * fast variant (He & Sun, "Fast Guided Filter", 2015). Pure functions over planar Float32Arrays:
 * every plane is width*height, row-major. Box means use running sums, so the cost per pixel does
 * not depend on the radius.
 *
 * Notation (per window ω_k of radius r, |ω| clipped at the borders):
 *   gray guide:   a_k = cov(I, p) / (var(I) + eps),   b_k = mean(p) − a_k · mean(I)
 *   colour guide: a_k = (Σ_k + eps·U)⁻¹ · cov(I, p)   (3-vector),   b_k = mean(p) − a_kᵀ · mean(I)
 *   output:       q_i = mean(a)_i · I_i + mean(b)_i
 */

export interface GuidedFilterOptions {
  /** Window radius in pixels (window is (2r+1)², clipped at the borders). */
  radius: number;
  /** Regularisation; larger = smoother. Guide values are expected in [0, 1]. */
  eps: number;
}

/** Scratch buffers reused across box filters of one size. */
class Scratch {
  readonly row: Float64Array;
  readonly acc: Float64Array;
  readonly tmp: Float32Array;
  constructor(width: number, height: number) {
    this.row = new Float64Array(width);
    this.acc = new Float64Array(width);
    this.tmp = new Float32Array(width * height);
  }
}

/**
 * Mean of `src` over the (2r+1)² window around each pixel, clipped at the borders (the divisor is
 * the number of pixels inside the image). Writes into `out` (may not alias `src`).
 */
export function boxMean(
  src: Float32Array,
  width: number,
  height: number,
  radius: number,
  out: Float32Array = new Float32Array(width * height),
  scratch: Scratch = new Scratch(width, height),
): Float32Array {
  const r = Math.max(0, Math.floor(radius));
  const tmp = scratch.tmp;
  // Horizontal running sums: tmp[y, x] = Σ_{|dx|≤r} src[y, x+dx] (clipped).
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let s = 0;
    const first = Math.min(r, width - 1);
    for (let x = 0; x <= first; x++) s += src[base + x]!;
    for (let x = 0; x < width; x++) {
      tmp[base + x] = s;
      const add = x + r + 1;
      const sub = x - r;
      if (add < width) s += src[base + add]!;
      if (sub >= 0) s -= src[base + sub]!;
    }
  }
  // Vertical running sums over tmp, one row at a time; divide by the clipped window area.
  const acc = scratch.acc;
  acc.fill(0);
  const firstRows = Math.min(r, height - 1);
  for (let y = 0; y <= firstRows; y++) {
    const base = y * width;
    for (let x = 0; x < width; x++) acc[x]! += tmp[base + x]!;
  }
  const invCx = scratch.row;
  for (let x = 0; x < width; x++) invCx[x] = 1 / (Math.min(x + r, width - 1) - Math.max(x - r, 0) + 1);
  for (let y = 0; y < height; y++) {
    const invCy = 1 / (Math.min(y + r, height - 1) - Math.max(y - r, 0) + 1);
    const base = y * width;
    for (let x = 0; x < width; x++) out[base + x] = acc[x]! * invCx[x]! * invCy;
    const add = y + r + 1;
    const sub = y - r;
    if (add < height) {
      const b = add * width;
      for (let x = 0; x < width; x++) acc[x]! += tmp[b + x]!;
    }
    if (sub >= 0) {
      const b = sub * width;
      for (let x = 0; x < width; x++) acc[x]! -= tmp[b + x]!;
    }
  }
  return out;
}

function product(a: Float32Array, b: Float32Array, out: Float32Array): Float32Array {
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * b[i]!;
  return out;
}

function checkPlanes(width: number, height: number, planes: Float32Array[]): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`guided filter: bad size ${width}×${height}`);
  }
  for (const p of planes) {
    if (p.length !== width * height)
      throw new RangeError(`guided filter: plane of ${p.length} values for ${width}×${height}`);
  }
}

/** Guided filter with a single-channel guide `I`; returns q (same size as p). */
export function guidedFilterGray(
  I: Float32Array,
  p: Float32Array,
  width: number,
  height: number,
  options: GuidedFilterOptions,
): Float32Array {
  checkPlanes(width, height, [I, p]);
  const { a, b } = guidedCoefficientsGray(I, p, width, height, options);
  const q = new Float32Array(width * height);
  for (let i = 0; i < q.length; i++) q[i] = a[i]! * I[i]! + b[i]!;
  return q;
}

/** mean(a) and mean(b) of the gray-guide filter (what the fast variant upsamples). */
export function guidedCoefficientsGray(
  I: Float32Array,
  p: Float32Array,
  width: number,
  height: number,
  { radius, eps }: GuidedFilterOptions,
): { a: Float32Array; b: Float32Array } {
  checkPlanes(width, height, [I, p]);
  const n = width * height;
  const s = new Scratch(width, height);
  const t = new Float32Array(n);
  const meanI = boxMean(I, width, height, radius, undefined, s);
  const meanP = boxMean(p, width, height, radius, undefined, s);
  const corrIP = boxMean(product(I, p, t), width, height, radius, undefined, s);
  const corrII = boxMean(product(I, I, t), width, height, radius, undefined, s);
  // a, b overwrite corrIP, corrII.
  const a = corrIP;
  const b = corrII;
  for (let i = 0; i < n; i++) {
    const mI = meanI[i]!;
    const mP = meanP[i]!;
    const varI = corrII[i]! - mI * mI;
    const ai = (corrIP[i]! - mI * mP) / (varI + eps);
    a[i] = ai;
    b[i] = mP - ai * mI;
  }
  const meanA = boxMean(a, width, height, radius, meanI, s);
  const meanB = boxMean(b, width, height, radius, meanP, s);
  return { a: meanA, b: meanB };
}

export interface ColorCoefficients {
  /** mean(a) per channel of the guide. */
  ar: Float32Array;
  ag: Float32Array;
  ab: Float32Array;
  /** mean(b). */
  b: Float32Array;
}

/** mean(a) (3 planes) and mean(b) of the colour-guide filter. */
export function guidedCoefficientsColor(
  Ir: Float32Array,
  Ig: Float32Array,
  Ib: Float32Array,
  p: Float32Array,
  width: number,
  height: number,
  { radius, eps }: GuidedFilterOptions,
): ColorCoefficients {
  checkPlanes(width, height, [Ir, Ig, Ib, p]);
  const n = width * height;
  const s = new Scratch(width, height);
  const t = new Float32Array(n);
  const box = (src: Float32Array): Float32Array => boxMean(src, width, height, radius, undefined, s);
  const mR = box(Ir);
  const mG = box(Ig);
  const mB = box(Ib);
  const mP = box(p);
  const cRP = box(product(Ir, p, t));
  const cGP = box(product(Ig, p, t));
  const cBP = box(product(Ib, p, t));
  const cRR = box(product(Ir, Ir, t));
  const cRG = box(product(Ir, Ig, t));
  const cRB = box(product(Ir, Ib, t));
  const cGG = box(product(Ig, Ig, t));
  const cGB = box(product(Ig, Ib, t));
  const cBB = box(product(Ib, Ib, t));
  // Per pixel: solve (Σ + eps·U) a = cov(I, p) with the adjugate; results reuse cRP.. buffers.
  const ar = cRP;
  const ag = cGP;
  const ab = cBP;
  const b = mP;
  for (let i = 0; i < n; i++) {
    const r = mR[i]!;
    const g = mG[i]!;
    const bl = mB[i]!;
    const mp = mP[i]!;
    const covR = cRP[i]! - r * mp;
    const covG = cGP[i]! - g * mp;
    const covB = cBP[i]! - bl * mp;
    const srr = cRR[i]! - r * r + eps;
    const srg = cRG[i]! - r * g;
    const srb = cRB[i]! - r * bl;
    const sgg = cGG[i]! - g * g + eps;
    const sgb = cGB[i]! - g * bl;
    const sbb = cBB[i]! - bl * bl + eps;
    // Inverse of the symmetric matrix [[srr srg srb][srg sgg sgb][srb sgb sbb]].
    const i00 = sgg * sbb - sgb * sgb;
    const i01 = srb * sgb - srg * sbb;
    const i02 = srg * sgb - srb * sgg;
    const i11 = srr * sbb - srb * srb;
    const i12 = srb * srg - srr * sgb;
    const i22 = srr * sgg - srg * srg;
    const det = srr * i00 + srg * i01 + srb * i02;
    const inv = 1 / det;
    const a0 = (i00 * covR + i01 * covG + i02 * covB) * inv;
    const a1 = (i01 * covR + i11 * covG + i12 * covB) * inv;
    const a2 = (i02 * covR + i12 * covG + i22 * covB) * inv;
    ar[i] = a0;
    ag[i] = a1;
    ab[i] = a2;
    b[i] = mp - a0 * r - a1 * g - a2 * bl;
  }
  return { ar: box(ar), ag: box(ag), ab: box(ab), b: boxMean(b, width, height, radius, mR, s) };
}

/** Guided filter with an RGB guide given as three planes; returns q. */
export function guidedFilterColor(
  Ir: Float32Array,
  Ig: Float32Array,
  Ib: Float32Array,
  p: Float32Array,
  width: number,
  height: number,
  options: GuidedFilterOptions,
): Float32Array {
  const { ar, ag, ab, b } = guidedCoefficientsColor(Ir, Ig, Ib, p, width, height, options);
  const q = new Float32Array(width * height);
  for (let i = 0; i < q.length; i++) q[i] = ar[i]! * Ir[i]! + ag[i]! * Ig[i]! + ab[i]! * Ib[i]! + b[i]!;
  return q;
}
