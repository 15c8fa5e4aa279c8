/**
 * When the addon cannot be loaded (no local build, no matching prebuild), the library says so with
 * E_ADDON_LOAD and lists what the user can do, as sharp does; the client entry point still loads.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { repoRoot } from './helpers/paths.js';

// A copy of the built package without build/ and prebuilds/.
const pkg = mkdtempSync(path.join(os.tmpdir(), 'bgn-noaddon-'));
beforeAll(() => {
  execFileSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  cpSync(path.join(repoRoot, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  cpSync(path.join(repoRoot, 'package.json'), path.join(pkg, 'package.json'));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
}, 120_000);
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

function run(code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: pkg, encoding: 'utf8' });
}

describe('loading the native addon', () => {
  it('fails with E_ADDON_LOAD listing the fixes when no build or prebuild exists', () => {
    const r = run(`
      const { backends } = await import('./dist/index.js');
      try { backends(); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    `);
    expect(r.status, r.stderr).toBe(0);
    const err = JSON.parse(r.stdout.trim()) as { code: string; message: string };
    expect(err.code).toBe('E_ADDON_LOAD');
    expect(err.message).toMatch(/^Could not load the bg-native addon for \w+-\w+ \(Node v/);
    expect(err.message).toContain('npm rebuild @vitrinealu/bg-native');
    expect(err.message).toContain('libopenblas-dev');
  });

  it('the client entry point loads without the addon', () => {
    const r = run(`const c = await import('./dist/client/index.js'); console.log(typeof c.version);`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('string');
  });
});
