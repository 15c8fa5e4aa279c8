/**
 * The fast paths the transformer segmenters run through, against onnxruntime-node: Transpose of
 * any rank, dtype and permutation (rows copied whole or tiles transposed, size-1 axes dropped,
 * neighbours merged, split over threads), broadcasting arithmetic of any rank, results written over
 * operands read for the last time, MatMul over many small batch entries and with a shared
 * weight, the fusions made at load (a Linear's MatMul + bias Add, the exact GELU written out as
 * Div / Erf / Add / Mul / Mul) in every operand order and their near misses that must not fuse,
 * Erf over its whole range, Softmax on every axis and LayerNormalization on wide rows, Split along
 * the leading axes as views.
 */
import { describe, it } from 'vitest';

import {
  EXACT,
  FP32,
  type Operand,
  expectLikeOrt,
  expectOp,
  f32,
  konst,
  packGraph,
  randInts,
} from './helpers/onnx-op-check.js';

const transposeGraph = (x: Operand, perm: number[]) =>
  packGraph({ x }, [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm } }], ['y']);

const permutations = (r: number): number[][] => {
  if (r === 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(r - 1))
    for (let k = 0; k <= p.length; k++) out.push([...p.slice(0, k), r - 1, ...p.slice(k)]);
  return out;
};

describe('Transpose', () => {
  it('every permutation of a rank-4 float tensor, with and without size-1 axes', async () => {
    for (const dims of [
      [3, 5, 4, 6],
      [2, 1, 7, 3],
      [1, 9, 1, 17],
    ]) {
      const x = f32(dims, dims[1]!);
      for (const perm of permutations(4)) {
        await expectLikeOrt(`transpose ${dims} ${perm}`, transposeGraph(x, perm), EXACT, 2);
      }
    }
  });
  it("Swin's window partition and head split at a size that spreads over threads, in tiles", async () => {
    const cases: [number[], number[]][] = [
      [
        [1, 4, 8, 4, 8, 24],
        [0, 1, 3, 2, 4, 5],
      ],
      [
        [2, 64, 3, 4, 16],
        [2, 0, 3, 1, 4],
      ],
      [
        [8, 3, 64, 16],
        [0, 1, 3, 2],
      ],
      [
        [37, 129],
        [1, 0],
      ],
      [
        [5, 33, 70],
        [2, 0, 1],
      ],
    ];
    for (const [dims, perm] of cases) {
      const x = f32(dims, 7);
      await expectLikeOrt(`transpose ${dims} ${perm}`, transposeGraph(x, perm), EXACT, 2);
    }
  });
  it('int64, uint8, bool and the default (reversed) permutation', async () => {
    const t = (label: string, x: Operand, perm: number[]) =>
      expectOp(label, { op: 'Transpose', inputs: [x], attrs: { perm } }, EXACT);
    await t('transpose int64', randInts([3, 4, 5], 1, -1e6, 1e6), [1, 2, 0]);
    await t('transpose uint8', randInts([2, 3, 20], 2, 0, 255, 'uint8'), [2, 0, 1]);
    await t('transpose bool', randInts([4, 6], 3, 0, 1, 'bool'), [1, 0]);
    await expectOp('transpose reversed', { op: 'Transpose', inputs: [f32([2, 3, 4, 5], 4)] }, EXACT);
  });
});

describe('MatMul', () => {
  it('many small products, broadcast either way, and a shared weight', async () => {
    const cases: [number[], number[]][] = [
      [
        [48, 3, 16, 8],
        [48, 3, 8, 16],
      ],
      [
        [48, 3, 16, 8],
        [3, 8, 5],
      ],
      [
        [1, 3, 16, 8],
        [40, 1, 8, 16],
      ],
      [
        [200, 7, 12],
        [12, 9],
      ],
      [
        [6, 1, 12],
        [6, 12, 1],
      ],
    ];
    for (const [da, db] of cases) {
      const ops = { a: f32(da, 11), b: f32(db, 12) };
      const g = packGraph(ops, [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], ['y']);
      await expectLikeOrt(`matmul ${da} @ ${db}`, g, FP32, 2);
    }
  });
});

