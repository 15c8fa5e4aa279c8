/**
 * Straight reflection streaks: a ridge of the fine scale's lift that runs straight across the
 * glass is found, with its own width; a ridge that wanders (a lock of fur), a short one, or the
 * edge of a light part of the view (a plateau: a sky above a horizon) is not. And on a pane over a
 * textured view, the streak's α comes out near the truth's, where the two-scale gate alone kept
 * little of it.
 */
import { describe, expect, it } from 'vitest';

import { glassLayer } from '../src/compose/glass/glass-layer.js';
import { CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';
import { straightStreaks } from '../src/compose/glass/reflection-streaks.js';
import { glassLook } from '../src/compose/glass/subject-matte.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 200,
  H = 160,
  SIDE = 150;

/** A lift field over all-glass: a triangular ridge of half-width 5 along the points `centre(t)`. */
function field(distance: (x: number, y: number) => number, peak = 0.3): Float32Array {
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) out[y * W + x] = peak * Math.max(0, 1 - Math.abs(distance(x, y)) / 5) + 0.005;
  }
  return out;
}
const glass = new Float32Array(W * H).fill(1);
const marked = (m: Uint8Array) => m.reduce((a, v) => a + v, 0);

describe('straightStreaks', () => {
  it('finds a straight diagonal streak across the glass, as wide as it is', () => {
    // The line 0.6·x − 0.8·y = −20 (unit normal), i.e. from the left edge down to the right.
    const m = straightStreaks(
      field((x, y) => 0.6 * x - 0.8 * y + 20),
      glass,
      W,
      H,
      SIDE,
    );
    expect(m[95 * W + 100]).toBe(1); // 0.6·100 − 0.8·95 + 20 = 4: within its half-width
    expect(m[100 * W + 100]).toBe(1); // distance 0
    expect(m[130 * W + 100]).toBe(0); // 24 px across
    expect(marked(m)).toBeGreaterThan(1500);
    expect(marked(m)).toBeLessThan(4000);
  });

  it('leaves a wandering ridge, a short one and the edge of a plateau alone', () => {
    expect(
      marked(
        straightStreaks(
          field((x, y) => y - 80 - 25 * Math.sin(x / 12)),
          glass,
          W,
          H,
          SIDE,
        ),
      ),
    ).toBe(0);
    const short = field((x, y) => (x > 80 && x < 110 ? y - 80 : 99));
    expect(marked(straightStreaks(short, glass, W, H, SIDE))).toBe(0);
    const plateau = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) plateau[i] = Math.floor(i / W) < 60 ? 0.3 : 0.01;
    expect(marked(straightStreaks(plateau, glass, W, H, SIDE))).toBe(0);
  });
});

describe('glassLayer on a pane with a streak over a textured view', () => {
  it('gives the streak most of its α', () => {
    // A frame round a pane over a leafy green view, a streak 12 px wide (α₀ 0.1 + up to 0.4).
    const rand = seededRandom(9);
    const rgb = new Uint8Array(W * H * 3);
    const classes = new Uint8Array(W * H);
    const truth = new Float32Array(W * H);
    const tint = [190, 210, 208],
      light = [240, 243, 246];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        const inPane = x >= 10 && x < W - 10 && y >= 10 && y < H - 10;
        classes[i] = inPane ? CLASS_GLASS : CLASS_OPAQUE;
        if (!inPane) {
          rgb.set([60, 62, 66], i * 3);
          continue;
        }
        const leaf = 40 * Math.sin(x * 0.31 + Math.sin(y * 0.17) * 3) + 30 * (rand() - 0.5);
        const view = [70 + leaf, 120 + leaf, 50 + leaf * 0.5];
        const r = 0.4 * Math.max(0, 1 - Math.abs(0.6 * x - 0.8 * y + 20) / 6);
        truth[i] = 0.1 + r;
        for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round((0.9 - r) * view[c]! + 0.1 * tint[c]! + r * light[c]!);
      }
    }
    const alpha = new Uint8Array(W * H).fill(255);
    const fg = Uint8Array.from(rgb);
    glassLayer(rgb, W, H, classes, SIDE, glassLook('auto'), alpha, fg);
    let err = 0,
      count = 0;
    for (let i = 0; i < W * H; i++) {
      if (classes[i] !== CLASS_GLASS || truth[i]! < 0.3) continue;
      err += Math.abs(alpha[i]! / 255 - truth[i]!);
      count++;
    }
    expect(count).toBeGreaterThan(300);
    expect(err / count).toBeLessThan(0.16);
  });
});
