import { describe, expect, it } from 'vitest';

import { boxMean, guidedFilterColor, guidedFilterGray } from '../src/compose/guided-filter.js';
import { refineAlpha } from '../src/compose/refine.js';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomPlane(w: number, h: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: w * h }, () => r());
}

/** Window mean by direct summation (the definition, no running sums). */
function naiveMean(src: ArrayLike<number>, w: number, h: number, r: number, x: number, y: number): number {
  let s = 0;
  let n = 0;
  for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
    for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
      s += src[yy * w + xx]!;
      n++;
    }
  }
  return s / n;
}

function naiveBox(src: ArrayLike<number>, w: number, h: number, r: number): Float64Array {
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = naiveMean(src, w, h, r, x, y);
  return out;
}

/** He et al.'s gray guided filter written straight from the paper, in float64. */
function naiveGuidedGray(I: Float32Array, p: Float32Array, w: number, h: number, r: number, eps: number): Float64Array {
  const n = w * h;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sI = 0,
        sP = 0,
        sIP = 0,
        sII = 0,
        cnt = 0;
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
          const i = I[yy * w + xx]!;
          const q = p[yy * w + xx]!;
          sI += i;
          sP += q;
          sIP += i * q;
          sII += i * i;
          cnt++;
        }
      }
      const mI = sI / cnt,
        mP = sP / cnt;
      const ak = (sIP / cnt - mI * mP) / (sII / cnt - mI * mI + eps);
      a[y * w + x] = ak;
      b[y * w + x] = mP - ak * mI;
    }
  }
  const ma = naiveBox(a, w, h, r);
  const mb = naiveBox(b, w, h, r);
  return Float64Array.from({ length: n }, (_, i) => ma[i]! * I[i]! + mb[i]!);
}

/** Solves a 3×3 system by Gaussian elimination with partial pivoting. */
function solve3(m: number[][], v: number[]): number[] {
  const A = m.map((row, i) => [...row, v[i]!]);
  for (let c = 0; c < 3; c++) {
    let piv = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[piv]![c]!)) piv = r;
    [A[c], A[piv]] = [A[piv]!, A[c]!];
    for (let r = c + 1; r < 3; r++) {
      const f = A[r]![c]! / A[c]![c]!;
      for (let k = c; k < 4; k++) A[r]![k]! -= f * A[c]![k]!;
    }
  }
  const x = [0, 0, 0];
  for (let r = 2; r >= 0; r--) {
    let s = A[r]![3]!;
    for (let k = r + 1; k < 3; k++) s -= A[r]![k]! * x[k]!;
    x[r] = s / A[r]![r]!;
  }
  return x;
}

