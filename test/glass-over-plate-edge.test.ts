/**
 * A glass body's edges over a clean plate: towards the silhouette the glass takes more of its own
 * colour (α rises, F darkens towards the tint), as a jar's walls do at grazing angles. Solved
 * against the plate, the edges get their α back; with a reflection-only model they would keep the
 * body's α₀.
 */
import { describe, expect, it } from 'vitest';

import { glassOverPlate } from '../src/compose/glass/glass-over-plate.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 160,
  H = 120;
const TINT = [185, 205, 225];
const A0 = 0.1;

/** α over the body (columns 20–139, rows 20–99): A0, rising to A0 + 0.45 at both sides. */
function truthAlpha(x: number): number {
  const r = Math.abs(x + 0.5 - 80) / 60;
  return A0 + 0.45 * Math.max(0, (r - 0.7) / 0.3) ** 2;
}

describe('glassOverPlate at a glass body edge', () => {
  it("measures the edges' α against the plate", () => {
    const rand = seededRandom(21);
    const shot = new Uint8Array(W * H * 3);
    const plate = new Uint8Array(W * H * 3);
    const mask = new Uint8Array(W * H);
    const noise = () => (rand() + rand() - 1) * 1.5;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        const b = [
          110 + 60 * Math.sin(x * 0.11 + y * 0.05),
          130 + 50 * Math.cos(y * 0.09 - x * 0.04),
          90 + 45 * Math.sin((x + y) * 0.07),
        ];
        const inside = x >= 20 && x < 140 && y >= 20 && y < 100;
        const a = inside ? truthAlpha(x) : 0;
        if (inside) mask[i] = 255;
        for (let k = 0; k < 3; k++) {
          const premul = A0 * TINT[k]! + (a - A0) * 0.65 * TINT[k]!;
          const c = inside ? premul + (1 - a) * b[k]! : b[k]!;
          shot[i * 3 + k] = Math.max(0, Math.min(255, Math.round(c + noise())));
          plate[i * 3 + k] = Math.max(0, Math.min(255, Math.round(b[k]! + noise())));
        }
      }
    }
    const alpha = new Uint8Array(W * H);
    const fg = new Uint8Array(W * H * 3);
    const line = glassOverPlate(shot, plate, mask, W, H, { transmission: 0.9 }, alpha, fg);
    expect(line).toBeDefined();
    expect(1 - line!.s).toBeCloseTo(A0, 1);
    // Mean |Δα| over the edges (truth α ≥ 0.2) and over the body.
    const err = [0, 0],
      count = [0, 0];
    for (let y = 22; y < 98; y++) {
      for (let x = 22; x < 138; x++) {
        const t = truthAlpha(x);
        const k = t >= 0.2 ? 1 : 0;
        err[k]! += Math.abs(alpha[y * W + x]! / 255 - t);
        count[k]!++;
      }
    }
    expect(count[1]).toBeGreaterThan(500);
    expect(err[1]! / count[1]!).toBeLessThan(0.07);
    expect(err[0]! / count[0]!).toBeLessThan(0.02);
  });
});
