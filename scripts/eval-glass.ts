/**
 * npm run eval:glass — the glass matte on synthetic scenes with exact truth (scripts/lib/glass-scenes.ts).
 *
 * Each scene (door, window, vitrine, jar × garden, interior and photo backdrops from
 * ../shared/photos) goes through cleanup() 'transparent' in single-shot mode with the box given
 * (the product's bounds plus a margin); the cut-out is composited over white and over black and
 * compared with the truth composited the same way: mean |Δ| per region in 1/255, against the goals
 * opaque ≤ 4, glass ≤ 8, background ≤ 3. Then the cost: cleanup() of a 12-MP photo with and
 * without the glass stage.
 *
 * Options: --size 768 (long side)  --seeds 1  --model <file.onnx>  --no-cost  --json
 * Env: BGN_PHOTOS_DIR (default ../shared/photos).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import sharp from 'sharp';

import { cleanup } from '../src/index.js';
import { GLASS_SCENE_KINDS, makeGlassScene, promptBoxFor, scenePng, type GlassBackdrop } from './lib/glass-scenes.js';
import { SINGLE_SHOT_GOALS, scoreCutout, type GlassScore } from './lib/glass-score.js';

const { values: v } = parseArgs({
  options: {
    size: { type: 'string', default: '768' },
    seeds: { type: 'string', default: '1' },
    model: { type: 'string' },
    'no-cost': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const size = Number(v.size);
const width = size, height = Math.round(size * 0.75);
const photos = process.env.BGN_PHOTOS_DIR ?? path.resolve(import.meta.dirname, '../../shared/photos');
const backdrops: GlassBackdrop[] = ['garden', 'interior'];
for (const f of ['llama_am2k.jpg', 'astronaut_portrait_pd.jpg']) if (existsSync(path.join(photos, f))) backdrops.push({ photo: path.join(photos, f) });

interface Row extends GlassScore {
  scene: string;
  ms: number;
}

async function cutout(input: Buffer, box: [number, number, number, number]): Promise<{ rgba: Uint8Array; ms: number }> {
  const t0 = performance.now();
  const r = await cleanup({ input, prompt: { box }, ...(v.model ? { model: v.model } : {}) });
  const ms = performance.now() - t0;
  const { data } = await sharp(r.artifacts.output as Buffer).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgba: new Uint8Array(data), ms };
}

const rows: Row[] = [];
for (let seed = 1; seed <= Number(v.seeds); seed++) {
  for (const kind of GLASS_SCENE_KINDS) {
    for (const backdrop of backdrops) {
      const scene = await makeGlassScene({ kind, backdrop, width, height, seed });
      const { rgba, ms } = await cutout(await scenePng(scene), promptBoxFor(scene));
      rows.push({ scene: `${kind}/${scene.backdropName}/${seed}`, ms, ...scoreCutout(scene, rgba) });
    }
  }
}

const ok = (x: number, goal: number) => (x <= goal ? ' ' : '*');
const fmt = (x: number) => x.toFixed(1).padStart(6);
if (!v.json) {
  console.log(`glass scenes at ${width}×${height}, single shot with the box (mean |Δ| in 1/255 over white and black; * = over the goal)`);
  console.log(`${'scene'.padEnd(38)} ${'opaque'.padStart(7)} ${'glass'.padStart(7)} ${'backgr'.padStart(7)}   ms`);
  for (const r of rows) {
    console.log(
      `${r.scene.padEnd(38)} ${fmt(r.opaque)}${ok(r.opaque, SINGLE_SHOT_GOALS.opaque)} ${fmt(r.glass)}${ok(r.glass, SINGLE_SHOT_GOALS.glass)} ` +
        `${fmt(r.background)}${ok(r.background, SINGLE_SHOT_GOALS.background)} ${r.ms.toFixed(0).padStart(6)}`,
    );
  }
  const mean = (k: 'opaque' | 'glass' | 'background') => rows.reduce((a, r) => a + r[k], 0) / rows.length;
  const worst = (k: 'opaque' | 'glass' | 'background') => Math.max(...rows.map((r) => r[k]));
  console.log(`${'mean'.padEnd(38)} ${fmt(mean('opaque'))}  ${fmt(mean('glass'))}  ${fmt(mean('background'))}`);
  console.log(`${'worst'.padEnd(38)} ${fmt(worst('opaque'))}  ${fmt(worst('glass'))}  ${fmt(worst('background'))}`);
  console.log(`goals (every scene): opaque ≤ ${SINGLE_SHOT_GOALS.opaque}, glass ≤ ${SINGLE_SHOT_GOALS.glass}, background ≤ ${SINGLE_SHOT_GOALS.background}`);
}

let cost: Record<string, number> | undefined;
if (!v['no-cost']) {
  // A 12-MP photo: a door scene drawn at 4000×3000.
  const scene = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: 4000, height: 3000, seed: 1 });
  const input = await scenePng(scene);
  const run = async (glass: 'auto' | 'off', box?: [number, number, number, number]) => {
    const r = await cleanup({ input, glass, ...(box ? { prompt: { box } } : {}), ...(v.model ? { model: v.model } : {}) });
    return r.metrics;
  };
  await run('off');
  const off = await run('off');
  const auto = await run('auto', promptBoxFor(scene));
  const glassMs = auto.stages.glass ?? 0;
  cost = { offMs: off.elapsed_ms, autoMs: auto.elapsed_ms, glassMs, extra: glassMs / off.elapsed_ms };
  if (!v.json) {
    console.log(
      `12-MP cleanup(): ${off.elapsed_ms.toFixed(0)} ms without a prompt and glass 'off'; with the box and glass 'auto' ` +
        `${auto.elapsed_ms.toFixed(0)} ms, of which the glass stage ${glassMs.toFixed(0)} ms = ${((100 * glassMs) / off.elapsed_ms).toFixed(0)} % extra (goal ≤ 30 %)`,
    );
  }
}
if (v.json) console.log(JSON.stringify({ rows, cost }, null, 2));
