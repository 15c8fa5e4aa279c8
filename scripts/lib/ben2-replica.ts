/**
 * A random-weight BEN2 replica (BEN2 Base, rembg's `BEN2_Base.onnx`), written with the export
 * patterns of the real graph (torch.onnx.export at opset 15, input 1×3×1024×1024):
 *   - five views: the image's four quadrants (image2patches: Reshape / Transpose / Reshape) and the
 *     whole image at half size (bilinear Resize by scales, pytorch_half_pixel), run as one batch by
 *     a Swin-B backbone (scripts/lib/swin-backbone.ts; window 12, so every stage pads to whole
 *     windows), LayerNorm decomposed as opset 15 writes it;
 *   - per level a conv + InstanceNorm + GELU (make_cbr);
 *   - MCLM on the top level: the global view's tokens attend to the local views' tokens pooled at
 *     several scales (AveragePool / GlobalAveragePool, adaptive pooling as exported) with constant
 *     sine position embeddings, then each local view attends to its quarter of the global tokens;
 *   - MCRM at each lower level: a sigmoid saliency map of the global view gates the local views
 *     (nearest Resize), each local view attends to the pooled global view, the refreshed local views
 *     go back into the global one (nearest Resize);
 *   - nn.MultiheadAttention as decomposed by the exporter (seq-first: q / packed kv projections,
 *     heads by Reshape + Transpose, MatMul, Softmax, Gemm for the output projection);
 *   - the head: patches2image, an InstanceNorm conv stack, a full-size shallow conv added back at
 *     two scales, nearest ×2 upsamplings, a 1-channel conv and a Sigmoid.
 * Input [1, 3, S, S], output [1, 1, S, S] (probabilities). The real file was exported without
 * names, so its names are the exporter's; the replica's are placeholders (the first input and
 * output are what bg-native reads).
 */
import { attr, type ModelSpec } from '../../test/helpers/onnx-builder.js';
import { SwinGraphBuilder, type SwinFeature, type SwinOptions } from './swin-backbone.js';

export interface Ben2ReplicaOptions extends SwinOptions {
  seed?: number;
  /** Input side: the views are S/2, the top level S/64 and MCLM pools it down to S/64 / 8. */
  size: number;
  /** Decoder width (emb_dim) and the mask head's inner width. */
  decoder: number;
  head: number;
  /** MultiheadAttention heads of MCLM / MCRM and their pooling ratios. */
  attnHeads?: number;
  mclmPools?: readonly number[];
  mcrmPools?: readonly number[];
}

/** BEN2 Base: Swin-B (embed 128, depths 2-2-18-2, heads 4-8-16-32, window 12), emb_dim 128. */
export const BEN2_BASE: Ben2ReplicaOptions = {
  size: 1024,
  embed: 128,
  depths: [2, 2, 18, 2],
  heads: [4, 8, 16, 32],
  window: 12,
  decoder: 128,
  head: 384,
};

/**
 * The tests' reduced BEN2: 512² is the smallest input with the real pooling ratios (256² views, an 8²
 * top level, the least MCLM's 1/8 pooling keeps); window 6 pads every stage to whole windows, as
 * window 12 does at 1024².
 */
export const BEN2_SMALL: Ben2ReplicaOptions = {
  size: 512,
  embed: 8,
  depths: [2, 2, 2, 2],
  heads: [1, 2, 2, 4],
  window: 6,
  decoder: 8,
  head: 16,
};

/** Python's round(): halves to even (pool sizes are computed with it). */
function pyRound(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * PositionEmbeddingSine(d / 2, normalize=True) on an h×w grid, as '(h w) 1 d' rows: y features
 * then x features, sin on even and cos on odd indices, positions scaled to (0, 2π].
 */
function sinePositions(h: number, w: number, d: number): Float32Array {
  const half = d / 2;
  const out = new Float32Array(h * w * d);
  const dimT = Array.from({ length: half }, (_, k) => 10000 ** ((2 * Math.floor(k / 2)) / half));
  const scale = 2 * Math.PI;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ye = ((y + 1 - 0.5) / (h + 1e-6)) * scale;
      const xe = ((x + 1 - 0.5) / (w + 1e-6)) * scale;
      const row = (y * w + x) * d;
      for (let k = 0; k < half; k++) {
        out[row + k] = k % 2 ? Math.cos(ye / dimT[k]!) : Math.sin(ye / dimT[k]!);
        out[row + half + k] = k % 2 ? Math.cos(xe / dimT[k]!) : Math.sin(xe / dimT[k]!);
      }
    }
  }
  return out;
}

interface LayerNormParams {
  w: string;
  b: string;
}

