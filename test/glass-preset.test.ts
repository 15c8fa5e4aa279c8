/**
 * A preset's compositing.glass: 'off' keeps the panes as the prompt's extent gives them (opaque),
 * a transmission sets how much of a pane shows through, the call's own `glass` wins, and a bad
 * value is E_BAD_INPUT naming the field.
 */
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';

import { clearSegmenters, closeComposePool, replaceBackground } from '../src/index.js';
import { makeGlassScene, promptBoxFor, REGION_GLASS, scenePng } from '../scripts/lib/glass-scenes.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir();
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

const W = 160,
  H = 120;
const scene = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 2 });
const input = await scenePng(scene);
const box = promptBoxFor(scene);

/** Mean mask value over the panes. */
async function panes(options: Record<string, unknown>): Promise<number> {
  const common = { input, model: { segmentation: model }, threads: 1, engine: 'studio' as const, prompt: { box } };
  const r = await replaceBackground({ ...common, ...options });
  const mask = await sharp(r.artifacts.mask).extractChannel(0).raw().toBuffer();
  let sum = 0,
    n = 0;
  for (let i = 0; i < W * H; i++) if (scene.region[i] === REGION_GLASS) (sum += mask[i]!), n++;
  return sum / n;
}

describe("a preset's glass setting", () => {
  it("'off' keeps the panes opaque; a transmission sets how much shows through; the call's glass wins", async () => {
    expect(await panes({})).toBeLessThan(100);
    expect(await panes({ overrides: { compositing: { glass: 'off' } } })).toBeGreaterThan(200);
    const half = await panes({ overrides: { compositing: { glass: { transmission: 0.5 } } } });
    expect(half).toBeGreaterThan(110);
    expect(half).toBeLessThan(200);
    expect(await panes({ overrides: { compositing: { glass: 'off' } }, glass: 'auto' })).toBeLessThan(100);
  });

  it('refuses a bad value naming the field', async () => {
    await expect(panes({ overrides: { compositing: { glass: 'sometimes' } } })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: /compositing\.glass/,
    });
  });
});
