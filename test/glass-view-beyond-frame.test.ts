/**
 * The view through a pane that runs on behind the frame: a textured strip of floor seen through the
 * lower part of a pane, cut off by the bottom rail and showing again below it, is glass; an object
 * standing in the pane (glass between it and the frame) and a handle whose colour the background
 * beyond does not share stay opaque. A picture on the wall behind a door, seen through the pane
 * and again above the top rail in a part the background's flood did not reach, is glass in the
 * pane; the same region in colours the part above does not share stays opaque.
 */
import { describe, expect, it } from 'vitest';

import { CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';
import { viewBeyondFrame } from '../src/compose/glass/view-beyond-frame.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 120,
  H = 100;

/**
 * Regions: 1 frame (rows 10–17 and 80–87, columns 10–17 and 102–109), 2 the pane's glass,
 * 3 a floor strip (rows 64–79 of the pane), 4 an object in the middle of the pane, 5 a handle on
 * the right stile reaching into the pane. Label 0 is the background around the product.
 */
function scene() {
  const rand = seededRandom(3);
  const labels = new Int32Array(W * H);
  const rgb = new Uint8Array(W * H * 3);
  const floor = (x: number, y: number) => [150 + 30 * Math.sin(x * 0.7 + y) + rand() * 10, 110, 70];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const inFrame = x >= 10 && x < 110 && y >= 10 && y < 88;
      const inPane = x >= 18 && x < 102 && y >= 18 && y < 80;
      let label = 0;
      let colour = y >= 64 ? floor(x, y) : [215, 215, 210];
      if (inFrame) label = 1;
      if (inFrame) colour = [60, 64, 70];
      if (inPane) {
        label = y >= 64 ? 3 : 2;
        colour = y >= 64 ? floor(x, y) : [205, 208, 206];
        if (x >= 50 && x < 66 && y >= 36 && y < 52) {
          label = 4;
          colour = [150 + 30 * Math.sin(x), 110, 70];
        }
      }
      if (x >= 96 && x < 104 && y >= 30 && y < 50) {
        label = 5;
        colour = [30 + rand() * 30, 30, 32];
      }
      labels[i] = label;
      rgb.set(
        colour.map((v) => Math.max(0, Math.min(255, Math.round(v)))),
        i * 3,
      );
    }
  }
  const sizes = [0, 0, 0, 0, 0, 0];
  for (const l of labels) if (l) sizes[l]!++;
  const cls = Uint8Array.from([0, CLASS_OPAQUE, CLASS_GLASS, CLASS_OPAQUE, CLASS_OPAQUE, CLASS_OPAQUE]);
  return { labels, rgb, sizes, cls };
}

describe('viewBeyondFrame', () => {
  it('makes the view that runs on behind the frame glass, and keeps an object and a handle opaque', () => {
    const { labels, rgb, sizes, cls } = scene();
    const bars = Uint8Array.from([0, 1, 0, 0, 0, 0]);
    const thick = Uint8Array.from([0, 0, 1, 1, 1, 0]);
    viewBeyondFrame({ labels, cls, sizes, bars, even: bars, thick }, rgb, W, 78, 20);
    expect(cls[3]).toBe(CLASS_GLASS);
    expect(cls[4]).toBe(CLASS_OPAQUE);
    expect(cls[5]).toBe(CLASS_OPAQUE);
    expect(cls[1]).toBe(CLASS_OPAQUE);
  });

  it.each([
    [[120, 150, 110], CLASS_GLASS],
    [[200, 60, 50], CLASS_OPAQUE],
  ] as const)(
    'a picture behind the door, seen in the pane in %j, seen above the rail in green: %i',
    (colour, expected) => {
      // Labels: 1 the frame (rows 10–17 on top, columns 10–17 and 102–109, rows 80–87 below), 2 the
      // pane's glass, 3 the picture's part in the pane (rows 18–45, columns 40–79), 4 its part above
      // the rail (rows 4–9), unreached by the flood; 0 the wall around.
      const rand = seededRandom(5);
      const labels = new Int32Array(W * H);
      const rgb = new Uint8Array(W * H * 3);
      const grain = (c: readonly number[], x: number) => c.map((v) => v + 30 * Math.sin(x * 0.5) + (rand() - 0.5) * 12);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = y * W + x;
          const inFrame = x >= 10 && x < 110 && y >= 10 && y < 88;
          const inPane = x >= 18 && x < 102 && y >= 18 && y < 80;
          const picture = x >= 40 && x < 80 && y >= 4 && y < 46;
          let label = 0;
          let c: readonly number[] = [215, 215, 210];
          if (picture && y < 10) [label, c] = [4, grain([120, 150, 110], x)];
          if (inFrame) [label, c] = [1, [60, 64, 70]];
          if (inPane) [label, c] = picture ? [3, grain(colour, x)] : [2, [205, 208, 206]];
          labels[i] = label;
          rgb.set(
            c.map((v) => Math.max(0, Math.min(255, Math.round(v)))),
            i * 3,
          );
        }
      }
      const sizes = [0, 0, 0, 0, 0];
      for (const l of labels) if (l) sizes[l]!++;
      const cls = Uint8Array.from([0, CLASS_OPAQUE, CLASS_GLASS, CLASS_OPAQUE, CLASS_OPAQUE]);
      const bars = Uint8Array.from([0, 1, 0, 0, 0]);
      const thick = Uint8Array.from([0, 0, 1, 1, 0]);
      viewBeyondFrame({ labels, cls, sizes, bars, even: bars, thick }, rgb, W, 78, 20);
      expect(cls[3]).toBe(expected);
      expect(cls[1]).toBe(CLASS_OPAQUE);
    },
  );
});

