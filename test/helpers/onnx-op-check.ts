/**
 * Single-op and small-pattern checks against onnxruntime-node. The Segmenter takes one float
 * image, so each operand of any dtype is carried inside that image: the graph flattens x, slices
 * each operand out, reshapes it and casts it to its dtype, then runs the op. The same op with its
 * operands as initializers is folded by bg-native when the model loads; both forms must give
 * onnxruntime's result (exactly for integer and bool results, within a float tolerance else).
 */
import { expect } from 'vitest';

import {
  type DataType,
  type ModelSpec,
  type NodeSpec,
  type PlainAttr,
  type TensorSpec,
  ONNX_DTYPE,
  randomArray,
  rng,
  writeModel,
} from './onnx-builder.js';
import { runOrt, runOurs } from './onnx-run.js';

export interface Operand {
  dtype?: DataType;
  dims: number[];
  data: ArrayLike<number>;
  /** Always an initializer (an operand the op needs at load time). */
  constant?: boolean;
}

export interface Tolerance {
  /** Largest |Δ| allowed relative to max(1, |reference|); 0 means bit-exact. */
  rel: number;
}

export const EXACT: Tolerance = { rel: 0 };
export const FP32: Tolerance = { rel: 1e-5 };

/** Operand helpers. */
export function f32(dims: number[], seed: number, lo = -1, hi = 1): Operand {
  return {
    dtype: 'float32',
    dims,
    data: randomArray(
      rng(seed),
      dims.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
  };
}
export function ints(dims: number[], values: number[], dtype: DataType = 'int64'): Operand {
  return { dtype, dims, data: values };
}
export function randInts(dims: number[], seed: number, lo: number, hi: number, dtype: DataType = 'int64'): Operand {
  const r = rng(seed);
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype, dims, data: Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1))) };
}
export function konst(o: Operand): Operand {
  return { ...o, constant: true };
}

export interface Packed {
  spec: ModelSpec;
  x: { shape: number[]; data: Float32Array };
}

/**
 * A graph whose runtime operands come out of x. `operands` maps value names to operands
 * (null: an omitted optional input is simply not listed in `nodes`); `folded` makes every
 * operand an initializer.
 */
export function packGraph(
  operands: Record<string, Operand>,
  nodes: NodeSpec[],
  outputs: (string | { name: string; dtype: DataType })[],
  opts: { opset?: number; folded?: boolean } = {},
): Packed {
  const runtime = Object.entries(operands).filter(([, o]) => !o.constant && !opts.folded);
  const total = runtime.reduce((a, [, o]) => a + o.data.length, 0);
  const L = Math.max(1, Math.ceil(total / 3));
  const x = new Float32Array(3 * L);
  const pre: NodeSpec[] = [];
  const inits: TensorSpec[] = [{ name: 'pack_flat_shape', dtype: 'int64', dims: [1], data: [-1] }];
  pre.push({ op: 'Reshape', inputs: ['packed_input', 'pack_flat_shape'], outputs: ['pack_flat'] });
  let at = 0;
  for (const [name, o] of Object.entries(operands)) {
    const dtype = o.dtype ?? 'float32';
    if (o.constant || opts.folded) {
      inits.push({ name, dtype, dims: o.dims, data: Array.from(o.data) });
      continue;
    }
    x.set(Array.from(o.data), at);
    inits.push(
      { name: `${name}_from`, dtype: 'int64', dims: [1], data: [at] },
      { name: `${name}_to`, dtype: 'int64', dims: [1], data: [at + o.data.length] },
      { name: `${name}_dims`, dtype: 'int64', dims: [o.dims.length], data: o.dims },
    );
    pre.push({ op: 'Slice', inputs: ['pack_flat', `${name}_from`, `${name}_to`], outputs: [`${name}_flat`] });
    const shaped = dtype === 'float32' ? name : `${name}_f32`;
    pre.push({ op: 'Reshape', inputs: [`${name}_flat`, `${name}_dims`], outputs: [shaped] });
    if (dtype !== 'float32')
      pre.push({ op: 'Cast', inputs: [shaped], outputs: [name], attrs: { to: ONNX_DTYPE[dtype] } });
    at += o.data.length;
  }
  return {
    spec: {
      opset: opts.opset ?? 13,
      inputs: [{ name: 'packed_input', shape: [1, 3, 1, L] }],
      outputs: outputs.map((o) => (typeof o === 'string' ? { name: o } : o)),
      nodes: [...pre, ...nodes],
      initializers: inits,
    },
    x: { shape: [1, 3, 1, L], data: x },
  };
}

