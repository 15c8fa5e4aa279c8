/**
 * The rim of a glass body whose silhouette is the product's outline: Fresnel's reflectance, the
 * rows that cross such a body (not a pane held by its frame), and the matte of a drawn jar with
 * exact truth, the classes given, where α rises towards the silhouette.
 */
import { describe, expect, it } from 'vitest';

import { glassLayer } from '../src/compose/glass/glass-layer.js';
import { fresnelReflectance, glasswareRims } from '../src/compose/glass/glassware-rims.js';
import { CLASS_BACKGROUND, CLASS_GLASS, CLASS_OPAQUE } from '../src/compose/glass/region-classes.js';
import { glassLook } from '../src/compose/glass/subject-matte.js';
import { makeGlassScene } from '../scripts/lib/glass-scenes.js';

describe('fresnelReflectance (n = 1.5, unpolarised)', () => {
  it.each([
    [0, 0.04],
    [60, 0.089],
    [80, 0.388],
    [89.9, 0.99],
  ])('at %f° reflects %f', (degrees, expected) => {
    expect(fresnelReflectance((degrees * Math.PI) / 180)).toBeCloseTo(expected, 2);
  });
});

describe('glasswareRims', () => {
  const W = 60,
    H = 20;
  /** A body of glass (columns 5–24) on the background, and a pane (columns 40–49) in a frame. */
  function classes(): Uint8Array {
    const out = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (x >= 5 && x < 25) out[i] = CLASS_GLASS;
        if (x === 4) out[i] = CLASS_OPAQUE; // the anti-aliased outline
        if (x >= 35 && x < 55) out[i] = x >= 40 && x < 50 ? CLASS_GLASS : CLASS_OPAQUE;
        if (out[i] === undefined) out[i] = CLASS_BACKGROUND;
      }
    }
    return out;
  }

  it('rises towards the silhouette of a body, and leaves a pane in its frame alone', () => {
    const rgb = new Uint8Array(W * H * 3).fill(120);
    const { share, view } = glasswareRims(classes(), rgb, W, H);
    const row = 10 * W;
    // Middle (near normal incidence): almost nothing; the outermost columns: a good share.
    expect(share[row + 14]!).toBeLessThan(0.01);
    expect(share[row + 5]!).toBeGreaterThan(0.03);
    expect(share[row + 24]!).toBeGreaterThan(0.1);
    for (let x = 15; x < 24; x++) expect(share[row + x + 1]!).toBeGreaterThan(share[row + x]!);
    expect(view[(row + 5) * 3]).toBeCloseTo(120);
    for (let x = 35; x < 55; x++) expect(share[row + x]).toBe(0);
  });
});

describe('glassLayer on a jar, the classes given', () => {
  it('follows the truth’s α over the outer part of the body', async () => {
    const s = await makeGlassScene({ kind: 'jar', backdrop: 'interior', width: 320, height: 240, seed: 1 });
    const n = s.width * s.height;
    const cls = Uint8Array.from(s.region);
    const alpha = new Uint8Array(n).fill(255);
    const fg = Uint8Array.from(s.image);
    for (let i = 0; i < n; i++) if (cls[i] === CLASS_BACKGROUND) alpha[i] = 0;
    const [, , bw, bh] = s.productBox;
    glassLayer(s.image, s.width, s.height, cls, Math.min(bw, bh), glassLook('auto'), alpha, fg);
    // Per row of the body, its outer fifth on each side: mean |Δα| there.
    let err = 0,
      count = 0;
    for (let y = 0; y < s.height; y++) {
      const row = y * s.width;
      let a = -1,
        b = -1;
      for (let x = 0; x < s.width; x++) {
        if (cls[row + x] !== CLASS_GLASS) continue;
        if (a < 0) a = x;
        b = x;
      }
      if (a < 0 || b - a < 20) continue;
      const edge = Math.round((b - a) * 0.1);
      for (let x = a; x <= b; x++) {
        if (x > a + edge && x < b - edge) continue;
        if (cls[row + x] !== CLASS_GLASS || s.alpha[row + x]! > 0.85) continue;
        err += Math.abs(alpha[row + x]! / 255 - s.alpha[row + x]!);
        count++;
      }
    }
    expect(count).toBeGreaterThan(200);
    expect(err / count).toBeLessThan(0.11);
  });
});
