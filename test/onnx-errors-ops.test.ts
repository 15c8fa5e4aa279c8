/**
 * Hostile graphs for the transformer-era ops: bad attributes, ranks, axes, indices, shapes and
 * Einsum equations are refused with E_MODEL_FORMAT or E_MODEL_UNSUPPORTED naming the op and the
 * node — when the model loads (attributes; operands folded as constants) or when it runs
 * (operands computed from the input) — and never crash the process.
 */
import { describe, expect, it } from 'vitest';

import { loadAddon } from '../src/native.js';
import { writeModel } from './helpers/onnx-builder.js';
import { type OpCase, f32, ints, konst, opGraph } from './helpers/onnx-op-check.js';

type Code = 'E_MODEL_FORMAT' | 'E_MODEL_UNSUPPORTED';

async function refusal(c: OpCase, folded: boolean): Promise<Error & { code?: string }> {
  const p = opGraph(c, folded);
  const file = writeModel(p.spec, `hostile-${c.op}`);
  try {
    const seg = await loadAddon().Segmenter.load(file, { threads: 1 });
    try {
      await seg.run(p.x.data, p.x.shape, { outputs: 'all' });
    } finally {
      seg.dispose();
    }
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error(`${c.op}: the hostile graph ran (${folded ? 'folded' : 'at run time'})`);
}

async function expectRefused(c: OpCase, code: Code, mention?: string): Promise<void> {
  for (const folded of [false, true]) {
    const err = await refusal(c, folded);
    const where = folded ? 'folded' : 'at run time';
    expect(err.code, `${c.op} ${where}: ${err.message}`).toBe(code);
    expect(err.message, where).toContain(c.op);
    expect(err.message, where).toContain('op_under_test');
    if (mention) expect(err.message, where).toContain(mention);
  }
}

const x4 = f32([1, 2, 4, 5], 1);

describe('Einsum equations are parsed strictly', () => {
  const bad: [string, string][] = [
    ['ij,jk->ikk', "output letter 'k' is repeated"],
    ['ij,jk->iz', "output letter 'z' is in no input"],
    ['...ij,jk->...ik', 'ellipsis'],
    ['ii,jk->ik', 'diagonal'],
    ['i$,jk->ik', "unexpected character '$'"],
    ['ij->ij', '1 terms for 2 inputs'],
  ];
  for (const [equation, why] of bad) {
    it(`"${equation}" is E_MODEL_UNSUPPORTED naming the equation`, async () => {
      await expectRefused(
        { op: 'Einsum', opset: 12, inputs: [f32([2, 3], 1), f32([3, 4], 2)], attrs: { equation } },
        'E_MODEL_UNSUPPORTED',
        why,
      );
      const err = await refusal(
        { op: 'Einsum', opset: 12, inputs: [f32([2, 3], 1), f32([3, 4], 2)], attrs: { equation } },
        false,
      );
      expect(err.message).toContain(equation);
    });
  }
  it('an operand whose rank does not fit its term, or letters of two sizes, is E_MODEL_FORMAT', async () => {
    await expectRefused(
      { op: 'Einsum', opset: 12, inputs: [f32([2, 3, 1], 1), f32([3, 4], 2)], attrs: { equation: 'ij,jk->ik' } },
      'E_MODEL_FORMAT',
    );
    await expectRefused(
      { op: 'Einsum', opset: 12, inputs: [f32([2, 3], 1), f32([5, 4], 2)], attrs: { equation: 'ij,jk->ik' } },
      'E_MODEL_FORMAT',
    );
  });
  it('a missing equation is E_MODEL_FORMAT', async () => {
    await expectRefused({ op: 'Einsum', opset: 12, inputs: [f32([2, 3], 1)] }, 'E_MODEL_FORMAT');
  });
});

describe('indices out of range', () => {
  it('Gather, GatherElements, GatherND, ScatterND, ScatterElements', async () => {
    const d = f32([4, 5], 2);
    await expectRefused({ op: 'Gather', inputs: [d, ints([2], [1, 4])] }, 'E_MODEL_FORMAT', 'out of range');
    await expectRefused({ op: 'Gather', inputs: [d, ints([1], [-5])] }, 'E_MODEL_FORMAT');
    await expectRefused(
      { op: 'GatherElements', inputs: [d, ints([1, 2], [0, 5])], attrs: { axis: 1 } },
      'E_MODEL_FORMAT',
    );
    await expectRefused({ op: 'GatherND', inputs: [d, ints([1, 2], [3, 5])] }, 'E_MODEL_FORMAT', 'out of range');
    await expectRefused({ op: 'GatherND', inputs: [d, ints([1, 3], [0, 0, 0])] }, 'E_MODEL_FORMAT', 'index tuples');
    await expectRefused(
      { op: 'GatherND', inputs: [d, ints([4, 1], [0, 1, 2, 3])], attrs: { batch_dims: 2 } },
      'E_MODEL_FORMAT',
      'batch_dims',
    );
    await expectRefused(
      { op: 'GatherND', inputs: [d, ints([3, 1], [0, 1, 2])], attrs: { batch_dims: 1 } },
      'E_MODEL_FORMAT',
      'batch dimensions',
    );
    await expectRefused(
      { op: 'ScatterND', inputs: [d, ints([1, 1], [9]), f32([1, 5], 3)] },
      'E_MODEL_FORMAT',
      'out of range',
    );
    await expectRefused(
      { op: 'ScatterND', inputs: [d, ints([1, 1], [0]), f32([1, 4], 3)] },
      'E_MODEL_FORMAT',
      'updates',
    );
    await expectRefused({ op: 'ScatterElements', inputs: [d, ints([1, 1], [-6]), f32([1, 1], 4)] }, 'E_MODEL_FORMAT');
  });
});

describe('attributes, axes and shapes', () => {
  it('a scalar has no axis to slice, gather along or quantize per axis', async () => {
    const scalar = f32([], 3);
    await expectRefused(
      { op: 'Slice', inputs: [scalar, ints([1], [0]), ints([1], [1]), ints([1], [0])] },
      'E_MODEL_FORMAT',
      'scalar',
    );
    await expectRefused({ op: 'Gather', inputs: [scalar, ints([], [0])] }, 'E_MODEL_FORMAT', 'scalar');
    await expectRefused(
      { op: 'DequantizeLinear', inputs: [ints([], [3], 'uint8'), f32([2], 4, 0.1, 0.2)] },
      'E_MODEL_FORMAT',
      'scalar',
    );
  });
  it('normalisations', async () => {
    await expectRefused(
      { op: 'LayerNormalization', opset: 17, inputs: [x4, f32([5], 2)], attrs: { axis: 4 } },
      'E_MODEL_FORMAT',
      'axis',
    );
    await expectRefused({ op: 'LayerNormalization', opset: 17, inputs: [x4, f32([3], 2)] }, 'E_MODEL_FORMAT');
    await expectRefused(
      { op: 'LayerNormalization', opset: 17, inputs: [x4, f32([5], 2)], attrs: { stash_type: 0 } },
      'E_MODEL_UNSUPPORTED',
    );
    await expectRefused(
      { op: 'GroupNormalization', opset: 18, inputs: [x4, f32([2], 2), f32([2], 3)], attrs: { num_groups: 0 } },
      'E_MODEL_FORMAT',
    );
    await expectRefused(
      { op: 'GroupNormalization', opset: 18, inputs: [x4, f32([3], 2), f32([3], 3)], attrs: { num_groups: 3 } },
      'E_MODEL_FORMAT',
    );
    await expectRefused({ op: 'InstanceNormalization', inputs: [x4, f32([3], 2), f32([2], 3)] }, 'E_MODEL_FORMAT');
    await expectRefused({ op: 'Softmax', inputs: [x4], attrs: { axis: -5 } }, 'E_MODEL_FORMAT', 'axis');
  });
  it('reductions and scans', async () => {
    await expectRefused({ op: 'ReduceMean', inputs: [x4], attrs: { axes: [1, -3] } }, 'E_MODEL_FORMAT', 'twice');
    await expectRefused({ op: 'ReduceSum', inputs: [x4, konst(ints([1], [7]))] }, 'E_MODEL_FORMAT', 'axis');
    await expectRefused(
      { op: 'ReduceMax', opset: 18, inputs: [x4], attrs: { axes: [1] } },
      'E_MODEL_FORMAT',
      'attribute',
    );
    await expectRefused({ op: 'CumSum', inputs: [x4, ints([], [4])] }, 'E_MODEL_FORMAT', 'axis');
    await expectRefused({ op: 'ArgMax', inputs: [x4], attrs: { axis: 9 } }, 'E_MODEL_FORMAT', 'axis');
  });
  it('shape arithmetic that would exhaust memory or never end', async () => {
    await expectRefused(
      { op: 'Range', inputs: [ints([], [0]), ints([], [10]), ints([], [0])] },
      'E_MODEL_FORMAT',
      'delta',
    );
    await expectRefused(
      { op: 'Range', inputs: [ints([], [0]), ints([], [1e15]), ints([], [1])] },
      'E_MODEL_FORMAT',
      'too many',
    );
    await expectRefused({ op: 'Tile', inputs: [x4, ints([4], [1, 1e6, 1e6, 1])] }, 'E_MODEL_FORMAT');
    await expectRefused({ op: 'Tile', inputs: [x4, ints([3], [1, 1, 1])] }, 'E_MODEL_FORMAT', 'repeats');
    await expectRefused({ op: 'Expand', inputs: [x4, ints([5], [1e5, 1e5, 2, 4, 5])] }, 'E_MODEL_FORMAT', 'too large');
    await expectRefused(
      { op: 'ConstantOfShape', inputs: [ints([3], [1e6, 1e6, 1e3])], outDtypes: ['float32'] },
      'E_MODEL_FORMAT',
      'too large',
    );
    await expectRefused({ op: 'Pad', inputs: [x4, ints([8], [0, 0, 1e12, 0, 0, 0, 0, 0])] }, 'E_MODEL_FORMAT');
  });
  it('Pad, Split, Mod, Cast', async () => {
    await expectRefused(
      { op: 'Pad', inputs: [x4, ints([8], [0, 0, 1, 0, 0, 0, 0, 0])], attrs: { mode: 'mirror' } },
      'E_MODEL_FORMAT',
      'mirror',
    );
    await expectRefused({ op: 'Pad', inputs: [x4, ints([6], [0, 0, 1, 0, 0, 0])] }, 'E_MODEL_FORMAT', 'pads');
    await expectRefused(
      { op: 'Pad', inputs: [x4, ints([8], [0, 0, -3, 0, 0, 0, -3, 0])] },
      'E_MODEL_FORMAT',
      'below zero',
    );
    await expectRefused(
      { op: 'Split', inputs: [x4, ints([2], [2, 3])], attrs: { axis: 2 }, outputs: 2 },
      'E_MODEL_FORMAT',
      'add up',
    );
    await expectRefused({ op: 'Split', inputs: [x4], attrs: { axis: 3 }, outputs: 2 }, 'E_MODEL_FORMAT', 'equal parts');
    await expectRefused({ op: 'Mod', inputs: [ints([2], [4, 5]), ints([2], [2, 0])] }, 'E_MODEL_FORMAT', 'by zero');
    await expectRefused({ op: 'Cast', inputs: [x4], attrs: { to: 8 }, outDtypes: ['float32'] }, 'E_MODEL_UNSUPPORTED');
  });
  it('convolutions: DeformConv offsets and masks, groups, ConvTranspose weights', async () => {
    const w = konst(f32([4, 2, 3, 3], 2));
    const deform = (offset: number[], mask?: number[], attrs: Record<string, number | number[]> = {}): OpCase => ({
      op: 'DeformConv',
      opset: 19,
      inputs: [x4, w, f32(offset, 3), null, ...(mask ? [f32(mask, 4)] : [])],
      attrs: { pads: [1, 1, 1, 1], ...attrs },
    });
    await expectRefused(deform([1, 18, 4, 4]), 'E_MODEL_FORMAT', 'offset of shape');
    await expectRefused(deform([1, 17, 4, 5]), 'E_MODEL_FORMAT', 'offset of shape');
    await expectRefused(deform([1, 18, 4, 5], [1, 9, 5, 4]), 'E_MODEL_FORMAT', 'mask of shape');
    await expectRefused(deform([1, 18, 4, 5], undefined, { group: 2 }), 'E_MODEL_FORMAT', 'group');
    await expectRefused(deform([1, 18, 4, 5], undefined, { offset_group: 3 }), 'E_MODEL_FORMAT', 'offset_group');
    await expectRefused(deform([1, 18, 4, 5], undefined, { kernel_shape: [2, 2] }), 'E_MODEL_FORMAT', 'kernel_shape');
    await expectRefused(deform([1, 18, 4, 5], undefined, { strides: [1, 1, 1] }), 'E_MODEL_UNSUPPORTED', 'strides');
    await expectRefused(deform([1, 18, 4, 5], undefined, { strides: [0, 1] }), 'E_MODEL_FORMAT', 'stride');
    await expectRefused(
      { op: 'ConvTranspose', inputs: [x4, konst(f32([3, 2, 2, 2], 5))] },
      'E_MODEL_FORMAT',
      'channels',
    );
    await expectRefused(
      { op: 'ConvTranspose', inputs: [x4, konst(f32([2, 2, 2, 2], 5))], attrs: { output_padding: [2, 2] } },
      'E_MODEL_FORMAT',
    );
  });
  it('MatMulInteger operands and zero points', async () => {
    const a = { dtype: 'uint8' as const, dims: [2, 3], data: [1, 2, 3, 4, 5, 6] };
    const b = { dtype: 'uint8' as const, dims: [3, 2], data: [1, 2, 3, 4, 5, 6] };
    await expectRefused(
      { op: 'MatMulInteger', inputs: [a, b, ints([3], [1, 2, 3], 'uint8')] },
      'E_MODEL_FORMAT',
      'zero point',
    );
    await expectRefused({ op: 'MatMulInteger', inputs: [a, { ...b, dims: [2, 3] }] }, 'E_MODEL_FORMAT');
    await expectRefused({ op: 'MatMulInteger', inputs: [f32([2, 3], 1), b] }, 'E_MODEL_FORMAT', 'uint8 or int8');
  });
});