/** Largest |a - b| / max(1, |b|). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < b.length; ++i) {
    const x = a[i]!,
      y = b[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    const d = Math.abs(x - y) / Math.max(1, Math.abs(y));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Runs a packed graph with bg-native and onnxruntime and compares every output. */
export async function expectLikeOrt(label: string, p: Packed, tol: Tolerance, threads = 1): Promise<number> {
  const file = writeModel(p.spec, label);
  const theirs = await runOrt(file, p.x);
  const ours = await runOurs(file, p.x, threads);
  expect(ours.length, `${label}: output count`).toBe(theirs.length);
  let worst = 0;
  theirs.forEach((t, i) => {
    expect(ours[i]!.shape, `${label}: output ${i} shape`).toEqual(t.shape);
    const d = relDiff(ours[i]!.data, t.data);
    if (!(d <= tol.rel)) {
      let at = 0;
      for (let k = 0; k < t.data.length; ++k)
        if (!(Math.abs(ours[i]!.data[k]! - t.data[k]!) <= Math.abs(ours[i]!.data[at]! - t.data[at]!))) at = k;
      throw new Error(
        `${label}: output ${i} differs from onnxruntime by ${d.toExponential(3)} (relative) at index ${at}: ` +
          `got ${ours[i]!.data[at]}, expected ${t.data[at]}; allowed ${tol.rel}`,
      );
    }
    worst = Math.max(worst, d);
  });
  return worst;
}

export interface OpCase {
  op: string;
  /** Operands in input order; null leaves an optional input out (an empty name). */
  inputs: (Operand | null)[];
  attrs?: Record<string, PlainAttr>;
  outputs?: number;
  opset?: number;
  /** Output dtypes (default: what the op makes of its inputs, see outputTypes). */
  outDtypes?: DataType[];
}

const BOOL_OPS = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor'];
const DTYPE_OF: Record<number, DataType> = Object.fromEntries(
  Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k as DataType]),
);

function outputTypes(c: OpCase): DataType[] {
  if (c.outDtypes) return c.outDtypes;
  const first = c.inputs[0]?.dtype ?? 'float32';
  const n = c.outputs ?? 1;
  let t: DataType = first;
  if (BOOL_OPS.includes(c.op)) t = 'bool';
  else if (c.op === 'ArgMax' || c.op === 'ArgMin' || c.op === 'Shape') t = 'int64';
  else if (c.op === 'MatMulInteger') t = 'int32';
  else if (c.op === 'Where') t = c.inputs[1]?.dtype ?? 'float32';
  else if (c.op === 'Cast') t = DTYPE_OF[Number(c.attrs?.to)]!;
  else if (c.op === 'CastLike') t = c.inputs[1]?.dtype ?? 'float32';
  return Array.from({ length: n }, () => t);
}

/** The packed graph of one node named 'op_under_test' (outputs out0, out1, ...). */
export function opGraph(c: OpCase, folded: boolean): Packed {
  const operands: Record<string, Operand> = {};
  const names = c.inputs.map((o, i) => {
    if (!o) return '';
    operands[`in${i}`] = o;
    return `in${i}`;
  });
  const types = outputTypes(c);
  const outs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `out${i}`);
  const typed = outs.map((name, i) => ({ name, dtype: types[i] ?? 'float32' }));
  const node: NodeSpec = {
    op: c.op,
    inputs: names,
    outputs: outs,
    name: 'op_under_test',
    ...(c.attrs ? { attrs: c.attrs } : {}),
  };
  return packGraph(operands, [node], typed, { opset: c.opset, folded });
}

/** One node, checked with its operands computed at run time and with them folded at load. */
export async function expectOp(label: string, c: OpCase, tol: Tolerance = FP32): Promise<void> {
  for (const folded of [false, true])
    await expectLikeOrt(`${label}${folded ? ' (folded)' : ''}`, opGraph(c, folded), tol);
}