describe('broadcasting arithmetic', () => {
  it("SAM's relative-position terms, size-1 axes anywhere, scalars and rank 9", async () => {
    const cases: [number[], number[]][] = [
      [
        [6, 5, 7, 5, 7],
        [6, 5, 7, 5, 1],
      ],
      [
        [6, 5, 7, 5, 7],
        [6, 5, 7, 1, 7],
      ],
      [
        [2, 1, 3, 9],
        [4, 1, 1],
      ],
      [
        [1, 3, 1, 40],
        [5, 1, 8, 1],
      ],
      [
        [3, 1, 2, 1, 2, 1, 2, 1, 5],
        [1, 4, 1, 3, 1, 2, 1, 2, 1],
      ],
      [[1], [4, 3]],
      [[], [5, 2]],
    ];
    for (const [da, db] of cases)
      for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
        const ops = { a: f32(da, 61), b: f32(db, 62, 0.5, 2) };
        const g = packGraph(ops, [{ op, inputs: ['a', 'b'], outputs: ['y'] }], ['y']);
        await expectLikeOrt(`${op} ${da} ${db}`, g, EXACT, 2);
      }
  });
});

describe('results written over operands read for the last time', () => {
  it('only where no later node and no reshaped view still reads the operand', async () => {
    const nodes = [
      { op: 'Add', inputs: ['x', 'c'], outputs: ['a'] },
      { op: 'Reshape', inputs: ['a', 'flat'], outputs: ['r'] },
      { op: 'Mul', inputs: ['r', 'c2'], outputs: ['m'] },
      { op: 'Erf', inputs: ['m'], outputs: ['e'] },
      { op: 'Reshape', inputs: ['e', 'back'], outputs: ['e4'] },
      { op: 'Sub', inputs: ['a', 'e4'], outputs: ['d'] },
      { op: 'Softmax', inputs: ['d'], outputs: ['s'], attrs: { axis: 2 } },
      { op: 'Add', inputs: ['s', 'a'], outputs: ['y'] },
    ];
    const operands = {
      x: f32([2, 3, 40], 71, -2, 2),
      c: konst(f32([40], 72)),
      c2: konst(f32([1], 73)),
      flat: konst({ dtype: 'int64', dims: [1], data: [-1] }),
      back: konst({ dtype: 'int64', dims: [3], data: [2, 3, 40] }),
    };
    await expectLikeOrt('in-place chain', packGraph(operands, nodes, ['y', 'e']), FP32, 2);
  });
  it('Split along the leading axes: views, each written over only once the others are gone', async () => {
    const nodes = [
      { op: 'Add', inputs: ['x', 'c'], outputs: ['qkv'] },
      { op: 'Split', inputs: ['qkv'], outputs: ['p0', 'p1', 'p2'], attrs: { axis: 1 } },
      { op: 'Erf', inputs: ['p0'], outputs: ['e0'] },
      { op: 'Neg', inputs: ['p1'], outputs: ['n1'] },
      { op: 'Add', inputs: ['p2', 'e0'], outputs: ['a2'] },
      { op: 'Mul', inputs: ['a2', 'n1'], outputs: ['y'] },
      { op: 'Split', inputs: ['x'], outputs: ['h0', 'h1'], attrs: { axis: 2 } },
    ];
    const operands = { x: f32([1, 3, 4, 50], 74, -2, 2), c: konst(f32([50], 75)) };
    await expectLikeOrt('split views', packGraph(operands, nodes, ['y', 'p1', 'h1', 'qkv']), FP32, 2);
  });
});

