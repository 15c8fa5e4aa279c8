/**
 * A layer library over the project's ONNX writer (test/helpers/onnx-builder.ts): random-weight
 * layers written with the node patterns PyTorch's exporter (torch.onnx.export, opset 17–19)
 * leaves in transformer segmentation models — Linear as MatMul + Add, LayerNorm as the opset-17
 * op or decomposed (ReduceMean / Sub / Pow / Sqrt / Div), GELU as its Erf form, attention as
 * batched MatMul + Softmax, torch.roll as Slice + Concat, F.interpolate as Resize.
 * Used by the family replicas (birefnet-replica.ts, sam-replica.ts).
 */
import {
  type ModelSpec,
  type NodeSpec,
  type PlainAttr,
  type TensorSpec,
  type ValueSpec,
  rng,
} from '../../test/helpers/onnx-builder.js';

export type NormForm = 'op' | 'decomposed';

export class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly inits: TensorSpec[] = [];
  private n = 0;
  readonly rand: () => number;
  /** Box–Muller normals from the seeded uniform stream. */
  private spare: number | undefined;

  constructor(seed: number) {
    this.rand = rng(seed);
  }

  id(prefix: string): string {
    return `${prefix}_${++this.n}`;
  }

  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.rand(), 1e-12);
    const v = this.rand();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  private recording: { name: string; dims: string }[] | undefined;
  private replaying: { name: string; dims: string }[] | undefined;

  /**
   * Weight sharing (one module run twice, e.g. on two input scales): `share(fn)` runs `fn` once
   * recording the parameters it makes, and `share(fn, recorded)` runs it again reusing them.
   */
  share<T>(
    fn: () => T,
    recorded?: { name: string; dims: string }[],
  ): { value: T; params: { name: string; dims: string }[] } {
    if (recorded) this.replaying = [...recorded];
    else this.recording = [];
    try {
      const value = fn();
      if (this.replaying?.length) throw new Error(`shared module left ${this.replaying.length} parameters unused`);
      return { value, params: recorded ?? this.recording! };
    } finally {
      this.recording = undefined;
      this.replaying = undefined;
    }
  }

  /** A random float parameter: normal(0, std) (uniform(lo, hi) when `uniform`). */
  param(prefix: string, dims: readonly number[], std: number, uniform?: [number, number]): string {
    if (this.replaying) {
      const next = this.replaying.shift();
      if (!next || next.dims !== dims.join('x'))
        throw new Error(`shared module: parameter ${prefix} [${dims.join('x')}] does not match`);
      return next.name;
    }
    const count = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    if (uniform) for (let i = 0; i < count; i++) data[i] = uniform[0] + (uniform[1] - uniform[0]) * this.rand();
    else for (let i = 0; i < count; i++) data[i] = this.normal() * std;
    const name = this.id(prefix);
    this.inits.push({ name, dtype: 'float32', dims, data });
    this.recording?.push({ name, dims: dims.join('x') });
    return name;
  }

  f32(values: readonly number[] | Float32Array, dims: readonly number[] = [values.length]): string {
    const name = this.id('c');
    this.inits.push({ name, dtype: 'float32', dims, data: Float32Array.from(values) });
    return name;
  }

  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.id('i');
    this.inits.push({ name, dtype: 'int64', dims, data: values.map((v) => BigInt(v)) });
    return name;
  }

  /** One node; returns its output name(s). */
  op(op: string, inputs: readonly string[], attrs?: Record<string, PlainAttr>, outputs = 1): string {
    const outs = Array.from({ length: outputs }, () => this.id(op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs: outs, name: this.id(`n_${op}`), ...(attrs ? { attrs } : {}) });
    return outs[0]!;
  }

  opN(op: string, inputs: readonly string[], outputs: number, attrs?: Record<string, PlainAttr>): string[] {
    const outs = Array.from({ length: outputs }, () => this.id(op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs: outs, name: this.id(`n_${op}`), ...(attrs ? { attrs } : {}) });
    return outs;
  }

  /** Renames the last node's output (graph outputs get fixed names). */
  nameOutput(value: string, name: string): string {
    for (const node of this.nodes) {
      (node as unknown as { inputs: string[] }).inputs = node.inputs.map((x) => (x === value ? name : x));
      (node as unknown as { outputs: string[] }).outputs = node.outputs.map((x) => (x === value ? name : x));
    }
    return name;
  }

  model(inputs: readonly ValueSpec[], outputs: readonly ValueSpec[], opset: number): ModelSpec {
    return {
      inputs,
      outputs,
      nodes: this.nodes,
      initializers: this.inits,
      opset,
      irVersion: 8,
      producer: 'bg-native-replica',
    };
  }

  // ---- layers ----------------------------------------------------------------------------------------

  /** nn.Linear on the last axis: MatMul with the transposed weight, then Add. */
  linear(x: string, cin: number, cout: number, bias = true): string {
    const w = this.param('linear.w', [cin, cout], Math.sqrt(1 / cin));
    const y = this.op('MatMul', [x, w]);
    return bias ? this.op('Add', [y, this.param('linear.b', [cout], 0.02)]) : y;
  }

  conv(
    x: string,
    cin: number,
    cout: number,
    k: number,
    o: { stride?: number; pad?: number; dilation?: number; group?: number; bias?: boolean } = {},
  ): string {
    const group = o.group ?? 1;
    const dil = o.dilation ?? 1;
    const pad = o.pad ?? ((k - 1) / 2) * dil;
    const w = this.param('conv.w', [cout, cin / group, k, k], Math.sqrt(2 / ((cin / group) * k * k)));
    const inputs = [x, w];
    if (o.bias ?? true) inputs.push(this.param('conv.b', [cout], 0.02));
    return this.op('Conv', inputs, {
      kernel_shape: [k, k],
      strides: [o.stride ?? 1, o.stride ?? 1],
      pads: [pad, pad, pad, pad],
      dilations: [dil, dil],
      group,
    });
  }

  /** LayerNorm over the last axis (c channels): the opset-17 op, or the decomposition older exporters write. */
  layerNorm(x: string, c: number, form: NormForm = 'op', eps = 1e-5): string {
    const scale = this.param('ln.w', [c], 0.1, [0.8, 1.2]);
    const bias = this.param('ln.b', [c], 0.02);
    if (form === 'op') return this.op('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: eps });
    const normed = this.normalize(x, [-1], eps);
    return this.op('Add', [this.op('Mul', [normed, scale]), bias]);
  }

  /** (x − mean) / sqrt(var + eps) over `axes`: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div. */
  normalize(x: string, axes: number[], eps: number): string {
    const mean = this.op('ReduceMean', [x], { axes, keepdims: 1 });
    const d = this.op('Sub', [x, mean]);
    const v = this.op('ReduceMean', [this.op('Pow', [d, this.f32([2], [])])], { axes, keepdims: 1 });
    return this.op('Div', [d, this.op('Sqrt', [this.op('Add', [v, this.f32([eps], [])])])]);
  }

  /** SAM's LayerNorm2d on NCHW (channel axis), always decomposed as its export is. */
  layerNorm2d(x: string, c: number, eps = 1e-6): string {
    const normed = this.normalize(x, [1], eps);
    const w = this.param('ln2d.w', [c, 1, 1], 0.1, [0.8, 1.2]);
    const b = this.param('ln2d.b', [c, 1, 1], 0.02);
    return this.op('Add', [this.op('Mul', [normed, w]), b]);
  }

  /** GELU, exact: x · 0.5 · (1 + erf(x / √2)) as exported before opset 20. */
  gelu(x: string): string {
    const e = this.op('Erf', [this.op('Div', [x, this.f32([Math.SQRT2], [])])]);
    return this.op('Mul', [this.op('Mul', [x, this.op('Add', [e, this.f32([1], [])])]), this.f32([0.5], [])]);
  }

  mlp(x: string, c: number, hidden: number): string {
    return this.linear(this.gelu(this.linear(x, c, hidden)), hidden, c);
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.op('Reshape', [x, this.i64(shape)]);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm });
  }

  slice(x: string, starts: number[], ends: number[], axes: number[], steps?: number[]): string {
    const inputs = [x, this.i64(starts), this.i64(ends), this.i64(axes)];
    if (steps) inputs.push(this.i64(steps));
    return this.op('Slice', inputs);
  }

  /** torch.roll(x, shift, axis) as exported: two Slices and a Concat. */
  roll(x: string, shift: number, axis: number, size: number): string {
    const s = ((shift % size) + size) % size;
    if (s === 0) return x;
    const tail = this.slice(x, [size - s], [size], [axis]);
    const head = this.slice(x, [0], [size - s], [axis]);
    return this.op('Concat', [tail, head], { axis });
  }

  /** F.interpolate(x, size, bilinear, align_corners) as Resize with sizes. */
  resizeTo(x: string, n: number, c: number, h: number, w: number, alignCorners: boolean): string {
    return this.op('Resize', [x, '', '', this.i64([n, c, h, w])], {
      mode: 'linear',
      coordinate_transformation_mode: alignCorners ? 'align_corners' : 'pytorch_half_pixel',
    });
  }

  /**
   * Multi-head attention on [B, N, C] tokens (q from `x`, k/v from `kv`): separate q/k/v Linears,
   * heads split by Reshape + Transpose, batched MatMul, an optional additive bias on the scores
   * ([heads, N, N] or broadcastable), Softmax on the last axis, the output projection.
   */
  attention(
    x: string,
    kv: string,
    b: number,
    nq: number,
    nk: number,
    c: number,
    heads: number,
    o: {
      inner?: number;
      scoreBias?: string;
      /** A further step on the biased scores before the Softmax (e.g. a mask added in another view). */
      scores?: (scores: string) => string;
      qkv?: boolean;
      value?: string;
      cin?: number;
    } = {},
  ): string {
    const inner = o.inner ?? c;
    const hd = inner / heads;
    let q: string, k: string, v: string;
    if (o.qkv && x === kv) {
      // One fused qkv Linear, as timm / Swin export it: [B, N, 3, heads, hd] → [3, B, heads, N, hd].
      const qkv = this.transpose(this.reshape(this.linear(x, c, 3 * inner), [b, nq, 3, heads, hd]), [2, 0, 3, 1, 4]);
      const parts = this.opN('Split', [qkv, this.i64([1, 1, 1])], 3, { axis: 0 }).map((t) =>
        this.op('Squeeze', [t, this.i64([0])]),
      );
      [q, k, v] = [parts[0]!, parts[1]!, parts[2]!];
    } else {
      // nq / nk may be -1: token counts that depend on the input (a prompt's points).
      q = this.transpose(this.reshape(this.linear(x, c, inner), [b, nq, heads, hd]), [0, 2, 1, 3]);
      k = this.transpose(this.reshape(this.linear(kv, c, inner), [b, nk, heads, hd]), [0, 2, 1, 3]);
      v = this.transpose(this.reshape(this.linear(o.value ?? kv, c, inner), [b, nk, heads, hd]), [0, 2, 1, 3]);
    }
    q = this.op('Mul', [q, this.f32([1 / Math.sqrt(hd)], [])]);
    let scores = this.op('MatMul', [q, this.transpose(k, [0, 1, 3, 2])]);
    if (o.scoreBias) scores = this.op('Add', [scores, o.scoreBias]);
    if (o.scores) scores = o.scores(scores);
    const attn = this.op('Softmax', [scores], { axis: -1 });
    const out = this.reshape(this.transpose(this.op('MatMul', [attn, v]), [0, 2, 1, 3]), [b, nq, inner]);
    return this.linear(out, inner, c);
  }
}
