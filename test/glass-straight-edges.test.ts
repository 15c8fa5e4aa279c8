/**
 * Walls along long straight edges (the frame profiles the glass stage keeps): an edge that fades
 * for a stretch keeps its wall across the fade; texture, and a short edge however strong, give none.
 */
import { describe, expect, it } from 'vitest';

import { straightEdgeWalls } from '../src/compose/glass/straight-edges.js';
import { seededRandom } from '../scripts/lib/glass-scenes.js';

const W = 120,
  H = 90;
const box = [0, 0, W, H] as const;

/** Three planes of `value(x, y)` plus seeded noise of ±`noise` levels. */
function planesOf(value: (x: number, y: number) => number, noise: number): Float32Array[] {
  const rand = seededRandom(7);
  return [0, 1, 2].map(() => {
    const p = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) p[i] = value(i % W, Math.floor(i / W)) + (rand() * 2 - 1) * noise;
    return p;
  });
}

describe('straightEdgeWalls', () => {
  it('walls a long horizontal edge off along its whole length, across a stretch where it fades', () => {
    // A bar's edge at row 40|41, 30 levels of contrast except columns 50–54 where it is gone.
    const planes = planesOf((x, y) => (y > 40 && (x < 50 || x >= 55) ? 130 : 100), 1.5);
    const walls = straightEdgeWalls(planes, W, H, box);
    for (let x = 5; x < W - 5; x++) expect(walls.down[40 * W + x], `column ${x}`).toBe(1);
    // Nothing in the plain part above the edge (the notch's own sides below it are edges too, their walls
    // lengthened by half a window).
    let above = 0;
    for (let i = 0; i < 34 * W; i++) above += walls.right[i]! + walls.down[i]!;
    expect(above).toBe(0);
  });

  it('finds none in texture, nor along a short strong edge', () => {
    const rand = seededRandom(3);
    const texture = Array.from({ length: W * H }, () => rand() * 60);
    const planes = planesOf((x, y) => texture[y * W + x]! + (y > 40 && y < 48 && x >= 50 && x < 58 ? 120 : 0), 0);
    const walls = straightEdgeWalls(planes, W, H, box);
    expect(walls.down.reduce((a, v) => a + v, 0) + walls.right.reduce((a, v) => a + v, 0)).toBe(0);
  });
});
