/**
 * Tiny but real ONNX segmentation models for pipeline tests, written with ./onnx-builder.ts and
 * run by the native addon. They are small (a few dozen weights, 64×64 input) so a test runs in
 * milliseconds, and their weights are chosen so that the mask means something for the synthetic
 * test images (./images.ts): red pixels are the subject, green and blue are background.
 *
 * The files are meant to be named `*imgly*.onnx` so that the pipeline picks the imgly ISNet
 * profile: input channels are (x − 128) / 256 for 8-bit x, the output is read as a probability.
 * A pure red pixel is then (≈0.5, −0.5, −0.5), a pure blue one (−0.5, −0.5, ≈0.5).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { buildModel, scanFields, type ModelSpec } from './onnx-builder.js';

/** The network's (static) input side. */
export const TINY_SIZE = 64;

/**
 * image [1,3,S,S] → Conv 1×1 (3→2) → Relu → Conv 3×3 (2→1, pad 1) → Sigmoid → mask [1,1,S,S].
 *
 * Hidden channel 0 = relu(R − B) ("redness"), channel 1 = relu(G + B − R) ("not red").
 * The 3×3 conv smooths both (centre weight ½, the 8 neighbours ½ between them) and computes
 * 30·red − 30·notRed − 15: ≈ +15 inside a red area (alpha ≈ 1), ≤ −15 elsewhere (alpha ≈ 0).
 */
export function redSubjectModel(size = TINY_SIZE): ModelSpec {
  const smooth = [1, 1, 1, 1, 8, 1, 1, 1, 1].map((k) => k / 16); // centre ½, ring ½: sums to 1
  const w2 = [...smooth.map((k) => 30 * k), ...smooth.map((k) => -30 * k)];
  return {
    inputs: [{ name: 'input', shape: [1, 3, size, size] }],
    outputs: [{ name: 'mask', shape: [1, 1, size, size] }],
    initializers: [
      // [out=2, in=3, 1, 1]: R − B, and G + B − R
      { name: 'w1', dtype: 'float32', dims: [2, 3, 1, 1], data: [1, 0, -1, -1, 1, 1] },
      { name: 'b1', dtype: 'float32', dims: [2], data: [0, 0] },
      { name: 'w2', dtype: 'float32', dims: [1, 2, 3, 3], data: w2 },
      { name: 'b2', dtype: 'float32', dims: [1], data: [-15] },
    ],
    nodes: [
      { op: 'Conv', inputs: ['input', 'w1', 'b1'], outputs: ['h1'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Relu', inputs: ['h1'], outputs: ['r1'] },
      {
        op: 'Conv',
        inputs: ['r1', 'w2', 'b2'],
        outputs: ['logits'],
        attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      },
      { op: 'Sigmoid', inputs: ['logits'], outputs: ['mask'] },
    ],
  };
}

/**
 * Loads fine but fails when run: its second Conv has weights for 4 input channels while the
 * first Conv produces 2 (the native side rejects the run with E_BAD_INPUT).
 */
export function failsWhenRunModel(size = TINY_SIZE): ModelSpec {
  const spec = redSubjectModel(size);
  return {
    ...spec,
    initializers: spec.initializers!.map((t) =>
      t.name === 'w2'
        ? { name: 'w2', dtype: 'float32' as const, dims: [1, 4, 3, 3], data: new Array<number>(36).fill(0.1) }
        : t,
    ),
  };
}

/** A well-formed model that uses an operator bg-native does not run (Det): load fails with E_MODEL_UNSUPPORTED. */
export function unsupportedOpModel(size = TINY_SIZE): ModelSpec {
  return {
    inputs: [{ name: 'input', shape: [1, 3, size, size] }],
    outputs: [{ name: 'mask', shape: [1, 1, size, size] }],
    nodes: [{ op: 'Det', inputs: ['input'], outputs: ['mask'] }],
  };
}

/** The encoded model cut in the middle of its graph (not at a field boundary): load fails with E_MODEL_FORMAT. */
export function truncatedModelBytes(spec: ModelSpec = redSubjectModel()): Uint8Array {
  const bytes = buildModel(spec);
  const boundaries = new Set(scanFields(bytes).map((f) => f.end));
  let at = Math.floor(bytes.length / 2);
  while (boundaries.has(at)) at += 1;
  return bytes.subarray(0, at);
}

/** Writes a model (spec or bytes) as `dir/name` and returns the path. */
export function writeTinyModel(dir: string, name: string, model: ModelSpec | Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, model instanceof Uint8Array ? model : buildModel(model));
  return file;
}
