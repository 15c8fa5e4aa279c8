/** The `bg-native` command, run as a user would: `node bin/bg-native.js …`. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ResultMetadataSchema } from '../src/result-format.js';
import { photo, repoRoot, tempDir } from './helpers/paths.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

beforeAll(() => {
  // The CLI runs from dist/: build it from the current sources.
  execFileSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    { cwd: repoRoot, stdio: 'pipe' },
  );
}, 120_000);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'bg-native.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bg-native CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const r = cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/segment/);
    expect(r.stdout).toMatch(/cleanup/);
  });

  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = cli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('a missing required flag is a one-line usage error, exit 2', () => {
    const r = cli('cleanup', '--in', 'a.jpg');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^bg-native: E_BAD_INPUT: .*--out/);
  });

  it('an unknown mode is refused with the valid choices', () => {
    const r = cli('cleanup', '--in', 'a.jpg', '--out', 'b.png', '--mode', 'sepia');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/transparent, color, blur, gradient/);
  });

  it('an empty input file fails with one clear line and writes nothing', () => {
    const input = path.join(tmp.dir, 'empty.jpg');
    writeFileSync(input, '');
    const out = path.join(tmp.dir, 'empty-out.png');
    const r = cli('cleanup', '--in', input, '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bg-native: E_BAD_INPUT: Input file is empty \(0 bytes\)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('a bad colour names the option', () => {
    const r = cli(
      'cleanup',
      '--in',
      photo('lemur_cc0.jpg'),
      '--out',
      path.join(tmp.dir, 'c.png'),
      '--mode',
      'color',
      '--color',
      'sunset',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bg-native: E_BAD_INPUT: .*`color`/);
  });

  it('a corrupt model file fails with E_MODEL_FORMAT and writes nothing', () => {
    const bad = path.join(tmp.dir, 'broken-isnet.onnx');
    writeFileSync(bad, Buffer.alloc(4096, 0x42));
    const dir = path.join(tmp.dir, 'bad-model');
    mkdirSync(dir);
    const r = cli('cleanup', '--in', photo('lemur_cc0.jpg'), '--out', path.join(dir, 'o.png'), '--model', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bg-native: E_MODEL_FORMAT: /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--device cuda without CUDA (build or machine) fails with E_DEVICE_UNAVAILABLE and why, writing nothing', () => {
    const dir = path.join(tmp.dir, 'no-gpu');
    mkdirSync(dir);
    const r = cli('segment', '--in', photo('coffee_cup_cc0.jpg'), '--out', path.join(dir, 'm.png'), '--device', 'cuda');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bg-native: E_DEVICE_UNAVAILABLE: device 'cuda' is not available: /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unknown --device lists the choices', () => {
    const r = cli(
      'segment',
      '--in',
      photo('coffee_cup_cc0.jpg'),
      '--out',
      path.join(tmp.dir, 'x.png'),
      '--device',
      'tpu',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/auto, cpu, cuda/);
  });
});

describe('bg-native CLI with the native addon and the default model', () => {
  it('cleanup writes a transparent PNG and the mask at full size, and --json describes them', async () => {
    const out = path.join(tmp.dir, 'lemur.png');
    const maskOut = path.join(tmp.dir, 'lemur-mask.png');
    const r = cli('cleanup', '--in', photo('lemur_cc0.jpg'), '--out', out, '--mask-out', maskOut, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const meta = JSON.parse(r.stdout) as {
      output: string;
      mask: string;
      width: number;
      height: number;
      metrics: { elapsed_ms: number; stages: Record<string, number> };
    };
    expect(meta).toMatchObject({ output: out, mask: maskOut, width: 680, height: 440 });
    const result = ResultMetadataSchema.parse(meta);
    expect(result).toMatchObject({ op: 'cleanup', engine: 'none', artifacts: { output: out, mask: maskOut } });
    expect(meta.metrics.stages.infer).toBeGreaterThan(0);
    const o = await sharp(out).metadata();
    expect([o.width, o.height, o.channels]).toEqual([680, 440, 4]);
    const m = await sharp(maskOut).metadata();
    expect([m.width, m.height, m.channels]).toEqual([680, 440, 1]);
  });

  it('segment writes an 8-bit greyscale mask the size of the photo', async () => {
    const out = path.join(tmp.dir, 'mask.png');
    const r = cli('segment', '--in', photo('coffee_cup_cc0.jpg'), '--out', out);
    expect(r.code).toBe(0);
    const src = await sharp(photo('coffee_cup_cc0.jpg')).metadata();
    const m = await sharp(out).metadata();
    expect([m.width, m.height, m.channels, m.depth]).toEqual([src.autoOrient.width, src.autoOrient.height, 1, 'uchar']);
  });
});
