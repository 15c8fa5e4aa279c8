/**
 * The masked opening the glass layer takes as a pane's reflection-free base: a bright stripe
 * narrower than the window goes, a wider plateau and the darker levels stay, and pixels outside the
 * mask (a frame) take no part.
 */
import { describe, expect, it } from 'vitest';

import { maskedOpening } from '../src/compose/glass/morphology.js';

const W = 40,
  H = 20;

describe('maskedOpening', () => {
  it('removes a narrow bright stripe, keeps a wide plateau and ignores what the mask leaves out', () => {
    const plane = new Float32Array(W * H);
    const weight = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        weight[i] = x < 36 ? 1 : 0;
        // Level 50, a stripe of 3 columns at 100, a plateau of 12 columns at 80, a bright frame at 250.
        plane[i] = x >= 8 && x < 11 ? 100 : x >= 20 && x < 32 ? 80 : x >= 36 ? 250 : 50;
      }
    }
    const open = maskedOpening(plane, weight, W, H, 3);
    for (let y = 0; y < H; y++) {
      expect(open[y * W + 9]).toBe(50);
      expect(open[y * W + 25]).toBe(80);
      expect(open[y * W + 2]).toBe(50);
      // Next to the frame the pane's own level, not the frame's.
      expect(open[y * W + 35]).toBe(50);
    }
  });
});
