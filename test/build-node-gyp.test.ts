/**
 * binding.gyp builds the same CPU sources as CMakeLists.txt: `npm run prebuild` (prebuildify →
 * node-gyp) in a scratch copy of the package produces prebuilds/<platform>-<arch>/*.node, and
 * that addon computes what the cmake-js build computes.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { loadAddon, type NativeAddon } from '../src/native.js';
import { writeModel } from './helpers/onnx-builder.js';
import { repoRoot } from './helpers/paths.js';

const require = createRequire(import.meta.url);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'bgn-gyp-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tinyModel(): string {
  const w = Float32Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => Math.sin(i * 0.7) * 0.3);
  return writeModel(
    {
      inputs: [{ name: 'x', shape: [1, 3, 9, 7] }],
      outputs: [{ name: 'y' }],
      initializers: [
        { name: 'w', dtype: 'float32', dims: [4, 3, 3, 3], data: w },
        { name: 'b', dtype: 'float32', dims: [4], data: Float32Array.from([0.1, -0.2, 0.05, 0]) },
      ],
      nodes: [
        { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } },
        { op: 'Relu', inputs: ['c'], outputs: ['r'] },
        {
          op: 'MaxPool',
          inputs: ['r'],
          outputs: ['p'],
          attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 },
        },
        { op: 'Sigmoid', inputs: ['p'], outputs: ['y'] },
      ],
    },
    'gyp-tiny',
  );
}

describe('node-gyp build (binding.gyp)', () => {
  it('npm run prebuild compiles the addon with node-gyp and it matches the cmake-js build', async () => {
    for (const f of ['binding.gyp', 'package.json', 'native', 'scripts'])
      cpSync(path.join(repoRoot, f), path.join(scratch, f), { recursive: true });
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['run', 'prebuild', '--silent'], {
      cwd: scratch,
      encoding: 'utf8',
      // JOBS: node-gyp compiles on every core (one at a time by default).
      env: { ...process.env, BGN_NO_BLAS: '1', JOBS: 'max' },
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);

    const dir = path.join(scratch, 'prebuilds', `${process.platform}-${process.arch}`);
    const files = readdirSync(dir).filter((f) => f.endsWith('.node'));
    expect(files.length).toBe(1);
    const gyp = require(path.join(dir, files[0]!)) as NativeAddon;
    const cpu = gyp.backends().find((b) => b.name === 'cpu');
    expect(cpu?.available).toBe(true);
    expect(cpu?.gemm).toBe('builtin');

    const model = tinyModel();
    const x = Float32Array.from({ length: 3 * 9 * 7 }, (_, i) => Math.cos(i * 0.3));
    const [fromGyp] = await (await gyp.Segmenter.load(model, { threads: 1 })).run(x, [1, 3, 9, 7]);
    const [fromCmake] = await (await loadAddon().Segmenter.load(model, { threads: 1 })).run(x, [1, 3, 9, 7]);
    expect(fromGyp!.shape).toEqual([1, 4, 5, 4]);
    expect(fromGyp!.shape).toEqual(fromCmake!.shape);
    let maxDiff = 0;
    fromGyp!.data.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - fromCmake!.data[i]!));
    });
    expect(maxDiff).toBeLessThan(1e-5);
  }, 600_000);
});
