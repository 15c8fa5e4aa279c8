/**
 * `bg-native --in <folder|glob> --out <folder>`: batch mode (names, concurrency, progress bar or
 * lines, summary, --json lines, exit status, refusals), `bg-native presets`, and --help of every
 * command. main() in-process with captured output; small red-on-green photos, the tiny real ONNX
 * model, the studio engine.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { main } from '../src/cli/index.js';
import { clearSegmenters, closeComposePool } from '../src/index.js';
import { ResultMetadataSchema } from '../src/result-format.js';
import { tempDir } from './helpers/paths.js';
import { snapshotEnv, type EnvSnapshot } from './helpers/env.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-cli-batch-');
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());

const ENGINE_ENV = [
  'BG_ENGINE',
  'BG_DIFFUSION_MODEL',
  'MODEL_PATH',
  'RUNWAY_API_KEY',
  'BG_SEG_MODEL',
  'BG_PRESET_DIRS',
] as const;
let savedEnv: EnvSnapshot;

async function photo(file: string): Promise<void> {
  const width = 48;
  const height = 36;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= 16 && x < 32 && y >= 8 && y < 28;
      rgb.set(inside ? [215, 25, 30] : [30, 170, 60], (y * width + x) * 3);
    }
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp(rgb, { raw: { width, height, channels: 3 } });
  writeFileSync(file, await (file.endsWith('.png') ? img.png() : img.jpeg()).toBuffer());
}

const dir = (...p: string[]) => path.join(tmp.dir, ...p);

beforeAll(async () => {
  savedEnv = snapshotEnv(ENGINE_ENV, { clear: true });
  process.env.BG_SEG_MODEL = model;
  await photo(dir('good', 'a.jpg'));
  await photo(dir('good', 'b.png'));
  writeFileSync(dir('good', 'notes.txt'), 'not a photo');
  await photo(dir('mixed', 'one.jpg'));
  await photo(dir('mixed', 'sub', 'two.jpg'));
  await photo(dir('mixed', 'three.png'));
  writeFileSync(dir('mixed', 'broken.jpg'), 'this is not a JPEG');
});

afterAll(async () => {
  savedEnv.restore();
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], tty = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'bg-native', ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    isTTY: tty,
    columns: 200,
  });
  return { code, stdout, stderr };
}

/** A line of `--json` batch output, in the fields the tests read. */
interface BatchLine {
  input: string;
  output: string;
  status: string;
  elapsedMs: number;
  error: { code: string; message: string };
  [field: string]: unknown;
}

const jsonLines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as BatchLine);

describe('batch mode', () => {
  it('turns a folder of photos into outputs named after them, with a line per photo and a summary', async () => {
    const out = dir('out-folder');
    const r = await cli(['--in', dir('good'), '--out', out, '--engine', 'studio']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['a.png', 'b.png']);
    expect((await sharp(path.join(out, 'a.png')).metadata()).width).toBe(48);
    expect(r.stderr).toMatch(/\[1\/2\] done a\.jpg → .*a\.png \(\d+\.\d s, studio\)/);
    expect(r.stderr).toMatch(/\[2\/2\] done b\.png/);
    expect(r.stderr).toMatch(/1 file is not a photo .* and ignored/);
    expect(r.stderr).toMatch(/bg-native: 2 photos: 2 done, 0 failed in /);
    expect(r.stdout).toBe('');
  });

  it('takes a quoted glob, keeps sub-folders, writes the --format extension, a JSON line per photo', async () => {
    const out = dir('out-glob');
    const r = await cli([
      '--in',
      `${dir('mixed')}/**/*.jpg`,
      '--out',
      out,
      '--engine',
      'studio',
      '--format',
      'jpeg',
      '--concurrency',
      '2',
      '--json',
      '--seed',
      '3',
    ]);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => path.basename(l.input)).sort()).toEqual(['broken.jpg', 'one.jpg', 'two.jpg']);
    const ok = lines.filter((l) => l.status === 'done');
    expect(ok).toHaveLength(2);
    for (const l of ok) {
      expect(l).toMatchObject({ command: 'replace', engine: 'studio', seed: 3, format: 'jpeg', width: 48, height: 36 });
      // A done line is the result format (artifacts as paths) plus the batch's own fields.
      const meta = ResultMetadataSchema.parse(l);
      expect(meta).toMatchObject({ op: 'replace', engineFamily: 'studio', preset: 'product-studio' });
      expect(meta.artifacts).toEqual({ output: l.output, mask: null });
      expect(path.isAbsolute(meta.artifacts.output)).toBe(true);
      expect(l.elapsedMs).toEqual(expect.any(Number));
    }
    expect(existsSync(path.join(out, 'one.jpg'))).toBe(true);
    expect(existsSync(path.join(out, 'sub', 'two.jpg'))).toBe(true);
    expect(existsSync(path.join(out, 'three.png'))).toBe(false);
    // One photo failing does not stop the others; the exit status says something failed.
    const bad = lines.find((l) => l.status === 'failed')!;
    expect(path.basename(bad.input)).toBe('broken.jpg');
    expect(bad.error.code).toBe('E_BAD_INPUT');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/3 photos: 2 done, 1 failed/);
    expect(r.stderr).toMatch(/failed: broken\.jpg \(E_BAD_INPUT\)/);
  });

  it('--mask-out <dir> in a batch: each JSON line names its mask file in artifacts.mask', async () => {
    const out = dir('out-masks');
    const masks = dir('masks');
    const r = await cli(['--in', dir('good'), '--out', out, '--mask-out', masks, '--engine', 'studio', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout).map((l) => ResultMetadataSchema.parse(l));
    expect(lines.map((l) => l.artifacts.mask).sort()).toEqual([path.join(masks, 'a.png'), path.join(masks, 'b.png')]);
    for (const l of lines) expect((await sharp(l.artifacts.mask!).metadata()).channels).toBe(1);
  });

  it('draws a progress bar on a terminal instead of lines', async () => {
    const r = await cli(['--in', dir('good'), '--out', dir('out-tty'), '--engine', 'studio'], true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('\r\x1b[2K[');
    expect(r.stderr).toMatch(/100% 2\/2 · done 2 · failed 0/);
    expect(r.stderr).not.toMatch(/\[1\/2\] done/);
    expect(r.stderr).toMatch(/2 photos: 2 done, 0 failed/);
  });

  it('--skip-existing leaves photos whose output exists', async () => {
    const out = dir('out-skip');
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'a.png'), 'kept');
    const r = await cli(['--in', dir('good'), '--out', out, '--engine', 'studio', '--skip-existing']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'a.png'), 'utf8')).toBe('kept');
    expect(statSync(path.join(out, 'b.png')).size).toBeGreaterThan(100);
    expect(r.stderr).toMatch(/skipped a\.jpg/);
    expect(r.stderr).toMatch(/2 photos: 1 done, 0 failed, 1 skipped/);
  });

  it('refuses, before running anything, what cannot work', async () => {
    const none = await cli(['--in', `${dir('good')}/*.gif`, '--out', dir('x1')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/E_BAD_INPUT: No photos match --in .*quote a glob/);

    const file = dir('good', 'a.jpg');
    const outFile = await cli(['--in', dir('good'), '--out', file]);
    expect(outFile.stderr).toMatch(/--out .* is a file; with a folder or glob as --in, --out must be a folder/);

    const both = dir('clash');
    await photo(path.join(both, 'p.jpg'));
    await photo(path.join(both, 'p.png'));
    const c = await cli(['--in', both, '--out', dir('x3')]);
    expect(c.stderr).toMatch(/p\.jpg and .*p\.png would both be written to .*p\.png/);
    expect(existsSync(dir('x3'))).toBe(false);

    const steps = await cli(['--in', dir('good'), '--out', dir('x4'), '--steps', '500']);
    expect(steps.code).toBe(1);
    expect(steps.stderr).toMatch(/`steps`.*150/);
    expect(existsSync(dir('x4', 'a.png'))).toBe(false);

    const zero = await cli(['--in', dir('good'), '--out', dir('x5'), '--concurrency', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--concurrency must be a whole number ≥ 1/);

    const single = await cli(['--in', file, '--out', dir('x6.png'), '--concurrency', '2']);
    expect(single.stderr).toMatch(/--concurrency and --skip-existing apply to batches/);
  });
});

