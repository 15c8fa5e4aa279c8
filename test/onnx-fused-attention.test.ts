/**
 * Attention fused at load (#ScoredAttention: Q·Kᵀ → scale → bias → Softmax → ·V, the scores a block
 * of query rows at a time) against onnxruntime-node: Swin's window form (scale on Q, Kᵀ by a
 * Transpose, a relative-position bias per head and a mask per window), SAM's global form (scores
 * viewed as (h, w, h, w) for the decomposed rel_h / rel_w terms, long enough for several row
 * blocks), a Div scale with K already transposed, and the near misses: shapes the fused node
 * hands back to the original kernels at run time (a view that does not split the query and key
 * axes, a bias or V that widens the scores) and chains that must not fuse (Softmax on another
 * axis, scores read twice).
 */
import { describe, it } from 'vitest';

import type { NodeSpec, PlainAttr } from './helpers/onnx-builder.js';
import { FP32, type Operand, expectLikeOrt, f32, ints, konst, packGraph } from './helpers/onnx-op-check.js';

interface Chain {
  q: Operand;
  k: Operand;
  v: Operand;
  /** Transpose of K's last two axes (the form exporters write); false: K arrives as (…, D, Nk). */
  kt: number[] | false;
  scale?: { op: 'Mul' | 'Div'; value: number };
  /** Mul(q, c) before the product (c of shape `dims`, a scalar by default), `twice`: q·c also an output. */
  qScale?: { value: number; dims?: number[]; twice?: boolean };
  view?: number[];
  back?: number[];
  bias?: Operand[];
  axis?: number;
  readScoresTwice?: boolean;
  opset?: number;
}

function attention(c: Chain) {
  const operands: Record<string, Operand> = { q: c.q, k: c.k, v: c.v };
  const nodes: NodeSpec[] = [];
  let k = 'k';
  if (c.kt) {
    nodes.push({ op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: c.kt } });
    k = 'kt';
  }
  let q = 'q';
  if (c.qScale) {
    const dims = c.qScale.dims ?? [];
    operands.qc = konst({ dims, data: [c.qScale.value] });
    nodes.push({ op: 'Mul', inputs: ['q', 'qc'], outputs: ['qs'] });
    q = 'qs';
  }
  nodes.push({ op: 'MatMul', inputs: [q, k], outputs: ['s0'] });
  let s = 's0';
  const next = (op: string, inputs: string[], attrs?: Record<string, PlainAttr>) => {
    const out = `s${nodes.length}`;
    nodes.push({ op, inputs, outputs: [out], ...(attrs ? { attrs } : {}) });
    s = out;
  };
  if (c.scale) {
    operands.scale = konst({ dims: [], data: [c.scale.value] });
    next(c.scale.op, [s, 'scale']);
  }
  if (c.view) {
    operands.view = konst(ints([c.view.length], c.view));
    next('Reshape', [s, 'view']);
  }
  (c.bias ?? []).forEach((b, i) => {
    operands[`b${i}`] = b;
    next('Add', i % 2 ? [`b${i}`, s] : [s, `b${i}`]);
  });
  if (c.back) {
    operands.back = konst(ints([c.back.length], c.back));
    next('Reshape', [s, 'back']);
  }
  const scores = s;
  next('Softmax', [s], { axis: c.axis ?? -1 });
  next('MatMul', [s, 'v']);
  const outputs = [s];
  if (c.qScale?.twice) outputs.push('qs');
  if (c.readScoresTwice) {
    nodes.push({ op: 'Neg', inputs: [scores], outputs: ['n'] });
    outputs.push('n');
  }
  return packGraph(operands, nodes, outputs, { opset: c.opset ?? 13 });
}