class Ben2Writer extends SwinGraphBuilder {
  constructor(private readonly o: Ben2ReplicaOptions) {
    super(o.seed ?? 1, { ...o, norm: o.norm ?? 'decomposed' });
  }

  private lnParams(c: number): LayerNormParams {
    return { w: this.param('ln.w', [c], 0.1, [0.8, 1.2]), b: this.param('ln.b', [c], 0.02) };
  }

  /** LayerNorm with given (shared) parameters: MCLM / MCRM apply one norm to several token sets. */
  private lnWith(x: string, p: LayerNormParams): string {
    if (this.norm === 'op') return this.op('LayerNormalization', [x, p.w, p.b], { axis: -1, epsilon: 1e-5 });
    return this.op('Add', [this.op('Mul', [this.normalize(x, [-1], 1e-5), p.w]), p.b]);
  }

  private instanceNorm(x: string, c: number): string {
    // InstanceNorm2d without affine parameters: the exporter feeds constant ones and zeros.
    const ones = this.f32(new Float32Array(c).fill(1), [c]);
    const zeros = this.f32(new Float32Array(c), [c]);
    return this.op('InstanceNormalization', [x, ones, zeros], { epsilon: 1e-5 });
  }

  /** make_cbr / make_cbg: 3×3 conv, InstanceNorm, GELU. */
  private cbr(x: string, cin: number, cout: number): string {
    return this.gelu(this.instanceNorm(this.conv(x, cin, cout, 3), cout));
  }

  /** F.interpolate(nearest) by a size or a scale: Resize, asymmetric, floor. */
  private nearest(x: string, to: { sizes: number[] } | { scale: number }): string {
    const attrs = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    if ('sizes' in to) return this.op('Resize', [x, '', '', this.i64(to.sizes)], attrs);
    return this.op('Resize', [x, this.f32([]), this.f32([1, 1, to.scale, to.scale])], attrs);
  }

  /** rearrange 'b c (hg h) (wg w) -> (hg wg b) c h w' (hg = wg = 2) on [b, c, 2h, 2h]. */
  private toPatches(x: string, b: number, c: number, h: number): string {
    return this.reshape(this.transpose(this.reshape(x, [b, c, 2, h, 2, h]), [2, 4, 0, 1, 3, 5]), [4 * b, c, h, h]);
  }

  /** rearrange '(hg wg b) c h w -> b c (hg h) (wg w)' on [4, c, h, h]: one [1, c, 2h, 2h] map. */
  private fromPatches(x: string, c: number, h: number): string {
    return this.reshape(this.transpose(this.reshape(x, [2, 2, 1, c, h, h]), [2, 3, 0, 4, 1, 5]), [1, c, 2 * h, 2 * h]);
  }

  /** rearrange 'b c h w -> (h w) b c'. */
  private tokens(x: string, b: number, c: number, h: number, w: number): string {
    return this.reshape(this.transpose(x, [2, 3, 0, 1]), [h * w, b, c]);
  }

  /** F.adaptive_avg_pool2d to a divisor of the side, as exported: AveragePool (GlobalAveragePool to 1×1). */
  private adaptivePool(x: string, side: number, to: number): string {
    if (to === 1) return this.op('GlobalAveragePool', [x]);
    if (side % to) throw new Error(`adaptive pooling ${side} → ${to} is not exportable`);
    const k = side / to;
    return this.op('AveragePool', [x], { kernel_shape: [k, k], strides: [k, k] });
  }

  /**
   * nn.MultiheadAttention (seq-first) decomposed as the exporter writes it: q [lq, n, e] against
   * k / v [lk, n, e]; `v` undefined means key is value (one packed kv projection, as torch runs it).
   */
  private mha(q: string, k: string, v: string | undefined, lq: number, lk: number, n: number, e: number): string {
    const heads = this.o.attnHeads ?? 1;
    const hd = e / heads;
    const proj = (x: string, cout: number) => this.linear(x, e, cout);
    const qp = proj(q, e);
    let kp: string;
    let vp: string;
    if (v === undefined) {
      // linear(k, w_kv).unflatten(-1, (2, e)).unsqueeze(0).transpose(0, -2).squeeze(-2), then kv[0], kv[1].
      let kv = this.op('Unsqueeze', [this.reshape(proj(k, 2 * e), [lk, n, 2, e]), this.i64([0])]);
      kv = this.op('Squeeze', [this.transpose(kv, [3, 1, 2, 0, 4]), this.i64([3])]);
      kp = this.op('Gather', [kv, this.i64([0], [])], { axis: 0 });
      vp = this.op('Gather', [kv, this.i64([1], [])], { axis: 0 });
    } else {
      kp = proj(k, e);
      vp = proj(v, e);
    }
    const split = (x: string, l: number) => this.transpose(this.reshape(x, [l, n * heads, hd]), [1, 0, 2]);
    const qs = this.op('Mul', [split(qp, lq), this.f32([Math.sqrt(1 / hd)], [])]);
    const scores = this.op('MatMul', [qs, this.transpose(split(kp, lk), [0, 2, 1])]);
    const attn = this.op('Softmax', [scores], { axis: -1 });
    const out = this.reshape(this.transpose(this.op('MatMul', [attn, split(vp, lk)]), [1, 0, 2]), [lq * n, e]);
    const w = this.param('out_proj.w', [e, e], Math.sqrt(1 / e));
    const b = this.param('out_proj.b', [e], 0.02);
    return this.reshape(this.op('Gemm', [out, w, b], { alpha: attr.float(1), beta: attr.float(1) }), [lq, n, e]);
  }

