/**
 * Segmentation graphs at precision 'bf16' (constant weights rounded to bf16 and packed once, sums in
 * f32) against onnxruntime-node in f32, within a bound that suits bf16's 8-bit mantissa: 2e-2 of the
 * output's range. Covered: a Linear's MatMul with its fused bias, GELU and skip connection (even
 * and odd depths, several row and column blocks), convolutions outside Winograd (1×1, strided 3×3,
 * 3×3 on small outputs, a fused Concat and ReLU) and fused attention (Q·Kᵀ and P·V in bf16). 'f32'
 * stays the path it was (bit for bit the default), bf16 results do not depend on the thread count,
 * and on a CPU without AVX512-BF16
 * (BGN_NO_BF16 makes this one look so) 'auto' runs f32 and 'bf16' is E_DEVICE_UNAVAILABLE.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../src/native.js';
import { writeModel } from './helpers/onnx-builder.js';
import { type Packed, f32, konst, packGraph } from './helpers/onnx-op-check.js';
import { type Precision, runOrt, runOurs } from './helpers/onnx-run.js';

/** Largest |ours − ort| over the range of ort's output. */
function rangeDiff(ours: Float32Array, theirs: Float32Array): number {
  let lo = Infinity,
    hi = -Infinity,
    worst = 0;
  for (let i = 0; i < theirs.length; ++i) {
    lo = Math.min(lo, theirs[i]!);
    hi = Math.max(hi, theirs[i]!);
    const d = Math.abs(ours[i]! - theirs[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst / Math.max(hi - lo, 1e-6);
}

async function ours(file: string, p: Packed, precision: Precision, threads = 2): Promise<Float32Array> {
  return (await runOurs(file, p.x, threads, precision))[0]!.data;
}

const linear = (o: { k?: number; bias?: boolean; gelu?: boolean; skip?: boolean } = {}): Packed => {
  const K = o.k ?? 72;
  const nodes: { op: string; inputs: string[]; outputs: string[] }[] = [
    { op: 'MatMul', inputs: ['x', 'w'], outputs: ['h0'] },
  ];
  let h = 'h0';
  const step = (op: string, inputs: string[]) => {
    const out = `h${nodes.length}`;
    nodes.push({ op, inputs, outputs: [out] });
    h = out;
  };
  if (o.bias) step('Add', [h, 'b']);
  if (o.gelu) step('Gelu', [h]);
  if (o.skip) step('Add', ['r', h]);
  const operands: Parameters<typeof packGraph>[0] = {
    x: f32([3, 150, K], 61, -2, 2),
    w: konst(f32([K, 300], 62, -0.3, 0.3)),
  };
  if (o.bias) operands.b = konst(f32([300], 63));
  if (o.skip) operands.r = f32([3, 150, 300], 64);
  return packGraph(operands, nodes, [h], { opset: 20 });
};

const conv = (o: {
  c: number;
  o: number;
  k: number;
  stride?: number;
  hw: number;
  concat?: boolean;
  relu?: boolean;
}) => {
  const nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number | number[]> }[] = [];
  let x = 'x';
  const operands: Parameters<typeof packGraph>[0] = { x: f32([1, o.concat ? o.c - 3 : o.c, o.hw, o.hw], 71) };
  if (o.concat) {
    operands.x2 = f32([1, 3, o.hw, o.hw], 72);
    nodes.push({ op: 'Concat', inputs: ['x', 'x2'], outputs: ['xc'], attrs: { axis: 1 } });
    x = 'xc';
  }
  operands.w = konst(f32([o.o, o.c, o.k, o.k], 73, -0.2, 0.2));
  operands.b = konst(f32([o.o], 74));
  const pad = (o.k - 1) >> 1;
  nodes.push({
    op: 'Conv',
    inputs: [x, 'w', 'b'],
    outputs: [o.relu ? 'c' : 'y'],
    attrs: { kernel_shape: [o.k, o.k], strides: [o.stride ?? 1, o.stride ?? 1], pads: [pad, pad, pad, pad] },
  });
  if (o.relu) nodes.push({ op: 'Relu', inputs: ['c'], outputs: ['y'] });
  return packGraph(operands, nodes, ['y']);
};

/** softmax(Q·Kᵀ · scale [+ bias]) · V, fused at load into one attention node (Swin's and SAM's form). */
const attention = (o: { n: number; d: number; bias?: boolean }): Packed => {
  const nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number | number[]> }[] = [
    { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 1, 3, 2] } },
    { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s0'] },
    { op: 'Mul', inputs: ['s0', 'scale'], outputs: ['s1'] },
  ];
  let sc = 's1';
  if (o.bias) {
    nodes.push({ op: 'Add', inputs: [sc, 'bias'], outputs: ['s2'] });
    sc = 's2';
  }
  nodes.push({ op: 'Softmax', inputs: [sc], outputs: ['p'], attrs: { axis: -1 } });
  nodes.push({ op: 'MatMul', inputs: ['p', 'v'], outputs: ['y'] });
  const dims = [2, 3, o.n, o.d];
  const operands: Parameters<typeof packGraph>[0] = {
    q: f32(dims, 81, -2, 2),
    k: f32(dims, 82, -2, 2),
    v: f32(dims, 83),
    scale: konst({ dims: [], data: [1 / Math.sqrt(o.d)] }),
  };
  if (o.bias) operands.bias = konst(f32([3, o.n, o.n], 84));
  return packGraph(operands, nodes, ['y']);
};

