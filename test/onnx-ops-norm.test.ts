/**
 * Normalisations, activations, reductions and matrix products the transformer segmenters
 * (BiRefNet's Swin, BEN2, SAM's ViT) export to, against onnxruntime-node on random inputs:
 * LayerNormalization and its decomposed form, InstanceNormalization, GroupNormalization and the
 * form torch exports GroupNorm to, Softmax / LogSoftmax under both opset semantics, GELU (the
 * opset-20 op and the Erf form), MatMul with batch broadcasting, the Reduce ops, ArgMax, CumSum.
 */
import { describe, it } from 'vitest';

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

describe('LayerNormalization (opset 17)', () => {
  const x = f32([2, 5, 8], 1, -3, 3);
  it('normalises the last axis with scale and bias', async () => {
    await expectOp('layernorm last', { op: 'LayerNormalization', opset: 17, inputs: [x, f32([8], 2), f32([8], 3)] });
  });
  it('normalises from axis 1 (negative axis -2) without bias, with epsilon', async () => {
    await expectOp('layernorm axis -2', {
      op: 'LayerNormalization',
      opset: 17,
      inputs: [x, f32([5, 8], 4)],
      attrs: { axis: -2, epsilon: 1e-3 },
    });
  });
  it('returns Mean and InvStdDev', async () => {
    await expectOp('layernorm stats', {
      op: 'LayerNormalization',
      opset: 17,
      inputs: [x, f32([8], 5), f32([8], 6)],
      outputs: 3,
    });
  });
  it('broadcasts a scale of size 1 over the normalised axes', async () => {
    await expectOp('layernorm broadcast scale', {
      op: 'LayerNormalization',
      opset: 17,
      inputs: [x, f32([1], 7), f32([8], 8)],
    });
  });
  // Fused at load into one LayerNormalization (test/native/test_fuse_layer_norm.cpp checks the fusion).
  it('the decomposed form (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) matches', async () => {
    for (const opset of [13, 18]) {
      const axes = opset >= 18 ? { inputs: ['x', 'axes'] } : { inputs: ['x'], attrs: { axes: [-1] } };
      const nodes = [
        { op: 'ReduceMean', inputs: axes.inputs, outputs: ['m'], ...(axes.attrs ? { attrs: axes.attrs } : {}) },
        { op: 'Sub', inputs: ['x', 'm'], outputs: ['d'] },
        { op: 'Pow', inputs: ['d', 'two'], outputs: ['d2'] },
        {
          op: 'ReduceMean',
          inputs: ['d2', ...axes.inputs.slice(1)],
          outputs: ['v'],
          ...(axes.attrs ? { attrs: axes.attrs } : {}),
        },
        { op: 'Add', inputs: ['v', 'eps'], outputs: ['ve'] },
        { op: 'Sqrt', inputs: ['ve'], outputs: ['s'] },
        { op: 'Div', inputs: ['d', 's'], outputs: ['n'] },
        { op: 'Mul', inputs: ['n', 'g'], outputs: ['ng'] },
        { op: 'Add', inputs: ['ng', 'b'], outputs: ['y'] },
      ];
      const operands = {
        x: f32([1, 16, 24], 9, -4, 4),
        two: konst({ dims: [], data: [2] }),
        eps: konst({ dims: [], data: [1e-5] }),
        g: konst(f32([24], 10)),
        b: konst(f32([24], 11)),
        axes: konst(ints([1], [-1])),
      };
      await expectLikeOrt(`decomposed layernorm opset ${opset}`, packGraph(operands, nodes, ['y'], { opset }), FP32);
      // γ first and no β, on a wider last axis
      const noBeta = [...nodes.slice(0, 7), { op: 'Mul', inputs: ['g', 'n'], outputs: ['y'] }];
      const wide = { ...operands, x: f32([2, 3, 5, 96], 12, -3, 5), g: konst(f32([96], 13)) };
      await expectLikeOrt(
        `decomposed layernorm, no bias, opset ${opset}`,
        packGraph(wide, noBeta, ['y'], { opset }),
        FP32,
      );
    }
  });
});

