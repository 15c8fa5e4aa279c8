/**
 * The product's extent from a box and the network's salient mask: a salient part that lies mostly
 * inside the box holds off the flood (a faint part of the product, the colour of the wall, is
 * kept), while one that lies mostly outside it — a person standing behind the product, cut by the
 * box's edge — is left to the flood, so the box's margin in the wall's colour is background. A
 * promptable model's mask (SAM's answer to the box) holds the flood off wherever it lies in the box.
 */
import { describe, expect, it } from 'vitest';

import { productExtent } from '../src/compose/glass/product-extent.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 200,
  H = 150;

/**
 * A light wall with a little grain, a dark product [80, 120) × [50, 100), and beside it a faint
 * part of the product in the wall's own colour [120, 130) × [50, 100).
 */
function photo(): Uint8Array {
  const rand = seededRandom(4);
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dark = x >= 80 && x < 120 && y >= 50 && y < 100;
      const v = dark ? 50 : 200 + Math.round(rand() * 3);
      rgb.set([v, v, v - 10], (y * W + x) * 3);
    }
  }
  return rgb;
}

const at = (m: Uint8Array, x: number, y: number) => m[y * W + x]!;

describe('productExtent with a box and the salient mask', () => {
  it('keeps a salient part inside the box, and floods one that lies mostly outside it', () => {
    const salient = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        // The product, its faint part included.
        if (x >= 80 && x < 130 && y >= 50 && y < 100) salient[y * W + x] = 255;
        // A person behind, from the left edge of the photo into the box's left margin.
        if (x < 75 && y >= 20) salient[y * W + x] = 255;
      }
    }
    const extent = productExtent(photo(), W, H, salient, { box: [60, 30, 90, 90] })!;
    expect(extent).toBeDefined();
    // The dark product and its faint part in the wall's colour.
    expect(at(extent.product, 100, 75)).toBe(1);
    expect(at(extent.product, 125, 75)).toBe(1);
    // The margin where the person's mask enters the box is the flood's: background.
    expect(at(extent.product, 68, 75)).toBe(0);
    expect(at(extent.product, 72, 40)).toBe(0);
    // Outside the box nothing is product.
    expect(at(extent.product, 30, 75)).toBe(0);
  });

  it("holds the flood off all of a promptable model's mask inside the box (the prompt's answer)", () => {
    const salient = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if ((x >= 80 && x < 130 && y >= 50 && y < 100) || (x < 75 && y >= 20)) salient[y * W + x] = 255;
      }
    }
    const extent = productExtent(photo(), W, H, salient, { box: [60, 30, 90, 90] }, true)!;
    expect(at(extent.product, 68, 75)).toBe(1);
    expect(at(extent.product, 30, 75)).toBe(0);
  });

  it('keeps the salient part the box cuts where most of it lies inside the box', () => {
    // The person's mask now mostly inside: a box drawn round both.
    const salient = new Uint8Array(W * H);
    for (let y = 50; y < 100; y++) for (let x = 62; x < 130; x++) salient[y * W + x] = 255;
    const extent = productExtent(photo(), W, H, salient, { box: [60, 30, 90, 90] })!;
    expect(at(extent.product, 68, 75)).toBe(1);
  });
});
