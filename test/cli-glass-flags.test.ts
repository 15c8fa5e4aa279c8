/**
 * The product's box, points and glass as flags: --box / --point on segment, cleanup, replace and
 * the batch mode; --glass auto|off, --glass-transmission and --glass-tint on all three. A door drawn
 * over a garden (exact regions, scripts/lib) that the tiny network finds nothing in: cut out of its
 * box, its panes see-through unless --glass off; bad flags are refused naming the flag, and
 * nothing is written.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli/index.js';
import { glassFromFlags, promptFromFlags } from '../src/cli/subject-flags.js';
import { replaceOptionsFromFlags } from '../src/cli/replace-flags.js';
import { clearSegmenters, closeComposePool } from '../src/index.js';
import {
  makeGlassScene,
  promptBoxFor,
  REGION_GLASS,
  REGION_OPAQUE,
  scenePng,
  type GlassScene,
} from '../scripts/lib/glass-scenes.js';
import { snapshotEnv, type EnvSnapshot } from './helpers/env.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-cli-glass-');
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const W = 160,
  H = 120;
const photo = path.join(tmp.dir, 'door.png');
let scene: GlassScene;
let box: [number, number, number, number];
let savedEnv: EnvSnapshot;

beforeAll(async () => {
  savedEnv = snapshotEnv(['BG_ENGINE', 'BG_DIFFUSION_MODEL', 'MODEL_PATH', 'RUNWAY_API_KEY'], { clear: true });
  scene = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 2 });
  box = promptBoxFor(scene).map(Math.round) as [number, number, number, number];
  writeFileSync(photo, await scenePng(scene));
});

afterAll(async () => {
  savedEnv.restore();
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '',
    stderr = '';
  const code = await main(['node', 'bg-native', ...args], {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

let n = 0;
const out = (ext = 'png') => path.join(tmp.dir, `out-${++n}.${ext}`);
const boxFlag = () => box.join(',');

/** Mean alpha over a region of the scene, and the largest alpha outside the box. */
function regions(alpha: Uint8Array | Buffer, step = 1): { glass: number; opaque: number; outside: number } {
  let g = 0,
    gn = 0,
    o = 0,
    on = 0,
    outside = 0;
  for (let i = 0; i < W * H; i++) {
    const a = alpha[i * step]!;
    const x = i % W,
      y = Math.floor(i / W);
    if (x < box[0] || y < box[1] || x >= box[0] + box[2] || y >= box[1] + box[3]) outside = Math.max(outside, a);
    else if (scene.region[i] === REGION_GLASS) (g += a), gn++;
    else if (scene.region[i] === REGION_OPAQUE) (o += a), on++;
  }
  return { glass: g / gn, opaque: o / on, outside };
}

async function alphaOf(file: string): Promise<Buffer> {
  return sharp(file).ensureAlpha().extractChannel(3).raw().toBuffer();
}

describe('flags to options', () => {
  it('--box and --point make the prompt; replace keeps --prompt as its text', () => {
    expect(promptFromFlags({})).toBeUndefined();
    expect(promptFromFlags({ box: [1, 2, 3, 4], point: [{ x: 5, y: 6, label: 0 }] })).toEqual({
      box: [1, 2, 3, 4],
      points: [{ x: 5, y: 6, label: 0 }],
    });
    const o = replaceOptionsFromFlags({
      in: 'a.jpg',
      out: 'b.png',
      prompt: 'a garden',
      box: [1, 2, 3, 4],
      glass: 'off',
    });
    expect(o.prompt).toEqual({ text: 'a garden', box: [1, 2, 3, 4] });
    expect(o.glass).toBe('off');
    expect(replaceOptionsFromFlags({ in: 'a.jpg', out: 'b.png', prompt: 'sky' }).prompt).toBe('sky');
  });

  it('--glass-transmission and --glass-tint make the glass object; with --glass off they are refused', () => {
    expect(glassFromFlags({})).toBeUndefined();
    expect(glassFromFlags({ glass: 'auto' })).toBe('auto');
    expect(glassFromFlags({ glassTransmission: 0.85, glassTint: '#c8dcd8' })).toEqual({
      transmission: 0.85,
      tint: '#c8dcd8',
    });
    expect(() => glassFromFlags({ glass: 'off', glassTransmission: 0.8 })).toThrow(/--glass-transmission.*--glass off/);
  });
});