describe('InstanceNormalization and GroupNormalization', () => {
  it('InstanceNormalization on NCHW and on (N, C, L)', async () => {
    await expectOp('instancenorm 4d', {
      op: 'InstanceNormalization',
      inputs: [f32([2, 3, 5, 4], 1), f32([3], 2), f32([3], 3)],
    });
    await expectOp('instancenorm 3d', {
      op: 'InstanceNormalization',
      inputs: [f32([1, 4, 30], 4, 0, 5), f32([4], 5), f32([4], 6)],
      attrs: { epsilon: 1e-3 },
    });
  });
  it('GroupNormalization opset 18 (scale per group) and 21 (per channel)', async () => {
    const x = f32([2, 6, 3, 5], 7, -2, 2);
    await expectOp('groupnorm 18', {
      op: 'GroupNormalization',
      opset: 18,
      inputs: [x, f32([3], 8), f32([3], 9)],
      attrs: { num_groups: 3 },
    });
    await expectOp('groupnorm 21', {
      op: 'GroupNormalization',
      opset: 21,
      inputs: [x, f32([6], 10), f32([6], 11)],
      attrs: { num_groups: 2, epsilon: 1e-4 },
    });
  });
  it("torch's GroupNorm export (Reshape, InstanceNormalization, Reshape, Mul, Add) matches", async () => {
    const nodes = [
      { op: 'Reshape', inputs: ['x', 'grouped'], outputs: ['xg'] },
      { op: 'InstanceNormalization', inputs: ['xg', 'ones', 'zeros'], outputs: ['ng'], attrs: { epsilon: 1e-5 } },
      { op: 'Shape', inputs: ['x'], outputs: ['xs'] },
      { op: 'Reshape', inputs: ['ng', 'xs'], outputs: ['n'] },
      { op: 'Mul', inputs: ['n', 'w'], outputs: ['nw'] },
      { op: 'Add', inputs: ['nw', 'b'], outputs: ['y'] },
    ];
    const operands = {
      x: f32([1, 8, 4, 6], 12, -3, 3),
      grouped: konst(ints([3], [1, 4, -1])),
      ones: konst({ dims: [4], data: [1, 1, 1, 1] }),
      zeros: konst({ dims: [4], data: [0, 0, 0, 0] }),
      w: konst(f32([8, 1, 1], 13)),
      b: konst(f32([8, 1, 1], 14)),
    };
    await expectLikeOrt('groupnorm export', packGraph(operands, nodes, ['y']), FP32);
  });
});

describe('Softmax and LogSoftmax', () => {
  const x = f32([2, 3, 4, 5], 1, -5, 5);
  for (const opset of [11, 13]) {
    for (const axis of [-1, 1, 2, 0]) {
      it(`Softmax opset ${opset} axis ${axis}`, async () => {
        await expectOp(`softmax ${opset} ${axis}`, { op: 'Softmax', opset, inputs: [x], attrs: { axis } });
      });
    }
    it(`LogSoftmax opset ${opset}, default axis`, async () => {
      await expectOp(`logsoftmax ${opset}`, { op: 'LogSoftmax', opset, inputs: [x] });
    });
  }
});

describe('GELU', () => {
  const x = f32([3, 7, 11], 2, -6, 6);
  it('Gelu (opset 20), exact and tanh', async () => {
    await expectOp('gelu none', { op: 'Gelu', opset: 20, inputs: [x] });
    await expectOp('gelu tanh', { op: 'Gelu', opset: 20, inputs: [x], attrs: { approximate: 'tanh' } });
  });
  it('the Erf form: x * 0.5 * (1 + erf(x / sqrt 2))', async () => {
    const nodes = [
      { op: 'Div', inputs: ['x', 'sqrt2'], outputs: ['a'] },
      { op: 'Erf', inputs: ['a'], outputs: ['e'] },
      { op: 'Add', inputs: ['e', 'one'], outputs: ['p'] },
      { op: 'Mul', inputs: ['x', 'p'], outputs: ['q'] },
      { op: 'Mul', inputs: ['q', 'half'], outputs: ['y'] },
    ];
    const operands = {
      x,
      sqrt2: konst({ dims: [], data: [Math.SQRT2] }),
      one: konst({ dims: [], data: [1] }),
      half: konst({ dims: [], data: [0.5] }),
    };
    await expectLikeOrt('gelu erf form', packGraph(operands, nodes, ['y']), FP32);
  });
  it('the tanh form with Pow(x, 3)', async () => {
    const nodes = [
      { op: 'Pow', inputs: ['x', 'three'], outputs: ['x3'] },
      { op: 'Mul', inputs: ['x3', 'c'], outputs: ['t0'] },
      { op: 'Add', inputs: ['x', 't0'], outputs: ['t1'] },
      { op: 'Mul', inputs: ['t1', 'k'], outputs: ['t2'] },
      { op: 'Tanh', inputs: ['t2'], outputs: ['t3'] },
      { op: 'Add', inputs: ['t3', 'one'], outputs: ['t4'] },
      { op: 'Mul', inputs: ['x', 't4'], outputs: ['t5'] },
      { op: 'Mul', inputs: ['t5', 'half'], outputs: ['y'] },
    ];
    const operands = {
      x,
      three: konst({ dims: [], data: [3] }),
      c: konst({ dims: [], data: [0.044715] }),
      k: konst({ dims: [], data: [Math.sqrt(2 / Math.PI)] }),
      one: konst({ dims: [], data: [1] }),
      half: konst({ dims: [], data: [0.5] }),
    };
    await expectLikeOrt('gelu tanh form', packGraph(operands, nodes, ['y']), FP32);
  });
  it('other activations: Sin, Cos, Sign, Round, Softplus, Elu, HardSwish', async () => {
    for (const op of ['Sin', 'Cos', 'Sign', 'Round', 'Softplus', 'Elu', 'HardSwish']) {
      const opset = op === 'HardSwish' ? 14 : 13;
      await expectOp(op, {
        op,
        opset,
        inputs: [op === 'Round' ? { dims: [6], data: [0.5, 1.5, 2.5, -0.5, -1.5, 2.4] } : x],
      });
    }
  });
});