describe('viewBeyondFrame on thin, plain regions', () => {
  /**
   * Labels: 1 the frame (rows 10–17 and 80–87, columns 10–17 and 102–109), 2 the pane's glass,
   * 3 a strip of floor 8 rows tall along the bottom rail (a lens has softened its planks: too thin
   * and too plain to be judged as a pane's view), 4 a light handle hanging from the top rail in the
   * pane; 0 the background: a light wall above, the floor below the frame, a cabinet to the right.
   */
  function softScene(strip: 'planks' | 'even') {
    const labels = new Int32Array(W * H);
    const rgb = new Uint8Array(W * H * 3);
    const floor = (x: number) => [150, 110, 70].map((v) => v + (strip === 'planks' ? 7 * Math.sin(x * 0.2) : 0));
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        let label = 0;
        let c = y >= 64 ? floor(x) : x >= 110 ? [90, 80, 70] : [215, 215, 210];
        if (x >= 10 && x < 110 && y >= 10 && y < 88) [label, c] = [1, [60, 64, 70]];
        if (x >= 18 && x < 102 && y >= 18 && y < 80) [label, c] = y >= 72 ? [3, floor(x)] : [2, [205, 208, 206]];
        if (x >= 90 && x < 94 && y >= 18 && y < 60) [label, c] = [4, [212 + (y % 5), 212, 206]];
        labels[i] = label;
        rgb.set(
          c.map((v) => Math.round(v)),
          i * 3,
        );
      }
    }
    const sizes = [0, 0, 0, 0, 0];
    for (const l of labels) if (l) sizes[l]!++;
    const cls = Uint8Array.from([0, CLASS_OPAQUE, CLASS_GLASS, CLASS_OPAQUE, CLASS_OPAQUE]);
    const bars = Uint8Array.from([0, 1, 0, 0, 0]);
    const even = Uint8Array.from([0, 1, 0, strip === 'even' ? 1 : 0, 0]);
    const thick = Uint8Array.from([0, 0, 1, 0, 0]);
    return { labels, rgb, sizes, cls, bars, even, thick };
  }

  it('makes a strip of the view along the rail glass where it changes along its length', () => {
    const { labels, rgb, sizes, cls, bars, even, thick } = softScene('planks');
    viewBeyondFrame({ labels, cls, sizes, bars, even, thick }, rgb, W, 78, 20);
    expect(cls[3]).toBe(CLASS_GLASS);
    // The handle's lines out of its top end meet the wall in its colour; across it lies the glass.
    expect(cls[4]).toBe(CLASS_OPAQUE);
    expect(cls[1]).toBe(CLASS_OPAQUE);
  });

  it('keeps a strip even along its length opaque (a profile face looks the same)', () => {
    const { labels, rgb, sizes, cls, bars, even, thick } = softScene('even');
    viewBeyondFrame({ labels, cls, sizes, bars, even, thick }, rgb, W, 78, 20);
    expect(cls[3]).toBe(CLASS_OPAQUE);
  });
});
