/**
 * Indexing, shape and elementwise ops real exports compute with (Swin's shifted-window masks,
 * SAM's prompt encoding, in-graph shape arithmetic), against onnxruntime-node: Gather,
 * GatherElements, GatherND (batch_dims), ScatterND, ScatterElements, Range, Expand, Where,
 * comparisons and logic, Mod, Floor/Ceil, Clip, Cast between the types met, Tile, Pad (every
 * mode, negative pads, axes), Split (three opset forms), Min/Max/Sum/Mean, Einsum as SAM exports
 * it, Resize with align_corners and ConvTranspose. Integer and bool results must be exact.
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

describe('Gather family', () => {
  const data = f32([4, 5, 6], 1);
  it('Gather on every axis with negative indices', async () => {
    for (const axis of [0, 1, -1])
      await expectOp(
        `gather ${axis}`,
        { op: 'Gather', inputs: [data, ints([2, 2], [0, -1, 2, 1])], attrs: { axis } },
        EXACT,
      );
  });
  it('Gather of consecutive indices along the leading axes (a view of the data), then written over', async () => {
    // Run-time values: the picked piece shares the data's storage; the Add after it must not write
    // into it while the Mul still reads the data.
    const operands = { x: f32([1, 3, 4, 5], 4), c: konst(f32([4, 5], 5)), two: konst({ dims: [], data: [2] }) };
    for (const [idx, axis] of [
      [ints([], [0]), 0],
      [ints([2], [1, 2]), 1],
      [ints([], [-1]), 1],
      [ints([2], [2, 1]), 1],
    ] as const) {
      const nodes = [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Gather', inputs: ['r', 'idx'], outputs: ['g'], attrs: { axis } },
        { op: 'Add', inputs: ['g', 'c'], outputs: ['a'] },
        { op: 'Mul', inputs: ['r', 'two'], outputs: ['m'] },
      ];
      const p = packGraph({ ...operands, idx: konst(idx) }, nodes, ['a', 'm']);
      await expectLikeOrt(`gather view ${idx.data} axis ${axis}`, p, EXACT);
    }
  });
  it('GatherElements on each axis, indices smaller than the data', async () => {
    for (const axis of [0, 1, 2, -2])
      await expectOp(
        `gatherelements ${axis}`,
        {
          op: 'GatherElements',
          inputs: [data, randInts([3, 4, 5], 2 + axis, -3, 3)],
          attrs: { axis },
        },
        EXACT,
      );
  });
  it('GatherND with batch_dims 0, 1 and 2, partial and full index tuples', async () => {
    await expectOp('gathernd b0 k2', { op: 'GatherND', inputs: [data, ints([3, 2], [0, 1, 3, -1, 2, 4])] }, EXACT);
    await expectOp('gathernd b0 k3', { op: 'GatherND', inputs: [data, ints([2, 3], [0, 1, 5, 3, 4, -6])] }, EXACT);
    await expectOp(
      'gathernd b1',
      { op: 'GatherND', inputs: [data, randInts([4, 3, 1], 3, 0, 4)], attrs: { batch_dims: 1 } },
      EXACT,
    );
    // The decomposed deformable convolution's form: (N, C, H*W) data, (N, C, P, 1) indices, batch_dims 2.
    await expectOp(
      'gathernd b2',
      {
        op: 'GatherND',
        opset: 13,
        inputs: [f32([2, 3, 20], 4), randInts([2, 3, 7, 1], 5, 0, 19)],
        attrs: { batch_dims: 2 },
      },
      EXACT,
    );
    await expectOp(
      'gathernd b2 int32',
      {
        op: 'GatherND',
        inputs: [randInts([2, 3, 4, 5], 6, -9, 9), randInts([2, 3, 6, 2], 7, 0, 3)],
        attrs: { batch_dims: 2 },
      },
      EXACT,
    );
  });
  it('ScatterND with each reduction, ScatterElements', async () => {
    const base = f32([4, 3, 2], 8);
    await expectOp('scatternd', { op: 'ScatterND', inputs: [base, ints([2, 1], [3, 0]), f32([2, 3, 2], 9)] }, EXACT);
    await expectOp(
      'scatternd k2',
      { op: 'ScatterND', inputs: [base, ints([2, 2], [1, 2, -1, 0]), f32([2, 2], 10)] },
      EXACT,
    );
    for (const reduction of ['add', 'mul'])
      await expectOp(
        `scatternd ${reduction}`,
        {
          op: 'ScatterND',
          opset: 16,
          inputs: [base, ints([3, 1], [1, 1, 2]), f32([3, 3, 2], 11)],
          attrs: { reduction },
        },
        FP32,
      );
    for (const reduction of ['max', 'min'])
      await expectOp(
        `scatternd ${reduction}`,
        {
          op: 'ScatterND',
          opset: 18,
          inputs: [base, ints([3, 1], [1, 1, 2]), f32([3, 3, 2], 12)],
          attrs: { reduction },
        },
        EXACT,
      );
    await expectOp(
      'scatterelements',
      {
        op: 'ScatterElements',
        inputs: [f32([3, 4], 13), ints([2, 4], [0, 1, 2, 0, 2, 0, 1, 1]), f32([2, 4], 14)],
        attrs: { axis: 0 },
      },
      EXACT,
    );
  });
});

describe('shape arithmetic and elementwise', () => {
  it('Range on int64, int32 and float', async () => {
    await expectOp('range int', { op: 'Range', inputs: [ints([], [3]), ints([], [17]), ints([], [4])] }, EXACT);
    await expectOp(
      'range down',
      { op: 'Range', inputs: [ints([], [10], 'int32'), ints([], [-3], 'int32'), ints([], [-3], 'int32')] },
      EXACT,
    );
    await expectOp('range empty', { op: 'Range', inputs: [ints([], [5]), ints([], [2]), ints([], [1])] }, EXACT);
    await expectOp('range float', {
      op: 'Range',
      inputs: [
        { dims: [], data: [0.5] },
        { dims: [], data: [7.25] },
        { dims: [], data: [0.75] },
      ],
    });
  });
  it('Expand both ways', async () => {
    await expectOp('expand', { op: 'Expand', inputs: [f32([3, 1], 1), konst(ints([3], [2, 1, 4]))] }, EXACT);
    await expectOp('expand int', { op: 'Expand', inputs: [ints([1, 2], [7, -3]), ints([2], [3, 1])] }, EXACT);
    // Whole blocks repeated (the deformable convolution's indices): the copy merges the axes.
    await expectOp(
      'expand block',
      { op: 'Expand', inputs: [ints([1, 1, 9, 1], [0, 1, 2, 3, 4, 5, 6, 7, 8]), konst(ints([4], [2, 3, 9, 1]))] },
      EXACT,
    );
    await expectOp(
      'expand inner',
      { op: 'Expand', inputs: [f32([2, 1, 3, 1], 2), konst(ints([5], [2, 2, 4, 3, 5]))] },
      EXACT,
    );
  });
  it('comparisons and logic on floats, ints and bools with broadcasting', async () => {
    const a = randInts([3, 1, 4], 2, -2, 2, 'float32'),
      b = randInts([5, 1], 3, -2, 2, 'float32');
    const ia = randInts([2, 3], 4, -3, 3),
      ib = randInts([3], 5, -3, 3);
    for (const op of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']) {
      const opset = op.endsWith('Equal') && op !== 'Equal' ? 12 : 13;
      await expectOp(`${op} float`, { op, opset, inputs: [a, b] }, EXACT);
      await expectOp(`${op} int`, { op, opset, inputs: [ia, ib] }, EXACT);
    }
    const ba = randInts([2, 3], 6, 0, 1, 'bool'),
      bb = randInts([3], 7, 0, 1, 'bool');
    for (const op of ['And', 'Or', 'Xor', 'Equal']) await expectOp(`${op} bool`, { op, inputs: [ba, bb] }, EXACT);
    await expectOp('Not', { op: 'Not', inputs: [ba] }, EXACT);
  });
  it('Where with three-way broadcasting on floats and int64', async () => {
    await expectOp(
      'where',
      { op: 'Where', inputs: [randInts([2, 1, 4], 8, 0, 1, 'bool'), f32([3, 1], 9), f32([1, 4], 10)] },
      EXACT,
    );
    await expectOp(
      'where int',
      {
        op: 'Where',
        inputs: [randInts([4], 11, 0, 1, 'bool'), ints([4], [1, 2, 3, 4]), ints([], [-1])],
      },
      EXACT,
    );
  });
  it('Mod: integer floor and fmod forms, float fmod', async () => {
    const a = randInts([12], 12, -20, 20),
      b = ints([12], [3, -3, 7, -7, 5, 2, -2, 4, 6, -5, 9, 11]);
    await expectOp('mod int', { op: 'Mod', inputs: [a, b] }, EXACT);
    await expectOp('mod int fmod', { op: 'Mod', inputs: [a, b], attrs: { fmod: 1 } }, EXACT);
    await expectOp('mod float fmod', {
      op: 'Mod',
      inputs: [f32([3, 4], 13, -10, 10), f32([4], 14, 0.5, 3)],
      attrs: { fmod: 1 },
    });
  });
  it('Floor, Ceil, Clip (float, int, one-sided, opset 10 attributes)', async () => {
    const x = f32([4, 5], 15, -4, 4);
    await expectOp('floor', { op: 'Floor', inputs: [x] }, EXACT);
    await expectOp('ceil', { op: 'Ceil', inputs: [x] }, EXACT);
    await expectOp('clip', { op: 'Clip', inputs: [x, { dims: [], data: [-1.5] }, { dims: [], data: [2] }] }, EXACT);
    await expectOp('clip max only', { op: 'Clip', inputs: [x, null, { dims: [], data: [0.25] }] }, EXACT);
    await expectOp(
      'clip int',
      { op: 'Clip', inputs: [randInts([10], 16, -9, 9), ints([], [-2]), ints([], [5])] },
      EXACT,
    );
    await expectOp('clip opset 10', { op: 'Clip', opset: 10, inputs: [x], attrs: { min: -0.5, max: 0.5 } }, EXACT);
  });
  it('Cast between float, int64, int32, int8, uint8 and bool', async () => {
    const x = { dtype: 'float32' as const, dims: [8], data: [0, 1.5, -2.7, 3.99, -0.2, 100.4, 7, -8] };
    const casts: [typeof x | ReturnType<typeof ints>, number][] = [
      [x, 7],
      [x, 6],
      [x, 3],
      [x, 9],
      [{ ...x, data: x.data.map(Math.abs) }, 2],
      [ints([4], [0, 3, -5, 9]), 1],
      [ints([4], [0, 3, -5, 9]), 9],
      [ints([4], [0, 3, -5, 9], 'int32'), 7],
      [randInts([5], 17, 0, 1, 'bool'), 1],
      [randInts([5], 18, 0, 1, 'bool'), 7],
      [randInts([5], 19, 0, 200, 'uint8'), 1],
      [randInts([5], 20, -100, 100, 'int8'), 6],
    ];
    for (const [input, to] of casts)
      await expectOp(`cast ${input.dtype} to ${to}`, { op: 'Cast', inputs: [input], attrs: { to } }, EXACT);
    await expectOp('castlike', { op: 'CastLike', opset: 15, inputs: [x, ints([1], [0])] }, EXACT);
  });
  it('Tile', async () => {
    await expectOp('tile', { op: 'Tile', inputs: [f32([2, 3, 1], 21), ints([3], [2, 1, 4])] }, EXACT);
    await expectOp('tile int', { op: 'Tile', inputs: [ints([3], [1, 2, 3]), ints([1], [3])] }, EXACT);
  });
  it('Min, Max, Sum, Mean over broadcast operands', async () => {
    for (const op of ['Min', 'Max', 'Sum', 'Mean'])
      await expectOp(op, { op, inputs: [f32([3, 1], 22), f32([4], 23), f32([2, 1, 1], 24)] });
    await expectOp('max int', { op: 'Max', inputs: [randInts([3, 2], 25, -5, 5), randInts([2], 26, -5, 5)] }, EXACT);
  });
});

describe('Pad', () => {
  const x = f32([1, 2, 4, 5], 1);
  const modes = ['constant', 'reflect', 'edge'];
  for (const mode of modes) {
    it(`${mode}: positive, asymmetric and negative pads`, async () => {
      for (const pads of [
        [0, 0, 1, 2, 0, 0, 3, 1],
        [0, 1, 0, 0, 0, 0, 2, 2],
        [0, 0, -1, 2, 0, 0, 1, -2],
      ]) {
        const inputs = [x, ints([8], pads), ...(mode === 'constant' ? [{ dims: [], data: [0.75] }] : [])];
        await expectOp(`pad ${mode} ${pads}`, { op: 'Pad', inputs, attrs: { mode } }, EXACT);
      }
      // Trailing axes left alone (channels-last windows) and a pad of the leading axis only.
      const x2 = f32([2, 3, 4, 5], 3);
      for (const pads of [
        [0, 1, 2, 0, 0, 2, -1, 0],
        [1, 0, 0, 0, 1, 0, 0, 0],
      ]) {
        const inputs = [x2, ints([8], pads), ...(mode === 'constant' ? [{ dims: [], data: [-2] }] : [])];
        await expectOp(`pad ${mode} ${pads} of ${x2.dims}`, { op: 'Pad', inputs, attrs: { mode } }, EXACT);
      }
    });
  }
  it('wrap (opset 19), axes (opset 18), opset 10 attributes, int64 data', async () => {
    await expectOp(
      'pad wrap',
      { op: 'Pad', opset: 19, inputs: [x, ints([8], [0, 0, 2, 3, 0, 0, 1, 4])], attrs: { mode: 'wrap' } },
      EXACT,
    );
    await expectOp(
      'pad axes',
      { op: 'Pad', opset: 18, inputs: [x, ints([4], [1, 2, 3, 0]), null, ints([2], [-1, 2])] },
      EXACT,
    );
    await expectOp(
      'pad opset 10',
      { op: 'Pad', opset: 10, inputs: [x], attrs: { pads: [0, 0, 1, 1, 0, 0, 2, 0], value: -1.5 } },
      EXACT,
    );
    await expectOp('pad int', { op: 'Pad', inputs: [randInts([3, 4], 2, -9, 9), ints([4], [1, 0, 0, 2])] }, EXACT);
  });
});

describe('Split', () => {
  const x = f32([2, 7, 3], 1);
  it('opset 11 attribute sizes, opset 13 input sizes, equal parts, opset 18 num_outputs', async () => {
    await expectOp(
      'split 11',
      { op: 'Split', opset: 11, inputs: [x], attrs: { axis: 1, split: [2, 4, 1] }, outputs: 3 },
      EXACT,
    );
    await expectOp(
      'split 13',
      { op: 'Split', opset: 13, inputs: [x, ints([2], [3, 4])], attrs: { axis: -2 }, outputs: 2 },
      EXACT,
    );
    await expectOp('split equal', { op: 'Split', opset: 13, inputs: [x], attrs: { axis: 2 }, outputs: 3 }, EXACT);
    await expectOp(
      'split 18',
      { op: 'Split', opset: 18, inputs: [x], attrs: { axis: 1, num_outputs: 3 }, outputs: 3 },
      EXACT,
    );
  });
});

describe('Einsum', () => {
  const cases: [string, number[][]][] = [
    [
      'bhwc,hkc->bhwk',
      [
        [2, 4, 5, 6],
        [4, 3, 6],
      ],
    ],
    [
      'bhwc,wkc->bhwk',
      [
        [2, 4, 5, 6],
        [5, 3, 6],
      ],
    ],
    [
      'ij,jk->ik',
      [
        [4, 5],
        [5, 3],
      ],
    ],
    [
      'bij,bjk->bik',
      [
        [2, 4, 5],
        [2, 5, 3],
      ],
    ],
    [
      'bhqd,bhkd->bhqk',
      [
        [1, 2, 4, 8],
        [1, 2, 6, 8],
      ],
    ],
    ['ij->ji', [[3, 5]]],
    ['ijk->j', [[3, 5, 2]]],
    [
      'ij,jk',
      [
        [4, 5],
        [5, 3],
      ],
    ],
    ['i,j->ij', [[4], [3]]],
    [
      'ij,jk,kl->il',
      [
        [2, 3],
        [3, 4],
        [4, 5],
      ],
    ],
    [
      'b i d, b j d -> b i j',
      [
        [2, 3, 4],
        [2, 5, 4],
      ],
    ],
    [
      'ab,ab->a',
      [
        [3, 4],
        [3, 4],
      ],
    ],
  ];
  for (const [equation, shapes] of cases) {
    it(`"${equation}"`, async () => {
      await expectOp(`einsum ${equation}`, {
        op: 'Einsum',
        opset: 12,
        inputs: shapes.map((s, i) => f32(s, i + 1)),
        attrs: { equation },
      });
    });
  }
});

describe('Resize and ConvTranspose', () => {
  it('Resize linear with align_corners, half_pixel and pytorch_half_pixel, up and down', async () => {
    const x = f32([1, 2, 5, 7], 1);
    for (const mode of ['align_corners', 'half_pixel', 'pytorch_half_pixel', 'asymmetric'])
      for (const sizes of [
        [1, 2, 13, 9],
        [1, 2, 3, 4],
        [1, 2, 1, 1],
      ])
        await expectOp(`resize ${mode} ${sizes}`, {
          op: 'Resize',
          inputs: [x, null, null, konst(ints([4], sizes))],
          attrs: { mode: 'linear', coordinate_transformation_mode: mode },
        });
  });
  const cases: {
    name: string;
    C: number;
    O: number;
    k: number[];
    attrs: Record<string, number[] | number | string>;
  }[] = [
    { name: 'stride 2, k 2', C: 3, O: 4, k: [2, 2], attrs: { strides: [2, 2] } },
    {
      name: 'stride 2, k 3, pads, output_padding',
      C: 2,
      O: 3,
      k: [3, 3],
      attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] },
    },
    { name: 'grouped, dilated', C: 4, O: 6, k: [3, 2], attrs: { group: 2, dilations: [2, 1], strides: [1, 2] } },
    { name: 'output_shape', C: 3, O: 2, k: [4, 4], attrs: { strides: [2, 2], output_shape: [10, 12] } },
    { name: 'SAME_UPPER', C: 3, O: 2, k: [3, 3], attrs: { strides: [2, 2], auto_pad: 'SAME_UPPER' } },
  ];
  for (const c of cases) {
    it(`ConvTranspose: ${c.name}`, async () => {
      const G = (c.attrs.group as number | undefined) ?? 1;
      await expectOp(`convtranspose ${c.name}`, {
        op: 'ConvTranspose',
        inputs: [f32([2, c.C, 5, 6], 1), konst(f32([c.C, c.O / G, ...c.k], 2)), konst(f32([c.O], 3))],
        attrs: c.attrs,
      });
    });
  }
});