describe('bg-native presets', () => {
  it('lists every preset with its prompt types and description', async () => {
    const r = await cli(['presets']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+PROMPT TYPES\s+DESCRIPTION/);
    expect(r.stdout).toMatch(/vitrinealu\s+studio\* garden minimal lifestyle\s+Aluminium verandas/);
    expect(r.stdout).toMatch(/product-studio\s+-\s+Product on a seamless/);

    const json = JSON.parse((await cli(['presets', '--json'])).stdout) as {
      name: string;
      promptTypes: string[];
      defaultPromptType?: string;
    }[];
    expect(json.find((p) => p.name === 'vitrinealu')).toMatchObject({
      promptTypes: ['studio', 'garden', 'minimal', 'lifestyle'],
      defaultPromptType: 'studio',
    });
  });

  it('shows one preset as YAML or JSON, and names the valid presets for an unknown one', async () => {
    const yaml = await cli(['presets', 'vitrinealu']);
    expect(yaml.stdout.split('\n')[0]).toBe('# presets/vitrinealu.yaml');
    const doc = parse(yaml.stdout) as { prompts: { garden: { prompt: string } }; generation: { steps: number } };
    expect(doc.prompts.garden.prompt).toMatch(/^well-kept private garden/);
    expect(doc.generation.steps).toBe(30);

    const json: unknown = JSON.parse((await cli(['presets', 'product-studio', '--json'])).stdout);
    expect(json).toMatchObject({
      name: 'product-studio',
      file: 'presets/product-studio.yaml',
      background: { type: 'gradient' },
    });

    const nope = await cli(['presets', 'nope']);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toMatch(/E_BAD_INPUT: Unknown preset "nope"\. Valid presets: .*vitrinealu/);
  });

  it('includes presets from --preset-dir', async () => {
    const extra = dir('my-presets');
    mkdirSync(extra, { recursive: true });
    writeFileSync(
      path.join(extra, 'plain.yaml'),
      readFileSync(path.join('presets', 'minimalist.yaml'), 'utf8').replace('name: minimalist', 'name: plain'),
    );
    const r = await cli(['presets', '--preset-dir', extra]);
    expect(r.stdout).toMatch(/^plain\s+-\s+/m);
  });
});

describe('--help', () => {
  it.each(['replace', 'segment', 'cleanup', 'serve', 'worker', 'presets'])(
    'bg-native %s --help prints its usage and exits 0',
    async (cmd) => {
      const r = await cli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: bg-native ${cmd} `));
      expect(r.stdout).toMatch(/-h, --help\s+show help/);
    },
  );

  it('replace --help explains batch mode with examples', async () => {
    const r = await cli(['--help']);
    expect(r.stdout).toMatch(/bg-native presets/);
    const replace = await cli(['replace', '--help']);
    expect(replace.stdout).toMatch(/Batch \(--in is a folder or a glob\):\n\s+--concurrency <n>/);
    expect(replace.stdout).toMatch(/--in 'shoot\/\*\*\/\*\.jpg' --out out\//);
    expect(replace.stdout).toMatch(/Exit status 1 when any photo failed/);
  });
});
