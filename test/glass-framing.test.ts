/**
 * The glass mask follows the framing: frameMask moves a mask exactly as applyFraming moves the
 * alpha (same geometry, nearest pixel), and replaceBackground with framing keeps the panes
 * see-through in the framed output.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { alphaBounds, applyFraming, computeFraming } from '../src/compose/framing.js';
import { frameMask } from '../src/compose/glass/frame-mask.js';
import { clearSegmenters, closeComposePool, replaceBackground, segment } from '../src/index.js';
import { makeGlassScene, promptBoxFor, scenePng } from '../scripts/lib/glass-scenes.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir();
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

describe('frameMask', () => {
  const W = 90,
    H = 70;
  // A blob of 255 in a 0 field.
  const mask = new Uint8Array(W * H).map((_, i) =>
    ((i % W) - 40) ** 2 + (Math.floor(i / W) - 30) ** 2 < 400 ? 255 : 0,
  );
  const rgb = new Uint8Array(W * H * 3).fill(100);
  const subject = { x: 20, y: 10, width: 41, height: 41 };

  it.each([
    ['padding only (scale 1)', { padding: 0.2 }, 1],
    ['a larger output size', { outputSize: { width: 200, height: 160 } }, 0.97],
    ['a smaller output size', { outputSize: { width: 40, height: 30 } }, 0.93],
  ])('moves the mask as applyFraming moves the alpha: %s', (_name, options, agree) => {
    const frame = computeFraming(subject, options);
    const want = applyFraming(rgb, mask, W, H, frame).alpha;
    const got = frameMask(mask, W, H, frame);
    expect(got.length).toBe(frame.width * frame.height);
    let same = 0;
    for (let i = 0; i < got.length; i++) if (got[i]! >= 128 === want[i]! >= 128) same++;
    expect(same / got.length).toBeGreaterThanOrEqual(agree);
    expect(got.some((v) => v === 255)).toBe(true);
  });

  it('refuses a mask of another size', () => {
    expect(() => frameMask(new Uint8Array(5), W, H, computeFraming(subject))).toThrow(RangeError);
  });
});

describe('replaceBackground with framing', () => {
  it('keeps the panes see-through in the framed output', async () => {
    const W = 160,
      H = 120;
    const s = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 2 });
    const input = await scenePng(s);
    const box = promptBoxFor(s);
    const seg = await segment({ input, model, threads: 1, prompt: { box } });
    const r = await replaceBackground({
      input,
      model: { segmentation: model },
      threads: 1,
      engine: 'studio',
      prompt: { box },
      framing: { padding: 0.1 },
    });
    const { data, info } = await sharp(r.artifacts.mask).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    // Where the framed glass mask says glass, the framed output's alpha is low.
    const framed = frameMask(seg.glassMask!, W, H, computeFraming(alphaBounds(seg.alpha, W, H)!, { padding: 0.1 }));
    expect(framed.length).toBe(info.width * info.height);
    let g = 0,
      gn = 0;
    for (let i = 0; i < framed.length; i++) if (framed[i]) (g += data[i]!), gn++;
    expect(gn).toBeGreaterThan(framed.length * 0.1);
    expect(g / gn).toBeLessThan(100);
  });
});