describe('attention fused at load', () => {
  it("Swin's window attention: scale on Q, a bias per head and a mask per window", async () => {
    const [w, h, n, d] = [6, 3, 16, 8];
    const graph = attention({
      q: f32([w, h, n, d], 1),
      k: f32([w, h, n, d], 2),
      v: f32([w, h, n, d], 3),
      kt: [0, 1, 3, 2],
      bias: [konst(f32([1, h, n, n], 4)), konst(f32([w, 1, n, n], 5, -100, 0))],
    });
    await expectLikeOrt('swin window attention', graph, FP32, 2);
    const scaled = attention({
      q: f32([w, h, n, d], 6),
      k: f32([w, h, n, d], 7),
      v: f32([w, h, n, 5], 8),
      kt: [0, 1, 3, 2],
      scale: { op: 'Mul', value: 0.35 },
      bias: [f32([h, n, n], 9)],
    });
    await expectLikeOrt('scaled scores, computed bias, narrower V', scaled, FP32, 2);
    const qScaled = attention({
      q: f32([w, h, n, d], 10),
      k: f32([w, h, n, d], 2),
      v: f32([w, h, n, d], 3),
      kt: [0, 1, 3, 2],
      qScale: { value: 0.25 },
      bias: [konst(f32([1, h, n, n], 4))],
    });
    await expectLikeOrt('scale on Q', qScaled, FP32, 2);
    // Real window sizes: 7 × 7 (keys not a multiple of 16, V wider than one register tile) and
    // 12 × 12 (more queries than one block of rows).
    for (const [nw, nh, len, depth, dv] of [
      [3, 2, 49, 32, 80],
      [2, 2, 144, 16, 24],
    ] as const) {
      const real = attention({
        q: f32([nw, nh, len, depth], 41),
        k: f32([nw, nh, len, depth], 42),
        v: f32([nw, nh, len, dv], 43),
        kt: [0, 1, 3, 2],
        qScale: { value: 1 / Math.sqrt(depth) },
        bias: [konst(f32([1, nh, len, len], 44)), konst(f32([nw, 1, len, len], 45, -100, 0))],
      });
      await expectLikeOrt(`swin ${len}-token windows`, real, FP32, 2);
    }
  });
  it("SAM's global attention: decomposed rel_h / rel_w over several row blocks", async () => {
    for (const [b, side, d] of [
      [2, 10, 8],
      [1, 36, 4],
    ] as const) {
      const n = side * side;
      const graph = attention({
        q: f32([b, n, d], 11),
        k: f32([b, n, d], 12),
        v: f32([b, n, d], 13),
        kt: [0, 2, 1],
        scale: { op: 'Mul', value: 1 / Math.sqrt(d) },
        view: [b, side, side, side, side],
        bias: [f32([b, side, side, side, 1], 14, -2, 2), f32([b, side, side, 1, side], 15, -2, 2)],
        back: [b, n, n],
      });
      await expectLikeOrt(`sam global attention ${side}x${side}`, graph, FP32, 2);
    }
  });
  it('a Div scale with K already transposed, a broadcast Q and opset 11', async () => {
    const graph = attention({
      q: f32([20, 8], 21),
      k: f32([3, 8, 30], 22),
      v: f32([3, 30, 6], 23),
      kt: false,
      scale: { op: 'Div', value: 2.5 },
      opset: 11,
    });
    await expectLikeOrt('div scale, K given as (D, Nk)', graph, FP32, 2);
  });
  it('shapes handed back to the original kernels compute what the graph says', async () => {
    const base = { q: f32([2, 4, 8], 31), k: f32([2, 9, 8], 32), kt: [0, 2, 1] };
    // A view whose batch axis is not the scores' own: the Reshapes reinterpret across axes.
    const across = attention({
      ...base,
      v: f32([2, 9, 5], 33),
      view: [1, 2, 4, 3, 3],
      bias: [f32([1, 1, 1, 3, 3], 34)],
      back: [2, 4, 9],
    });
    await expectLikeOrt('view across axes', across, FP32, 2);
    const widened = attention({ ...base, v: f32([2, 9, 5], 35), bias: [f32([3, 1, 4, 9], 36)] });
    await expectLikeOrt('bias widens the scores', widened, FP32, 2);
    const wideV = attention({ q: f32([4, 8], 37), k: f32([9, 8], 38), v: f32([3, 9, 5], 39), kt: [1, 0] });
    await expectLikeOrt('V widens the batch', wideV, FP32, 2);
    const wideScale = attention({ ...base, v: f32([2, 9, 5], 40), qScale: { value: 0.5, dims: [1, 1, 1, 1] } });
    await expectLikeOrt('scale on Q widens Q', wideScale, FP32, 2);
  });
  it('chains that must not fuse', async () => {
    const c = { q: f32([2, 9, 8], 41), k: f32([2, 9, 8], 42), v: f32([2, 9, 5], 43), kt: [0, 2, 1] };
    await expectLikeOrt('softmax over queries', attention({ ...c, axis: 1 }), FP32, 2);
    await expectLikeOrt('scores read twice', attention({ ...c, readScoresTwice: true }), FP32, 2);
    // Q·c read elsewhere too: the scale stays a Mul, the rest still fuses.
    await expectLikeOrt('scaled Q read twice', attention({ ...c, qScale: { value: 0.3, twice: true } }), FP32, 2);
  });
});

