/**
 * The ONNX operators bg-native runs, one behaviour per test. Every model is generated here with
 * the test ONNX writer, run by bg-native's Segmenter, checked against a plain-JS reference
 * implementation of the operator (test/helpers/reference-ops.ts) and cross-checked against
 * onnxruntime-node on the same file.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  type ModelSpec,
  type NodeSpec,
  type PlainAttr,
  type TensorSpec,
  randomArray,
  rng,
  roundF16,
  writeModel,
} from './helpers/onnx-builder.js';
import { closeness, maxAbsDiff, runOrt, runOurs } from './helpers/onnx-run.js';
import * as ref from './helpers/reference-ops.js';
import { type T, tensor } from './helpers/reference-ops.js';
import { U2NET_LIKE_OUTPUTS, u2netLike } from './helpers/u2net-like.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Tol {
  atol: number;
  rtol: number;
}
const TIGHT: Tol = { atol: 1e-5, rtol: 1e-5 };

function randomInput(shape: number[], seed: number, lo = -1, hi = 1): T {
  return tensor(
    shape,
    randomArray(
      rng(seed),
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
  );
}

function f32(name: string, t: T): TensorSpec {
  return { name, dtype: 'float32', dims: t.shape, data: t.data };
}

function i64(name: string, values: number[], dims: number[] = [values.length]): TensorSpec {
  return { name, dtype: 'int64', dims, data: values };
}

/** A graph whose only runtime input is `x` (the shape the Segmenter takes: N,3,H,W). */
function graph(x: T, nodes: NodeSpec[], outputs: string[], initializers: TensorSpec[] = [], opset = 13): ModelSpec {
  return {
    opset,
    inputs: [{ name: 'x', shape: x.shape }],
    outputs: outputs.map((name) => ({ name })),
    nodes,
    initializers,
  };
}

function node(op: string, inputs: string[], outputs: string[], attrs?: Record<string, PlainAttr>): NodeSpec {
  return { op, inputs, outputs, ...(attrs ? { attrs } : {}) };
}

function assertClose(label: string, actual: { shape: number[]; data: Float32Array }, expected: T, tol: Tol): void {
  expect(actual.shape, `${label}: shape`).toEqual(expected.shape);
  const c = closeness(actual.data, expected.data, tol.atol, tol.rtol);
  if (!(c <= 1)) {
    let worst = 0;
    for (let i = 0; i < expected.data.length; ++i)
      if (Math.abs(actual.data[i]! - expected.data[i]!) > Math.abs(actual.data[worst]! - expected.data[worst]!))
        worst = i;
    throw new Error(
      `${label}: max |Δ| ${maxAbsDiff(actual.data, expected.data).toExponential(3)} at index ${worst} ` +
        `(got ${actual.data[worst]}, expected ${expected.data[worst]}); tolerance atol ${tol.atol}, rtol ${tol.rtol}`,
    );
  }
}

/**
 * Runs the model with bg-native and onnxruntime-node and checks both against the references
 * (one per graph output, in order).
 */
async function expectOp(label: string, spec: ModelSpec, x: T, expected: T[], tol: Tol = TIGHT): Promise<void> {
  const file = writeModel(spec, label);
  const ours = await runOurs(file, x);
  const theirs = await runOrt(file, x);
  expect(ours.length).toBe(expected.length);
  expected.forEach((e, i) => {
    assertClose(`${label} output ${i} (onnxruntime vs reference)`, theirs[i]!, e, tol);
    assertClose(`${label} output ${i} (bg-native vs reference)`, ours[i]!, e, tol);
    assertClose(
      `${label} output ${i} (bg-native vs onnxruntime)`,
      ours[i]!,
      tensor(theirs[i]!.shape, theirs[i]!.data),
      tol,
    );
  });
}

// ---- Conv ------------------------------------------------------------------------------------------

