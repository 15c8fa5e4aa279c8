/**
 * ONNX models that keep their weights in external data files (the format every export over 2 GB
 * must use, such as SAM ViT-H's image encoder): read from beside the model, checked against
 * onnxruntime-node, and every way such a reference can be wrong refused with its code — a path
 * outside the model's folder, a missing file, a range beyond the file, a length that does not fit
 * the tensor, a malformed number.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { buildModel, randomArray, rng, tensorBytes, type ModelSpec, type TensorSpec } from './helpers/onnx-builder.js';
import { maxAbsDiff, runOrt, runOurs } from './helpers/onnx-run.js';
import { expectCode } from './helpers/codes.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const rand = rng(17);
const W = { name: 'w', dtype: 'float32', dims: [8, 6], data: randomArray(rand, 48) } as const;
const B = { name: 'b', dtype: 'float32', dims: [6], data: randomArray(rand, 6) } as const;

/** y = x·W + b, W and b as `w` / `b` give them; the data file's bytes written to `dir/data`. */
function writeCase(dir: string, w: TensorSpec, b: TensorSpec, data?: { file: string; bytes: Uint8Array }): string {
  mkdirSync(dir, { recursive: true });
  if (data) {
    mkdirSync(path.dirname(path.join(dir, data.file)), { recursive: true });
    writeFileSync(path.join(dir, data.file), data.bytes);
  }
  const spec: ModelSpec = {
    inputs: [{ name: 'x', shape: [1, 3, 2, 8] }],
    outputs: [{ name: 'y' }],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
    ],
    initializers: [w, b],
  };
  const file = path.join(dir, 'model.onnx');
  writeFileSync(file, buildModel(spec));
  return file;
}

/** W at offset 0 and b at 4096 of weights/data.bin (as exporters align them), b with no length given. */
function goodCase(dir: string): string {
  const wb = tensorBytes(W);
  const bytes = new Uint8Array(4096 + 24);
  bytes.set(wb, 0);
  bytes.set(tensorBytes(B), 4096);
  return writeCase(
    dir,
    { ...W, external: { location: 'weights/data.bin', offset: '0', length: String(wb.length) } },
    { ...B, external: { location: 'weights/data.bin', offset: '4096' } },
    { file: 'weights/data.bin', bytes },
  );
}

const x = { shape: [1, 3, 2, 8], data: Float32Array.from(randomArray(rand, 48)) };

describe('ONNX external data', () => {
  it('reads tensors from a data file beside the model, as onnxruntime does', async () => {
    const file = goodCase(path.join(tmp.dir, 'good'));
    const [ours] = await runOurs(file, x);
    const [theirs] = await runOrt(file, x);
    expect(ours!.shape).toEqual(theirs!.shape);
    expect(maxAbsDiff(ours!.data, theirs!.data)).toBeLessThan(1e-5);
  });

  it('refuses references it must not follow or cannot satisfy, naming the tensor', async () => {
    const bytes = tensorBytes(W);
    const withW = (name: string, external: TensorSpec['external'], data?: Uint8Array) =>
      writeCase(path.join(tmp.dir, name), { ...W, external }, B, data ? { file: 'w.bin', bytes: data } : undefined);
    const cases: [string, string, string[]][] = [
      [withW('escape', { location: '../w.bin' }, bytes), 'E_MODEL_FORMAT', ["'w'", "outside the model's folder"]],
      [withW('absolute', { location: '/etc/hostname' }, bytes), 'E_MODEL_FORMAT', ["outside the model's folder"]],
      [withW('missing', { location: 'nowhere.bin' }), 'E_MODEL_NOT_FOUND', ['nowhere.bin', "'w'"]],
      [withW('beyond', { location: 'w.bin', offset: '16' }, bytes), 'E_MODEL_FORMAT', ["'w'", 'which holds 192']],
      [withW('length', { location: 'w.bin', length: '100' }, bytes), 'E_MODEL_FORMAT', ["'w'", '100 external bytes']],
      [withW('number', { location: 'w.bin', offset: '0x10' }, bytes), 'E_MODEL_FORMAT', ['offset', '0x10']],
      [withW('nolocation', { location: '' }, bytes), 'E_MODEL_FORMAT', ['names no location']],
    ];
    for (const [file, code, words] of cases) await expectCode(() => runOurs(file, x), code, ...words);
  });
});