describe('MatMul with batch broadcasting', () => {
  const cases: [number[], number[]][] = [
    [
      [2, 3, 4, 5],
      [5, 6],
    ],
    [
      [4, 5],
      [2, 3, 5, 6],
    ],
    [
      [2, 1, 4, 5],
      [1, 3, 5, 2],
    ],
    [
      [3, 4, 5],
      [3, 5, 2],
    ],
    [[5], [2, 5, 3]],
    [[2, 4, 5], [5]],
  ];
  for (const [a, b] of cases) {
    it(`${JSON.stringify(a)} @ ${JSON.stringify(b)}`, async () => {
      await expectOp(`matmul ${a} ${b}`, { op: 'MatMul', inputs: [f32(a, a.length * 7), f32(b, b.length * 11)] });
    });
  }
});

describe('Reductions', () => {
  const x = f32([2, 3, 4, 5], 3, -2, 2);
  const kinds = [
    'ReduceMean',
    'ReduceSum',
    'ReduceMax',
    'ReduceMin',
    'ReduceProd',
    'ReduceL1',
    'ReduceL2',
    'ReduceSumSquare',
    'ReduceLogSumExp',
  ];
  for (const op of kinds) {
    it(`${op} over contiguous, scattered and all axes, keepdims 0/1, opsets 13 and 18`, async () => {
      for (const axes of [[-1], [2, 3], [0, 2], [1, -1, 0], []]) {
        for (const keepdims of [0, 1]) {
          for (const opset of [13, 18]) {
            const asInput = opset >= 18 || op === 'ReduceSum';
            await expectOp(`${op} ${axes} k${keepdims} o${opset}`, {
              op,
              opset,
              inputs: asInput && axes.length ? [x, konst(ints([axes.length], axes))] : [x],
              attrs: asInput ? { keepdims } : { keepdims, ...(axes.length ? { axes } : {}) },
            });
          }
        }
      }
    });
  }
  it('ReduceLogSum on positive values; noop_with_empty_axes; integer sums', async () => {
    await expectOp('reducelogsum', {
      op: 'ReduceLogSum',
      opset: 18,
      inputs: [f32([3, 4], 5, 0.1, 2), konst(ints([1], [1]))],
    });
    await expectOp('noop', { op: 'ReduceSum', opset: 13, inputs: [x], attrs: { noop_with_empty_axes: 1 } });
    await expectOp(
      'int64 sum',
      { op: 'ReduceSum', opset: 13, inputs: [randInts([3, 4], 6, -50, 50), konst(ints([1], [0]))] },
      EXACT,
    );
    await expectOp(
      'int64 prod',
      { op: 'ReduceProd', opset: 13, inputs: [randInts([3, 4], 7, -5, 5)], attrs: { keepdims: 0 } },
      EXACT,
    );
  });
  it('GlobalAveragePool and ReduceMean over H, W agree with onnxruntime', async () => {
    await expectOp('gap', { op: 'GlobalAveragePool', inputs: [x] });
    await expectOp('reducemean hw', { op: 'ReduceMean', inputs: [x], attrs: { axes: [2, 3], keepdims: 1 } });
  });
  it('ArgMax / ArgMin, with ties and select_last_index', async () => {
    const t = randInts([3, 4, 5], 8, 0, 3, 'float32');
    for (const op of ['ArgMax', 'ArgMin'])
      for (const axis of [0, -1, 1])
        for (const last of [0, 1])
          await expectOp(
            `${op} ${axis} ${last}`,
            { op, inputs: [t], attrs: { axis, keepdims: axis === 1 ? 0 : 1, select_last_index: last } },
            EXACT,
          );
  });
  it('CumSum forward, reverse, exclusive, on floats and integers', async () => {
    for (const exclusive of [0, 1])
      for (const reverse of [0, 1]) {
        await expectOp(`cumsum ${exclusive} ${reverse}`, {
          op: 'CumSum',
          inputs: [f32([3, 4, 5], 9), konst(ints([], [-2]))],
          attrs: { exclusive, reverse },
        });
        await expectOp(
          `cumsum int ${exclusive} ${reverse}`,
          {
            op: 'CumSum',
            inputs: [randInts([4, 6], 10, -9, 9), konst(ints([], [1]))],
            attrs: { exclusive, reverse },
          },
          EXACT,
        );
      }
  });
});
