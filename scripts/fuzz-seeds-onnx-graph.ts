/**
 * Writes the seed graphs of the ONNX graph fuzz harness (native/fuzz/corpus/onnx_graph): one small
 * graph per op family of the transformer segmenters, each with its operands folded at load and
 * computed from the input, so that mutations reach constant folding, attribute checks and the
 * kernels.   npx tsx scripts/fuzz-seeds-onnx-graph.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { buildModel } from '../test/helpers/onnx-builder.js';
import { type OpCase, f32, ints, konst, opGraph, packGraph } from '../test/helpers/onnx-op-check.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.join(root, 'native', 'fuzz', 'corpus', 'onnx_graph');
mkdirSync(dir, { recursive: true });

const x = f32([1, 2, 3, 4], 1);
const cases: Record<string, OpCase> = {
  layernorm: { op: 'LayerNormalization', opset: 17, inputs: [x, f32([4], 2), f32([4], 3)], outputs: 3 },
  groupnorm: { op: 'GroupNormalization', opset: 21, inputs: [x, f32([2], 2), f32([2], 3)], attrs: { num_groups: 2 } },
  instancenorm: { op: 'InstanceNormalization', inputs: [x, f32([2], 2), f32([2], 3)] },
  softmax11: { op: 'Softmax', opset: 11, inputs: [x], attrs: { axis: 2 } },
  gelu: { op: 'Gelu', opset: 20, inputs: [x], attrs: { approximate: 'tanh' } },
  reducemean: { op: 'ReduceMean', opset: 18, inputs: [x, ints([2], [0, 2])], attrs: { keepdims: 0 } },
  argmax: { op: 'ArgMax', inputs: [x], attrs: { axis: -1, select_last_index: 1 } },
  cumsum: { op: 'CumSum', inputs: [x, ints([], [1])], attrs: { reverse: 1 } },
  where: { op: 'Where', inputs: [ints([3, 1], [1, 0, 1], 'bool'), f32([3, 4], 2), f32([4], 3)] },
  equal: { op: 'Equal', inputs: [ints([3], [1, 2, 3]), ints([1], [2])] },
  mod: { op: 'Mod', inputs: [ints([4], [5, -5, 7, 9]), ints([4], [3, 3, -2, 4])] },
  gatherelements: { op: 'GatherElements', inputs: [x, ints([1, 2, 1, 2], [0, 1, 2, 3])], attrs: { axis: 3 } },
  gathernd: {
    op: 'GatherND',
    inputs: [f32([2, 3, 4], 2), ints([2, 3, 2, 1], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])],
    attrs: { batch_dims: 2 },
  },
  scatternd: {
    op: 'ScatterND',
    opset: 16,
    inputs: [f32([4, 2], 2), ints([2, 1], [1, 3]), f32([2, 2], 3)],
    attrs: { reduction: 'add' },
  },
  range: { op: 'Range', inputs: [ints([], [1]), ints([], [9]), ints([], [2])] },
  tile: { op: 'Tile', inputs: [f32([2, 1], 2), ints([2], [2, 3])] },
  pad: { op: 'Pad', inputs: [x, ints([8], [0, 0, 1, -1, 0, 0, 2, 1])], attrs: { mode: 'reflect' } },
  split: { op: 'Split', opset: 18, inputs: [x], attrs: { axis: 3, num_outputs: 3 }, outputs: 3 },
  einsum: {
    op: 'Einsum',
    opset: 12,
    inputs: [f32([2, 3, 4, 5], 2), f32([3, 2, 5], 3)],
    attrs: { equation: 'bhwc,hkc->bhwk' },
  },
  convtranspose: {
    op: 'ConvTranspose',
    inputs: [x, f32([2, 3, 2, 2], 2)],
    attrs: { strides: [2, 2], output_padding: [1, 0] },
  },
  deformconv: {
    op: 'DeformConv',
    opset: 19,
    inputs: [x, f32([2, 2, 2, 2], 2), f32([1, 8, 2, 3], 3, -2, 2), f32([2], 4), f32([1, 4, 2, 3], 5)],
  },
  matmulinteger: {
    op: 'MatMulInteger',
    inputs: [
      ints([2, 3], [1, 2, 3, 4, 5, 6], 'uint8'),
      ints([3, 2], [9, 8, 7, 6, 5, 4], 'uint8'),
      ints([], [3], 'uint8'),
    ],
  },
  cast: { op: 'Cast', inputs: [x], attrs: { to: 7 } },
};

let n = 0;
for (const [name, c] of Object.entries(cases))
  for (const folded of [false, true]) {
    const bytes = buildModel(opGraph(c, folded).spec);
    writeFileSync(path.join(dir, `${name}${folded ? '-folded' : ''}.onnx`), bytes);
    n++;
  }
// Patterns fused at load (onnx/fuse_transformer.h) and views: the written-out LayerNorm, and a
// Gather of consecutive leading indices read by an elementwise op that may write in place.
const graphs = {
  'layernorm-written-out': packGraph(
    {
      x: f32([1, 3, 4], 4),
      two: konst({ dims: [], data: [2] }),
      eps: konst({ dims: [], data: [1e-5] }),
      g: konst(f32([4], 5)),
      b: konst(f32([4], 6)),
    },
    [
      { op: 'ReduceMean', inputs: ['x'], outputs: ['m'], attrs: { axes: [-1] } },
      { op: 'Sub', inputs: ['x', 'm'], outputs: ['d'] },
      { op: 'Pow', inputs: ['d', 'two'], outputs: ['d2'] },
      { op: 'ReduceMean', inputs: ['d2'], outputs: ['v'], attrs: { axes: [-1] } },
      { op: 'Add', inputs: ['v', 'eps'], outputs: ['ve'] },
      { op: 'Sqrt', inputs: ['ve'], outputs: ['s'] },
      { op: 'Div', inputs: ['d', 's'], outputs: ['n'] },
      { op: 'Mul', inputs: ['n', 'g'], outputs: ['ng'] },
      { op: 'Add', inputs: ['ng', 'b'], outputs: ['y'] },
    ],
    ['y'],
  ),
  'gather-view': packGraph(
    { x: f32([1, 3, 4], 7), i: konst(ints([2], [1, 2])), c: konst(f32([4], 8)) },
    [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Gather', inputs: ['r', 'i'], outputs: ['g'], attrs: { axis: 1 } },
      { op: 'Add', inputs: ['g', 'c'], outputs: ['a'] },
      { op: 'Mul', inputs: ['r', 'r'], outputs: ['m'] },
    ],
    ['a', 'm'],
  ),
};
for (const [name, p] of Object.entries(graphs)) {
  writeFileSync(path.join(dir, `${name}.onnx`), buildModel(p.spec));
  n++;
}
console.log(`wrote ${n} seeds to ${path.relative(root, dir)}`);