const graphs: [string, () => Packed][] = [
  ['attention, windows with a bias', () => attention({ n: 49, d: 16, bias: true })],
  ['attention, several row blocks', () => attention({ n: 300, d: 24 })],
  ['linear', () => linear()],
  ['linear, odd depth', () => linear({ k: 41, bias: true })],
  ['linear + bias + gelu', () => linear({ bias: true, gelu: true })],
  ['linear + bias + skip', () => linear({ bias: true, skip: true })],
  ['linear + gelu + skip', () => linear({ gelu: true, skip: true })],
  ['conv 1×1', () => conv({ c: 40, o: 24, k: 1, hw: 30 })],
  ['conv 3×3 stride 2', () => conv({ c: 16, o: 20, k: 3, stride: 2, hw: 33 })],
  ['conv 3×3 small output + relu', () => conv({ c: 24, o: 16, k: 3, hw: 20, relu: true })],
  ['conv of a concat', () => conv({ c: 19, o: 8, k: 3, stride: 2, hw: 25, concat: true })],
];

let bf16Cpu = false;
beforeAll(async () => {
  const file = writeModel(linear().spec, 'bf16-probe');
  const seg = await loadAddon().Segmenter.load(file, { threads: 1, precision: 'auto' });
  bf16Cpu = seg.precision === 'bf16';
  seg.dispose();
});

describe("precision 'bf16'", () => {
  it('matches onnxruntime within 2e-2 of the output range, independently of the thread count', async () => {
    if (!bf16Cpu) {
      // Nothing to measure on this CPU: 'auto' must run f32 here and 'bf16' be refused.
      const [label, make] = graphs[0]!;
      const p = make();
      const file = writeModel(p.spec, label);
      expect(await ours(file, p, 'auto')).toEqual(await ours(file, p, 'f32'));
      await expect(loadAddon().Segmenter.load(file, { threads: 1, precision: 'bf16' })).rejects.toMatchObject({
        code: 'E_DEVICE_UNAVAILABLE',
      });
      return;
    }
    for (const [label, make] of graphs) {
      const p = make();
      const file = writeModel(p.spec, label);
      const theirs = (await runOrt(file, p.x))[0]!.data;
      const b2 = await ours(file, p, 'bf16');
      const d = rangeDiff(b2, theirs);
      expect(d, `${label}: bf16 vs onnxruntime`).toBeLessThanOrEqual(2e-2);
      // The bf16 path ran: its rounding shows, while f32 stays within fp32's.
      expect(d, `${label}: bf16 rounding`).toBeGreaterThan(1e-4);
      expect(rangeDiff(await ours(file, p, 'f32'), theirs), `${label}: f32`).toBeLessThan(1e-5);
      expect(await ours(file, p, 'bf16', 1), `${label}: bf16 on 1 thread`).toEqual(b2);
      expect(await ours(file, p, 'auto'), `${label}: auto`).toEqual(b2);
    }
  });
});

describe("precision is a handle's own", () => {
  it('two handles on one graph, one f32 and one bf16, running at once each compute in their own', async () => {
    if (!bf16Cpu) return;
    const p = graphs[2]![1]();
    const file = writeModel(p.spec, 'shared graph');
    const want32 = await ours(file, p, 'f32');
    const want16 = await ours(file, p, 'bf16');
    expect(want16).not.toEqual(want32);
    const a = await loadAddon().Segmenter.load(file, { threads: 1, precision: 'f32' });
    const b = await loadAddon().Segmenter.load(file, { threads: 1, precision: 'bf16' });
    expect([a.precision, b.precision]).toEqual(['f32', 'bf16']);
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? b : a).run(p.x.data, p.x.shape).then((o) => o[0]!.data)),
    );
    for (const [i, got] of runs.entries()) expect(got, `run ${i}`).toEqual(i % 2 ? want16 : want32);
    a.dispose();
    b.dispose();
  });
});

describe("precision 'f32'", () => {
  it('is the default and the same bits whether named or not', async () => {
    for (const [label, make] of graphs.slice(0, 4)) {
      const p = make();
      const file = writeModel(p.spec, label);
      const seg = await loadAddon().Segmenter.load(file, { threads: 2 });
      expect(seg.precision).toBe('f32');
      const byDefault = (await seg.run(p.x.data, p.x.shape))[0]!.data;
      seg.dispose();
      expect(await ours(file, p, 'f32'), label).toEqual(byDefault);
    }
  });
});

describe('a CPU without AVX512-BF16', () => {
  afterEach(() => {
    delete process.env.BGN_NO_BF16;
  });
  it("runs 'auto' in f32 and refuses 'bf16'", async () => {
    const p = linear({ bias: true, gelu: true });
    const file = writeModel(p.spec, 'no-bf16');
    const f = await ours(file, p, 'f32');
    process.env.BGN_NO_BF16 = '1';
    const seg = await loadAddon().Segmenter.load(file, { threads: 2, precision: 'auto' });
    expect(seg.precision).toBe('f32');
    expect((await seg.run(p.x.data, p.x.shape))[0]!.data).toEqual(f);
    seg.dispose();
    await expect(loadAddon().Segmenter.load(file, { threads: 1, precision: 'bf16' })).rejects.toMatchObject({
      code: 'E_DEVICE_UNAVAILABLE',
    });
    await expect(loadAddon().Segmenter.load(file, { threads: 1, precision: 'half' as 'f32' })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
  });
});
