/**
 * Reflections read along the direction the found streaks share: a band parallel to them is read
 * over the whole glass, also where it only cuts a pane's corner; a light object of the view that
 * fills a few lines' middle, and the view's own noise, are not taken for a band; lines along the
 * photo's axes (a horizon, a shelf) set no direction. A glass body's thick base (rows above its
 * bottom outline, lifted alike across it) gets its α over a detailed view; a light band of the view
 * across the body's middle does not.
 */
import { describe, expect, it } from 'vitest';

import { DEFAULT_TINT, REFLECTED, glassLayer } from '../src/compose/glass/glass-layer.js';
import { parallelReflection, sharedDirection } from '../src/compose/glass/parallel-reflections.js';
import { CLASS_BACKGROUND, CLASS_GLASS } from '../src/compose/glass/region-classes.js';
import { glassLook } from '../src/compose/glass/subject-matte.js';
import type { Streak } from '../src/compose/glass/reflection-streaks.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 240,
  H = 180,
  SIDE = 180;
/** The diagonal direction of the tests' bands: the unit normal (c, s) at 45°. */
const DIR = { c: Math.SQRT1_2, s: Math.SQRT1_2 };
const EE = 5000;

/** d·e and e·e for reads r(x, y) (d = r·e) over uniform contrast. */
function reads(r: (x: number, y: number) => number): { de: Float32Array; ee: Float32Array } {
  const de = new Float32Array(W * H),
    ee = new Float32Array(W * H).fill(EE);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) de[y * W + x] = r(x, y) * EE;
  return { de, ee };
}

/** A soft band of height `peak` and half-width `half` centred on the line x·c + y·s = rho. */
const band = (x: number, y: number, rho: number, peak: number, half: number) =>
  peak * Math.max(0, 1 - Math.abs((x * DIR.c + y * DIR.s - rho) / half)) ** 2;

const read = (out: Float32Array, x: number, y: number) => out[y * W + x]!;

describe('parallelReflection', () => {
  it('reads a band parallel to the found ones over the whole glass, also one cutting a corner', () => {
    const rand = seededRandom(3);
    // The view's own reads: a texture (faint stripes along the bands among it) and noise
    // everywhere; a long band through the middle and a short one across the top-left corner (its
    // line crosses only ~40 px of glass).
    const noise = Float32Array.from({ length: W * H }, (_, i) => {
      const x = i % W,
        y = Math.floor(i / W);
      return 0.03 + 0.012 * Math.sin((x + y) / 9) + 0.03 * Math.sin(x / 7) * Math.sin(y / 11) + rand() * 0.02;
    });
    const truth = (x: number, y: number) => band(x, y, 150, 0.2, 14) + band(x, y, 28, 0.15, 12);
    const { de, ee } = reads((x, y) => truth(x, y) + noise[y * W + x]!);
    const glass = new Float32Array(W * H).fill(1);
    const out = parallelReflection(DIR, de, ee, glass, W, H, SIDE, SIDE * 0.12, 0.4);
    // On each band's middle, near its height; in the corner band's too.
    expect(read(out, 106, 106)).toBeGreaterThan(0.15);
    expect(read(out, 106, 106)).toBeLessThan(0.25);
    expect(read(out, 20, 20)).toBeGreaterThan(0.1);
    expect(read(out, 20, 20)).toBeLessThan(0.2);
    // Between and beyond them: nothing (the noise is the view's).
    for (const [x, y] of [
      [60, 60],
      [200, 150],
      [230, 20],
    ] as const) {
      expect(read(out, x, y)).toBe(0);
    }
  });

  it('reads a band that over a third of its length can hardly be read', () => {
    // Over the left part of the glass the view gives the reflection little to read (a saturated
    // colour, a pale wall): its reads there are a tenth of the band's.
    const { de, ee } = reads((x, y) => band(x, y, 150, 0.2, 14) * (x < 70 ? 0.1 : 1) + 0.01);
    const glass = new Float32Array(W * H).fill(1);
    const out = parallelReflection(DIR, de, ee, glass, W, H, SIDE, SIDE * 0.12, 0.4);
    expect(read(out, 106, 106)).toBeGreaterThan(0.1);
    expect(read(out, 60, 60)).toBe(0);
  });

  it('leaves a light object of the view alone: it fills only part of its lines', () => {
    // A light disc in the view near a corner: it fills most of the short lines through it, in
    // their middle.
    const { de, ee } = reads((x, y) => (Math.hypot(x - 40, y - 40) < 36 ? 0.3 : 0.01));
    const glass = new Float32Array(W * H).fill(1);
    const out = parallelReflection(DIR, de, ee, glass, W, H, SIDE, SIDE * 0.12, 0.4);
    expect(read(out, 40, 40)).toBe(0);
    expect(read(out, 75, 5)).toBe(0);
    expect(out.reduce((a, v) => Math.max(a, v), 0)).toBe(0);
  });

  it('reads nothing off the glass, and reads only the glass', () => {
    // Two panes in one plane, a mullion between: the band runs on across both.
    const glass = new Float32Array(W * H);
    for (let y = 10; y < H - 10; y++) {
      for (let x = 10; x < W - 10; x++) if (x < 110 || x > 130) glass[y * W + x] = 1;
    }
    const { de, ee } = reads((x, y) => band(x, y, 120, 0.2, 12) + 0.01);
    const out = parallelReflection(DIR, de, ee, glass, W, H, SIDE, SIDE * 0.12, 0.4);
    expect(read(out, 85, 85)).toBeGreaterThan(0.1);
    expect(read(out, 140, 30)).toBeGreaterThan(0.1);
    expect(read(out, 120, 50)).toBe(0); // the mullion, on the band's line
    expect(read(out, 5, 5)).toBe(0); // the frame
  });
});

