/**
 * Compositing quality a photographer checks up close: no speckled fringe along thin parts, and one
 * soft grounded shadow under the footprint. Synthetic images made here.
 *
 * 12-MP stage timings (npm run bench:replace, studio-chair at 4000×3000, product-studio, ISNet;
 * 2-core Xeon dev machine shared with other builds, medians of 3 runs):
 *   before: decontaminate 625 · feather 492 · shadow 315 · composite 58 ms = 1490 ms
 *           (machine quiet: load ≈ 1, ISNet infer 875 ms)
 *   after:  decontaminate 263 · feather 208 · shadow 97 · composite 128 ms = 696 ms
 *           (machine busy: load 6–9, ISNet infer 2417 ms, i.e. ≈ 2.8× slower than when quiet)
 * Same process, same moment, CPU time on the chair's 12-MP mask: decontaminate 950–1120 → 126–180 ms,
 * feather 480–500 → 85–140 ms.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { compositeOverColor } from '../src/compose/alpha.js';
import { decontaminate } from '../src/compose/decontaminate.js';
import { synthesizeShadow } from '../src/compose/shadow.js';

/** Deterministic uniform noise in [−1, 1). */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

describe('edge decontamination along thin parts', () => {
  it('leaves no chroma speckle in the edge band of a thin bar cut from a noisy backdrop', () => {
    // A warm-grey bar 3 px wide with 3-px soft ramps, on a light backdrop with strong sensor noise,
    // and an alpha that is a little off (as a segmenter's is): the division by small α amplifies
    // the noise, and clamping each channel on its own turned it into coloured specks.
    const [w, h] = [160, 120];
    const F = [150, 140, 120];
    const rnd = noise(7);
    const rgb = new Uint8Array(w * h * 3);
    const alpha = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cx = 60 + y * 0.3; // a slanted bar
        const d = Math.abs(x + 0.5 - cx);
        const cover = Math.min(1, Math.max(0, (4.5 - d) / 3));
        const est = Math.min(1, Math.max(0, (8.5 - d) / 7)); // the segmenter's wider, softer alpha
        const i = y * w + x;
        alpha[i] = Math.round(est * 255);
        for (let c = 0; c < 3; c++) {
          const bg = 225 + 28 * rnd();
          rgb[i * 3 + c] = Math.round(cover * F[c]! + (1 - cover) * bg);
        }
      }
    }
    const out = compositeOverColor(decontaminate(rgb, alpha, w, h), alpha, w, { r: 255, g: 255, b: 255 });
    let band = 0;
    let speckles = 0;
    let worst = 0;
    for (let i = 0; i < w * h; i++) {
      if (alpha[i] === 0 || alpha[i] === 255) continue;
      band++;
      const r = out[i * 3]!;
      const g = out[i * 3 + 1]!;
      const b = out[i * 3 + 2]!;
      // Chroma beyond the bar's own (30 levels from R to B) by more than the photo's noise, or a
      // hue the photo pixel does not have (blue or green above red: blue and magenta specks).
      const chroma = Math.max(r, g, b) - Math.min(r, g, b);
      worst = Math.max(worst, chroma);
      const [ir, ig, ib] = [rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!];
      if (chroma > 40 || ((b > r + 12 || g > r + 12) && !(ib > ir + 4 || ig > ir + 4))) speckles++;
    }
    // Measured: 23 of 1656 band pixels (1.4 %), worst chroma 50; clamping each channel on its
    // own gave 36 (2.2 %).
    expect(band).toBeGreaterThan(1500);
    expect(speckles / band).toBeLessThan(0.018);
    expect(worst).toBeLessThanOrEqual(55);
  });
});

describe('ground shadow', () => {
  /** A table seen from the front: a top and two legs, symmetric about the middle column. */
  function table() {
    const [w, h] = [240, 160];
    const alpha = new Uint8Array(w * h);
    const top = 40;
    const ground = 120;
    for (let y = top; y < top + 10; y++) alpha.fill(255, y * w + 60, y * w + 180);
    for (let y = top + 10; y < ground; y++) {
      alpha.fill(255, y * w + 66, y * w + 76);
      alpha.fill(255, y * w + 164, y * w + 174);
    }
    return { w, h, alpha, top, ground };
  }
  const options = { opacity: 0.15, distance: 4, softness: 18, contact: { height: 9, opacity: 0.35 } };

  it('darkens the floor between the feet, not far outside the footprint, and nothing above the subject', () => {
    const { w, h, alpha, top, ground } = table();
    const shadow = synthesizeShadow(alpha, w, h, options);
    const at = (x: number, y: number) => shadow[y * w + x]!;
    const between = at(120, ground);
    expect(between).toBeGreaterThan(25);
    // Darkest at the feet.
    expect(at(71, ground + 1)).toBeGreaterThan(between);
    // Far outside the footprint (beyond the spread): untouched.
    expect(at(10, ground)).toBe(0);
    expect(at(230, ground)).toBe(0);
    for (let y = 0; y < top; y++) for (let x = 0; x < w; x++) expect(at(x, y)).toBe(0);
    // One soft shadow: no gap between the feet.
    let dip = 255;
    for (let x = 80; x < 160; x++) dip = Math.min(dip, at(x, ground));
    expect(dip).toBeGreaterThan(0.6 * between);
    // Clipped by the frame where it meets it, and inside the frame elsewhere.
    expect(at(120, h - 1)).toBe(0);
  });

  it('is symmetric for a symmetric subject and identical on every run', () => {
    const { w, h, alpha } = table();
    const a = synthesizeShadow(alpha, w, h, options);
    const b = synthesizeShadow(alpha, w, h, options);
    expect(createHash('sha256').update(a).digest('hex')).toBe(createHash('sha256').update(b).digest('hex'));
    let worst = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) worst = Math.max(worst, Math.abs(a[y * w + x]! - a[y * w + (w - 1 - x)]!));
    expect(worst).toBeLessThanOrEqual(1);
  });
});