describe('fusions made at load', () => {
  const linear = (bias: number[], order: 'yb' | 'by', extraUse = false) => {
    const nodes = [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
      { op: 'Add', inputs: order === 'yb' ? ['xw', 'b'] : ['b', 'xw'], outputs: ['y'] },
    ];
    if (extraUse) nodes.push({ op: 'Neg', inputs: ['xw'], outputs: ['n'] });
    const operands = { x: f32([3, 70, 40], 21), w: konst(f32([40, 24], 22)), b: konst(f32(bias, 23)) };
    return packGraph(operands, nodes, extraUse ? ['y', 'n'] : ['y']);
  };
  it("a Linear's MatMul + bias Add in both orders, and the forms that stay apart", async () => {
    await expectLikeOrt('linear bias', linear([24], 'yb'), FP32, 2);
    await expectLikeOrt('linear bias first', linear([24], 'by'), FP32, 2);
    await expectLikeOrt('linear bias (1, 24)', linear([1, 24], 'yb'), FP32, 2);
    await expectLikeOrt('linear bias (1, 1, 1, 24) widens the rank', linear([1, 1, 1, 24], 'yb'), FP32, 2);
    await expectLikeOrt('linear product read twice', linear([24], 'yb', true), FP32, 2);
  });
  it('a Transpose of the last two axes read as MatMul B, and the Transposes that stay', async () => {
    const attention = (perm: number[], dims: number[], twice = false) => {
      const nodes = [
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm } },
        { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'] },
      ];
      if (twice) nodes.push({ op: 'Neg', inputs: ['kt'], outputs: ['n'] });
      const q = f32([...dims.slice(0, -2), 9, dims.at(-1)!], 81);
      return packGraph({ q, k: f32(dims, 82) }, nodes, twice ? ['s', 'n'] : ['s']);
    };
    await expectLikeOrt('q @ k^T', attention([0, 1, 3, 2], [3, 4, 11, 8]), FP32, 2);
    await expectLikeOrt('q @ k^T rank 2', attention([1, 0], [30, 16]), FP32, 2);
    await expectLikeOrt('q @ k^T read twice', attention([0, 2, 1], [5, 12, 7], true), FP32, 2);
    const mixed = packGraph(
      { q: f32([6, 4, 3], 83), k: f32([4, 5, 6], 84) },
      [
        { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [2, 1, 0] } },
        { op: 'MatMul', inputs: ['kt', 'q'], outputs: ['s'] },
      ],
      ['s'],
    );
    await expectLikeOrt('transpose read as A', mixed, FP32, 2);
  });
  const gelu = (o: { mul?: boolean; swap?: boolean; one?: number; half?: number; root?: number } = {}) => {
    const sw = (a: string, b: string) => (o.swap ? [b, a] : [a, b]);
    const nodes = [
      o.mul ? { op: 'Mul', inputs: sw('x', 'r'), outputs: ['d'] } : { op: 'Div', inputs: ['x', 'r'], outputs: ['d'] },
      { op: 'Erf', inputs: ['d'], outputs: ['e'] },
      { op: 'Add', inputs: sw('e', 'one'), outputs: ['a'] },
      { op: 'Mul', inputs: sw('x', 'a'), outputs: ['m'] },
      { op: 'Mul', inputs: sw('m', 'half'), outputs: ['y'] },
    ];
    const operands = {
      x: f32([4, 50, 33], 31, -5, 5),
      r: konst({ dims: [], data: [o.root ?? (o.mul ? Math.SQRT1_2 : Math.SQRT2)] }),
      one: konst({ dims: [], data: [o.one ?? 1] }),
      half: konst({ dims: [], data: [o.half ?? 0.5] }),
    };
    return packGraph(operands, nodes, ['y']);
  };
  it('the exact GELU written out, in every operand order', async () => {
    await expectLikeOrt('gelu div', gelu(), FP32, 2);
    await expectLikeOrt('gelu div swapped', gelu({ swap: true }), FP32, 2);
    await expectLikeOrt('gelu mul', gelu({ mul: true }), FP32, 2);
    await expectLikeOrt('gelu mul swapped', gelu({ mul: true, swap: true }), FP32, 2);
  });
  it('GELU applied by the product it follows, and the forms that stay apart', async () => {
    const linearGelu = (o: { bias?: boolean; batchedB?: boolean; approximate?: string; readTwice?: boolean } = {}) => {
      const nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, string> }[] = [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: [o.bias ? 'xw' : 'h'] },
      ];
      if (o.bias) nodes.push({ op: 'Add', inputs: ['xw', 'b'], outputs: ['h'] });
      const attrs = o.approximate ? { approximate: o.approximate } : undefined;
      nodes.push({ op: 'Gelu', inputs: ['h'], outputs: ['y'], ...(attrs ? { attrs } : {}) });
      if (o.readTwice) nodes.push({ op: 'Neg', inputs: ['h'], outputs: ['n'] });
      const w = o.batchedB ? f32([3, 40, 70], 42) : konst(f32([40, 70], 42));
      const operands = { x: f32([3, 50, 40], 41, -2, 2), w, b: konst(f32([70], 43)) };
      return packGraph(operands, nodes, o.readTwice ? ['y', 'n'] : ['y'], { opset: 20 });
    };
    await expectLikeOrt('linear gelu', linearGelu(), FP32, 2);
    await expectLikeOrt('linear bias gelu', linearGelu({ bias: true }), FP32, 2);
    await expectLikeOrt('batched product gelu', linearGelu({ batchedB: true }), FP32, 2);
    await expectLikeOrt('gelu tanh stays apart', linearGelu({ bias: true, approximate: 'tanh' }), FP32, 2);
    await expectLikeOrt('product read twice stays apart', linearGelu({ bias: true, readTwice: true }), FP32, 2);
    // The written-out GELU after a Linear: fused to Gelu, then into the product.
    const written = packGraph(
      {
        x: f32([2, 30, 40], 44, -3, 3),
        w: konst(f32([40, 33], 45)),
        b: konst(f32([33], 46)),
        r: konst({ dims: [], data: [Math.SQRT2] }),
        one: konst({ dims: [], data: [1] }),
        half: konst({ dims: [], data: [0.5] }),
      },
      [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['h'] },
        { op: 'Div', inputs: ['h', 'r'], outputs: ['d'] },
        { op: 'Erf', inputs: ['d'], outputs: ['e'] },
        { op: 'Add', inputs: ['e', 'one'], outputs: ['a'] },
        { op: 'Mul', inputs: ['h', 'a'], outputs: ['m'] },
        { op: 'Mul', inputs: ['m', 'half'], outputs: ['y'] },
      ],
      ['y'],
    );
    await expectLikeOrt('linear written-out gelu', written, FP32, 2);
  });
  it('a skip connection added by the product it follows, and the forms that stay apart', async () => {
    const skip = (o: { bias?: boolean; batchedB?: boolean; rDims?: number[]; late?: boolean; readTwice?: boolean }) => {
      const nodes: { op: string; inputs: string[]; outputs: string[] }[] = [
        { op: 'MatMul', inputs: ['x', 'w'], outputs: [o.bias ? 'xw' : 'h'] },
      ];
      if (o.bias) nodes.push({ op: 'Add', inputs: ['xw', 'b'], outputs: ['h'] });
      // late: the addend is computed after the product, in node order.
      if (o.late) nodes.push({ op: 'Neg', inputs: ['r0'], outputs: ['r'] });
      nodes.push({ op: 'Add', inputs: ['r', 'h'], outputs: ['y'] });
      if (o.readTwice) nodes.push({ op: 'Neg', inputs: ['h'], outputs: ['n'] });
      const w = o.batchedB ? f32([3, 40, 70], 52) : konst(f32([40, 70], 52));
      const r = f32(o.rDims ?? [3, 50, 70], 54);
      const operands = { x: f32([3, 50, 40], 51), w, b: konst(f32([70], 53)), ...(o.late ? { r0: r } : { r }) };
      return packGraph(operands, nodes, o.readTwice ? ['y', 'n'] : ['y']);
    };
    await expectLikeOrt('linear + skip', skip({}), FP32, 2);
    await expectLikeOrt('linear bias + skip', skip({ bias: true }), FP32, 2);
    await expectLikeOrt('linear + skip computed later', skip({ bias: true, late: true }), FP32, 2);
    await expectLikeOrt('batched product + skip', skip({ batchedB: true }), FP32, 2);
    await expectLikeOrt('skip broadcast into the product', skip({ rDims: [50, 1] }), FP32, 2);
    await expectLikeOrt('skip that widens the product', skip({ rDims: [2, 1, 50, 70] }), FP32, 2);
    await expectLikeOrt('product read twice stays apart', skip({ bias: true, readTwice: true }), FP32, 2);
  });
  it('near misses compute what they say', async () => {
    await expectLikeOrt('not gelu: + 2', gelu({ one: 2 }), FP32, 2);
    await expectLikeOrt('not gelu: × 0.25', gelu({ half: 0.25 }), FP32, 2);
    await expectLikeOrt('not gelu: / 1.5', gelu({ root: 1.5 }), FP32, 2);
  });
});