describe('Conv', () => {
  const x = randomInput([1, 3, 11, 13], 1);

  const cases: { name: string; O: number; K: [number, number]; opts: ref.ConvOptions; bias: boolean; x?: T }[] = [
    { name: '3x3, padding 1, bias', O: 5, K: [3, 3], opts: { pads: [1, 1, 1, 1] }, bias: true },
    { name: '3x3, stride 2, no padding', O: 4, K: [3, 3], opts: { strides: [2, 2] }, bias: true },
    {
      name: 'asymmetric padding and strides',
      O: 4,
      K: [3, 2],
      opts: { strides: [2, 3], pads: [0, 1, 2, 0] },
      bias: false,
    },
    {
      name: 'dilation 2 with matching padding',
      O: 6,
      K: [3, 3],
      opts: { dilations: [2, 2], pads: [2, 2, 2, 2] },
      bias: true,
    },
    {
      name: 'dilation 3, stride 2, 5x5 kernel',
      O: 2,
      K: [5, 5],
      opts: { dilations: [3, 3], strides: [2, 2], pads: [4, 3, 4, 3] },
      bias: true,
    },
    { name: 'depthwise (group = channels)', O: 6, K: [3, 3], opts: { group: 3, pads: [1, 1, 1, 1] }, bias: true },
    { name: '1x1 on a batch of two', O: 7, K: [1, 1], opts: {}, bias: true, x: randomInput([2, 3, 6, 5], 9) },
  ];

  for (const c of cases) {
    it(`computes a convolution: ${c.name}`, async () => {
      const input = c.x ?? x;
      const G = c.opts.group ?? 1;
      const w = randomInput([c.O, 3 / G, ...c.K], 2);
      const b = randomInput([c.O], 3);
      const attrs: Record<string, PlainAttr> = { kernel_shape: c.K };
      if (c.opts.pads) attrs.pads = c.opts.pads;
      if (c.opts.strides) attrs.strides = c.opts.strides;
      if (c.opts.dilations) attrs.dilations = c.opts.dilations;
      if (c.opts.group) attrs.group = c.opts.group;
      const spec = graph(
        input,
        [node('Conv', c.bias ? ['x', 'w', 'b'] : ['x', 'w'], ['y'], attrs)],
        ['y'],
        [f32('w', w), f32('b', b)],
      );
      await expectOp(`conv ${c.name}`, spec, input, [ref.conv2d(input, w, c.bias ? b : undefined, c.opts)]);
    });
  }

  it('computes a grouped convolution with several channels per group', async () => {
    const w1 = randomInput([8, 3, 1, 1], 4),
      w2 = randomInput([8, 2, 3, 3], 5),
      b2 = randomInput([8], 6);
    const spec = graph(
      x,
      [
        node('Conv', ['x', 'w1'], ['h']),
        node('Conv', ['h', 'w2', 'b2'], ['y'], { group: 4, pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
      ],
      ['y'],
      [f32('w1', w1), f32('w2', w2), f32('b2', b2)],
    );
    const h = ref.conv2d(x, w1, undefined);
    await expectOp('grouped conv', spec, x, [ref.conv2d(h, w2, b2, { group: 4, pads: [1, 1, 1, 1] })]);
  });

  it('computes wide convolutions (GEMM path) within float tolerance', async () => {
    const input = randomInput([1, 3, 24, 20], 7);
    const w1 = randomInput([32, 3, 3, 3], 8),
      w2 = tensor([64, 32, 3, 3], randomArray(rng(10), 64 * 32 * 9, -0.2, 0.2)),
      b2 = randomInput([64], 11);
    const spec = graph(
      input,
      [
        node('Conv', ['x', 'w1'], ['h'], { pads: [1, 1, 1, 1] }),
        node('Conv', ['h', 'w2', 'b2'], ['y'], { pads: [1, 1, 1, 1], strides: [2, 2] }),
      ],
      ['y'],
      [f32('w1', w1), f32('w2', w2), f32('b2', b2)],
    );
    const h = ref.conv2d(input, w1, undefined, { pads: [1, 1, 1, 1] });
    await expectOp('wide conv', spec, input, [ref.conv2d(h, w2, b2, { pads: [1, 1, 1, 1], strides: [2, 2] })], {
      atol: 1e-4,
      rtol: 1e-4,
    });
  });

  it('resolves auto_pad SAME_UPPER', async () => {
    const w = randomInput([3, 3, 4, 4], 12);
    const spec = graph(
      x,
      [node('Conv', ['x', 'w'], ['y'], { auto_pad: 'SAME_UPPER', strides: [2, 2] })],
      ['y'],
      [f32('w', w)],
    );
    // H=11: out 6, total pad = (6-1)*2+4-11 = 3 → top 1, bottom 2; W=13: out 7, total 3 → left 1, right 2.
    await expectOp('conv SAME_UPPER', spec, x, [ref.conv2d(x, w, undefined, { strides: [2, 2], pads: [1, 1, 2, 2] })]);
  });

  it('applies a following Relu or Sigmoid (fused into the convolution)', async () => {
    const w = randomInput([4, 3, 3, 3], 13),
      b = randomInput([4], 14);
    const spec = graph(
      x,
      [
        node('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }),
        node('Relu', ['c'], ['r']),
        node('Conv', ['x', 'w', 'b'], ['c2']),
        node('Sigmoid', ['c2'], ['s']),
      ],
      ['r', 's'],
      [f32('w', w), f32('b', b)],
    );
    await expectOp('conv+act', spec, x, [
      ref.relu(ref.conv2d(x, w, b, { pads: [1, 1, 1, 1] })),
      ref.sigmoid(ref.conv2d(x, w, b)),
    ]);
  });

  it('uses float16 weights (Cast to float) at float16 precision', async () => {
    const w = randomInput([4, 3, 3, 3], 15);
    const spec = graph(
      x,
      [node('Cast', ['w16'], ['w'], { to: 1 }), node('Conv', ['x', 'w'], ['y'])],
      ['y'],
      [{ name: 'w16', dtype: 'float16', dims: w.shape, data: w.data }],
    );
    await expectOp('conv f16 weights', spec, x, [ref.conv2d(x, ref.map(w, roundF16), undefined)]);
  });
});

// ---- activations --------------------------------------------------------------------------------------

describe('activations', () => {
  const x = randomInput([1, 3, 7, 9], 20, -6, 6);

  it('Relu zeroes negatives and keeps positives', async () => {
    await expectOp('relu', graph(x, [node('Relu', ['x'], ['y'])], ['y']), x, [ref.relu(x)]);
  });

  it('Sigmoid maps to (0, 1) including large magnitudes', async () => {
    const big = ref.map(x, (v) => v * 20);
    await expectOp('sigmoid', graph(big, [node('Sigmoid', ['x'], ['y'])], ['y']), big, [ref.sigmoid(big)], {
      atol: 1e-6,
      rtol: 1e-5,
    });
  });
});

// ---- MaxPool ------------------------------------------------------------------------------------------

describe('MaxPool', () => {
  const cases: { name: string; shape: number[]; o: ref.PoolOptions }[] = [
    {
      name: '2x2 stride 2 with ceil_mode on odd sizes',
      shape: [1, 3, 7, 9],
      o: { kernel: [2, 2], strides: [2, 2], ceilMode: true },
    },
    {
      name: '2x2 stride 2 without ceil_mode on odd sizes',
      shape: [1, 3, 7, 9],
      o: { kernel: [2, 2], strides: [2, 2] },
    },
    {
      name: '2x2 stride 2 with ceil_mode on even sizes',
      shape: [2, 3, 8, 6],
      o: { kernel: [2, 2], strides: [2, 2], ceilMode: true },
    },
    {
      name: '3x3 stride 2 padding 1',
      shape: [1, 3, 10, 11],
      o: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    },
    {
      name: '3x3 stride 2 padding 1 with ceil_mode',
      shape: [1, 3, 10, 11],
      o: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true },
    },
    { name: '3x3 stride 1 (overlapping windows)', shape: [1, 3, 6, 5], o: { kernel: [3, 3] } },
  ];
  for (const c of cases) {
    it(`takes window maxima: ${c.name}`, async () => {
      const x = randomInput(c.shape, 30);
      const attrs: Record<string, PlainAttr> = { kernel_shape: c.o.kernel };
      if (c.o.strides) attrs.strides = c.o.strides;
      if (c.o.pads) attrs.pads = c.o.pads;
      if (c.o.ceilMode) attrs.ceil_mode = 1;
      await expectOp(`maxpool ${c.name}`, graph(x, [node('MaxPool', ['x'], ['y'], attrs)], ['y']), x, [
        ref.maxpool2d(x, c.o),
      ]);
    });
  }
});

// ---- Resize / Upsample ----------------------------------------------------------------------------------

describe('Resize', () => {
  const x = randomInput([1, 3, 5, 7], 40);
  const coords: ref.CoordMode[] = ['align_corners', 'half_pixel', 'asymmetric', 'pytorch_half_pixel'];
  const sizes: [number, number][] = [
    [10, 14], // ×2
    [13, 9], // up in H, non-integer; up in W
    [3, 4], // down
  ];

  for (const coord of coords)
    for (const [OH, OW] of sizes) {
      it(`bilinear to ${OH}x${OW} with coordinate_transformation_mode=${coord}`, async () => {
        const spec = graph(
          x,
          [node('Resize', ['x', '', '', 'sizes'], ['y'], { mode: 'linear', coordinate_transformation_mode: coord })],
          ['y'],
          [i64('sizes', [1, 3, OH, OW])],
        );
        await expectOp(`resize linear ${coord} ${OH}x${OW}`, spec, x, [
          ref.resize2d(x, OH, OW, { mode: 'linear', coord }),
        ]);
      });
    }

  it('bilinear with pytorch_half_pixel to a single row keeps the first source row', async () => {
    const spec = graph(
      x,
      [
        node('Resize', ['x', '', '', 'sizes'], ['y'], {
          mode: 'linear',
          coordinate_transformation_mode: 'pytorch_half_pixel',
        }),
      ],
      ['y'],
      [i64('sizes', [1, 3, 1, 4])],
    );
    await expectOp('resize pytorch_half_pixel 1 row', spec, x, [
      ref.resize2d(x, 1, 4, { mode: 'linear', coord: 'pytorch_half_pixel' }),
    ]);
  });

  it('bilinear by scales uses the given scale, not the rounded size ratio', async () => {
    const spec = graph(
      x,
      [node('Resize', ['x', '', 'scales'], ['y'], { mode: 'linear', coordinate_transformation_mode: 'half_pixel' })],
      ['y'],
      [{ name: 'scales', dtype: 'float32', dims: [4], data: [1, 1, 1.5, 1.7] }],
    );
    // 5*1.5 = 7.5 → 7 rows, 7*1.7 = 11.9 → 11 columns; coordinates use 1.5 and 1.7.
    await expectOp('resize by scales', spec, x, [
      ref.resize2d(x, 7, 11, { mode: 'linear', coord: 'half_pixel', scales: [1.5, 1.7] }),
    ]);
  });

  const nearestModes: ref.NearestMode[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];
  for (const nm of nearestModes)
    for (const coord of ['asymmetric', 'half_pixel', 'align_corners'] as ref.CoordMode[]) {
      it(`nearest (${nm}) with ${coord}, up and down`, async () => {
        const spec = graph(
          x,
          [
            node('Resize', ['x', '', '', 'up'], ['u'], {
              mode: 'nearest',
              coordinate_transformation_mode: coord,
              nearest_mode: nm,
            }),
            node('Resize', ['x', '', '', 'down'], ['d'], {
              mode: 'nearest',
              coordinate_transformation_mode: coord,
              nearest_mode: nm,
            }),
          ],
          ['u', 'd'],
          [i64('up', [1, 3, 12, 15]), i64('down', [1, 3, 3, 4])],
        );
        await expectOp(`resize nearest ${nm} ${coord}`, spec, x, [
          ref.resize2d(x, 12, 15, { mode: 'nearest', coord, nearest: nm }),
          ref.resize2d(x, 3, 4, { mode: 'nearest', coord, nearest: nm }),
        ]);
      });
    }
  it('nearest round_prefer_ceil takes the upper pixel at a tie (7 → 4 columns, asymmetric: 2 → 3.5)', async () => {
    const ramp = tensor(
      [1, 3, 1, 7],
      Array.from({ length: 21 }, (_, i) => i % 7),
    );
    const spec = graph(
      ramp,
      [
        node('Resize', ['x', '', '', 'sizes'], ['y'], {
          mode: 'nearest',
          coordinate_transformation_mode: 'asymmetric',
          nearest_mode: 'round_prefer_ceil',
        }),
      ],
      ['y'],
      [i64('sizes', [1, 3, 1, 4])],
    );
    const row = [0, 2, 4, 5]; // 0/(4/7), 1.75, 3.5, 5.25 rounded, ties up
    await expectOp('resize nearest tie', spec, ramp, [tensor([1, 3, 1, 4], [...row, ...row, ...row])], {
      atol: 0,
      rtol: 0,
    });
  });
});

describe('Upsample (opset 9)', () => {
  const x = randomInput([1, 3, 4, 5], 50);
  const scales: TensorSpec = { name: 'scales', dtype: 'float32', dims: [4], data: [1, 1, 2, 3] };

  it('nearest repeats each pixel (asymmetric, floor)', async () => {
    const spec = graph(x, [node('Upsample', ['x', 'scales'], ['y'], { mode: 'nearest' })], ['y'], [scales], 9);
    await expectOp('upsample nearest', spec, x, [
      ref.resize2d(x, 8, 15, { mode: 'nearest', coord: 'asymmetric', nearest: 'floor' }),
    ]);
  });

  it('linear interpolates with asymmetric coordinates', async () => {
    const spec = graph(x, [node('Upsample', ['x', 'scales'], ['y'], { mode: 'linear' })], ['y'], [scales], 9);
    await expectOp('upsample linear', spec, x, [ref.resize2d(x, 8, 15, { mode: 'linear', coord: 'asymmetric' })]);
  });
});

// ---- Concat, broadcasting arithmetic ----------------------------------------------------------------

describe('Concat', () => {
  const x = randomInput([2, 3, 4, 5], 60);

  it('joins on the channel axis with a constant', async () => {
    const c = randomInput([2, 2, 4, 5], 61);
    await expectOp(
      'concat channels',
      graph(x, [node('Concat', ['x', 'c', 'x'], ['y'], { axis: 1 })], ['y'], [f32('c', c)]),
      x,
      [ref.concat([x, c, x], 1)],
    );
  });

  it('joins on a negative (last) axis and on the batch axis', async () => {
    await expectOp(
      'concat -1 and 0',
      graph(
        x,
        [node('Concat', ['x', 'x'], ['a'], { axis: -1 }), node('Concat', ['x', 'x'], ['b'], { axis: 0 })],
        ['a', 'b'],
      ),
      x,
      [ref.concat([x, x], 3), ref.concat([x, x], 0)],
    );
  });
});

describe('Add and Mul broadcast like numpy', () => {
  const x = randomInput([2, 3, 4, 5], 70);
  const cases: { name: string; shape: number[] }[] = [
    { name: 'per channel [3,1,1]', shape: [3, 1, 1] },
    { name: 'per column [5]', shape: [5] },
    { name: 'scalar []', shape: [] },
    { name: 'per row [1,1,4,1]', shape: [1, 1, 4, 1] },
    { name: 'same shape', shape: [2, 3, 4, 5] },
  ];
  for (const c of cases)
    it(`with ${c.name}`, async () => {
      const b = randomInput(c.shape, 71);
      const spec = graph(
        x,
        [node('Add', ['x', 'b'], ['s']), node('Mul', ['b', 'x'], ['p'])],
        ['s', 'p'],
        [{ name: 'b', dtype: 'float32', dims: c.shape, data: b.data }],
      );
      await expectOp(`add/mul ${c.name}`, spec, x, [ref.add(x, b), ref.mul(b, x)]);
    });

  it('between two runtime tensors of different shapes', async () => {
    // (x[:, :, :1, :] computed at run time) * x
    const spec = graph(
      x,
      [node('Slice', ['x', 's', 'e', 'a'], ['row']), node('Mul', ['x', 'row'], ['y'])],
      ['y'],
      [i64('s', [0]), i64('e', [1]), i64('a', [2])],
    );
    await expectOp('mul runtime broadcast', spec, x, [ref.mul(x, ref.slice1(x, 2, 0, 1))]);
  });
});

// ---- BatchNormalization ----------------------------------------------------------------------------

describe('BatchNormalization', () => {
  const x = randomInput([1, 3, 6, 7], 80);
  const C = 5;
  const params = (seed: number, c: number) => ({
    scale: randomInput([c], seed, 0.5, 1.5),
    bias: randomInput([c], seed + 1, -0.5, 0.5),
    mean: randomInput([c], seed + 2, -0.5, 0.5),
    variance: randomInput([c], seed + 3, 0.2, 2),
  });
  const bnInits = (p: ReturnType<typeof params>) => [
    f32('scale', p.scale),
    f32('bias', p.bias),
    f32('mean', p.mean),
    f32('var', p.variance),
  ];

  it('normalises each channel with its running statistics', async () => {
    const p = params(81, 3);
    const spec = graph(
      x,
      [node('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: 1e-3 })],
      ['y'],
      bnInits(p),
    );
    await expectOp('batchnorm', spec, x, [ref.batchnorm(x, p.scale, p.bias, p.mean, p.variance, 1e-3)]);
  });

  const w = randomInput([C, 3, 3, 3], 85),
    b = randomInput([C], 86);
  const p = params(87, C);
  const convBn = graph(
    x,
    [
      node('Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }),
      node('BatchNormalization', ['c', 'scale', 'bias', 'mean', 'var'], ['y'], { epsilon: 1e-5 }),
      node('Relu', ['y'], ['r']),
    ],
    ['r'],
    [f32('w', w), f32('b', b), ...bnInits(p)],
  );

  it('after a Conv gives the same result as the separate ops', async () => {
    const expected = ref.relu(
      ref.batchnorm(ref.conv2d(x, w, b, { pads: [1, 1, 1, 1] }), p.scale, p.bias, p.mean, p.variance, 1e-5),
    );
    await expectOp('conv+bn', convBn, x, [expected]);
  });

  it('after a Conv is folded into the convolution at load (no BatchNormalization step runs)', () => {
    // BGN_PROFILE=1 makes the executor print one line per op type it ran.
    const file = writeModel(convBn, 'conv-bn-fold');
    const script = `
      const addon = require('node-gyp-build')(${JSON.stringify(repoRoot)});
      (async () => {
        const seg = await addon.Segmenter.load(${JSON.stringify(file)}, { threads: 1 });
        await seg.run(new Float32Array(${x.data.length}), ${JSON.stringify(x.shape)});
        seg.dispose();
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: repoRoot,
      env: { ...process.env, BGN_PROFILE: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const ops = [...r.stderr.matchAll(/^bgn-profile\s+(\S+)/gm)].map((m) => m[1]);
    expect(ops).toContain('Conv');
    expect(ops).not.toContain('BatchNormalization');
    expect(ops).not.toContain('Relu');
  });
});

// ---- shape and data-movement ops ------------------------------------------------------------------

describe('shape ops', () => {
  const x = randomInput([1, 3, 4, 6], 90, -3, 3);

  it('Shape, Slice, Gather, Mul, Unsqueeze, Concat and Reshape compute a new shape at run time', async () => {
    const nodes = [
      node('Shape', ['x'], ['s']),
      node('Slice', ['s', 'two', 'four'], ['hw']),
      node('Gather', ['s', 'i2'], ['h']),
      node('Gather', ['s', 'i3'], ['w']),
      node('Mul', ['h', 'w'], ['hxw']),
      node('Unsqueeze', ['hxw', 'axis0'], ['hxw1']),
      node('Gather', ['s', 'i1v'], ['c']),
      node('Slice', ['s', 'zero', 'one'], ['n']),
      node('Concat', ['n', 'c', 'hxw1'], ['newshape'], { axis: 0 }),
      node('Reshape', ['x', 'newshape'], ['r']),
      node('Unsqueeze', ['r', 'axis1'], ['u']),
      node('Cast', ['hw'], ['hwf'], { to: 1 }),
    ];
    const inits = [
      i64('zero', [0]),
      i64('one', [1]),
      i64('two', [2]),
      i64('four', [4]),
      i64('i2', [2], []),
      i64('i3', [3], []),
      i64('i1v', [1]),
      i64('axis0', [0]),
      i64('axis1', [1]),
    ];
    await expectOp('shape chain', graph(x, nodes, ['u', 'hwf'], inits), x, [
      tensor([1, 1, 3, 24], x.data),
      tensor([2], [4, 6]),
    ]);
  });

  it('Reshape with 0 (copy) and -1 (infer) entries', async () => {
    const spec = graph(x, [node('Reshape', ['x', 'shape'], ['y'])], ['y'], [i64('shape', [0, -1, 2])]);
    await expectOp('reshape 0 -1', spec, x, [tensor([1, 36, 2], x.data)]);
  });

  it('Gather picks channels and columns, negative indices count from the end', async () => {
    const spec = graph(
      x,
      [node('Gather', ['x', 'perm'], ['c'], { axis: 1 }), node('Gather', ['x', 'cols'], ['w'], { axis: 3 })],
      ['c', 'w'],
      [i64('perm', [2, 0, 1]), i64('cols', [-1, 0, 2])],
    );
    await expectOp('gather', spec, x, [ref.gather(x, [2, 0, 1], 1), ref.gather(x, [5, 0, 2], 3)]);
  });

  it('Slice with steps, negative starts and out-of-range ends', async () => {
    const spec = graph(
      x,
      [node('Slice', ['x', 'starts', 'ends', 'axes', 'steps'], ['y'])],
      ['y'],
      [i64('starts', [1, -1, 0]), i64('ends', [1000, -1000, 4]), i64('axes', [1, 3, 2]), i64('steps', [1, -2, 3])],
    );
    const expected = ref.slice1(ref.slice1(ref.slice1(x, 1, 1, 1000), 3, -1, -1000, -2), 2, 0, 4, 3);
    await expectOp('slice steps', spec, x, [expected]);
  });

  it('Cast to int64 truncates toward zero and Cast back to float restores integers', async () => {
    const spec = graph(
      x,
      [
        node('Mul', ['x', 'ten'], ['x10']),
        node('Cast', ['x10'], ['i'], { to: 7 }),
        node('Cast', ['i'], ['if'], { to: 1 }),
      ],
      ['if'],
      [{ name: 'ten', dtype: 'float32', dims: [], data: [10] }],
    );
    await expectOp('cast int64', spec, x, [ref.map(x, (v) => Math.trunc(Math.fround(v * 10)))], { atol: 0, rtol: 0 });
  });

  it('Cast between float types keeps float32 precision (the CPU core computes in f32)', async () => {
    const spec = graph(x, [node('Cast', ['x'], ['h'], { to: 10 }), node('Cast', ['h'], ['hf'], { to: 1 })], ['hf']);
    const [ours] = await runOurs(writeModel(spec, 'cast-f16'), x);
    assertClose('cast f32→f16→f32', ours!, x, { atol: 0, rtol: 0 });
    // onnxruntime rounds to half precision here; the difference stays within f16 resolution.
    const [theirs] = await runOrt(writeModel(spec, 'cast-f16-ort'), x);
    assertClose('cast f16 vs onnxruntime', ours!, tensor(theirs!.shape, theirs!.data), { atol: 0, rtol: 2 ** -11 });
  });
});

// ---- quantisation ---------------------------------------------------------------------------------

describe('quantised ops', () => {
  const x = randomInput([1, 3, 8, 9], 100, -2, 3);

  it('DynamicQuantizeLinear + ConvInteger + rescale (the uint8 model pattern) matches the reference', async () => {
    const O = 4;
    const rand = rng(101);
    const wq = Uint8Array.from({ length: O * 27 }, () => Math.floor(rand() * 256));
    const wZero = 131,
      wScale = 0.0123,
      bias = randomInput([O, 1, 1], 102);
    const spec = graph(
      x,
      [
        node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
        node('ConvInteger', ['xq', 'wq', 'xz', 'wz'], ['yi'], { pads: [1, 1, 1, 1] }),
        node('Cast', ['yi'], ['yf'], { to: 1 }),
        node('Mul', ['xs', 'ws'], ['s']),
        node('Mul', ['yf', 's'], ['y0']),
        node('Add', ['y0', 'bias'], ['y']),
        node('Cast', ['xq'], ['xqf'], { to: 1 }),
        node('Cast', ['xz'], ['xzf'], { to: 1 }),
      ],
      ['xqf', 'xs', 'xzf', 'y'],
      [
        { name: 'wq', dtype: 'uint8', dims: [O, 3, 3, 3], data: wq },
        { name: 'wz', dtype: 'uint8', dims: [], data: [wZero] },
        { name: 'ws', dtype: 'float32', dims: [], data: [wScale] },
        f32('bias', bias),
      ],
    );
    const q = ref.dynamicQuantizeLinear(x);
    const yi = ref.convInteger(q.y, x.shape, q.zeroPoint, wq, [O, 3, 3, 3], wZero, { pads: [1, 1, 1, 1] });
    const y = ref.add(
      ref.map(yi, (v) => v * Math.fround(q.scale * wScale)),
      bias,
    );
    await expectOp(
      'dql+convinteger',
      spec,
      x,
      [tensor(x.shape, q.y), tensor([], [q.scale]), tensor([], [q.zeroPoint]), y],
      { atol: 1e-5, rtol: 1e-5 },
    );
  });

  it('DequantizeLinear of uint8 weights (per tensor) feeds a Conv', async () => {
    const rand = rng(103);
    const wq = Uint8Array.from({ length: 5 * 27 }, () => Math.floor(rand() * 256));
    const spec = graph(
      x,
      [node('DequantizeLinear', ['wq', 'ws', 'wz'], ['w']), node('Conv', ['x', 'w'], ['y'])],
      ['y'],
      [
        { name: 'wq', dtype: 'uint8', dims: [5, 3, 3, 3], data: wq },
        { name: 'ws', dtype: 'float32', dims: [], data: [0.01] },
        { name: 'wz', dtype: 'uint8', dims: [], data: [120] },
      ],
    );
    const w = ref.dequantizeLinear(wq, [5, 3, 3, 3], [Math.fround(0.01)], [120]);
    await expectOp('dequant weights', spec, x, [ref.conv2d(x, w, undefined)]);
  });

  it('DequantizeLinear of int8 weights per output channel (axis 0)', async () => {
    const rand = rng(104);
    const wq = Int8Array.from({ length: 4 * 27 }, () => Math.floor(rand() * 256) - 128);
    const scales = [0.01, 0.02, 0.005, 0.03],
      zeros = [0, -3, 5, 1];
    const spec = graph(
      x,
      [node('DequantizeLinear', ['wq', 'ws', 'wz'], ['w'], { axis: 0 }), node('Conv', ['x', 'w'], ['y'])],
      ['y'],
      [
        { name: 'wq', dtype: 'int8', dims: [4, 3, 3, 3], data: wq },
        { name: 'ws', dtype: 'float32', dims: [4], data: scales },
        { name: 'wz', dtype: 'int8', dims: [4], data: zeros },
      ],
    );
    const w = ref.dequantizeLinear(wq, [4, 3, 3, 3], scales.map(Math.fround), zeros, 0);
    await expectOp('dequant per-channel', spec, x, [ref.conv2d(x, w, undefined)]);
  });

  it('QuantizeLinear then DequantizeLinear at run time rounds half to even and saturates', async () => {
    const spec = graph(
      x,
      [node('QuantizeLinear', ['x', 's', 'z'], ['q']), node('DequantizeLinear', ['q', 's', 'z'], ['y'])],
      ['y'],
      [
        { name: 's', dtype: 'float32', dims: [], data: [0.01] },
        { name: 'z', dtype: 'uint8', dims: [], data: [128] },
      ],
    );
    const s = Math.fround(0.01);
    const q = ref.quantizeLinearU8(x, s, 128);
    const expected = ref.dequantizeLinear(q, x.shape, [s], [128]);
    await expectOp('quant-dequant', spec, x, [expected], { atol: 1e-6, rtol: 0 });
  });
});

// ---- whole graphs ---------------------------------------------------------------------------------

describe('a U²-Net-shaped graph with random weights', () => {
  const x = randomInput([2, 3, 45, 38], 200);

  const variants = [
    { name: 'opset 13, bilinear pytorch_half_pixel', o: { coord: 'pytorch_half_pixel' as const } },
    { name: 'opset 13, bilinear align_corners', o: { coord: 'align_corners' as const } },
    {
      name: 'opset 11, empty roi/scales tensors, bilinear half_pixel',
      o: { coord: 'half_pixel' as const, opset: 11, resizeInputs: 'empty-tensors' as const },
    },
  ];
  for (const v of variants) {
    it(`matches onnxruntime on every side output (${v.name})`, async () => {
      const file = writeModel(u2netLike({ seed: 7, ...v.o }), 'u2net-like');
      const ours = await runOurs(file, x, 2);
      const theirs = await runOrt(file, x);
      expect(ours.map((o) => o.name)).toEqual([...U2NET_LIKE_OUTPUTS]);
      ours.forEach((o, i) => {
        expect(o.shape).toEqual([2, 1, 45, 38]);
        assertClose(`${o.name} vs onnxruntime`, o, tensor(theirs[i]!.shape, theirs[i]!.data), {
          atol: 2e-5,
          rtol: 1e-4,
        });
      });
    });
  }
});

describe('threads', () => {
  it('1 and 2 threads give identical results', async () => {
    const x = randomInput([1, 3, 45, 38], 300);
    const file = writeModel(u2netLike({ seed: 8, mid: 8, out: 16 }), 'u2net-like-threads');
    const one = await runOurs(file, x, 1);
    const two = await runOurs(file, x, 2);
    one.forEach((o, i) => {
      expect(maxAbsDiff(o.data, two[i]!.data), o.name).toBe(0);
    });
  });

  it('1 and 2 threads give identical results on a narrow 3x3 convolution (8 → 4 channels, 45×38)', async () => {
    const x = randomInput([1, 3, 45, 38], 304);
    const file = writeModel(
      graph(
        x,
        [node('Conv', ['x', 'w0'], ['h']), node('Conv', ['h', 'w', 'b'], ['y'], { pads: [1, 1, 1, 1] })],
        ['y'],
        [
          f32('w0', randomInput([8, 3, 1, 1], 305)),
          f32('w', randomInput([4, 8, 3, 3], 306)),
          f32('b', randomInput([4], 307)),
        ],
      ),
      'narrow-threads',
    );
    const [one] = await runOurs(file, x, 1);
    const [two] = await runOurs(file, x, 2);
    expect(maxAbsDiff(one!.data, two!.data)).toBe(0);
  });

  it('1 and 2 threads give identical results on wide convolutions', async () => {
    const x = randomInput([1, 3, 64, 48], 301);
    const w1 = randomInput([64, 3, 3, 3], 302),
      w2 = tensor([96, 64, 3, 3], randomArray(rng(303), 96 * 64 * 9, -0.1, 0.1));
    const file = writeModel(
      graph(
        x,
        [
          node('Conv', ['x', 'w1'], ['h'], { pads: [1, 1, 1, 1] }),
          node('Relu', ['h'], ['r']),
          node('Conv', ['r', 'w2'], ['y'], { pads: [2, 2, 2, 2], dilations: [2, 2] }),
        ],
        ['y'],
        [f32('w1', w1), f32('w2', w2)],
      ),
      'wide-threads',
    );
    const [one] = await runOurs(file, x, 1);
    const [two] = await runOurs(file, x, 2);
    expect(maxAbsDiff(one!.data, two!.data)).toBe(0);
  });
});
