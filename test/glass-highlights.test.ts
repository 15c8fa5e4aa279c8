/**
 * Highlights judged opaque that are glass: a jar-like body seen over a textured, colourful view,
 * with a highlight stripe down it (glass on both sides), a thick base at the bottom (glass above,
 * background below), a lid on top and a mullion down it (both of their own colour). The stripe and
 * the base follow the view beside them and become glass with their lift; the lid and the mullion
 * stay opaque; over an even view nothing can be told and the stripe stays opaque.
 */
import { describe, expect, it } from 'vitest';

import { glassHighlights } from '../src/compose/glass/glass-highlights.js';
import { REFLECTED } from '../src/compose/glass/glass-layer.js';
import { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 160,
  H = 124;
const A0 = 0.1;
const TINT = [185, 205, 225];
/** The stripe's columns and peak lift, the base's rows and lift. */
const STRIPE = { x0: 40, x1: 50, peak: 0.5 };
const BASE = { y0: 100, y1: 110, lift: 0.3 };

type Part = 'background' | 'glass' | 'stripe' | 'base' | 'lid' | 'mullion';

function scene(textured: boolean) {
  const rand = seededRandom(11);
  const rgb = new Uint8Array(W * H * 3);
  const classes = new Uint8Array(W * H);
  const part: Part[] = [];
  const truthLift = new Float32Array(W * H);
  // The view: greens and browns with blotches, or one even colour.
  const view = (x: number, y: number): number[] =>
    textured
      ? [
          90 + 50 * Math.sin(x * 0.21 + y * 0.05) + rand() * 6,
          120 + 40 * Math.sin(y * 0.17 - x * 0.03) + rand() * 6,
          60 + 35 * Math.cos(x * 0.13 + y * 0.11) + rand() * 6,
        ]
      : [120, 140, 90];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const b = view(x, y);
      const g = b.map((v, k) => (1 - A0) * v + A0 * TINT[k]!);
      let p: Part = 'background';
      let c = b;
      let t = 0;
      if (x >= 10 && x < 150 && y >= 2 && y < 10) {
        p = 'lid';
        const s = 0.75 + 0.4 * Math.cos(((x - 80) / 140) * Math.PI);
        c = [200 * s, 160 * s, 70 * s];
      } else if (x >= 10 && x < 150 && y >= 10 && y < BASE.y1) {
        p = 'glass';
        c = g;
        if (y >= BASE.y0) {
          // Under the stripe and the mullion a column runs on through them: not judged here.
          p = (x >= STRIPE.x0 && x < STRIPE.x1) || (x >= 100 && x < 108) ? 'glass' : 'base';
          t = BASE.lift;
        } else if (x >= STRIPE.x0 && x < STRIPE.x1) {
          p = 'stripe';
          t = STRIPE.peak * (1 - Math.abs(x + 0.5 - (STRIPE.x0 + STRIPE.x1) / 2) / 6);
        } else if (x >= 100 && x < 108) {
          p = 'mullion';
          const s = 1 + 0.15 * Math.cos(((x - 100) / 8) * Math.PI);
          c = [168 * s, 172 * s, 176 * s];
        }
        if (t > 0) c = g.map((v, k) => (1 - t) * v + t * REFLECTED[k]!);
      }
      part.push(p);
      truthLift[i] = t;
      classes[i] = p === 'background' ? CLASS_BACKGROUND : p === 'glass' && y < BASE.y0 ? CLASS_GLASS : CLASS_OPAQUE;
      for (let k = 0; k < 3; k++) rgb[i * 3 + k] = Math.max(0, Math.min(255, Math.round(c[k]!)));
    }
  }
  return { rgb, classes, part, truthLift };
}

/** Per part: share of its pixels that are glass after, and the mean |lift − truth| over those. */
function judge(textured: boolean) {
  const { rgb, classes, part, truthLift } = scene(textured);
  const lift = new Float32Array(W * H).fill(Number.NaN);
  glassHighlights(classes, rgb, W, H, 100, 16, lift);
  const out: Record<string, { glass: number; liftError: number }> = {};
  for (const name of ['stripe', 'base', 'lid', 'mullion', 'glass', 'background'] as Part[]) {
    let count = 0,
      glass = 0,
      err = 0;
    for (let i = 0; i < W * H; i++) {
      if (part[i] !== name) continue;
      count++;
      if (classes[i] === CLASS_GLASS) {
        glass++;
        if (name !== 'glass') err += Math.abs(lift[i]! - truthLift[i]!);
      }
    }
    out[name] = { glass: glass / count, liftError: glass ? err / glass : 0 };
  }
  return out;
}

describe('glassHighlights', () => {
  it('turns a stripe and a base that follow the view beside them into glass, with their lift', () => {
    const r = judge(true);
    expect(r.stripe!.glass).toBeGreaterThan(0.9);
    expect(r.base!.glass).toBeGreaterThan(0.9);
    // The view beside is interpolated across the stripe and carried down into the base.
    expect(r.stripe!.liftError).toBeLessThan(0.06);
    expect(r.base!.liftError).toBeLessThan(0.08);
  });

  it('keeps a lid and a mullion of their own colour opaque, and leaves glass and background alone', () => {
    const r = judge(true);
    expect(r.lid!.glass).toBe(0);
    expect(r.mullion!.glass).toBe(0);
    expect(r.glass!.glass).toBeGreaterThan(0.98);
    expect(r.background!.glass).toBe(0);
  });

  it('tells nothing over an even view: the stripe stays opaque', () => {
    const r = judge(false);
    expect(r.stripe!.glass).toBe(0);
    expect(r.mullion!.glass).toBe(0);
  });
});