describe('Erf, Softmax and LayerNormalization', () => {
  it('Erf from −6 to 6 and at special values', async () => {
    await expectOp('erf range', { op: 'Erf', inputs: [f32([3, 1001], 41, -6, 6)] });
    const special = [0, -0, 1e-30, -1e-8, 0.4999, 0.5, 0.5001, -0.5, 3.9, 4, 10, -10, 1e30, -1e30];
    special.push(Infinity, -Infinity, NaN);
    await expectOp('erf special', { op: 'Erf', inputs: [{ dtype: 'float32', dims: [special.length], data: special }] });
  });
  it('Softmax on every axis of a rank-4 tensor, rows of 1 to 300', async () => {
    for (const dims of [
      [2, 3, 7, 64],
      [1, 2, 5, 300],
      [3, 1, 4, 1],
    ])
      for (const axis of [-1, -2, 0, 1, 2])
        await expectOp(`softmax ${dims} axis ${axis}`, {
          op: 'Softmax',
          opset: 13,
          inputs: [f32(dims, 51, -20, 20)],
          attrs: { axis },
        });
  });
  it('Softmax over a row with −inf entries', async () => {
    const row = [-Infinity, 1, 2, -Infinity, 3, 0, -1e30, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const x: Operand = { dtype: 'float32', dims: [1, row.length], data: row };
    await expectOp('softmax -inf', { op: 'Softmax', opset: 13, inputs: [x] });
  });
  it('LayerNormalization on rows of 1 to 1000 channels with offsets far from zero', async () => {
    for (const c of [1, 15, 96, 1000])
      await expectOp(`layernorm ${c}`, {
        op: 'LayerNormalization',
        opset: 17,
        inputs: [f32([3, 17, c], c, 90, 110), f32([c], 2), f32([c], 3)],
        attrs: { epsilon: 1e-5 },
      });
  });
});
