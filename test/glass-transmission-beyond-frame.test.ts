/**
 * A pane's transmission read from the view beyond its frame: over a view that goes on behind the
 * frame the read finds T (and the glass layer the pane's α₀ from it, within MAX_SHIFT of the look's);
 * a window standing on a floor (the view below its bottom rail is not the one through its lower
 * edge) is read from the sides that agree; a view that does not go on gives no read; a glass body,
 * whose outline is the background's edge, is not read.
 */
import { describe, expect, it } from 'vitest';

import { DEFAULT_TINT, glassLayer } from '../src/compose/glass/glass-layer.js';
import { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';
import { transmissionBeyondFrame } from '../src/compose/glass/transmission-beyond-frame.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 320,
  H = 240;
/** The window: outer box, frame width, a mullion down the middle. */
const BOX = { x0: 60, y0: 40, x1: 260, y1: 200 };
const FRAME = 12;
const TINT: [number, number, number] = [175, 210, 215];

type View = (x: number, y: number) => number[];

/** A defocused garden: slow colour waves and a little noise. */
function garden(seed: number): View {
  const rand = seededRandom(seed);
  const ph = [rand() * 6, rand() * 6, rand() * 6];
  return (x, y) => [
    70 + 50 * Math.sin(x / 53 + ph[0]!) + 25 * Math.cos(y / 61) + rand() * 4,
    110 + 45 * Math.sin(x / 59 + y / 71 + ph[1]!) + rand() * 4,
    60 + 35 * Math.cos(x / 67 + ph[2]!) + 20 * Math.sin(y / 49) + rand() * 4,
  ];
}

interface Scene {
  rgb: Uint8Array;
  classes: Uint8Array;
  bounds: { x0: number; y0: number; x1: number; y1: number };
}

/**
 * The window over `behind` (the view through the panes) with `beyond` showing around it, panes of
 * transmission t and tint TINT; `band` adds a reflection (α r) along a diagonal strip. Not
 * `framed`: one pane, open to the background on its right (no right stile, no mullion).
 */
function windowScene(behind: View, beyond: View, t: number, band = 0, framed = true): Scene {
  const rgb = new Uint8Array(W * H * 3);
  const classes = new Uint8Array(W * H);
  const mid = (BOX.x0 + BOX.x1) >> 1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const inBox = x >= BOX.x0 && x < BOX.x1 && y >= BOX.y0 && y < BOX.y1;
      const onFrame =
        inBox &&
        (x < BOX.x0 + FRAME ||
          (framed && x >= BOX.x1 - FRAME) ||
          y < BOX.y0 + FRAME ||
          y >= BOX.y1 - FRAME ||
          (framed && Math.abs(x - mid) < 5));
      if (!inBox) {
        classes[i] = CLASS_BACKGROUND;
        rgb.set(
          beyond(x, y).map((v) => Math.round(Math.min(255, Math.max(0, v)))),
          i * 3,
        );
      } else if (onFrame) {
        classes[i] = CLASS_OPAQUE;
        rgb.set([60, 62, 66], i * 3);
      } else {
        classes[i] = CLASS_GLASS;
        const u = (x + y) % 60;
        const r = band > 0 && u >= 20 && u < 34 ? band : 0;
        const b = behind(x, y);
        for (let c = 0; c < 3; c++) {
          const v = (t - r) * b[c]! + (1 - t) * TINT[c]! + r * 240;
          rgb[i * 3 + c] = Math.round(Math.min(255, Math.max(0, v)));
        }
      }
    }
  }
  return { rgb, classes, bounds: { x0: BOX.x0, y0: BOX.y0, x1: BOX.x1 - 1, y1: BOX.y1 - 1 } };
}

const read = (s: Scene, unread: (i: number) => boolean = () => false, tint: readonly number[] = TINT) =>
  transmissionBeyondFrame(s.rgb, W, H, s.classes, s.bounds, H - 80, tint, unread, 0.9);

