/**
 * The C++ unit tests in test/native/*.cpp, built with the addon (CMake option BGN_NATIVE_TESTS),
 * each run as its own process from the repository root: exit status 0 and no crash.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { repoRoot } from './helpers/paths.js';

const binDir = path.join(repoRoot, 'build', 'native-tests');
const sources = readdirSync(path.join(repoRoot, 'test', 'native')).filter((f) => /^test_.*\.cpp$/.test(f));

describe('native unit tests', () => {
  it('every test/native/*.cpp was built', () => {
    expect(existsSync(binDir), `${binDir} is missing: rebuild with npm run build:native`).toBe(true);
    const built = readdirSync(binDir);
    for (const src of sources) expect(built).toContain(src.replace(/\.cpp$/, ''));
  });

  for (const src of sources) {
    const name = src.replace(/\.cpp$/, '');
    // test_cuda_* run every CUDA thread of their kernels as a thread on the CUDA emulator: minutes
    // rather than seconds on two shared cores.
    const timeout = name.startsWith('test_cuda_') ? 600_000 : 120_000;
    it(`${name} passes`, { timeout: timeout + 10_000 }, () => {
      const r = spawnSync(path.join(binDir, name), [], { cwd: repoRoot, encoding: 'utf8', timeout });
      expect(r.signal, `${name} was killed by ${r.signal}\n${r.stdout}\n${r.stderr}`).toBeNull();
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    });
  }
});
