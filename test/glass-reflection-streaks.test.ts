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

  it('leaves a straight light strap with sharp sides alone (a profile no reflection has)', () => {
    const strap = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) strap[i] = Math.abs((i % W) - 100) <= 6 ? 0.3 : 0.005;
    expect(marked(straightStreaks(strap, glass, W, H, SIDE))).toBe(0);
    // The same lift with a soft, triangular profile across is a streak.
    expect(
      marked(
        straightStreaks(
          field((x) => (x - 100) * 0.6),
          glass,
          W,
          H,
          SIDE,
        ),
      ),
    ).toBeGreaterThan(1000);
  });
});

/**
 * A frame round a pane over a leafy green view (α₀ 0.1), with a reflection of profile `profile(d)`
 * (its lift at distance d across the line 0.6·x − 0.8·y + 20 = 0); the mean |Δα| where the truth's
 * α is at least `over`, after glassLayer.
 */
function bandError(profile: (d: number) => number, over: number): { err: number; count: number } {
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
      const r = profile(0.6 * x - 0.8 * y + 20);
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
    if (classes[i] !== CLASS_GLASS || truth[i]! < over) continue;
    err += Math.abs(alpha[i]! / 255 - truth[i]!);
    count++;
  }
  return { err: err / count, count };
}

describe('glassLayer on a pane with a reflection over a textured view', () => {
  it('gives a narrow streak most of its α', () => {
    const { err, count } = bandError((d) => 0.4 * Math.max(0, 1 - Math.abs(d) / 6), 0.3);
    expect(count).toBeGreaterThan(300);
    expect(err).toBeLessThan(0.16);
  });

  it('gives a broad band most of its α', () => {
    // A smooth band 50 px across, α up to 0.1 + 0.25.
    const { err, count } = bandError((d) => {
      const u = Math.max(0, 1 - Math.abs(d) / 25);
      return 0.25 * u * u * (3 - 2 * u);
    }, 0.25);
    expect(count).toBeGreaterThan(1000);
    expect(err).toBeLessThan(0.08);
  });
});
