/**
 * The quality metrics `npm run eval:segment` reports (scripts/lib/segment-metrics.ts).
 */
import { describe, expect, it } from 'vitest';

import { edgeBand, score } from '../scripts/lib/segment-metrics.js';

const W = 20,
  H = 20;

/** A 20×20 mask with a 10×10 square of `value` whose top-left corner is (x0, y0). */
function square(x0: number, y0: number, value = 255): Uint8Array {
  const m = new Uint8Array(W * H);
  for (let y = y0; y < y0 + 10; ++y) for (let x = x0; x < x0 + 10; ++x) m[y * W + x] = value;
  return m;
}

describe('segmentation metrics', () => {
  it('a perfect prediction scores IoU 1 and no error', () => {
    const t = square(5, 5);
    expect(score(t, t, W, H, 1)).toEqual({ iou: 1, mae: 0, edgeMae: 0, edgePixels: 80 });
  });

  it('a prediction shifted one pixel loses one column: IoU 90/110, MAE 20/400', () => {
    const s = score(square(6, 5), square(5, 5), W, H, 1);
    expect(s.iou).toBeCloseTo(90 / 110, 12);
    expect(s.mae).toBeCloseTo(20 / 400, 12);
    // Every wrong pixel lies on the boundary, so all error is edge error: 20 of the 80 band pixels.
    expect(s.edgeMae).toBeCloseTo(20 / 80, 12);
  });

  it('IoU thresholds alpha at one half', () => {
    expect(score(square(5, 5, 128), square(5, 5), W, H).iou).toBe(1);
    expect(score(square(5, 5, 127), square(5, 5), W, H).iou).toBe(0);
  });

  it('two empty masks agree (IoU 1); a full prediction of an empty truth scores IoU 0', () => {
    const empty = new Uint8Array(W * H);
    expect(score(empty, empty, W, H).iou).toBe(1);
    expect(score(new Uint8Array(W * H).fill(255), empty, W, H)).toMatchObject({ iou: 0, mae: 1 });
  });

  it('the edge band is the ring within r pixels of the boundary', () => {
    const band = edgeBand(square(5, 5), W, H, 1);
    // Outer ring (12×12 minus 10×10) plus inner ring (10×10 minus 8×8).
    expect(band.reduce((a, b) => a + b, 0)).toBe(144 - 64);
    expect(band[10 * W + 10]).toBe(0); // the square's centre
    expect(band[0]).toBe(0); // a far corner
    expect(band[5 * W + 5]).toBe(1); // a corner of the square
    expect(band[4 * W + 4]).toBe(1); // diagonal outside neighbour
  });

  it('soft truth pixels belong to the edge band wherever they are', () => {
    const t = square(5, 5);
    t[0] = 100;
    expect(edgeBand(t, W, H, 1)[0]).toBe(1);
  });

  it('the default band radius grows with the image (3 px minimum, long side / 200)', () => {
    const w = 1200,
      h = 10;
    const t = new Uint8Array(w * h);
    for (let y = 0; y < h; ++y) t.fill(255, y * w, y * w + 600);
    // radius 6: columns 594..605 are within the band (12 columns of 10 rows)
    expect(score(t, t, w, h).edgePixels).toBe(120);
  });
});
