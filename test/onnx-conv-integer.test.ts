/**
 * ConvInteger is exact: the int32 results equal onnxruntime's bit for bit, for every layout the
 * integer kernel has to handle (channel counts that are not multiples of 4, output channels that
 * are not multiples of 32, odd sizes, stride, dilation, padding, uint8 and int8 weights), with 1
 * and 2 threads. (onnxruntime refuses per-channel weight zero points, so there is no reference.)
 */
import { describe, expect, it } from 'vitest';

import { type TensorSpec, rng, writeModel } from './helpers/onnx-builder.js';
import { runOrt, runOurs } from './helpers/onnx-run.js';

interface Case {
  name: string;
  C: number;
  O: number;
  H: number;
  W: number;
  k: number;
  stride?: number;
  dilation?: number;
  pad?: number;
  signed?: boolean;
}

// x (3 channels, as the Segmenter takes) -> 1x1 Conv to C channels -> DynamicQuantizeLinear ->
// ConvInteger -> Cast(float): the graph a quantising exporter writes around each convolution.
function model(c: Case, seed: number): string {
  const rand = rng(seed);
  const wn = c.O * c.C * c.k * c.k;
  const weights: TensorSpec = {
    name: 'w',
    dtype: c.signed ? 'int8' : 'uint8',
    dims: [c.O, c.C, c.k, c.k],
    data: Array.from({ length: wn }, () => (c.signed ? Math.floor(rand() * 256) - 128 : Math.floor(rand() * 256))),
  };
  const zp: TensorSpec = {
    name: 'wzp',
    dtype: c.signed ? 'int8' : 'uint8',
    dims: [],
    data: [c.signed ? Math.floor(rand() * 40) - 20 : 100 + Math.floor(rand() * 56)],
  };
  const lift: TensorSpec = {
    name: 'lift',
    dtype: 'float32',
    dims: [c.C, 3, 1, 1],
    data: Array.from({ length: c.C * 3 }, () => rand() * 2 - 1),
  };
  const pad = c.pad ?? 0;
  return writeModel(
    {
      inputs: [{ name: 'x', shape: [1, 3, c.H, c.W] }],
      outputs: [{ name: 'y' }],
      initializers: [weights, zp, lift],
      nodes: [
        { op: 'Conv', inputs: ['x', 'lift'], outputs: ['xc'], attrs: { kernel_shape: [1, 1] } },
        { op: 'DynamicQuantizeLinear', inputs: ['xc'], outputs: ['xq', 'xs', 'xz'] },
        {
          op: 'ConvInteger',
          inputs: ['xq', 'w', 'xz', 'wzp'],
          outputs: ['acc'],
          attrs: {
            kernel_shape: [c.k, c.k],
            strides: [c.stride ?? 1, c.stride ?? 1],
            dilations: [c.dilation ?? 1, c.dilation ?? 1],
            pads: [pad, pad, pad, pad],
          },
        },
        { op: 'Cast', inputs: ['acc'], outputs: ['y'], attrs: { to: 1 } },
      ],
    },
    `conv-integer-${c.name}`,
  );
}

const cases: Case[] = [
  { name: 'rgb-input-stride2', C: 3, O: 5, H: 17, W: 13, k: 3, stride: 2, pad: 1 },
  { name: 'odd-channels', C: 7, O: 33, H: 9, W: 11, k: 3, pad: 1 },
  { name: 'dilated', C: 16, O: 40, H: 20, W: 19, k: 3, dilation: 2, pad: 2 },
  { name: 'pointwise', C: 12, O: 64, H: 8, W: 8, k: 1 },
  { name: 'no-padding', C: 5, O: 3, H: 6, W: 7, k: 3 },
  { name: 'int8-weights', C: 9, O: 17, H: 11, W: 12, k: 3, pad: 1, signed: true },
];

describe('ConvInteger', () => {
  for (const c of cases) {
    it(`equals onnxruntime exactly: ${c.name}`, async () => {
      const file = model(c, c.C * 131 + c.O);
      const rand = rng(c.O * 7 + 1);
      const x = { shape: [1, 3, c.H, c.W], data: Float32Array.from({ length: 3 * c.H * c.W }, () => rand() * 6 - 2) };
      const [ref] = await runOrt(file, x);
      for (const threads of [1, 2]) {
        const [ours] = await runOurs(file, x, threads);
        expect(ours!.shape).toEqual(ref!.shape);
        let mismatches = 0;
        ref!.data.forEach((v, i) => {
          mismatches += v === ours!.data[i] ? 0 : 1;
        });
        expect(mismatches, `threads ${threads}`).toBe(0);
      }
    });
  }
});
