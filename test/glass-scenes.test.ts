/**
 * The synthetic glass scenes and their scorer (scripts/lib): the truth scores zero, an opaque
 * cut-out of the whole photo or an empty one scores badly, and a scene's product does not depend
 * on its backdrop.
 */
import { describe, expect, it } from 'vitest';

import {
  GLASS_SCENE_KINDS,
  makeGlassScene,
  promptBoxFor,
  REGION_GLASS,
  REGION_OPAQUE,
} from '../scripts/lib/glass-scenes.js';
import { scoreCutout, truthCutout } from '../scripts/lib/glass-score.js';

describe('glass scenes', () => {
  it.each(GLASS_SCENE_KINDS)('a %s has opaque, glass and background regions with exact truth', async (kind) => {
    const s = await makeGlassScene({ kind, backdrop: 'garden', width: 160, height: 120, seed: 3 });
    const t = scoreCutout(s, truthCutout(s));
    expect(t.counts.opaque).toBeGreaterThan(100);
    expect(t.counts.glass).toBeGreaterThan(500);
    expect(t.counts.background).toBeGreaterThan(2000);
    expect(Math.max(t.background, t.opaque, t.glass)).toBeLessThan(0.6);
    for (let i = 0; i < s.alpha.length; i++) {
      if (s.region[i] === REGION_OPAQUE) expect(s.alpha[i]).toBeGreaterThan(0.5);
    }
    // Glass lets most light through.
    let sum = 0,
      n = 0;
    for (let i = 0; i < s.alpha.length; i++) if (s.region[i] === REGION_GLASS) (sum += s.alpha[i]!), n++;
    expect(sum / n).toBeGreaterThan(0.04);
    expect(sum / n).toBeLessThan(0.45);
  });

  it('scores a whole-photo cut-out and an empty one badly where they are wrong', async () => {
    const s = await makeGlassScene({ kind: 'door', backdrop: 'interior', width: 160, height: 120, seed: 1 });
    const n = s.width * s.height;
    const opaque = new Uint8Array(n * 4);
    for (let i = 0; i < n; i++) {
      opaque.set(s.image.subarray(i * 3, i * 3 + 3), i * 4);
      opaque[i * 4 + 3] = 255;
    }
    const whole = scoreCutout(s, opaque);
    expect(whole.background).toBeGreaterThan(40);
    expect(whole.glass).toBeGreaterThan(30);
    expect(whole.opaque).toBeLessThan(2);
    const empty = scoreCutout(s, new Uint8Array(n * 4));
    expect(empty.background).toBe(0);
    expect(empty.opaque).toBeGreaterThan(40);
    expect(() => scoreCutout(s, new Uint8Array(n * 3))).toThrow(/RGBA/);
  });

  it('keeps the product when only the backdrop changes, and is seeded', async () => {
    const a = await makeGlassScene({ kind: 'window', backdrop: 'garden', width: 120, height: 90, seed: 5 });
    const b = await makeGlassScene({ kind: 'window', backdrop: 'interior', width: 120, height: 90, seed: 5 });
    const c = await makeGlassScene({ kind: 'window', backdrop: 'garden', width: 120, height: 90, seed: 5 });
    expect(b.alpha).toEqual(a.alpha);
    expect(b.fg).toEqual(a.fg);
    expect(b.image).not.toEqual(a.image);
    expect(c.image).toEqual(a.image);
    const [x, y, w, h] = promptBoxFor(a);
    expect(x).toBeLessThanOrEqual(a.productBox[0]);
    expect(y).toBeLessThanOrEqual(a.productBox[1]);
    expect(x + w).toBeGreaterThanOrEqual(a.productBox[0] + a.productBox[2]);
    expect(y + h).toBeGreaterThanOrEqual(a.productBox[1] + a.productBox[3]);
  });
});