interface Projection {
  /** Windows (batch), tokens (a side × side map), heads, head width. */
  b: number;
  side: number;
  heads: number;
  d: number;
  /** Perm of the [b, n, 3, heads, d] projection (the exporters': [2, 0, 3, 1, 4]). */
  perm?: number[];
  /** SAM's form: Reshape to [3, b·heads, n, d] before the Split, the output through [b, heads, h, w, d]. */
  sam?: boolean;
  /** Which Split output is Q, K, V. */
  order?: [number, number, number];
  splitSizes?: boolean;
  /** Q also a graph output (the parts then stay computed). */
  qOut?: boolean;
  /** The output's Transpose (Swin's: [0, 2, 1, 3]). */
  outPerm?: number[];
}

// Q, K, V out of one projection X [b, n, 3·heads·d] (Reshape → Transpose → [Reshape] → Split →
// Squeeze), Swin's bias per head, the output through Transpose → Reshape as the exporters write it.
function projected(p: Projection) {
  const { b, side, heads, d } = p;
  const n = side * side;
  const [iq, ik, iv] = p.order ?? [0, 1, 2];
  const operands: Record<string, Operand> = {
    x: f32([b, n, 3 * heads * d], 61),
    s5: konst(ints([5], [b, n, 3, heads, d])),
    zero: konst(ints([1], [0])),
    scale: konst({ dims: [], data: [1 / Math.sqrt(d)] }),
    bias: konst(f32([heads, n, n], 62, -1, 1)),
  };
  const nodes: NodeSpec[] = [
    { op: 'Reshape', inputs: ['x', 's5'], outputs: ['x5'] },
    { op: 'Transpose', inputs: ['x5'], outputs: ['t'], attrs: { perm: p.perm ?? [2, 0, 3, 1, 4] } },
  ];
  let split = 't';
  if (p.sam) {
    operands.s4 = konst(ints([4], [3, b * heads, n, d]));
    nodes.push({ op: 'Reshape', inputs: ['t', 's4'], outputs: ['t4'] });
    split = 't4';
  }
  if (p.splitSizes) operands.sizes = konst(ints([3], [1, 1, 1]));
  nodes.push({ op: 'Split', inputs: p.splitSizes ? [split, 'sizes'] : [split], outputs: ['p0', 'p1', 'p2'] });
  for (const [name, i] of [
    ['q', iq],
    ['k', ik],
    ['v', iv],
  ] as const)
    nodes.push({ op: 'Squeeze', inputs: [`p${i}`, 'zero'], outputs: [name] });
  const rank = p.sam ? 3 : 4;
  const kt = rank === 3 ? [0, 2, 1] : [0, 1, 3, 2];
  nodes.push(
    { op: 'Mul', inputs: ['q', 'scale'], outputs: ['qs'] },
    { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: kt } },
    { op: 'MatMul', inputs: ['qs', 'kt'], outputs: ['s'] },
  );
  if (p.sam) {
    operands.view = konst(ints([4], [b, heads, n, n]));
    operands.back = konst(ints([3], [b * heads, n, n]));
    nodes.push(
      { op: 'Reshape', inputs: ['s', 'view'], outputs: ['sv'] },
      { op: 'Add', inputs: ['sv', 'bias'], outputs: ['sb'] },
      { op: 'Reshape', inputs: ['sb', 'back'], outputs: ['sc'] },
    );
  } else {
    nodes.push({ op: 'Add', inputs: ['s', 'bias'], outputs: ['sc'] });
  }
  nodes.push(
    { op: 'Softmax', inputs: ['sc'], outputs: ['a'], attrs: { axis: -1 } },
    { op: 'MatMul', inputs: ['a', 'v'], outputs: ['o'] },
  );
  if (p.sam) {
    operands.o5 = konst(ints([5], [b, heads, side, side, d]));
    operands.y4 = konst(ints([4], [b, side, side, heads * d]));
    nodes.push(
      { op: 'Reshape', inputs: ['o', 'o5'], outputs: ['o5v'] },
      { op: 'Transpose', inputs: ['o5v'], outputs: ['ot'], attrs: { perm: p.outPerm ?? [0, 2, 3, 1, 4] } },
      { op: 'Reshape', inputs: ['ot', 'y4'], outputs: ['y'] },
    );
  } else {
    operands.y3 = konst(ints([3], [b, n, heads * d]));
    nodes.push(
      { op: 'Transpose', inputs: ['o'], outputs: ['ot'], attrs: { perm: p.outPerm ?? [0, 2, 1, 3] } },
      { op: 'Reshape', inputs: ['ot', 'y3'], outputs: ['y'] },
    );
  }
  return packGraph(operands, nodes, p.qOut ? ['y', 'q'] : ['y'], { opset: 13 });
}

