/**
 * A random-weight BiRefNet replica (the family of rembg's birefnet-* files and BRIA RMBG-2.0),
 * written with the export patterns of the real graphs:
 *   - the two-scale input: the backbone runs on the image and on its half-size copy (Resize,
 *     align_corners), each stage's half-scale features are brought up and concatenated;
 *   - a Swin Transformer backbone (scripts/lib/swin-backbone.ts);
 *   - a decoder of lateral convs, an ASPP with deformable convolutions — the DeformConv op
 *     (opset 19) or the decomposition of the common exporter (Pad, Reshape, Split, Floor, Clip,
 *     Cast, GatherND with batch_dims = 2, Sum, then a strided Conv) — image patches fed to each
 *     level (Reshape / Transpose), align-corners Resizes between levels, logits at full size.
 * Input `input_image` [1, 3, S, S], output `output_image` [1, 1, S, S], as BiRefNet exports.
 * Reduced widths for the tests, the real ones for the benchmark (swin-t: BiRefNet lite, swin-l:
 * general / RMBG-2.0, at 2048 the HR model).
 */
import type { ModelSpec } from '../../test/helpers/onnx-builder.js';
import type { NormForm } from './onnx-layers.js';
import { SwinGraphBuilder } from './swin-backbone.js';

export interface BiRefNetReplicaOptions {
  seed?: number;
  /** Input side (a multiple of 32 · window). */
  size: number;
  /** Swin embedding width and per-stage depths / heads. */
  embed: number;
  depths: readonly number[];
  heads: readonly number[];
  window: number;
  /** Decoder width. */
  decoder: number;
  /** Deformable convolutions: the DeformConv op, the exporter's decomposition, or none. */
  deform: 'op' | 'decomposed' | 'none';
  norm?: NormForm;
}

/** Full-size configurations (Swin-T: BiRefNet lite; Swin-L: general / RMBG-2.0; HR: Swin-L at 2048). */
/** The tests' reduced BiRefNet (64², every Swin stage, two windows a side at the first); `deform` per test. */
export const BIREFNET_SMALL: Omit<BiRefNetReplicaOptions, 'deform'> = {
  size: 64,
  embed: 8,
  depths: [2, 2, 2, 2],
  heads: [1, 2, 2, 4],
  window: 4,
  decoder: 16,
};

export const BIREFNET_FULL: Record<'swin-t' | 'swin-l' | 'hr', BiRefNetReplicaOptions> = {
  'swin-t': {
    size: 1024,
    embed: 96,
    depths: [2, 2, 6, 2],
    heads: [3, 6, 12, 24],
    window: 8,
    decoder: 64,
    deform: 'decomposed',
  },
  'swin-l': {
    size: 1024,
    embed: 192,
    depths: [2, 2, 18, 2],
    heads: [6, 12, 24, 48],
    window: 8,
    decoder: 64,
    deform: 'decomposed',
  },
  hr: {
    size: 2048,
    embed: 192,
    depths: [2, 2, 18, 2],
    heads: [6, 12, 24, 48],
    window: 8,
    decoder: 64,
    deform: 'decomposed',
  },
};

class BiRefNetWriter extends SwinGraphBuilder {
  constructor(private readonly o: BiRefNetReplicaOptions) {
    super(o.seed ?? 1, o);
  }

  /** A 3×3 deformable conv (c → cout) on [1, c, h, h] with learned offsets and modulation mask. */
  deformConv(x: string, c: number, cout: number, h: number): string {
    const k = 3;
    const offset = this.conv(x, c, 2 * k * k, 3, { bias: true });
    const offsetScaled = this.op('Mul', [offset, this.f32([0.5], [])]);
    const mask = this.op('Sigmoid', [this.conv(x, c, k * k, 3)]);
    const w = this.param('deform.w', [cout, c, k, k], Math.sqrt(2 / (c * k * k)));
    const b = this.param('deform.b', [cout], 0.02);
    if (this.o.deform === 'op') {
      return this.op('DeformConv', [x, w, offsetScaled, b, mask], {
        kernel_shape: [k, k],
        pads: [1, 1, 1, 1],
        strides: [1, 1],
        dilations: [1, 1],
        group: 1,
        offset_group: 1,
      });
    }
    return this.deformDecomposed(x, w, b, offsetScaled, mask, c, h, k, 1);
  }

