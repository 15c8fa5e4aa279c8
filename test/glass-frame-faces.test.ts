/**
 * A frame's face joined to its pane: a white rail whose shaded lower face (even along the rail, of
 * the rail's material) the flood gave to the pane below, over a view that changes along every row.
 * The face is peeled off and opaque again; an even strip of sky under a dark rail, or any strip over
 * an even view, is left as glass.
 */
import { describe, expect, it } from 'vitest';

import { peelFrameFaces } from '../src/compose/glass/frame-faces.js';
import { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 200,
  H = 160;
/** The rail: rows 10–19; the strip under it: rows 20–24; the pane's view below: rows 25–149. */
const RAIL = { y0: 10, y1: 20 };
const STRIP = 5;

function scene(rail: number[], strip: number[], textured: boolean) {
  const rand = seededRandom(9);
  const rgb = new Uint8Array(W * H * 3);
  const classes = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      let c: number[] = [200, 200, 200];
      let k = CLASS_BACKGROUND;
      if (x >= 10 && x < 190 && y >= RAIL.y0 && y < 150) {
        k = CLASS_OPAQUE;
        c = rail.map((v) => v * (1 - 0.01 * (y - RAIL.y0)));
        if (x >= 20 && x < 180 && y >= RAIL.y1) {
          k = CLASS_GLASS;
          c =
            y < RAIL.y1 + STRIP
              ? strip
              : textured
                ? [190 + 30 * Math.sin(x * 0.2 + y * 0.1), 185 + 25 * Math.cos(x * 0.13), 170 + 20 * Math.sin(y * 0.3)]
                : [190, 185, 170];
        }
      }
      classes[i] = k;
      for (let ch = 0; ch < 3; ch++) rgb[i * 3 + ch] = Math.max(0, Math.min(255, Math.round(c[ch]! + rand() - 0.5)));
    }
  }
  return { rgb, classes };
}

/** Share of the strip's pixels (columns 20–179) that are opaque after. */
function peeled(rail: number[], strip: number[], textured: boolean): { strip: number; view: number } {
  const { rgb, classes } = scene(rail, strip, textured);
  peelFrameFaces(classes, rgb, W, H, 180);
  let s = 0,
    v = 0;
  for (let y = RAIL.y1; y < 150; y++) {
    for (let x = 20; x < 180; x++) {
      if (classes[y * W + x] !== CLASS_OPAQUE) continue;
      if (y < RAIL.y1 + STRIP) s++;
      else v++;
    }
  }
  return { strip: s / (160 * STRIP), view: v / (160 * (150 - RAIL.y1 - STRIP)) };
}

describe('peelFrameFaces', () => {
  it("peels a white rail's even face off the pane it was joined to", () => {
    const r = peeled([236, 236, 232], [212, 212, 208], true);
    expect(r.strip).toBe(1);
    expect(r.view).toBe(0);
  });

  it('leaves an even strip of sky under a dark rail as glass', () => {
    const r = peeled([62, 66, 71], [180, 205, 235], true);
    expect(r.strip).toBe(0);
  });

  it('peels nothing over an even view', () => {
    const r = peeled([236, 236, 232], [212, 212, 208], false);
    expect(r.strip).toBe(0);
    expect(r.view).toBe(0);
  });
});
