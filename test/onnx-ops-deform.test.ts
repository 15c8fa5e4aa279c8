/**
 * Deformable convolution both ways BiRefNet's decoder exports it, against onnxruntime-node:
 * the DeformConv op (opset 19: offsets, mask, groups, offset groups, strides, dilations, pads,
 * bias) and the decomposition exporters write for older opsets (Pad, Slice, Split, Floor, Cast,
 * Clip, GatherND with batch_dims = 2, Sum, then a Conv whose stride is the kernel size).
 */
import { describe, it } from 'vitest';

import type { NodeSpec } from './helpers/onnx-builder.js';
import { FP32, expectLikeOrt, expectOp, f32, ints, konst, packGraph } from './helpers/onnx-op-check.js';

interface Case {
  name: string;
  N?: number;
  C: number;
  O: number;
  H: number;
  W: number;
  k: [number, number];
  stride?: [number, number];
  dilation?: [number, number];
  pads?: [number, number, number, number];
  group?: number;
  offsetGroup?: number;
  mask?: boolean;
  bias?: boolean;
}

const cases: Case[] = [
  { name: '3x3, pad 1, mask and bias', C: 3, O: 4, H: 7, W: 6, k: [3, 3], pads: [1, 1, 1, 1], mask: true, bias: true },
  { name: '3x3 without mask or bias', C: 2, O: 3, H: 6, W: 6, k: [3, 3], pads: [1, 1, 1, 1] },
  {
    name: 'stride 2, dilation 2, asymmetric pads',
    C: 2,
    O: 2,
    H: 9,
    W: 8,
    k: [3, 3],
    stride: [2, 2],
    dilation: [2, 2],
    pads: [2, 1, 2, 0],
    mask: true,
  },
  {
    name: 'groups 2, offset groups 2, batch 2',
    N: 2,
    C: 4,
    O: 6,
    H: 5,
    W: 7,
    k: [3, 2],
    group: 2,
    offsetGroup: 2,
    pads: [1, 0, 1, 1],
    mask: true,
    bias: true,
  },
  { name: '1x1 with offset groups 3', C: 6, O: 2, H: 4, W: 5, k: [1, 1], offsetGroup: 3 },
];

function outSize(n: number, k: number, s: number, d: number, p0: number, p1: number): number {
  return Math.floor((n + p0 + p1 - ((k - 1) * d + 1)) / s) + 1;
}

describe('DeformConv (opset 19)', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const N = c.N ?? 1,
        G = c.group ?? 1,
        OG = c.offsetGroup ?? 1;
      const [kh, kw] = c.k,
        [sh, sw] = c.stride ?? [1, 1],
        [dh, dw] = c.dilation ?? [1, 1],
        pads = c.pads ?? [0, 0, 0, 0];
      const OH = outSize(c.H, kh, sh, dh, pads[0], pads[2]),
        OW = outSize(c.W, kw, sw, dw, pads[1], pads[3]);
      const inputs = [
        f32([N, c.C, c.H, c.W], 1),
        konst(f32([c.O, c.C / G, kh, kw], 2)),
        f32([N, OG * kh * kw * 2, OH, OW], 3, -2.5, 2.5),
        c.bias ? konst(f32([c.O], 4)) : null,
        c.mask ? f32([N, OG * kh * kw, OH, OW], 5, 0, 1) : null,
      ];
      while (inputs[inputs.length - 1] === null) inputs.pop();
      await expectOp(`deformconv ${c.name}`, {
        op: 'DeformConv',
        opset: 19,
        inputs,
        attrs: { kernel_shape: c.k, strides: [sh, sw], dilations: [dh, dw], pads, group: G, offset_group: OG },
      });
    });
  }
});

