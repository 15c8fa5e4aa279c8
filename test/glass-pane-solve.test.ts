/**
 * The glass layer solved per pane: a pane of known transmission and tint over a known background
 * gives back its α and the glass's own light α·tint; where the view behind is near black the pane's
 * darkest light lowers α₀ below the default; a reflection band raises α and brightens F; a
 * transmission the user gives is used as it is. And an object behind the glass — a compact region
 * with a sharp outline of its own, wholly inside a pane — stays opaque, while a soft shade of the
 * view does not.
 */
import { describe, expect, it } from 'vitest';

import { DEFAULT_TINT, glassLayer } from '../src/compose/glass/glass-layer.js';
import { CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/glass-regions.js';
import { objectsBehindGlass } from '../src/compose/glass/objects-behind-glass.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 240,
  H = 180;
const LIGHT = [240, 243, 246];

/** A pane over columns/rows [20, W−20) × [20, H−20) (frame all round), α₀ = a, a reflection band of r. */
function paneScene(a: number, tint: readonly number[], band: { x0: number; x1: number; r: number } | undefined) {
  const rand = seededRandom(5);
  const rgb = new Uint8Array(W * H * 3);
  const classes = new Uint8Array(W * H);
  const truthA = new Float32Array(W * H);
  const truthP = new Float32Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      // The view behind: black on the left, then a textured green-grey ramp.
      const t = x / W;
      const b = x < 50 ? [2, 2, 2] : [40 + 120 * t + rand() * 20, 70 + 110 * t + rand() * 20, 35 + 90 * t];
      const inPane = x >= 20 && x < W - 20 && y >= 20 && y < H - 20;
      classes[i] = inPane ? CLASS_GLASS : CLASS_OPAQUE;
      if (!inPane) {
        rgb.set([150, 150, 155], i * 3);
        continue;
      }
      const r = band && x >= band.x0 && x < band.x1 ? band.r : 0;
      truthA[i] = a + r;
      for (let c = 0; c < 3; c++) {
        const p = a * tint[c]! + r * LIGHT[c]!;
        truthP[i * 3 + c] = p;
        rgb[i * 3 + c] = Math.round(p + (1 - a - r) * b[c]!);
      }
    }
  }
  return { rgb, classes, truthA, truthP };
}

function solve(rgb: Uint8Array, classes: Uint8Array, look: Parameters<typeof glassLayer>[5]) {
  const alpha = new Uint8Array(W * H);
  const fg = Uint8Array.from(rgb);
  glassLayer(rgb, W, H, classes, H - 40, look, alpha, fg);
  return { alpha, fg };
}

describe('glassLayer per pane', () => {
  it('recovers a pane of transmission 0.95 and its tint over a view with black in it', () => {
    const s = paneScene(0.05, DEFAULT_TINT, undefined);
    const { alpha, fg } = solve(s.rgb, s.classes, { transmission: 0.9, tint: DEFAULT_TINT });
    let worstA = 0,
      worstP = 0;
    for (let i = 0; i < W * H; i++) {
      if (s.classes[i] !== CLASS_GLASS) continue;
      worstA = Math.max(worstA, Math.abs(alpha[i]! / 255 - s.truthA[i]!));
      for (let c = 0; c < 3; c++) {
        worstP = Math.max(worstP, Math.abs((alpha[i]! / 255) * fg[i * 3 + c]! - s.truthP[i * 3 + c]!));
      }
    }
    // The default (0.9) would be 0.05 off in α and ~10 levels in the glass's own light.
    expect(worstA).toBeLessThan(0.02);
    expect(worstP).toBeLessThan(4);
  });

  it('raises α and brightens F along a reflection band', () => {
    const s = paneScene(0.05, DEFAULT_TINT, { x0: 150, x1: 156, r: 0.3 });
    const { alpha, fg } = solve(s.rgb, s.classes, { transmission: 0.9, tint: DEFAULT_TINT });
    const at = (x: number) => (H >> 1) * W + x;
    // Part of a band is lost to the smoothing that keeps the view's texture out (measured: 0.15 of 0.35).
    expect(alpha[at(153)]! / 255).toBeGreaterThan(0.05 + 0.08);
    expect(alpha[at(153)]! / 255).toBeLessThan(0.05 + 0.3 + 0.05);
    expect(Math.abs(alpha[at(120)]! / 255 - 0.05)).toBeLessThan(0.02);
    expect(fg[at(153) * 3]!).toBeGreaterThan(fg[at(120) * 3]!);
  });

  it('uses a transmission the user gives as it is', () => {
    const s = paneScene(0.05, DEFAULT_TINT, undefined);
    const { alpha } = solve(s.rgb, s.classes, { transmission: 0.85, tint: DEFAULT_TINT, given: true });
    // α₀ = 0.15 (38/255) everywhere, not bounded by the black behind; the view's texture adds no more than a level.
    for (let i = 0; i < W * H; i++) {
      if (s.classes[i] !== CLASS_GLASS) continue;
      expect(alpha[i]).toBeGreaterThanOrEqual(38);
      expect(alpha[i]).toBeLessThanOrEqual(40);
    }
  });
});

