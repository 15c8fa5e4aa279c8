/**
 * glass: 'auto' without a prompt (the default of every call) must never thin out a subject the
 * network cut out well: glass is only believed where the subject encloses it. A subject made of
 * the background's own colours that reaches its outline (fur, foliage, a grey product on a grey
 * wall) keeps the network's mask bit for bit; a window the network took whole has its panes found.
 */
import { describe, expect, it } from 'vitest';

import { subjectMatte } from '../src/compose/glass/subject-matte.js';
import { makeGlassScene, REGION_BACKGROUND, REGION_GLASS } from '../scripts/lib/glass-scenes.js';

const W = 160,
  H = 120;

describe("glass 'auto' without a prompt", () => {
  it('keeps the mask of a subject coloured like its background (it reaches the outline, none encloses)', async () => {
    const s = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 5 });
    // The "subject": a disc cut from the garden itself, as a network would mark a furry animal in it.
    const salient = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        if (s.region[i] === REGION_BACKGROUND && (x - 30) ** 2 + (y - 60) ** 2 < 26 ** 2) salient[i] = 255;
      }
    }
    expect(salient.reduce((a, v) => a + (v ? 1 : 0), 0)).toBeGreaterThan(1000);
    const m = subjectMatte({ rgb: s.image, width: W, height: H, salient });
    expect(m.glassPixels).toBe(0);
    expect(Buffer.from(m.alpha).equals(Buffer.from(salient))).toBe(true);
  });

  it('finds the panes of a window the network marked whole (frame and panes), since the frame holds them', async () => {
    const s = await makeGlassScene({ kind: 'window', backdrop: 'garden', width: W, height: H, seed: 4 });
    const salient = s.region.map((r) => (r === REGION_BACKGROUND ? 0 : 255));
    const m = subjectMatte({ rgb: s.image, width: W, height: H, salient });
    let glass = 0,
      marked = 0;
    for (let i = 0; i < W * H; i++) if (s.region[i] === REGION_GLASS) glass++, m.glass[i] && marked++;
    expect(glass).toBeGreaterThan(0);
    expect(marked / glass).toBeGreaterThan(0.5);
    // Nothing outside the network's subject becomes glass.
    for (let i = 0; i < W * H; i++) if (!salient[i]) expect(m.glass[i]).toBe(0);
  });
});
