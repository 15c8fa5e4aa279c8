/**
 * Soft rims: the slivers a soft edge leaves between two regions are found (their colours are a mix
 * of the two sides'), while thin parts in their own right — a glass's bright rim between two similar
 * regions, a handle on a pane — are not.
 */
import { describe, expect, it } from 'vitest';

import { distanceToOtherLabel } from '../src/compose/glass/pixel-ops.js';
import { softRims } from '../src/compose/glass/soft-rims.js';

const W = 60,
  H = 40;

/** Columns painted by `column(x)` → [label, grey level]; rows all alike. */
function scene(column: (x: number) => [number, number]) {
  const labels = new Int32Array(W * H);
  const rgb = new Uint8Array(W * H * 3);
  let count = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [label, grey] = column(x);
      labels[y * W + x] = label;
      rgb.fill(grey, (y * W + x) * 3, (y * W + x) * 3 + 3);
      count = Math.max(count, label);
    }
  }
  const dist = distanceToOtherLabel(labels, W, H);
  const radius = new Float32Array(count + 1);
  for (let i = 0; i < W * H; i++) radius[labels[i]!] = Math.max(radius[labels[i]!]!, dist[i]!);
  return softRims(labels, count, radius, rgb, W);
}

describe('softRims', () => {
  it('finds the slivers of a ramp between a dark and a light region', () => {
    // 60 | 100 | 150 | 200: the two middle columns are a soft edge cut into two slivers.
    const rims = scene((x) => (x < 30 ? [1, 60] : x === 30 ? [2, 100] : x === 31 ? [3, 150] : [4, 200]));
    expect([...rims]).toEqual([0, 0, 1, 1, 0]);
  });

  it('keeps a bright rim between two similar regions, and a handle on a pane', () => {
    const ridge = scene((x) => (x < 30 ? [1, 100] : x < 32 ? [2, 220] : [3, 110]));
    expect(ridge[2]).toBe(0);
    // A light bar two pixels wide with the same pane (label 1) on both sides.
    const handle = scene((x) => (x === 30 || x === 31 ? [2, 195] : [1, 190]));
    expect(handle[2]).toBe(0);
  });
});