/** α of the glass layer over the plain part of the panes (lower quartile), the look's transmission 0.9. */
function plainAlpha(s: Scene): number {
  const alpha = new Uint8Array(W * H);
  const fg = Uint8Array.from(s.rgb);
  glassLayer(s.rgb, W, H, s.classes, BOX.y1 - BOX.y0, { transmission: 0.9, tint: TINT }, alpha, fg);
  const values: number[] = [];
  for (let i = 0; i < W * H; i++) if (s.classes[i] === CLASS_GLASS) values.push(alpha[i]! / 255);
  values.sort((a, b) => a - b);
  return values[values.length >> 2]!;
}

describe('transmission read beyond the frame', () => {
  it('reads T where the view goes on behind the frame', () => {
    for (const t of [0.85, 0.93]) {
      const view = garden(3);
      const r = read(windowScene(view, view, t));
      expect(r).toBeDefined();
      expect(Math.abs(r!.transmission - t)).toBeLessThan(0.015);
      expect(r!.pairs).toBeGreaterThan(100);
    }
  });

  it('leaves out the pixels it is told hold a reflection', () => {
    const view = garden(4);
    const s = windowScene(view, view, 0.9, 0.25);
    const onBand = (i: number) => {
      const u = ((i % W) + ((i / W) | 0)) % 60;
      return u >= 18 && u < 36;
    };
    const told = read(s, onBand);
    expect(Math.abs(told!.transmission - 0.9)).toBeLessThan(0.015);
    // Read over the band as well, the read is lowered (the band's pixels look like darker glass).
    const untold = read(s);
    expect(untold === undefined || untold.transmission < told!.transmission).toBe(true);
  });

  it('reads a window standing on a floor from the sides that agree', () => {
    // Through the panes: a painted wall; around the window: the same wall, and a dark floor from
    // just above the bottom rail down, hidden behind the rail inside.
    const wall: View = (x, y) => [120 - y * 0.1, 150 - x * 0.05, 110 + Math.sin(x / 47) * 8];
    const floor: View = (x) => [70 + x * 0.05, 45, 30];
    const beyond: View = (x, y) => (y >= BOX.y1 - FRAME - 4 ? floor(x, y) : wall(x, y));
    const r = read(windowScene(wall, beyond, 0.9), () => false, DEFAULT_TINT);
    // The bottom rail alone would read the wall against the floor: T far from 0.9 (≈ 0.3).
    expect(r).toBeDefined();
    expect(Math.abs(r!.transmission - 0.9)).toBeLessThan(0.03);
  });

  it('gives no read where the view does not go on beyond the frame', () => {
    // A door in a wall: beyond the frame plain walls of two colours (left and right of it), through
    // the panes a room in other colours.
    const room = garden(7);
    const walls: View = (x) => (x < (BOX.x0 + BOX.x1) / 2 ? [200, 80, 60] : [60, 90, 200]);
    expect(read(windowScene(room, walls, 0.9))).toBeUndefined();
  });

  it("moves the glass layer's α₀ towards the read, by at most 0.05", () => {
    const view = garden(5);
    // Truth α₀ 0.05 (T 0.95): the default look says 0.1.
    expect(Math.abs(plainAlpha(windowScene(view, view, 0.95)) - 0.05)).toBeLessThan(0.02);
    // Truth α₀ 0.3: the read moves α₀ to 0.15 and no further.
    expect(Math.abs(plainAlpha(windowScene(view, view, 0.7)) - 0.15)).toBeLessThan(0.01);
    // A pane open to the background on its right (the outline of a glass body, not a framed pane)
    // is not read: α₀ stays the look's.
    expect(Math.abs(plainAlpha(windowScene(view, view, 0.95, 0, false)) - 0.1)).toBeLessThan(0.01);
  });

  it('takes any classes and sizes without a throw', () => {
    const rand = seededRandom(11);
    for (let k = 0; k < 40; k++) {
      const w = 1 + Math.floor(rand() * 12),
        h = 1 + Math.floor(rand() * 12);
      const rgb = new Uint8Array(w * h * 3).map(() => Math.floor(rand() * 256));
      const classes = new Uint8Array(w * h).map(() => Math.floor(rand() * 3));
      const r = transmissionBeyondFrame(
        rgb,
        w,
        h,
        classes,
        { x0: 0, y0: 0, x1: w - 1, y1: h - 1 },
        1 + rand() * 20,
        DEFAULT_TINT,
        () => false,
        0.9,
      );
      if (r) expect(Number.isFinite(r.transmission)).toBe(true);
    }
  });
});