  /** x + dropout(linear2(gelu(linear1(x)))), the 2× FFN of MCLM / MCRM. */
  private ffn(x: string, l1: { w: string; b: string }, l2: { w: string; b: string }): string {
    const hidden = this.gelu(this.op('Add', [this.op('MatMul', [x, l1.w]), l1.b]));
    return this.op('Add', [x, this.op('Add', [this.op('MatMul', [hidden, l2.w]), l2.b])]);
  }

  private linearParams(cin: number, cout: number): { w: string; b: string } {
    return { w: this.param('linear.w', [cin, cout], Math.sqrt(1 / cin)), b: this.param('linear.b', [cout], 0.02) };
  }

  /** MCLM on [5, e, h, h] (four local views, then the global one). */
  mclm(x: string, e: number, h: number): string {
    const [loc, glb] = this.opN('Split', [x, this.i64([4, 1])], 2, { axis: 0 });
    const locs = this.fromPatches(loc!, e, h);
    const pools: string[] = [];
    const poses: number[] = [];
    let count = 0;
    for (const r of this.o.mclmPools ?? [1, 4, 8]) {
      const t = pyRound(h / r);
      pools.push(this.tokens(this.adaptivePool(locs, 2 * h, t), 1, e, t, t));
      poses.push(...sinePositions(t, t, e));
      count += t * t;
    }
    const pooled = this.op('Concat', pools, { axis: 0 });
    const pPos = this.f32(Float32Array.from(poses), [count, 1, e]);
    const gPos = this.f32(sinePositions(h, h, e), [h * h, 1, e]);
    const norm1 = this.lnParams(e);
    const norm2 = this.lnParams(e);
    const [l1, l2, l3, l4] = [
      this.linearParams(e, 2 * e),
      this.linearParams(2 * e, e),
      this.linearParams(e, 2 * e),
      this.linearParams(2 * e, e),
    ];
    // The global tokens (queries) against the pooled local tokens.
    let g = this.tokens(glb!, 1, e, h, h);
    const q = this.op('Add', [g, gPos]);
    const k = this.op('Add', [pooled, pPos]);
    g = this.lnWith(this.op('Add', [g, this.mha(q, k, pooled, h * h, count, 1, e)]), norm1);
    g = this.lnWith(this.ffn(g, l1!, l2!), norm2);
    // Each local view against its quarter of the refreshed global tokens.
    let l = this.tokens(loc!, 4, e, h, h);
    const hh = h / 2;
    const quarters = this.reshape(this.transpose(this.reshape(g, [2, hh, 2, hh, 1, e]), [1, 3, 0, 2, 4, 5]), [
      hh * hh,
      4,
      e,
    ]);
    const ls = this.opN('Split', [l, this.i64([1, 1, 1, 1])], 4, { axis: 1 });
    const gs = this.opN('Split', [quarters, this.i64([1, 1, 1, 1])], 4, { axis: 1 });
    const outs = ls.map((li, i) => this.mha(li, gs[i]!, undefined, h * h, hh * hh, 1, e));
    l = this.lnWith(this.op('Add', [l, this.op('Concat', outs, { axis: 1 })]), norm1);
    l = this.lnWith(this.ffn(l, l3!, l4!), norm2);
    const all = this.op('Concat', [l, g], { axis: 1 });
    return this.transpose(this.reshape(all, [h, h, 5, e]), [2, 3, 0, 1]);
  }