  /** The exporter's decomposition of a deformable conv (stride 1, dilation 1, one offset group). */
  deformDecomposed(
    x: string,
    w: string,
    b: string,
    offset: string,
    mask: string,
    c: number,
    h: number,
    k: number,
    pad: number,
  ): string {
    const K = k * k;
    const ho = h;
    const q = h + 2 * pad + 2; // padded by the conv's pad plus one ring of zeros for out-of-range corners
    const xp = this.op('Pad', [x, this.i64([0, 0, pad + 1, pad + 1, 0, 0, pad + 1, pad + 1])], { mode: 'constant' });
    const flat = this.reshape(xp, [1, c, q * q]);
    const [dy, dx] = this.opN('Split', [this.reshape(offset, [1, K, 2, ho, ho]), this.i64([1, 1])], 2, { axis: 2 });
    // Base positions in the padded image: row i + ky (+1 for the zero ring), per tap and pixel.
    const baseY = new Float32Array(K * ho * ho);
    const baseX = new Float32Array(K * ho * ho);
    for (let t = 0; t < K; t++) {
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < ho; j++) {
          baseY[(t * ho + i) * ho + j] = i + Math.floor(t / k) + 1;
          baseX[(t * ho + i) * ho + j] = j + (t % k) + 1;
        }
      }
    }
    const y = this.op('Add', [this.reshape(dy!, [1, K, ho, ho]), this.f32(baseY, [1, K, ho, ho])]);
    const xx = this.op('Add', [this.reshape(dx!, [1, K, ho, ho]), this.f32(baseX, [1, K, ho, ho])]);
    const y0 = this.op('Floor', [y]);
    const x0 = this.op('Floor', [xx]);
    const ly = this.op('Sub', [y, y0]);
    const lx = this.op('Sub', [xx, x0]);
    const one = this.f32([1], []);
    const hy = this.op('Sub', [one, ly]);
    const hx = this.op('Sub', [one, lx]);
    const clip = (v: string) => this.op('Clip', [v, this.f32([0], []), this.f32([q - 1], [])]);
    const y1 = this.op('Add', [y0, one]);
    const x1 = this.op('Add', [x0, one]);
    const m = K * ho * ho;
    const gather = (yy: string, xv: string) => {
      const idx = this.op('Add', [this.op('Mul', [clip(yy), this.f32([q], [])]), clip(xv)]);
      const i64 = this.op('Cast', [this.reshape(idx, [1, 1, m, 1])], { to: 7 });
      const expanded = this.op('Expand', [i64, this.i64([1, c, m, 1])]);
      return this.op('GatherND', [flat, expanded], { batch_dims: 2 });
    };
    const weight = (a: string, bb: string) => this.reshape(this.op('Mul', [a, bb]), [1, 1, m]);
    const sampled = this.op('Sum', [
      this.op('Mul', [gather(y0, x0), weight(hy, hx)]),
      this.op('Mul', [gather(y0, x1), weight(hy, lx)]),
      this.op('Mul', [gather(y1, x0), weight(ly, hx)]),
      this.op('Mul', [gather(y1, x1), weight(ly, lx)]),
    ]);
    const modulated = this.op('Mul', [sampled, this.reshape(mask, [1, 1, m])]);
    // [1, c, ky, kx, ho, wo] → [1, c, ho·k, wo·k]: a stride-k conv with the deform weights.
    const cols = this.reshape(this.transpose(this.reshape(modulated, [1, c, k, k, ho, ho]), [0, 1, 4, 2, 5, 3]), [
      1,
      c,
      ho * k,
      ho * k,
    ]);
    return this.op('Conv', [cols, w, b], { kernel_shape: [k, k], strides: [k, k], pads: [0, 0, 0, 0] });
  }

  /** BiRefNet's image patches for a level of side h: [1, 3·g², h, h] (rearrange 'b c (g h) (g w) -> b (c g g) h w'). */
  imagePatches(x: string, s: number, h: number): string {
    const g = s / h;
    return this.reshape(this.transpose(this.reshape(x, [1, 3, g, h, g, h]), [0, 1, 2, 4, 3, 5]), [1, 3 * g * g, h, h]);
  }

  build(): ModelSpec {
    const { size: s, decoder: d } = this.o;
    const x = 'input_image';
    const first = this.share(() => this.swinBackbone(x, 1, s).stages);
    const full = first.value;
    const halfIn = this.resizeTo(x, 1, 3, s / 2, s / 2, true);
    const half = this.share(() => this.swinBackbone(halfIn, 1, s / 2).stages, first.params).value;
    const feats = full.map((f, i) => {
      const up = this.resizeTo(half[i]!.name, 1, half[i]!.c, f.h, f.h, true);
      return { name: this.op('Concat', [f.name, up], { axis: 1 }), c: 2 * f.c, h: f.h };
    });
    // Top level: ASPP with a deformable branch and image pooling.
    const top = feats[feats.length - 1]!;
    const lat = this.op('Relu', [this.conv(top.name, top.c, d, 1)]);
    const branches = [this.op('Relu', [this.conv(lat, d, d, 1)])];
    if (this.o.deform !== 'none') branches.push(this.op('Relu', [this.deformConv(lat, d, d, top.h)]));
    else branches.push(this.op('Relu', [this.conv(lat, d, d, 3, { dilation: 2 })]));
    const pooled = this.op('Relu', [this.conv(this.op('GlobalAveragePool', [lat]), d, d, 1)]);
    branches.push(this.resizeTo(pooled, 1, d, top.h, top.h, true));
    let p = this.op('Relu', [this.conv(this.op('Concat', branches, { axis: 1 }), d * branches.length, d, 1)]);
    let ph = top.h;
    for (let i = feats.length - 2; i >= 0; i--) {
      const f = feats[i]!;
      const lateral = this.conv(f.name, f.c, d, 1);
      p = this.op('Add', [this.resizeTo(p, 1, d, f.h, f.h, true), lateral]);
      const patches = this.conv(this.imagePatches(x, s, f.h), 3 * (s / f.h) ** 2, d / 2, 3);
      p = this.op('Relu', [this.conv(this.op('Concat', [p, patches], { axis: 1 }), d + d / 2, d, 3)]);
      if (i === feats.length - 2 && this.o.deform !== 'none')
        p = this.op('Relu', [this.op('Add', [p, this.deformConv(p, d, d, f.h)])]);
      ph = f.h;
    }
    p = this.resizeTo(p, 1, d, ph * 2, ph * 2, true);
    p = this.op('Relu', [this.conv(p, d, d / 2, 3)]);
    p = this.resizeTo(p, 1, d / 2, s, s, true);
    const out = this.conv(p, d / 2, 1, 1);
    this.nameOutput(out, 'output_image');
    return this.model(
      [{ name: x, dtype: 'float32', shape: [1, 3, s, s] }],
      [{ name: 'output_image', dtype: 'float32', shape: [1, 1, s, s] }],
      this.o.deform === 'op' ? 19 : 17,
    );
  }
}

export function birefnetReplica(o: BiRefNetReplicaOptions): ModelSpec {
  return new BiRefNetWriter(o).build();
}
