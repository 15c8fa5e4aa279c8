/**
 * The model families' structures, written at run time with random weights at reduced width
 * (scripts/lib/birefnet-replica.ts, sam-replica.ts), run by bg-native and by onnxruntime-node:
 * BiRefNet (Swin window attention with shifted windows and relative position bias, the two-scale
 * input, deformable convolutions as the DeformConv op and as the exporter's decomposition,
 * align-corners resizes) and SAM (ViT encoder with windowed + global attention and decomposed
 * relative positions; the prompt decoder with its post-processing) and BEN2 (the same Swin on five
 * views, MCLM / MCRM cross-view attention as nn.MultiheadAttention exports, InstanceNorm conv blocks,
 * adaptive pooling, nearest and bilinear resizes, a sigmoid output). fp32: max |Δ| ≤ 1e-3.
 */
import { describe, expect, it } from 'vitest';

import { BEN2_SMALL, ben2Replica } from '../scripts/lib/ben2-replica.js';
import { BIREFNET_SMALL, birefnetReplica } from '../scripts/lib/birefnet-replica.js';
import { samDecoderReplica, samEncoderReplica } from '../scripts/lib/sam-replica.js';
import { inferProfile } from '../src/models/profiles.js';
import { randomArray, rng, writeModel } from './helpers/onnx-builder.js';
import { loadOurs, maxAbsDiff, runOrt, runOurs } from './helpers/onnx-run.js';
import { runSamDecoderBoth } from './helpers/sam-decoder-run.js';

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

describe('BiRefNet family replica', () => {
  const x = { shape: [1, 3, 64, 64], data: randomArray(rng(3), 3 * 64 * 64, -2, 2) };
  const outputs: Record<string, Float32Array> = {};

  for (const [deform, norm] of [
    ['op', 'op'],
    ['decomposed', 'op'],
    ['none', 'decomposed'],
  ] as const) {
    it(`matches onnxruntime (deformable conv: ${deform}, LayerNorm: ${norm})`, async () => {
      const spec = birefnetReplica({ ...BIREFNET_SMALL, deform, norm });
      const ops = new Set(spec.nodes.map((n) => n.op));
      for (const op of ['Softmax', 'Gather', 'Pad', 'Resize', 'MatMul', 'Erf']) expect(ops).toContain(op);
      if (deform === 'op') expect(ops).toContain('DeformConv');
      if (deform === 'decomposed')
        for (const op of ['GatherND', 'Floor', 'Clip', 'Cast', 'Sum', 'Split']) expect(ops).toContain(op);
      if (norm === 'op') expect(ops).toContain('LayerNormalization');
      else expect(ops).toContain('ReduceMean');
      const file = writeModel(spec, `birefnet-${deform}`);
      const ref = await runOrt(file, x);
      const ours = await runOurs(file, x);
      expect(ours[0]!.shape).toEqual([1, 1, 64, 64]);
      expect(maxAbs(ref[0]!.data)).toBeGreaterThan(0.1); // not a degenerate graph
      expect(maxAbsDiff(ours[0]!.data, ref[0]!.data)).toBeLessThanOrEqual(1e-3);
      outputs[deform] = ours[0]!.data;
    });
  }

  it('computes the same deformable convolution in both forms', () => {
    expect(outputs.op && outputs.decomposed).toBeTruthy();
    expect(maxAbsDiff(outputs.op!, outputs.decomposed!)).toBeLessThanOrEqual(1e-3);
  });
});

describe('BEN2 replica', () => {
  it('matches onnxruntime (five-view Swin, MCLM / MCRM attention, InstanceNorm, sigmoid output)', async () => {
    const spec = ben2Replica(BEN2_SMALL);
    const ops = new Set(spec.nodes.map((n) => n.op));
    for (const op of ['InstanceNormalization', 'AveragePool', 'GlobalAveragePool', 'Gemm', 'Softmax', 'Pad', 'Erf'])
      expect(ops).toContain(op);
    expect(ops).not.toContain('LayerNormalization'); // opset 15: decomposed
    const modes = spec.nodes.filter((n) => n.op === 'Resize').map((n) => n.attrs?.mode);
    expect(new Set(modes)).toEqual(new Set(['linear', 'nearest']));
    const signature = {
      inputs: [{ name: spec.inputs[0]!.name, shape: [1, 3, 512, 512] }],
      outputs: [{ name: spec.outputs[0]!.name, shape: [1, 1, 512, 512] }],
    };
    expect(inferProfile('/m/BEN2_Base.onnx', signature).name).toBe('ben2'); // rembg's file name
    const file = writeModel(spec, 'BEN2_Base');
    const x = { shape: [1, 3, 512, 512], data: randomArray(rng(7), 3 * 512 * 512, -2, 2) };
    const ref = await runOrt(file, x);
    const ours = await runOurs(file, x);
    expect(ours[0]!.shape).toEqual([1, 1, 512, 512]);
    const probs = ref[0]!.data;
    const spread = probs.reduce((m, v) => Math.max(m, v), 0) - probs.reduce((m, v) => Math.min(m, v), 1);
    expect(spread).toBeGreaterThan(0.1); // not a degenerate graph
    expect(maxAbsDiff(ours[0]!.data, probs)).toBeLessThanOrEqual(1e-3);
  });
});

describe('SAM replica', () => {
  it('encoder matches onnxruntime (windowed + global attention, Einsum relative positions)', async () => {
    const spec = samEncoderReplica({
      size: 64,
      patch: 8,
      width: 32,
      depth: 2,
      heads: 2,
      window: 3,
      global: [1],
      out: 16,
    });
    expect(spec.nodes.some((n) => n.op === 'Einsum')).toBe(true);
    const file = writeModel(spec, 'sam-encoder');
    const img = { shape: [1, 3, 64, 64], data: randomArray(rng(5), 3 * 64 * 64, -2, 2) };
    const ref = await runOrt(file, img);
    const ours = await runOurs(file, img);
    expect(ours[0]!.shape).toEqual([1, 16, 8, 8]);
    expect(maxAbsDiff(ours[0]!.data, ref[0]!.data)).toBeLessThanOrEqual(1e-3);
  });

  it('prompt decoder matches onnxruntime for points and a box, masks at orig_im_size', async () => {
    const file = writeModel(samDecoderReplica({ dim: 16, side: 8, heads: 2, masks: 4 }), 'sam-decoder');
    for (const { got, ref } of await runSamDecoderBoth(file)) {
      expect(got.map((o) => o.name)).toEqual(['masks', 'iou_predictions', 'low_res_masks']);
      expect(got[0]!.shape).toEqual([1, 4, 48, 64]);
      for (const o of got) expect(maxAbsDiff(o.data, ref[o.name]!.data as Float32Array)).toBeLessThanOrEqual(1e-3);
    }
  });

  it('refuses a wrong number of inputs, a wrong shape and a plain run() on a multi-input graph', async () => {
    const file = writeModel(samDecoderReplica({ dim: 16, side: 8, heads: 2, masks: 4 }), 'sam-decoder-bad');
    const ours = await loadOurs(file);
    try {
      const one = { data: new Float32Array(16 * 64), shape: [1, 16, 8, 8] };
      await expect(ours.runInputs([one])).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      const bad = ours.inputs.map(() => ({ data: new Float32Array(2), shape: [2] }));
      await expect(ours.runInputs(bad)).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
      await expect(ours.run(new Float32Array(3), [1, 3, 1, 1])).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    } finally {
      ours.dispose();
    }
  });
});
