/**
 * Quantised SAM: the random-weight SAM replica (reduced width) with its constant-weight MatMuls
 * rewritten as onnxruntime's quantize_dynamic writes them (DynamicQuantizeLinear, MatMulInteger,
 * Cast, Mul by the scales; scripts/lib/quantize-dynamic.ts), run by bg-native and by
 * onnxruntime-node: max |Δ| ≤ 2e-2. The quantised pair also runs through segment() under
 * rembg's `.encoder.quant.onnx` / `.decoder.quant.onnx` names.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { quantizeDynamic, quantizeWeight, countQuantized, type WeightType } from '../scripts/lib/quantize-dynamic.js';
import { samDecoderReplica, samEncoderReplica } from '../scripts/lib/sam-replica.js';
import { clearSegmenters } from '../src/models/segmenters.js';
import { resetDefaultContext, segment } from '../src/index.js';
import { randomArray, rng, writeModel } from './helpers/onnx-builder.js';
import { halvesJpeg } from './helpers/images.js';
import { maxAbsDiff, runOrt, runOurs } from './helpers/onnx-run.js';
import { runSamDecoderBoth } from './helpers/sam-decoder-run.js';
import { tempDir } from './helpers/paths.js';

const QUANT_TOL = 2e-2;
const ENCODER = { size: 64, patch: 8, width: 32, depth: 2, heads: 2, window: 3, global: [1], out: 16 };
const DECODER = { dim: 16, side: 8, heads: 2, masks: 4 };

const tmp = tempDir('bgn-sam-quant-');
afterAll(async () => {
  await clearSegmenters();
  tmp.remove();
});

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

describe('quantize_dynamic weights', () => {
  it('quantises per tensor: uint8 asymmetric with 0 exact, int8 symmetric', () => {
    const w = [-0.5, 0, 0.25, 1];
    const u = quantizeWeight(w, 'uint8');
    expect(u.scale).toBeCloseTo(1.5 / 255, 7);
    expect(u.zeroPoint).toBe(85);
    expect(u.q[1]).toBe(u.zeroPoint);
    expect(u.q[0]).toBe(0);
    expect(u.q[3]).toBe(255);
    const s = quantizeWeight(w, 'int8');
    expect(s.zeroPoint).toBe(0);
    expect(s.q).toEqual([-64, 0, 32, 127]);
  });
});

describe('quantised SAM replica against onnxruntime', () => {
  for (const type of ['uint8', 'int8'] as WeightType[]) {
    it(`encoder with ${type} weights`, async () => {
      const plain = samEncoderReplica(ENCODER);
      const spec = quantizeDynamic(plain, type);
      expect(countQuantized(spec)).toBeGreaterThanOrEqual(8); // qkv, proj, MLP of every block
      expect(spec.nodes.some((n) => n.op === 'DynamicQuantizeLinear')).toBe(true);
      const file = writeModel(spec, `sam-encoder-${type}`);
      const img = { shape: [1, 3, 64, 64], data: randomArray(rng(5), 3 * 64 * 64, -2, 2) };
      const ref = await runOrt(file, img);
      const ours = await runOurs(file, img);
      expect(ours[0]!.shape).toEqual([1, 16, 8, 8]);
      expect(maxAbs(ref[0]!.data)).toBeGreaterThan(0.1);
      expect(maxAbsDiff(ours[0]!.data, ref[0]!.data)).toBeLessThanOrEqual(QUANT_TOL);
      // The quantised graph is not the float one: quantisation changed the result.
      const float = await runOurs(writeModel(plain, 'sam-encoder-f32'), img);
      expect(maxAbsDiff(float[0]!.data, ours[0]!.data)).toBeGreaterThan(1e-4);
    });
  }

  it('prompt decoder with uint8 weights, for points and a box', async () => {
    const file = writeModel(quantizeDynamic(samDecoderReplica(DECODER), 'uint8'), 'sam-decoder-quant');
    for (const { got, ref } of await runSamDecoderBoth(file)) {
      expect(got.map((o) => o.name)).toEqual(['masks', 'iou_predictions', 'low_res_masks']);
      for (const o of got) {
        expect(maxAbsDiff(o.data, ref[o.name]!.data as Float32Array)).toBeLessThanOrEqual(QUANT_TOL);
      }
    }
  });

  it("runs through segment() under rembg's quantised file names", async () => {
    const home = path.join(tmp.dir, 'u2net');
    mkdirSync(home, { recursive: true });
    const decoder = path.join(home, 'sam_vit_b_01ec64.decoder.quant.onnx');
    const encoder = path.join(home, 'sam_vit_b_01ec64.encoder.quant.onnx');
    copyFileSync(writeModel(quantizeDynamic(samEncoderReplica(ENCODER))), encoder);
    copyFileSync(writeModel(quantizeDynamic(samDecoderReplica(DECODER))), decoder);
    const saved = process.env.U2NET_HOME;
    process.env.U2NET_HOME = home;
    resetDefaultContext(); // segment() reads the environment again
    try {
      const photo = await halvesJpeg(96, 64);
      const r = await segment({ input: photo, model: 'sam', prompt: { box: [10, 8, 60, 40] }, threads: 1 });
      expect(r.model).toMatchObject({ profile: 'sam', decoder });
      expect(r.alpha.length).toBe(96 * 64);
    } finally {
      if (saved === undefined) delete process.env.U2NET_HOME;
      else process.env.U2NET_HOME = saved;
      resetDefaultContext();
    }
  });
});