describe('objectsBehindGlass', () => {
  /** A pane (label 1) with a disc (label 2) whose outline steps `step` levels; label 3 a frame below row 70. */
  function scene(step: number, touchFrame: boolean) {
    const w = 100,
      h = 80;
    const labels = new Int32Array(w * h);
    const rgb = new Uint8Array(w * h * 3).fill(120);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const cy = touchFrame ? 58 : 40;
        labels[i] = y >= 70 ? 3 : Math.hypot(x - 50, y - cy) < 12 ? 2 : 1;
        if (labels[i] === 2) rgb.fill(120 + step, i * 3, i * 3 + 3);
      }
    }
    const cls = Uint8Array.from([0, CLASS_GLASS, CLASS_GLASS, CLASS_OPAQUE]);
    const sizes = [0, 0, 0, 0];
    for (const l of labels) sizes[l]!++;
    objectsBehindGlass(labels, cls, sizes, rgb, w, 20, Uint8Array.from([0, 1, 1, 1]), 4);
    return cls;
  }

  it('keeps a compact region with a sharp outline of its own inside a pane opaque', () => {
    expect(scene(60, false)[2]).toBe(CLASS_OPAQUE);
  });

  it('leaves a soft shade of the view, and a region the frame holds, as glass', () => {
    expect(scene(12, false)[2]).toBe(CLASS_GLASS);
    expect(scene(60, true)[2]).toBe(CLASS_GLASS);
    expect(scene(60, false)[1]).toBe(CLASS_GLASS);
  });
});

describe('objectsBehindGlass across a soft rim and a shelf', () => {
  it('keeps an object opaque that stands on a thin glass shelf, ringed by a soft rim', () => {
    // Pane (1) above a shelf (4: rows 60–63, thin, opaque), more pane (5) below it; a disc (2) of
    // radius 12 centred on row 47 stands on the shelf; its outline's ring of pixels is a soft rim (3,
    // undecided) whose colour is halfway.
    const w = 100,
      h = 90;
    const labels = new Int32Array(w * h);
    const rgb = new Uint8Array(w * h * 3).fill(120);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const r = Math.hypot(x - 50, y - 47.5);
        labels[i] = y >= 60 && y < 64 ? 4 : y >= 64 ? 5 : r < 11 ? 2 : r < 12.5 ? 3 : 1;
        const grey = labels[i] === 2 ? 165 : labels[i] === 3 ? 142 : labels[i] === 4 ? 150 : 120;
        rgb.fill(grey, i * 3, i * 3 + 3);
      }
    }
    const cls = Uint8Array.from([0, CLASS_GLASS, CLASS_GLASS, 0, CLASS_OPAQUE, CLASS_GLASS]);
    const sizes = [0, 0, 0, 0, 0, 0];
    for (const l of labels) sizes[l]!++;
    const thick = Uint8Array.from([0, 1, 1, 0, 0, 1]);
    objectsBehindGlass(labels, cls, sizes, rgb, w, 20, thick, 8);
    expect(cls[2]).toBe(CLASS_OPAQUE);
    // Without looking across the shelf, the disc is not enclosed by glass.
    const again = Uint8Array.from([0, CLASS_GLASS, CLASS_GLASS, 0, CLASS_OPAQUE, CLASS_GLASS]);
    objectsBehindGlass(labels, again, sizes, rgb, w, 20, thick, 1);
    expect(again[2]).toBe(CLASS_GLASS);
  });
});
