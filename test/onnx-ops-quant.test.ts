/**
 * The dynamically quantised matrix products quantize_dynamic writes for SAM's linear layers
 * (DynamicQuantizeLinear, MatMulInteger with uint8/int8 weights and zero points, Cast, Mul by the
 * scales), against onnxruntime-node: the int32 products exactly, the dequantised result within
 * float rounding; batch broadcasting both ways, per-column weight zero points.
 */
import { describe, it } from 'vitest';

import type { DataType, NodeSpec } from './helpers/onnx-builder.js';
import {
  EXACT,
  FP32,
  expectLikeOrt,
  expectOp,
  f32,
  ints,
  konst,
  packGraph,
  randInts,
} from './helpers/onnx-op-check.js';

interface Case {
  name: string;
  a: number[];
  b: number[];
  wtype: 'uint8' | 'int8';
  zp: 'scalar' | 'column' | 'none';
}

const cases: Case[] = [
  { name: 'uint8 weights, scalar zero point', a: [7, 33], b: [33, 12], wtype: 'uint8', zp: 'scalar' },
  { name: 'int8 weights, no zero point', a: [2, 5, 40], b: [40, 9], wtype: 'int8', zp: 'none' },
  { name: 'int8 weights, per-column zero points', a: [3, 6, 16], b: [16, 5], wtype: 'int8', zp: 'column' },
  {
    name: 'uint8 weights, both batched with broadcasting',
    a: [2, 1, 4, 20],
    b: [3, 20, 6],
    wtype: 'uint8',
    zp: 'scalar',
  },
  { name: 'a long reduction (K = 768)', a: [3, 768], b: [768, 4], wtype: 'uint8', zp: 'scalar' },
];

describe('DynamicQuantizeLinear + MatMulInteger', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const N = c.b[c.b.length - 1]!;
      const [lo, hi] = c.wtype === 'uint8' ? [0, 255] : [-128, 127];
      const zpDims = c.zp === 'column' ? [N] : [];
      const nodes: NodeSpec[] = [
        { op: 'DynamicQuantizeLinear', inputs: ['a'], outputs: ['aq', 'as', 'az'] },
        { op: 'MatMulInteger', inputs: ['aq', 'w', 'az', ...(c.zp === 'none' ? [] : ['wz'])], outputs: ['acc'] },
        { op: 'Cast', inputs: ['acc'], outputs: ['accf'], attrs: { to: 1 } },
        { op: 'Mul', inputs: ['as', 'ws'], outputs: ['scale'] },
        { op: 'Mul', inputs: ['accf', 'scale'], outputs: ['y'] },
      ];
      const operands = {
        a: f32(c.a, 1, -3, 2),
        w: konst(randInts(c.b, 2, lo, hi, c.wtype as DataType)),
        ws: konst({ dims: [], data: [0.0173] }),
        ...(c.zp === 'none' ? {} : { wz: konst(randInts(zpDims, 3, lo / 4, hi / 4, c.wtype as DataType)) }),
      };
      const outs = [
        { name: 'acc', dtype: 'int32' as const },
        { name: 'y', dtype: 'float32' as const },
      ];
      await expectLikeOrt(`quantized matmul ${c.name}`, packGraph(operands, nodes, outs), FP32);
      await expectLikeOrt(`quantized matmul ${c.name} (int32 exact)`, packGraph(operands, nodes, [outs[0]!]), EXACT, 2);
    });
  }
  it('MatMulInteger on runtime uint8 operands with both zero points, 1-D operands', async () => {
    const a = randInts([4, 9], 4, 0, 255, 'uint8'),
      b = randInts([9, 3], 5, 0, 255, 'uint8');
    await expectOp(
      'mmi',
      { op: 'MatMulInteger', inputs: [a, b, ints([], [17], 'uint8'), ints([], [200], 'uint8')] },
      EXACT,
    );
    await expectOp('mmi 1-d', { op: 'MatMulInteger', inputs: [randInts([9], 6, 0, 255, 'uint8'), b] }, EXACT);
    await expectOp(
      'mmi int8 A',
      {
        op: 'MatMulInteger',
        inputs: [
          randInts([2, 4, 9], 7, -128, 127, 'int8'),
          randInts([9, 5], 8, -128, 127, 'int8'),
          ints([], [-3], 'int8'),
        ],
      },
      EXACT,
    );
  });
});
