/**
 * The refinement study behind the profiles' `refine` field (scripts/lib/refine-study.ts): the
 * truth degraded as each family's network outputs it, and the guided filter's effect on it.
 */
import { describe, expect, it } from 'vitest';

import { PROFILES } from '../src/models/profiles.js';
import { areaDownsample, familyOutput, studyRefinement } from '../scripts/lib/refine-study.js';

const W = 240,
  H = 160;

/** A soft-edged disc (the subject, reddish) over a textured blue background, with its exact alpha. */
function scene(): { rgb: Uint8Array; truth: Uint8Array } {
  const rgb = new Uint8Array(W * H * 3);
  const truth = new Uint8Array(W * H);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const d = Math.hypot(x - 110, y - 80) - 50 + 6 * Math.sin(x / 3);
      const a = Math.min(1, Math.max(0, 0.5 - d / 2));
      const i = y * W + x;
      truth[i] = Math.round(a * 255);
      const bg = [40 + ((x * 7 + y * 3) % 30), 70, 180];
      const fg = [210, 90 + ((x + y) % 20), 60];
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(a * fg[c]! + (1 - a) * bg[c]!);
    }
  return { rgb, truth };
}

describe('refinement study', () => {
  it('averages exactly over fractional pixels', () => {
    const src = Uint8Array.from([0, 255, 255, 0, 255, 255]);
    const half = areaDownsample(src, 3, 2, 2, 1); // [0, 1.5) and [1.5, 3) of each row, both rows
    expect(half[0]).toBeCloseTo(1 / 3, 6);
    expect(half[1]).toBeCloseTo(1, 6);
    expect(Array.from(areaDownsample(src, 3, 2, 3, 1))).toEqual([0, 1, 1]);
  });

  it("degrades the truth to each family's output: its grid, SAM binary at a longer side of 1024", () => {
    const { truth } = scene();
    const u2 = familyOutput(truth, W, H, PROFILES.u2net);
    expect([u2.width, u2.height]).toEqual([320, 320]);
    const sam = familyOutput(truth, W, H, PROFILES.sam);
    expect([sam.width, sam.height]).toEqual([1024, 683]);
    expect(sam.data.every((v) => v === 0 || v === 1)).toBe(true);
    expect(sam.data.some((v) => v === 1)).toBe(true);
  });

  it('the guided filter lowers the alpha error of a binary SAM-like mask', () => {
    const { rgb, truth } = scene();
    const [sam] = studyRefinement(rgb, truth, W, H, ['sam']);
    expect(sam!.refined.mae).toBeLessThan(sam!.bare.mae);
    expect(sam!.refined.edgeMae).toBeLessThan(sam!.bare.edgeMae);
  });
});
