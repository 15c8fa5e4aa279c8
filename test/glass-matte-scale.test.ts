/**
 * The glass stage on a reduced copy (large photos): judged at half the size and brought
 * back guided by the photo, a door keeps its frame, its panes stay see-through and the old
 * background stays gone, about as well as when judged at full size; nothing outside the box is
 * kept; the network's mask is kept where the stage changed nothing; and the same result comes
 * back from the pixel worker.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { analyseReduced, blockAverage, bringBack, subjectMatteAtScale } from '../src/compose/glass/matte-at-scale.js';
import { subjectMatte } from '../src/compose/glass/subject-matte.js';
import {
  closeComposePool,
  glassAnalysisOffThread,
  glassBringBackOffThread,
  subjectMatteOffThread,
} from '../src/workers/pixel-pool.js';
import { makeGlassScene, promptBoxFor, REGION_GLASS } from '../scripts/lib/glass-scenes.js';
import { scoreCutout } from '../scripts/lib/glass-score.js';

afterAll(() => closeComposePool());

const W = 480,
  H = 360;

function rgbaOf(fg: Uint8Array, alpha: Uint8Array): Uint8Array {
  const out = new Uint8Array(alpha.length * 4);
  for (let i = 0; i < alpha.length; i++) {
    out.set(fg.subarray(i * 3, i * 3 + 3), i * 4);
    out[i * 4 + 3] = alpha[i]!;
  }
  return out;
}

describe('blockAverage', () => {
  it('averages s×s blocks, the last row and column over what is there', () => {
    const src = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect([...blockAverage(src, 3, 3, 1, 2)]).toEqual([30, 45, 75, 90]);
    const rgb = Uint8Array.from([0, 0, 0, 255, 255, 255]);
    expect([...blockAverage(rgb, 2, 1, 3, 2)]).toEqual([128, 128, 128]);
  });
});

describe('the glass matte judged on a reduced copy', () => {
  it.each([
    ['door', 'garden', 2],
    ['window', 'interior', 4],
  ] as const)('a %s over a %s scores about as well as judged at full size', async (kind, backdrop, seed) => {
    const s = await makeGlassScene({ kind, backdrop, width: W, height: H, seed });
    const box = promptBoxFor(s);
    const input = { rgb: s.image, width: W, height: H, salient: new Uint8Array(W * H), prompt: { box } };
    const full = scoreCutout(s, rgbaOf(subjectMatte(input).fg, subjectMatte(input).alpha));
    const m = subjectMatteAtScale(input, 240);
    const reduced = scoreCutout(s, rgbaOf(m.fg, m.alpha));
    expect(reduced.opaque).toBeLessThan(Math.max(4, full.opaque + 2));
    expect(reduced.background).toBeLessThan(Math.max(3, full.background + 1.5));
    expect(reduced.glass).toBeLessThan(Math.max(21, full.glass + 4));
    // Keeping the box opaque scores > 40 on glass and background; the panes are marked as glass.
    let marked = 0,
      glass = 0,
      outside = 0;
    for (let i = 0; i < W * H; i++) {
      if (s.region[i] === REGION_GLASS) glass++, m.glass[i] && marked++;
      const x = i % W,
        y = Math.floor(i / W);
      const out = x < box[0] || y < box[1] || x >= box[0] + box[2] || y >= box[1] + box[3];
      if (out && (m.alpha[i] || m.glass[i])) outside++;
    }
    expect(marked / glass).toBeGreaterThan(0.75);
    expect(outside).toBe(0);
    expect(m.glassPixels).toBe(m.glass.reduce((a, v) => a + (v ? 1 : 0), 0));
  });

  it("keeps the network's own mask where it found no glass and there is no prompt", () => {
    // A red block on grey: opaque, nothing background-coloured inside it.
    const inside = (i: number) => i % W > 150 && i % W < 300 && i / W > 90 && i / W < 270;
    const rgb = new Uint8Array(W * H * 3).map((_, k) => (inside((k / 3) | 0) ? (k % 3 ? 30 : 200) : 120));
    const salient = new Uint8Array(W * H).map((_, i) => (inside(i) ? 255 : (i % 5) * 10));
    const m = subjectMatteAtScale({ rgb, width: W, height: H, salient }, 240);
    expect(m.alpha).toBe(salient);
    expect(m.fg).toBe(rgb);
    expect(m.glassPixels).toBe(0);
  });

  it('gives the same matte on the pixel worker, and hands the photo and mask back', async () => {
    const s = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 3 });
    const box = promptBoxFor(s);
    const input = { width: W, height: H, prompt: { box } };
    const here = subjectMatteAtScale({ ...input, rgb: s.image.slice(), salient: new Uint8Array(W * H) });
    const rgb = s.image.slice();
    const there = await subjectMatteOffThread({ ...input, rgb, salient: new Uint8Array(W * H) });
    expect(Buffer.from(there.alpha).equals(Buffer.from(here.alpha))).toBe(true);
    expect(Buffer.from(there.fg).equals(Buffer.from(here.fg))).toBe(true);
    expect(Buffer.from(there.glass).equals(Buffer.from(here.glass))).toBe(true);
    expect(Buffer.from(there.rgb).equals(Buffer.from(s.image))).toBe(true);
    expect(there.salient.length).toBe(W * H);
  });

  // The analysis of a reduced copy made elsewhere, then the way back.
  it('in two halves gives the same matte, here and on the workers', async () => {
    const s = await makeGlassScene({ kind: 'window', backdrop: 'garden', width: W, height: H, seed: 5 });
    const prompt = { box: promptBoxFor(s) };
    const salient = new Uint8Array(W * H);
    const whole = subjectMatteAtScale({ rgb: s.image, width: W, height: H, salient, prompt }, 240);
    const f = 2;
    const [gw, gh] = [W / f, H / f];
    const small = blockAverage(s.image, W, H, 3, f);
    const reduced = analyseReduced(small, blockAverage(salient, W, H, 1, f), gw, gh, f, { prompt });
    const back = bringBack({ rgb: s.image, width: W, height: H, salient, prompt }, reduced);
    expect(Buffer.from(back.alpha).equals(Buffer.from(whole.alpha))).toBe(true);
    expect(Buffer.from(back.fg).equals(Buffer.from(whole.fg))).toBe(true);
    expect(back.glassPixels).toBe(whole.glassPixels);
    const there = await glassAnalysisOffThread(small, blockAverage(salient, W, H, 1, f), gw, gh, f, { prompt });
    const backThere = await glassBringBackOffThread(
      { rgb: s.image.slice(), width: W, height: H, salient: salient.slice(), prompt },
      there,
    );
    expect(Buffer.from(backThere.alpha).equals(Buffer.from(whole.alpha))).toBe(true);
    expect(Buffer.from(backThere.rgb).equals(Buffer.from(s.image))).toBe(true);
    // A reduced copy of another photo's size is refused.
    expect(() => bringBack({ rgb: s.image, width: W + 8, height: H, salient, prompt }, reduced)).toThrow(RangeError);
  });
});
