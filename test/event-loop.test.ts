/**
 * A pending call keeps the process alive until it settles, however the calling script is run —
 * a `.mjs` file, `node --input-type=module -e`, ESM on stdin, CJS `node -e` / stdin / `.cjs` with
 * `import()` — and nothing the library leaves behind keeps an idle process alive afterwards.
 * Each case is a real `node` process importing the built package by its name.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { repoRoot, tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';
import { workerExecArgv } from '../src/workers/exec-argv.js';

const tmp = tempDir('bgn-event-loop-');
afterAll(() => tmp.remove());

// A real photo (1200×900: large enough for the pixel workers) and a tiny model, so that each
// process spends its time starting up, not in the network.
const photo = path.join(repoRoot, 'examples', 'studio-chair.jpg');
let model = '';

beforeAll(() => {
  // The package is imported from dist/: build it from the current sources. Type errors are the
  // type check's business; tsc still writes the files.
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'pipe' });
  if (!existsSync(path.join(repoRoot, 'dist', 'index.js'))) throw new Error('tsc did not write dist/index.js');
  // An application folder that has the package installed (as a link) under its name.
  const scope = path.join(tmp.dir, 'node_modules', '@vitrinealu');
  mkdirSync(scope, { recursive: true });
  symlinkSync(repoRoot, path.join(scope, 'bg-native'), 'dir');
  model = writeTinyModel(tmp.dir, 'tiny-imgly.onnx', redSubjectModel());
}, 120_000);

/** What the scripts print after the call settled: the result and what still holds the event loop. */
interface Report {
  op: string;
  width?: number;
  height?: number;
  alpha?: number;
  output?: string;
  code?: string;
  message?: string;
  holding: string[];
}

/** The body of an async function (ESM top level or a CJS async IIFE) that calls `op` and prints a Report. */
function body(op: 'segment' | 'cleanup', output?: string): string {
  const call =
    op === 'segment'
      ? `const r = await lib.segment({ input: ${JSON.stringify(photo)}, model: ${JSON.stringify(model)} });
         report = { op, width: r.width, height: r.height, alpha: r.alpha.length };`
      : `const r = await lib.cleanup({ input: ${JSON.stringify(photo)}, model: ${JSON.stringify(model)},
           output: ${JSON.stringify(output)} });
         report = { op, width: r.width, height: r.height, output: r.artifacts.output };`;
  return `
    const op = ${JSON.stringify(op)};
    const lib = await import('@vitrinealu/bg-native');
    let report;
    try {
      ${call}
    } catch (e) {
      report = { op, code: e.code, message: e.message };
    }
    // Once the call has settled, nothing may hold the loop (stdout's pipe aside).
    setImmediate(() => {
      const holding = process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap');
      console.log(JSON.stringify({ ...report, holding }));
    });
  `;
}

const cjs = (code: string) => `(async () => {${code}})().catch((e) => { console.error(e); process.exitCode = 1; });`;

type Way = 'mjs file' | 'esm -e' | 'esm stdin' | 'cjs -e' | 'cjs stdin' | 'cjs file';

/** Runs `code` as `way` in the application folder; a hang is killed after 90 s and fails. */
function run(way: Way, code: string, extraArgs: string[] = []) {
  const file = (ext: string, text = code) => {
    const f = path.join(tmp.dir, `script-${Math.random().toString(36).slice(2)}.${ext}`);
    writeFileSync(f, text);
    return f;
  };
  const args: Record<Way, () => { argv: string[]; input?: string }> = {
    'mjs file': () => ({ argv: [file('mjs')] }),
    'esm -e': () => ({ argv: ['--input-type=module', '-e', code] }),
    'esm stdin': () => ({ argv: ['--input-type=module'], input: code }),
    'cjs -e': () => ({ argv: ['-e', cjs(code)] }),
    'cjs stdin': () => ({ argv: [], input: cjs(code) }),
    'cjs file': () => ({ argv: [file('cjs', cjs(code))] }),
  };
  const { argv, input } = args[way]();
  const r = spawnSync(process.execPath, [...extraArgs, ...argv], {
    cwd: tmp.dir,
    input: input ?? '',
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const what = `${way}: status ${r.status}, signal ${r.signal}\n${r.stderr}`;
  return { status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout, what };
}

function report(stdout: string): Report {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as Report;
}

const WAYS: Way[] = ['mjs file', 'esm -e', 'esm stdin', 'cjs -e', 'cjs stdin', 'cjs file'];

describe('a pending call keeps the process alive until it settles', () => {
  it.each(WAYS)('segment() run as %s settles, prints its result and the process exits by itself with 0', (way) => {
    const r = run(way, body('segment'));
    expect(r.signal, r.what).toBeNull();
    expect(r.stderr).not.toMatch(/unsettled top-level await/i);
    expect(r.status, r.what).toBe(0);
    const out = report(r.stdout);
    expect(out).toEqual({ op: 'segment', width: 1200, height: 900, alpha: 1200 * 900, holding: [] });
  });

  it.each(['esm -e', 'cjs -e'] as const)('cleanup() run as %s writes its output, then exits with 0', async (way) => {
    const output = path.join(tmp.dir, `cut-${way.replace(/\W+/g, '-')}.png`);
    const r = run(way, body('cleanup', output));
    expect(r.status, r.what).toBe(0);
    const out = report(r.stdout);
    expect(out).toEqual({ op: 'cleanup', width: 1200, height: 900, output, holding: [] });
    const meta = await sharp(output).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 1200, 900, 4]);
  });

  it('pixel workers that cannot start fail the call with E_INTERNAL naming the cause; the process exits with 0', () => {
    // A preload that throws in worker threads only: the workers inherit it and die while starting.
    const preload = path.join(tmp.dir, 'no-workers.cjs');
    const throwInWorkers = "throw new Error('worker threads are disabled here')";
    writeFileSync(preload, `if (!require('node:worker_threads').isMainThread) ${throwInWorkers};\n`);
    const r = run('esm -e', body('segment'), ['--require', preload]);
    expect(r.signal, r.what).toBeNull();
    expect(r.status, r.what).toBe(0);
    const out = report(r.stdout);
    expect(out.code).toBe('E_INTERNAL');
    expect(out.message).toMatch(/pixel worker thread could not start .*worker threads are disabled here/);
  });
});

describe('workerExecArgv', () => {
  it('leaves out the options that only describe the main script', () => {
    expect(workerExecArgv(['--input-type=module', '-e', 'await x()'])).toEqual([]);
    expect(workerExecArgv(['--input-type', 'commonjs', '--eval=1', '-pe', 'x', '--print', 'y', '-i'])).toEqual([]);
  });

  it('keeps loaders, preloads and resource flags', () => {
    const kept = ['--import', 'tsx', '--require', './a.cjs', '--max-old-space-size=4096', '--enable-source-maps'];
    expect(workerExecArgv(['--input-type=module', ...kept, '-e', 'code'])).toEqual(kept);
  });
});