describe('the decomposed deformable convolution', () => {
  it('Pad, Slice, Split, Floor, Cast, Clip, GatherND (batch_dims 2), Sum, strided Conv match onnxruntime', async () => {
    const C = 3,
      O = 4,
      H = 6,
      W = 7,
      kh = 3,
      kw = 3,
      K = kh * kw,
      OH = H,
      OW = W,
      P = OH * OW;
    const margin = 2,
      Hp = H + 2 * margin,
      Wp = W + 2 * margin;
    // Regular sampling positions in the padded image: output position + tap - conv padding (1) + margin.
    const by: number[] = [],
      bx: number[] = [];
    for (let i = 0; i < kh; ++i)
      for (let j = 0; j < kw; ++j)
        for (let y = 0; y < OH; ++y)
          for (let x = 0; x < OW; ++x) {
            by.push(y + i - 1 + margin);
            bx.push(x + j - 1 + margin);
          }
    const nodes: NodeSpec[] = [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['xp'], attrs: { mode: 'constant' } },
      { op: 'Reshape', inputs: ['xp', 'flat_shape'], outputs: ['xflat'] },
      // offsets and mask from one (1, 3K, OH, OW) tensor, as a DCNv2 head writes it
      { op: 'Slice', inputs: ['om', 'zero', 'twoK', 'one_axis'], outputs: ['off'] },
      { op: 'Slice', inputs: ['om', 'twoK', 'threeK', 'one_axis'], outputs: ['mraw'] },
      { op: 'Sigmoid', inputs: ['mraw'], outputs: ['m4'] },
      { op: 'Reshape', inputs: ['m4', 'tap_shape'], outputs: ['m'] },
      { op: 'Reshape', inputs: ['off', 'pair_shape'], outputs: ['off2'] },
      { op: 'Split', inputs: ['off2'], outputs: ['dy', 'dx'], attrs: { axis: 2 } },
      { op: 'Add', inputs: ['by', 'dy'], outputs: ['py'] },
      { op: 'Add', inputs: ['bx', 'dx'], outputs: ['px'] },
      { op: 'Floor', inputs: ['py'], outputs: ['y0f'] },
      { op: 'Floor', inputs: ['px'], outputs: ['x0f'] },
      { op: 'Sub', inputs: ['py', 'y0f'], outputs: ['ly'] },
      { op: 'Sub', inputs: ['px', 'x0f'], outputs: ['lx'] },
      { op: 'Sub', inputs: ['onef', 'ly'], outputs: ['hy'] },
      { op: 'Sub', inputs: ['onef', 'lx'], outputs: ['hx'] },
      { op: 'Cast', inputs: ['y0f'], outputs: ['y0r'], attrs: { to: 7 } },
      { op: 'Cast', inputs: ['x0f'], outputs: ['x0r'], attrs: { to: 7 } },
      { op: 'Add', inputs: ['y0r', 'onei'], outputs: ['y1r'] },
      { op: 'Add', inputs: ['x0r', 'onei'], outputs: ['x1r'] },
      { op: 'Clip', inputs: ['y0r', 'zeroi', 'ymax'], outputs: ['y0'] },
      { op: 'Clip', inputs: ['y1r', 'zeroi', 'ymax'], outputs: ['y1'] },
      { op: 'Clip', inputs: ['x0r', 'zeroi', 'xmax'], outputs: ['x0'] },
      { op: 'Clip', inputs: ['x1r', 'zeroi', 'xmax'], outputs: ['x1'] },
    ];
    const corners: [string, string, string, string][] = [
      ['y0', 'x0', 'hy', 'hx'],
      ['y0', 'x1', 'hy', 'lx'],
      ['y1', 'x0', 'ly', 'hx'],
      ['y1', 'x1', 'ly', 'lx'],
    ];
    corners.forEach(([y, x, wy, wx], i) => {
      nodes.push(
        { op: 'Mul', inputs: [y, 'wp'], outputs: [`r${i}`] },
        { op: 'Add', inputs: [`r${i}`, x], outputs: [`lin${i}`] },
        { op: 'Reshape', inputs: [`lin${i}`, 'idx_shape'], outputs: [`idx1_${i}`] },
        { op: 'Expand', inputs: [`idx1_${i}`, 'idx_full'], outputs: [`idx${i}`] },
        { op: 'GatherND', inputs: ['xflat', `idx${i}`], outputs: [`g${i}`], attrs: { batch_dims: 2 } },
        { op: 'Mul', inputs: [wy, wx], outputs: [`w${i}`] },
        { op: 'Mul', inputs: [`w${i}`, 'm'], outputs: [`wm${i}`] },
        { op: 'Reshape', inputs: [`wm${i}`, 'w_shape'], outputs: [`wr${i}`] },
        { op: 'Mul', inputs: [`g${i}`, `wr${i}`], outputs: [`v${i}`] },
      );
    });
    nodes.push(
      { op: 'Sum', inputs: ['v0', 'v1', 'v2', 'v3'], outputs: ['cols'] },
      { op: 'Reshape', inputs: ['cols', 'cols6'], outputs: ['c6'] },
      { op: 'Transpose', inputs: ['c6'], outputs: ['ct'], attrs: { perm: [0, 1, 4, 2, 5, 3] } },
      { op: 'Reshape', inputs: ['ct', 'img_shape'], outputs: ['img'] },
      {
        op: 'Conv',
        inputs: ['img', 'weight', 'bias'],
        outputs: ['y'],
        attrs: { kernel_shape: [kh, kw], strides: [kh, kw] },
      },
    );
    const operands = {
      x: f32([1, C, H, W], 1, -2, 2),
      om: f32([1, 3 * K, OH, OW], 2, -1.5, 1.5),
      pads: konst(ints([8], [0, 0, margin, margin, 0, 0, margin, margin])),
      flat_shape: konst(ints([3], [1, C, Hp * Wp])),
      zero: konst(ints([1], [0])),
      twoK: konst(ints([1], [2 * K])),
      threeK: konst(ints([1], [3 * K])),
      one_axis: konst(ints([1], [1])),
      pair_shape: konst(ints([5], [1, K, 2, OH, OW])),
      tap_shape: konst(ints([5], [1, K, 1, OH, OW])),
      by: konst({ dims: [1, K, 1, OH, OW], data: by }),
      bx: konst({ dims: [1, K, 1, OH, OW], data: bx }),
      onef: konst({ dims: [], data: [1] }),
      onei: konst(ints([], [1])),
      zeroi: konst(ints([], [0])),
      ymax: konst(ints([], [Hp - 1])),
      xmax: konst(ints([], [Wp - 1])),
      wp: konst(ints([], [Wp])),
      idx_shape: konst(ints([4], [1, 1, K * P, 1])),
      idx_full: konst(ints([4], [1, C, K * P, 1])),
      w_shape: konst(ints([3], [1, 1, K * P])),
      cols6: konst(ints([6], [1, C, kh, kw, OH, OW])),
      img_shape: konst(ints([4], [1, C, OH * kh, OW * kw])),
      weight: konst(f32([O, C, kh, kw], 3)),
      bias: konst(f32([O], 4)),
    };
    await expectLikeOrt('decomposed deformconv', packGraph(operands, nodes, ['y'], { opset: 13 }), FP32);
    await expectLikeOrt('decomposed deformconv (2 threads)', packGraph(operands, nodes, ['y'], { opset: 13 }), FP32, 2);
  });
});
