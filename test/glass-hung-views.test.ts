/**
 * Parts of the view hanging into a pane from the member above: a picture on the wall behind a door,
 * its top hidden by the top rail (and one side by the stile), with glass below it, is glass — its
 * dark frame and the picture inside judged together, also where the frame's sides read as bars.
 * What the product holds stays opaque: an object standing on a shelf, a panel spanning the pane
 * from stile to stile, a thin handle, a block standing free in the glass, and a lid whose sides
 * meet the background.
 */
import { describe, expect, it } from 'vitest';

import { hungViews } from '../src/compose/glass/hung-views.js';
import { CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';

const W = 200,
  H = 140;

/** Regions by label (0 the background); a rectangle [x0, y0, x1, y1) each, later ones over earlier. */
function paint(rects: [number, number, number, number, number][]): Int32Array {
  const labels = new Int32Array(W * H);
  for (const [label, x0, y0, x1, y1] of rects) {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) labels[y * W + x] = label;
  }
  return labels;
}

/**
 * A frame (1 top rail, 2 bottom rail, 3 left stile, 4 right stile, 5 a middle stile: bars) round
 * two panes (6 left, 7 right: glass), with `extra` regions over them; the classes of all regions
 * after hungViews. `thin` lists regions too thin to be glass, `shelves` more bars.
 */
function judge(extra: [number, number, number, number, number][], thin: number[] = [], shelves: number[] = []) {
  const labels = paint([
    [1, 10, 10, 190, 20],
    [2, 10, 120, 190, 130],
    [3, 10, 20, 20, 120],
    [4, 180, 20, 190, 120],
    [5, 95, 20, 105, 120],
    [6, 20, 20, 95, 120],
    [7, 105, 20, 180, 120],
    ...extra,
  ]);
  const count = 7 + extra.length;
  const cls = new Uint8Array(count + 1).fill(CLASS_OPAQUE);
  cls[0] = 0;
  cls[6] = cls[7] = CLASS_GLASS;
  const bars = new Uint8Array(count + 1);
  for (const b of [1, 2, 3, 4, 5, ...shelves]) bars[b] = 1;
  const thick = new Uint8Array(count + 1).fill(1);
  for (const t of thin) thick[t] = 0;
  hungViews(labels, cls, bars, thick, W, 20);
  return cls;
}

describe('hungViews', () => {
  it('makes a picture hanging from the top rail glass, its frame and inside together', () => {
    // 8 the picture's dark frame (a ring), 9 the picture inside it; under the top rail, against
    // the middle stile on its right, glass to its left and below.
    const cls = judge([
      [8, 50, 20, 95, 55],
      [9, 56, 20, 89, 49],
    ]);
    expect(cls[8]).toBe(CLASS_GLASS);
    expect(cls[9]).toBe(CLASS_GLASS);
    // The frame is left alone.
    for (const b of [1, 2, 3, 4, 5]) expect(cls[b]).toBe(CLASS_OPAQUE);
  });

  it("takes a picture's even dark frame with it, though the frame reads as bars", () => {
    // 8 the picture inside; 9–12 its frame's sides, each an even bar of its own (extruded-bars.ts
    // cannot tell them from a profile); under the top rail, the right side against the middle stile.
    const cls = judge(
      [
        [9, 50, 20, 95, 24],
        [10, 50, 51, 95, 55],
        [11, 50, 24, 54, 51],
        [12, 91, 24, 95, 51],
        [8, 54, 24, 91, 51],
      ],
      [9, 10, 11, 12],
      [9, 10, 11, 12],
    );
    for (const r of [8, 9, 10, 11, 12]) expect(cls[r]).toBe(CLASS_GLASS);
    for (const b of [1, 2, 3, 4, 5]) expect(cls[b]).toBe(CLASS_OPAQUE);
  });

  it('keeps what the product holds: a panel spanning the pane, an object on a shelf, a free block', () => {
    const cls = judge(
      [
        // A panel under the top rail from the left stile to the middle one.
        [8, 20, 20, 95, 45],
        // In the right pane: a shelf (a bar) with an object standing on it.
        [9, 105, 90, 180, 94],
        [10, 130, 60, 155, 90],
        // A block standing free in the left pane (the business of objects-behind-glass.ts).
        [11, 40, 70, 70, 100],
      ],
      [],
      [9],
    );
    expect(cls[8]).toBe(CLASS_OPAQUE);
    expect(cls[10]).toBe(CLASS_OPAQUE);
    expect(cls[11]).toBe(CLASS_OPAQUE);
  });

  it('keeps a part held from below as well as from the rail above', () => {
    // 8 a box from the top rail down onto a shelf (9, a bar across the right pane).
    const cls = judge(
      [
        [9, 105, 60, 180, 64],
        [8, 120, 20, 150, 60],
      ],
      [],
      [9],
    );
    expect(cls[8]).toBe(CLASS_OPAQUE);
  });

  it('keeps a thin part hanging from the rail, and a part open to the background', () => {
    // 8 a thin strip down from the top rail (a handle, a gasket's end); 9 a block under the top
    // rail that reaches the background through a notch in it (a lid on its body).
    const labels = judge([[8, 140, 20, 146, 70]], [8]);
    expect(labels[8]).toBe(CLASS_OPAQUE);
    const open = judge([
      [9, 40, 14, 70, 50],
      [0, 50, 0, 60, 14],
    ]);
    expect(open[9]).toBe(CLASS_OPAQUE);
  });
});