  /** MCRM on [5, e, h, h]. */
  mcrm(x: string, e: number, h: number): string {
    const [loc0, glb] = this.opN('Split', [x, this.i64([4, 1])], 2, { axis: 0 });
    const hh = h / 2;
    const patchedGlb = this.toPatches(glb!, 1, e, hh);
    const saliency = this.op('Sigmoid', [this.conv(glb!, e, 1, 1)]);
    const gate = this.nearest(saliency, { sizes: [1, 1, 2 * h, 2 * h] });
    const loc = this.op('Mul', [loc0!, this.toPatches(gate, 1, 1, h)]);
    const pools: string[] = [];
    let count = 0;
    for (const r of this.o.mcrmPools ?? [2, 4, 8]) {
      const t = pyRound(h / r);
      pools.push(this.reshape(this.adaptivePool(patchedGlb, hh, t), [4, e, t * t]));
      count += t * t;
    }
    const kv = this.reshape(this.transpose(this.op('Concat', pools, { axis: 2 }), [0, 2, 1]), [4, count, 1, e]);
    const locTokens = this.reshape(this.transpose(loc, [0, 2, 3, 1]), [4, h * h, 1, e]);
    const qs = this.opN('Split', [locTokens, this.i64([1, 1, 1, 1])], 4, { axis: 0 }).map((t) =>
      this.op('Squeeze', [t, this.i64([0])]),
    );
    const outs = qs.map((q, i) => {
      const v = this.op('Gather', [kv, this.i64([i], [])], { axis: 0 });
      return this.mha(q, v, undefined, h * h, count, 1, e);
    });
    const norm1 = this.lnParams(e);
    const norm2 = this.lnParams(e);
    const l3 = this.linearParams(e, 2 * e);
    const l4 = this.linearParams(2 * e, e);
    let src = this.transpose(this.reshape(loc, [4, e, h * h]), [2, 0, 1]);
    src = this.lnWith(this.op('Add', [src, this.op('Concat', outs, { axis: 1 })]), norm1);
    src = this.lnWith(this.ffn(src, l3, l4), norm2);
    src = this.reshape(this.transpose(src, [1, 2, 0]), [4, e, h, h]);
    const back = this.nearest(this.fromPatches(src, e, h), { sizes: [1, e, h, h] });
    return this.op('Concat', [src, this.op('Add', [glb!, back])], { axis: 0 });
  }

  /** resize_as: F.interpolate(size, bilinear) without align_corners. */
  private resizeAs(x: string, n: number, c: number, h: number): string {
    return this.resizeTo(x, n, c, h, h, false);
  }

  build(): ModelSpec {
    const { size: s, decoder: e, head } = this.o;
    const v = s / 2;
    const input = 'input';
    const shallow = this.conv(input, 3, e, 3);
    const glbIn = this.op('Resize', [input, this.f32([]), this.f32([1, 1, 0.5, 0.5])], {
      mode: 'linear',
      coordinate_transformation_mode: 'pytorch_half_pixel',
    });
    const pick = (x: string) =>
      this.op('Unsqueeze', [this.op('Gather', [x, this.i64([0], [])], { axis: 0 }), this.i64([0])]);
    const views = this.op('Concat', [this.toPatches(pick(input), 1, 3, v), pick(glbIn)], { axis: 0 });
    const bb = this.swinBackbone(views, 5, v, true);
    const feats: SwinFeature[] = [bb.embed!, ...bb.stages];
    const level = feats.map((f) => this.cbr(this.slice(f.name, [0], [5], [0]), f.c, e));
    const side = feats.map((f) => f.h);
    let d = this.mclm(level[4]!, e, side[4]!);
    for (let i = 3; i >= 0; i--) {
      const up = this.op('Add', [level[i]!, this.resizeAs(d, 5, e, side[i]!)]);
      d = this.cbr(this.mcrm(up, e, side[i]!), e, e);
    }
    const h1 = side[0]!;
    const [loc, glb] = this.opN('Split', [d, this.i64([4, 1])], 2, { axis: 0 });
    let out = this.fromPatches(loc!, e, h1);
    out = this.op('Add', [out, this.resizeAs(glb!, 1, e, 2 * h1)]);
    out = this.gelu(this.instanceNorm(this.conv(out, e, head, 3), head));
    out = this.gelu(this.instanceNorm(this.conv(out, head, head, 3), head));
    out = this.conv(out, head, e, 3);
    const sh = pick(shallow);
    out = this.op('Add', [out, this.resizeAs(sh, 1, e, 2 * h1)]);
    out = this.cbr(this.nearest(out, { scale: 2 }), e, e);
    out = this.nearest(this.op('Add', [out, this.resizeAs(sh, 1, e, 4 * h1)]), { scale: 2 });
    out = this.cbr(out, e, e);
    const mask = this.op('Sigmoid', [this.conv(out, e, 1, 3)]);
    this.nameOutput(mask, 'output');
    return this.model(
      [{ name: input, dtype: 'float32', shape: [1, 3, s, s] }],
      [{ name: 'output', dtype: 'float32', shape: [1, 1, s, s] }],
      15,
    );
  }
}

export function ben2Replica(o: Ben2ReplicaOptions): ModelSpec {
  return new Ben2Writer(o).build();
}
