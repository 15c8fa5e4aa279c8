/**
 * The CLI's draft settings: --quality draft|final|1-100 and --vae taesd|full|path reach
 * replaceBackground, a draft run with the local engine decodes through the tiny autoencoder, and
 * bad values name the flag.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli/index.js';
import { replaceOptionsFromFlags } from '../src/cli/replace-flags.js';
import { clearDiffusionModels, clearSegmenters, closeComposePool } from '../src/index.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { snapshotEnv, type EnvSnapshot } from './helpers/env.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';
import { writeTaesd2x } from './helpers/tiny-taesd.js';

const tmp = tempDir('bgn-cli-draft-');
const segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const taesd = writeTaesd2x(path.join(tmp.dir, 'taesd-2x'));
const photo = path.join(tmp.dir, 'red-on-green.png');
let savedEnv: EnvSnapshot;

beforeAll(async () => {
  savedEnv = snapshotEnv(['BG_ENGINE', 'BG_DIFFUSION_MODEL', 'MODEL_PATH', 'RUNWAY_API_KEY', 'BG_TAESD', 'BG_LORAS'], {
    clear: true,
  });
  const width = 160;
  const height = 120;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      rgb.set(x >= 50 && x < 110 && y >= 30 && y < 90 ? [215, 25, 30] : [30, 170, 60], (y * width + x) * 3);
  }
  writeFileSync(
    photo,
    await sharp(rgb, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer(),
  );
});

afterAll(async () => {
  savedEnv.restore();
  await closeComposePool();
  await clearSegmenters();
  await clearDiffusionModels();
  tmp.remove();
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'bg-native', ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr };
}

describe('bg-native --quality / --vae', () => {
  it('become the quality and vae options', () => {
    const base = { in: 'a.jpg', out: 'b.png' };
    expect(replaceOptionsFromFlags({ ...base, quality: 'draft', vae: 'taesd' })).toMatchObject({
      quality: 'draft',
      vae: 'taesd',
    });
    expect(replaceOptionsFromFlags({ ...base, quality: 80 }).quality).toBe(80);
    expect(replaceOptionsFromFlags(base).vae).toBeUndefined();
  });

  it('a --quality that is neither a number nor draft/final is refused before anything runs', async () => {
    const r = await cli(['--in', photo, '--out', path.join(tmp.dir, 'x.png'), '--quality', 'best']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--quality must be a number from 1 to 100, draft or final/);
  });

  it.skipIf(!fixturesPresent)(
    '--quality draft decodes with the tiny autoencoder; --vae names it; draft with --vae full is E_BAD_INPUT',
    async () => {
      const common = [
        '--in',
        photo,
        '--model',
        segModel,
        '--engine',
        'local',
        '--diffusion-model',
        sd1Tiny,
        '--tokenizer',
        tokenizerDir,
        '--steps',
        '2',
        '--seed',
        '3',
        '-t',
        '2',
        '--no-shadow',
        '--no-match-colors',
        '--no-feather',
        '--overrides',
        JSON.stringify({ generation: { resolution: { width: 64, height: 64 } } }),
        '--json',
      ];
      const full = path.join(tmp.dir, 'full.png');
      const draft = path.join(tmp.dir, 'draft.png');
      const named = path.join(tmp.dir, 'named.png');
      expect((await cli([...common, '--out', full])).code).toBe(0);
      const d = await cli([...common, '--out', draft, '--quality', 'draft', '--vae', taesd]);
      expect(d.code, d.stderr).toBe(0);
      expect((JSON.parse(d.stdout) as { engineInfo: { vae?: string } }).engineInfo.vae).toBe(taesd);
      process.env.BG_TAESD = taesd;
      try {
        expect((await cli([...common, '--out', named, '--quality', 'draft'])).code).toBe(0);
      } finally {
        delete process.env.BG_TAESD;
      }
      expect(readFileSync(draft).equals(readFileSync(full))).toBe(false);
      expect(readFileSync(named).equals(readFileSync(draft))).toBe(true);
      const bad = await cli([...common, '--out', path.join(tmp.dir, 'bad.png'), '--quality', 'draft', '--vae', 'full']);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/E_BAD_INPUT[\s\S]*`vae`/);
    },
    120_000,
  );
});