describe('sharedDirection', () => {
  const line = (deg: number): Streak => ({
    c: Math.cos((deg * Math.PI) / 180),
    s: Math.sin((deg * Math.PI) / 180),
    rho: 0,
    lo: -1,
    hi: 1,
  });

  it('takes the direction most lines share', () => {
    const d = sharedDirection([line(120), line(40), line(42), line(38)])!;
    expect(Math.abs((Math.atan2(d.s, d.c) * 180) / Math.PI - 40)).toBeLessThanOrEqual(2);
  });

  it('sets none from lines along the axes: a horizon, a shelf, a frame', () => {
    expect(sharedDirection([line(0), line(90), line(2), line(178), line(93)])).toBeUndefined();
    expect(sharedDirection([])).toBeUndefined();
    const d = sharedDirection([line(90), line(90), line(60)])!;
    expect(Math.abs((Math.atan2(d.s, d.c) * 180) / Math.PI - 60)).toBeLessThan(1e-9);
  });
});

describe("a glass body's thick base", () => {
  /**
   * A jar-like body (glass, the background round it) over a leafy view, α₀ 0.1; its lowest `base`
   * rows lifted by 0.3 towards the light, and the view lightened by `light(y)`. The mean α read over
   * rows [from, to).
   */
  function bodyAlpha(base: number, light: (y: number) => number, from: number, to: number): number {
    const rand = seededRandom(11);
    const rgb = new Uint8Array(W * H * 3);
    const classes = new Uint8Array(W * H);
    const inBody = (x: number, y: number) => x >= 70 && x < 170 && y >= 20 && y < 160;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        const leaf = 40 * Math.sin(x * 0.31 + Math.sin(y * 0.17) * 3) + 30 * (rand() - 0.5) + light(y);
        const view = [70 + leaf, 120 + leaf, 50 + leaf * 0.5].map((v) => Math.max(0, Math.min(255, v)));
        classes[i] = inBody(x, y) ? CLASS_GLASS : CLASS_BACKGROUND;
        const r = inBody(x, y) && y >= 160 - base ? 0.3 : 0;
        const a0 = inBody(x, y) ? 0.1 : 0;
        for (let c = 0; c < 3; c++) {
          rgb[i * 3 + c] = Math.round((1 - a0 - r) * view[c]! + a0 * DEFAULT_TINT[c]! + r * REFLECTED[c]!);
        }
      }
    }
    const alpha = new Uint8Array(W * H).fill(0);
    const fg = Uint8Array.from(rgb);
    glassLayer(rgb, W, H, classes, 100, glassLook('auto'), alpha, fg);
    let sum = 0,
      count = 0;
    for (let y = from; y < to; y++) {
      for (let x = 80; x < 160; x++) {
        sum += alpha[y * W + x]! / 255;
        count++;
      }
    }
    return sum / count;
  }

  it('reads the base over a detailed view', () => {
    // Truth: 0.4 over the base's rows, 0.1 above.
    expect(bodyAlpha(12, () => 0, 150, 160)).toBeGreaterThan(0.25);
    expect(bodyAlpha(12, () => 0, 60, 120)).toBeLessThan(0.15);
  });

  it('does not take a light band of the view across the body for a base', () => {
    // The view lightened over rows 90–110: the body's middle, not its bottom rows.
    const light = (y: number) => (y >= 90 && y < 110 ? 70 : 0);
    expect(bodyAlpha(0, light, 92, 108)).toBeLessThan(0.2);
    expect(bodyAlpha(0, light, 150, 160)).toBeLessThan(0.2);
  });
});
