import { describe, expect, it } from 'vitest';

import { attachAlpha, compositeOverColor, compositeOverImage, compositeOverRows } from '../src/compose/alpha.js';
import { blurredBackground, verticalGradientRows } from '../src/compose/backgrounds.js';
import { enhanceForeground } from '../src/compose/enhance.js';
import { resizeBilinear } from '../src/compose/resample.js';

describe('alpha compositing', () => {
  it('computes fg·α + bg·(1−α), rounded, for every alpha and value pair', () => {
    const n = 256 * 4;
    const fg = new Uint8Array(n * 3);
    const bg = new Uint8Array(n * 3);
    const alpha = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      alpha[i] = i & 255;
      fg.fill([0, 255, 200, 13][i >> 8]!, i * 3, i * 3 + 3);
      bg.fill([255, 0, 17, 240][i >> 8]!, i * 3, i * 3 + 3);
    }
    const out = compositeOverImage(fg, alpha, bg);
    for (let i = 0; i < n * 3; i++) {
      const a = alpha[(i / 3) | 0]! / 255;
      expect(Math.abs(out[i]! - (fg[i]! * a + bg[i]! * (1 - a)))).toBeLessThanOrEqual(0.5);
    }
  });

  it('keeps the subject exactly where alpha is 255 and the colour where it is 0', () => {
    const fg = new Uint8Array([10, 20, 30, 40, 50, 60]);
    const out = compositeOverColor(fg, new Uint8Array([255, 0]), 2, { r: 1, g: 2, b: 3 });
    expect(Array.from(out)).toEqual([10, 20, 30, 1, 2, 3]);
  });

  it('uses one background colour per row', () => {
    const fg = new Uint8Array(2 * 2 * 3);
    const rows = new Uint8Array([100, 100, 100, 200, 200, 200]);
    expect(Array.from(compositeOverRows(fg, new Uint8Array(4), 2, rows))).toEqual([
      100, 100, 100, 100, 100, 100, 200, 200, 200, 200, 200, 200,
    ]);
  });

  it('interleaves RGB and alpha into RGBA', () => {
    expect(Array.from(attachAlpha(new Uint8Array([1, 2, 3, 4, 5, 6]), new Uint8Array([7, 8])))).toEqual([
      1, 2, 3, 7, 4, 5, 6, 8,
    ]);
  });
});

describe('backgrounds', () => {
  it('a gradient runs from the top colour to the bottom colour', () => {
    const rows = verticalGradientRows(11, { r: 255, g: 255, b: 255 }, { r: 0, g: 100, b: 200 });
    expect(Array.from(rows.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(Array.from(rows.subarray(30, 33))).toEqual([0, 100, 200]);
    for (let y = 1; y < 11; y++) expect(rows[y * 3]!).toBeLessThanOrEqual(rows[(y - 1) * 3]!);
  });

  it('the blurred background does not smear the subject’s colour around it', () => {
    const [w, h] = [200, 100];
    const rgb = new Uint8Array(w * h * 3);
    const alpha = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const subject = x >= 80 && x < 120 && y >= 30 && y < 70;
        rgb.set(subject ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
        alpha[y * w + x] = subject ? 255 : 0;
      }
    }
    const bg = blurredBackground(rgb, alpha, w, h);
    // Right next to the subject (and even under it) the background stays blue.
    for (const [x, y] of [
      [78, 50],
      [100, 50],
      [122, 50],
      [100, 28],
    ] as const) {
      const i = (y * w + x) * 3;
      expect(bg[i]!).toBeLessThan(10);
      expect(bg[i + 2]!).toBeGreaterThan(245);
    }
  });
});

describe('foreground enhancement', () => {
  const [w, h] = [32, 16];
  const rgb = new Uint8Array(w * h * 3);
  const alpha = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = x < 16 ? 100 + ((x * 3 + y) % 40) : 90; // low-contrast subject on the left
      rgb.fill(v, (y * w + x) * 3, (y * w + x) * 3 + 3);
      alpha[y * w + x] = x < 16 ? 255 : 0;
    }
  }

  it('leaves the background untouched', () => {
    const out = enhanceForeground(rgb, alpha, w, h);
    for (let y = 0; y < h; y++) for (let x = 16; x < w; x++) expect(out[(y * w + x) * 3]).toBe(90);
  });

  it('stretches the subject’s contrast', () => {
    const out = enhanceForeground(rgb, alpha, w, h);
    let lo = 255,
      hi = 0,
      lo0 = 255,
      hi0 = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 1; x < 15; x++) {
        const i = (y * w + x) * 3;
        lo = Math.min(lo, out[i]!);
        hi = Math.max(hi, out[i]!);
        lo0 = Math.min(lo0, rgb[i]!);
        hi0 = Math.max(hi0, rgb[i]!);
      }
    }
    expect(hi - lo).toBeGreaterThan((hi0 - lo0) * 1.3);
  });
});

describe('resampling', () => {
  it('bilinear resize keeps a constant plane constant and a linear ramp linear', () => {
    const c = resizeBilinear(new Float32Array(6 * 4).fill(0.25), 6, 4, 13, 9);
    expect(c.every((v) => Math.abs(v - 0.25) < 1e-7)).toBe(true);
    const ramp = Float32Array.from({ length: 8 }, (_, i) => i);
    const up = resizeBilinear(ramp, 8, 1, 16, 1);
    for (let x = 1; x < 15; x++) expect(up[x]).toBeCloseTo((x + 0.5) / 2 - 0.5, 5);
  });
});