describe('the glass flags on the commands', () => {
  it('cleanup --box cuts the door out: frame kept, panes see-through; --glass off keeps the panes opaque', async () => {
    const auto = out();
    expect(
      (await cli(['cleanup', '--in', photo, '--out', auto, '--model', model, '--threads', '1', '--box', boxFlag()]))
        .code,
    ).toBe(0);
    const a = regions(await alphaOf(auto));
    expect(a.outside).toBe(0);
    expect(a.opaque).toBeGreaterThan(200);
    expect(a.glass).toBeLessThan(100);
    const off = out();
    const r = await cli([
      'cleanup',
      '--in',
      photo,
      '--out',
      off,
      '--model',
      model,
      '--threads',
      '1',
      '--box',
      boxFlag(),
      '--glass',
      'off',
    ]);
    expect(r.code).toBe(0);
    expect(regions(await alphaOf(off)).glass).toBeGreaterThan(200);
  });

  it('segment --glass-transmission sets how much of the pane shows through', async () => {
    const clear = out(),
      dense = out();
    const base = ['segment', '--in', photo, '--model', model, '--threads', '1', '--box', boxFlag()];
    expect((await cli([...base, '--out', clear, '--glass-transmission', '0.95'])).code).toBe(0);
    expect((await cli([...base, '--out', dense, '--glass-transmission', '0.5'])).code).toBe(0);
    const grey = async (f: string) => sharp(f).extractChannel(0).raw().toBuffer();
    const c = regions(await grey(clear)),
      d = regions(await grey(dense));
    expect(c.glass).toBeLessThan(60);
    expect(d.glass).toBeGreaterThan(110);
    expect(d.glass).toBeLessThan(200);
  });

  it('replace takes --box, --point and --glass, and writes a mask that keeps nothing outside the box', async () => {
    const file = out(),
      mask = out();
    // A point on the frame (an opaque pixel of the scene).
    const on = scene.region.findIndex((r, i) => r === REGION_OPAQUE && i % W > box[0] + 4 && i / W > box[1] + 4);
    const [px, py] = [on % W, Math.floor(on / W)];
    const r = await cli([
      '--in',
      photo,
      '--out',
      file,
      '--mask-out',
      mask,
      '--model',
      model,
      '--threads',
      '1',
      '--engine',
      'studio',
      '--box',
      boxFlag(),
      '--point',
      `${px},${py},1`,
      '--glass',
      'auto',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = regions(await sharp(mask).extractChannel(0).raw().toBuffer());
    expect(m.outside).toBe(0);
    expect(m.glass).toBeLessThan(100);
    expect(m.opaque).toBeGreaterThan(200);
  });

  it('a batch takes the same box for every photo', async () => {
    const dir = path.join(tmp.dir, 'batch-in'),
      dest = path.join(tmp.dir, 'batch-out'),
      masks = path.join(tmp.dir, 'batch-masks');
    mkdirSync(dir);
    const png = await scenePng(scene);
    writeFileSync(path.join(dir, 'a.png'), png);
    writeFileSync(path.join(dir, 'b.png'), png);
    const r = await cli([
      '--in',
      dir,
      '--out',
      dest,
      '--mask-out',
      masks,
      '--model',
      model,
      '--threads',
      '1',
      '--engine',
      'studio',
      '--box',
      boxFlag(),
    ]);
    expect(r.code).toBe(0);
    for (const name of ['a.png', 'b.png']) {
      const m = regions(await sharp(path.join(masks, name)).extractChannel(0).raw().toBuffer());
      expect(m.outside).toBe(0);
      expect(m.glass).toBeLessThan(100);
    }
  });
});

describe('bad flags', () => {
  it.each([
    [['--box', '1,2,3'], 2, /--box takes 4 comma-separated numbers/],
    [['--box', '1,2,x,4'], 2, /--box takes 4/],
    [['--point', '5'], 2, /--point takes 2 or 3/],
    [['--point', '5,5,2'], 2, /--point's label must be 1.*or 0/],
    [['--glass', 'maybe'], 2, /auto, off/],
    [['--glass-transmission', '1.5'], 2, /--glass-transmission takes/],
    [['--glass', 'off', '--glass-transmission', '0.8'], 1, /E_BAD_INPUT: --glass-transmission .*--glass off/],
    [['--box', '150,10,40,40'], 1, /E_BAD_INPUT: `prompt\.box`.*outside/],
    [['--point', '500,10'], 1, /E_BAD_INPUT: `prompt\.points\[0\]`.*outside/],
    [['--glass-tint', 'glassy'], 1, /E_BAD_INPUT: .*glass\.tint/],
  ])('cleanup %j exits %i naming the flag or field, writing nothing', async (flags, code, message) => {
    const file = out();
    const r = await cli(['cleanup', '--in', photo, '--out', file, '--model', model, '--threads', '1', ...flags]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(existsSync(file)).toBe(false);
  });

  it('replace names --box beside the field when the box misses the photo', async () => {
    const file = out();
    const r = await cli([
      '--in',
      photo,
      '--out',
      file,
      '--model',
      model,
      '--threads',
      '1',
      '--engine',
      'studio',
      '--box',
      '150,10,40,40',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_BAD_INPUT: `prompt\.box` \(--box\).*outside/);
    expect(existsSync(file)).toBe(false);
  });
});
