/**
 * Builds a U²-Net-shaped ONNX graph with random weights: RSU blocks (Conv + BatchNormalization +
 * Relu, max-pool with ceil_mode, dilated convs, bilinear "upsample like" through a
 * Shape/Slice/Concat/Resize(sizes) chain as PyTorch exports F.interpolate(size=...)), side
 * outputs upsampled to the input size, a fused output, sigmoids. It stands in for rembg's
 * u2net / u2netp / silueta files, which cannot be downloaded here.
 */
import type { CoordMode } from './reference-ops.js';
import { type ModelSpec, type NodeSpec, type TensorSpec, randomArray, rng } from './onnx-builder.js';

export interface U2NetLikeOptions {
  seed?: number;
  /** Input height and width (odd sizes exercise ceil_mode and non-integer resize ratios). */
  height?: number;
  width?: number;
  /** Channels inside the blocks. */
  mid?: number;
  out?: number;
  /** Coordinate mode of the bilinear upsampling. */
  coord?: CoordMode;
  opset?: number;
  /**
   * How Resize receives its optional inputs: 'omitted' (empty names, as opset-13 exporters write)
   * or 'empty-tensors' (constant zero-length roi / scales tensors, as opset-11 exporters write).
   */
  resizeInputs?: 'omitted' | 'empty-tensors';
}

class Builder {
  nodes: NodeSpec[] = [];
  inits: TensorSpec[] = [];
  private n = 0;
  constructor(
    private rand: () => number,
    private coord: CoordMode,
    private resizeInputs: 'omitted' | 'empty-tensors' = 'omitted',
  ) {}

  private id(p: string): string {
    return `${p}_${++this.n}`;
  }

  private init(
    name: string,
    dims: number[],
    data: Float32Array | number[],
    dtype: TensorSpec['dtype'] = 'float32',
  ): string {
    this.inits.push({ name, dims, data, dtype });
    return name;
  }

  conv(x: string, cin: number, cout: number, k = 3, dil = 1, bias = true): string {
    const w = this.init(
      this.id('w'),
      [cout, cin, k, k],
      randomArray(this.rand, cout * cin * k * k, -1, 1).map((v) => v * Math.sqrt(3 / (cin * k * k))),
    );
    const inputs = [x, w];
    if (bias) inputs.push(this.init(this.id('b'), [cout], randomArray(this.rand, cout, -0.1, 0.1)));
    const y = this.id('conv');
    const pad = ((k - 1) / 2) * dil;
    this.nodes.push({
      op: 'Conv',
      inputs,
      outputs: [y],
      attrs: { kernel_shape: [k, k], pads: [pad, pad, pad, pad], dilations: [dil, dil], strides: [1, 1] },
    });
    return y;
  }

  bn(x: string, c: number): string {
    const p = this.id('bn');
    const scale = this.init(`${p}.scale`, [c], randomArray(this.rand, c, 0.5, 1.5));
    const bias = this.init(`${p}.bias`, [c], randomArray(this.rand, c, -0.2, 0.2));
    const mean = this.init(`${p}.mean`, [c], randomArray(this.rand, c, -0.2, 0.2));
    const variance = this.init(`${p}.var`, [c], randomArray(this.rand, c, 0.5, 1.5));
    const y = this.id('bn_out');
    this.nodes.push({
      op: 'BatchNormalization',
      inputs: [x, scale, bias, mean, variance],
      outputs: [y],
      attrs: { epsilon: 1e-5 },
    });
    return y;
  }

  unary(op: string, x: string): string {
    const y = this.id(op.toLowerCase());
    this.nodes.push({ op, inputs: [x], outputs: [y] });
    return y;
  }

  /** REBNCONV: conv 3x3 (dilated) + BN + ReLU. */
  rebnconv(x: string, cin: number, cout: number, dil = 1): string {
    return this.unary('Relu', this.bn(this.conv(x, cin, cout, 3, dil), cout));
  }