/** The colour-guide filter from the paper's definition, per window, in float64. */
function naiveGuidedColor(
  I: Float32Array[],
  p: Float32Array,
  w: number,
  h: number,
  r: number,
  eps: number,
): Float64Array {
  const n = w * h;
  const A = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const B = new Float64Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const idx: number[] = [];
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) idx.push(yy * w + xx);
      }
      const mean = (f: (i: number) => number) => idx.reduce((s, i) => s + f(i), 0) / idx.length;
      const mu = [0, 1, 2].map((c) => mean((i) => I[c]![i]!));
      const mp = mean((i) => p[i]!);
      const cov = [0, 1, 2].map((c) => mean((i) => I[c]![i]! * p[i]!) - mu[c]! * mp);
      const sigma = [0, 1, 2].map((c) =>
        [0, 1, 2].map((d) => mean((i) => I[c]![i]! * I[d]![i]!) - mu[c]! * mu[d]! + (c === d ? eps : 0)),
      );
      const a = solve3(sigma, cov);
      for (let c = 0; c < 3; c++) A[c]![y * w + x] = a[c]!;
      B[y * w + x] = mp - a[0]! * mu[0]! - a[1]! * mu[1]! - a[2]! * mu[2]!;
    }
  }
  const mA = A.map((a) => naiveBox(a, w, h, r));
  const mB = naiveBox(B, w, h, r);
  return Float64Array.from(
    { length: n },
    (_, i) => mA[0]![i]! * I[0]![i]! + mA[1]![i]! * I[1]![i]! + mA[2]![i]! * I[2]![i]! + mB[i]!,
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('box mean', () => {
  it.each([
    [13, 7, 0],
    [13, 7, 1],
    [13, 7, 3],
    [5, 9, 8], // radius larger than the image
  ])('matches direct window averages (%i×%i, r=%i), clipped at the borders', (w, h, r) => {
    const src = randomPlane(w, h, w * 31 + r);
    expect(maxAbsDiff(boxMean(src, w, h, r), naiveBox(src, w, h, r))).toBeLessThan(1e-5);
  });
});

describe('guided filter', () => {
  it('with a gray guide matches the paper’s definition computed naively', () => {
    const [w, h] = [23, 17];
    const I = randomPlane(w, h, 1);
    const p = randomPlane(w, h, 2);
    for (const [r, eps] of [
      [1, 1e-2],
      [3, 1e-3],
      [5, 0.1],
    ] as const) {
      expect(
        maxAbsDiff(guidedFilterGray(I, p, w, h, { radius: r, eps }), naiveGuidedGray(I, p, w, h, r, eps)),
      ).toBeLessThan(2e-4);
    }
  });

  it('with a colour guide matches the paper’s definition computed naively', () => {
    const [w, h] = [19, 14];
    const I = [randomPlane(w, h, 3), randomPlane(w, h, 4), randomPlane(w, h, 5)];
    const p = randomPlane(w, h, 6);
    for (const [r, eps] of [
      [1, 1e-2],
      [2, 1e-3],
    ] as const) {
      const got = guidedFilterColor(I[0]!, I[1]!, I[2]!, p, w, h, { radius: r, eps });
      expect(maxAbsDiff(got, naiveGuidedColor(I, p, w, h, r, eps))).toBeLessThan(2e-3);
    }
  });

  it('sharpens a blurred mask along the guide’s edge', () => {
    const [w, h] = [40, 10];
    const I = Float32Array.from({ length: w * h }, (_, i) => (i % w < 17 ? 0.9 : 0.1));
    // The mask's transition is blurred over 10 pixels around the same edge.
    const p = Float32Array.from({ length: w * h }, (_, i) => Math.min(1, Math.max(0, (22 - (i % w)) / 10)));
    const q = guidedFilterGray(I, p, w, h, { radius: 4, eps: 1e-4 });
    // The mask steps by 0.1 per pixel; across the guide's edge the output jumps by far more.
    expect(q[5 * w + 16]! - q[5 * w + 17]!).toBeGreaterThan(0.4);
    expect(q[5 * w + 16]!).toBeGreaterThan(0.5);
    expect(q[5 * w + 17]!).toBeLessThan(0.5);
  });
});

describe('mask refinement', () => {
  /** A photo whose subject (bright) ends at column `edge`, and a coarse mask blurred around it. */
  function scene(w: number, h: number, edge: number) {
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) rgb.fill(x < edge ? 220 : 30, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const cw = 64;
    const ch = 64;
    const data = new Float32Array(cw * ch);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        const fx = ((x + 0.5) / cw) * w; // full-resolution column of this coarse pixel
        data[y * cw + x] = Math.min(1, Math.max(0, 0.5 - (fx - edge) / (0.06 * w)));
      }
    }
    return { rgb, coarse: { data, width: cw, height: ch } };
  }

  it('puts the edge where the photo has it, not on the coarse grid', () => {
    const [w, h, edge] = [300, 200, 137];
    const { rgb, coarse } = scene(w, h, edge);
    const alpha = refineAlpha(rgb, w, h, coarse, { gridSize: 300, radius: 6 });
    const plain = refineAlpha(rgb, w, h, coarse, { disabled: true });
    const row = 100 * w;
    // The refined alpha crosses one half exactly at the photo's edge, in one big step…
    expect(alpha[row + edge - 1]!).toBeGreaterThan(128);
    expect(alpha[row + edge]!).toBeLessThan(128);
    expect(alpha[row + edge - 1]! - alpha[row + edge]!).toBeGreaterThan(80);
    // …where plain upsampling only ramps by a few levels per pixel.
    expect(Math.abs(plain[row + edge - 1]! - plain[row + edge]!)).toBeLessThan(20);
  });

  it('keeps confident interior and background untouched', () => {
    const [w, h, edge] = [300, 200, 150];
    const { rgb, coarse } = scene(w, h, edge);
    // Texture in the confident areas must not leak into the mask.
    for (let i = 0; i < rgb.length; i += 97) rgb[i] = rgb[i]! ^ 0x3f;
    const alpha = refineAlpha(rgb, w, h, coarse, { gridSize: 300 });
    for (let y = 0; y < h; y++) {
      expect(alpha[y * w + 5]).toBe(255);
      expect(alpha[y * w + w - 5]).toBe(0);
    }
  });

  it('refines a 12-megapixel photo in well under a second', () => {
    const [w, h] = [4000, 3000];
    const rgb = new Uint8Array(w * h * 3);
    const r = rng(7);
    for (let i = 0; i < rgb.length; i += 3) rgb.fill((r() * 255) | 0, i, i + 3);
    const coarse = {
      data: Float32Array.from({ length: 1024 * 1024 }, (_, i) =>
        (i % 1024) / 1024 < 0.5 ? 1 : (i % 1024) / 1024 < 0.55 ? 0.5 : 0,
      ),
      width: 1024,
      height: 1024,
    };
    refineAlpha(rgb.subarray(0, 400 * 300 * 3), 400, 300, coarse); // warm-up
    const t0 = performance.now();
    const alpha = refineAlpha(rgb, w, h, coarse);
    const ms = performance.now() - t0;
    expect(alpha.length).toBe(w * h);
    console.log(`refine 12 MP: ${ms.toFixed(0)} ms`);
    // Typically 0.3–0.4 s on one core; the bound leaves room for a loaded 2-core CI machine.
    expect(ms).toBeLessThan(1500);
  });
});