describe('attention reading Q, K, V out of one projection and writing the layout after it', () => {
  it("Swin's and SAM's forms, the parts in any order, split sizes given or not", async () => {
    await expectLikeOrt('swin qkv', projected({ b: 6, side: 4, heads: 3, d: 8 }), FP32, 2);
    await expectLikeOrt('swin qkv sizes', projected({ b: 2, side: 3, heads: 2, d: 5, splitSizes: true }), FP32, 2);
    await expectLikeOrt('qkv reordered', projected({ b: 3, side: 4, heads: 2, d: 8, order: [2, 0, 1] }), FP32, 2);
    await expectLikeOrt('sam qkv', projected({ b: 4, side: 5, heads: 3, d: 8, sam: true }), FP32, 2);
    // Long enough for several blocks of query rows (K and V packed once per head).
    await expectLikeOrt('sam global qkv', projected({ b: 1, side: 13, heads: 2, d: 16, sam: true }), FP32, 2);
  });
  it('near misses: a part read elsewhere, layouts the strides cannot give', async () => {
    await expectLikeOrt('q read twice', projected({ b: 2, side: 4, heads: 2, d: 8, qOut: true }), FP32, 2);
    // Head width not innermost after the Transpose (tokens and width both 4): the parts are computed.
    await expectLikeOrt(
      'qkv perm moves d',
      projected({ b: 2, side: 2, heads: 2, d: 4, perm: [2, 0, 3, 4, 1] }),
      FP32,
      2,
    );
    // The output Transpose keeps heads outside tokens, or moves the head width: written by the Transpose.
    await expectLikeOrt(
      'out perm keeps order',
      projected({ b: 2, side: 3, heads: 2, d: 8, outPerm: [0, 1, 2, 3] }),
      FP32,
      2,
    );
    await expectLikeOrt(
      'out perm moves d',
      projected({ b: 2, side: 4, heads: 2, d: 4, outPerm: [0, 3, 1, 2] }),
      FP32,
      2,
    );
    await expectLikeOrt(
      'sam out perm',
      projected({ b: 2, side: 3, heads: 2, d: 8, sam: true, outPerm: [0, 3, 2, 1, 4] }),
      FP32,
      2,
    );
  });
});