  pool(x: string): string {
    const y = this.id('pool');
    this.nodes.push({
      op: 'MaxPool',
      inputs: [x],
      outputs: [y],
      attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 },
    });
    return y;
  }

  concat(xs: string[]): string {
    const y = this.id('cat');
    this.nodes.push({ op: 'Concat', inputs: xs, outputs: [y], attrs: { axis: 1 } });
    return y;
  }

  add(a: string, b: string): string {
    const y = this.id('add');
    this.nodes.push({ op: 'Add', inputs: [a, b], outputs: [y] });
    return y;
  }

  private i64(values: number[]): string {
    return this.init(this.id('i64'), [values.length], values, 'int64');
  }

  /** F.interpolate(src, size=tar.shape[2:], mode='bilinear') as exported: sizes from Shape/Slice/Concat. */
  upsampleLike(src: string, tar: string): string {
    const shS = this.id('shape'),
      shT = this.id('shape'),
      nc = this.id('nc'),
      hw = this.id('hw'),
      sizes = this.id('sizes');
    this.nodes.push({ op: 'Shape', inputs: [src], outputs: [shS] });
    this.nodes.push({ op: 'Shape', inputs: [tar], outputs: [shT] });
    this.nodes.push({ op: 'Slice', inputs: [shS, this.i64([0]), this.i64([2]), this.i64([0])], outputs: [nc] });
    this.nodes.push({ op: 'Slice', inputs: [shT, this.i64([2]), this.i64([4]), this.i64([0])], outputs: [hw] });
    this.nodes.push({ op: 'Concat', inputs: [nc, hw], outputs: [sizes], attrs: { axis: 0 } });
    const y = this.id('up');
    const [roi, scales] =
      this.resizeInputs === 'omitted'
        ? ['', '']
        : [this.init(this.id('roi'), [0], []), this.init(this.id('scales'), [0], [])];
    this.nodes.push({
      op: 'Resize',
      inputs: [src, roi, scales, sizes],
      outputs: [y],
      attrs: { mode: 'linear', coordinate_transformation_mode: this.coord },
    });
    return y;
  }

  /** RSU-L: an encoder-decoder of depth L inside one block, with a residual connection. */
  rsu(x: string, L: number, cin: number, mid: number, cout: number): string {
    const hxin = this.rebnconv(x, cin, cout);
    const enc: string[] = [this.rebnconv(hxin, cout, mid)];
    let h = enc[0]!;
    for (let i = 2; i < L; ++i) {
      h = this.rebnconv(this.pool(h), mid, mid);
      enc.push(h);
    }
    let d = this.rebnconv(h, mid, mid, 2);
    d = this.rebnconv(this.concat([d, enc[enc.length - 1]!]), 2 * mid, enc.length === 1 ? cout : mid);
    for (let i = enc.length - 2; i >= 0; --i) {
      d = this.upsampleLike(d, enc[i]!);
      d = this.rebnconv(this.concat([d, enc[i]!]), 2 * mid, i === 0 ? cout : mid);
    }
    return this.add(d, hxin);
  }

  /** RSU-4F: dilated convolutions instead of pooling. */
  rsuF(x: string, cin: number, mid: number, cout: number): string {
    const hxin = this.rebnconv(x, cin, cout);
    const h1 = this.rebnconv(hxin, cout, mid, 1);
    const h2 = this.rebnconv(h1, mid, mid, 2);
    const h3 = this.rebnconv(h2, mid, mid, 4);
    const h4 = this.rebnconv(h3, mid, mid, 8);
    const d3 = this.rebnconv(this.concat([h4, h3]), 2 * mid, mid, 4);
    const d2 = this.rebnconv(this.concat([d3, h2]), 2 * mid, mid, 2);
    const d1 = this.rebnconv(this.concat([d2, h1]), 2 * mid, cout, 1);
    return this.add(d1, hxin);
  }
}

/** Output names of the graph: the fused map first, then the side outputs. */
export const U2NET_LIKE_OUTPUTS = ['d0', 'd1', 'd2', 'd3'] as const;

export function u2netLike(o: U2NetLikeOptions = {}): ModelSpec {
  const H = o.height ?? 45,
    W = o.width ?? 38,
    mid = o.mid ?? 4,
    out = o.out ?? 8;
  const b = new Builder(rng(o.seed ?? 1), o.coord ?? 'pytorch_half_pixel', o.resizeInputs);
  const hx1 = b.rsu('input', 4, 3, mid, out);
  const hx2 = b.rsu(b.pool(hx1), 3, out, mid, out);
  const hx3 = b.rsuF(b.pool(hx2), out, mid, out);
  const hx2d = b.rsu(b.concat([b.upsampleLike(hx3, hx2), hx2]), 3, 2 * out, mid, out);
  const hx1d = b.rsu(b.concat([b.upsampleLike(hx2d, hx1), hx1]), 4, 2 * out, mid, out);
  const d1 = b.conv(hx1d, out, 1);
  const d2 = b.upsampleLike(b.conv(hx2d, out, 1), d1);
  const d3 = b.upsampleLike(b.conv(hx3, out, 1), d1);
  const d0 = b.conv(b.concat([d1, d2, d3]), 3, 1, 1);
  const sides = [d0, d1, d2, d3];
  sides.forEach((s, i) => {
    b.nodes.push({ op: 'Sigmoid', inputs: [s], outputs: [U2NET_LIKE_OUTPUTS[i]!] });
  });
  return {
    opset: o.opset ?? 13,
    inputs: [{ name: 'input', shape: ['batch', 3, H, W] }],
    outputs: U2NET_LIKE_OUTPUTS.map((name) => ({ name, shape: ['batch', 1, H, W] })),
    nodes: b.nodes,
    initializers: b.inits,
  };
}
