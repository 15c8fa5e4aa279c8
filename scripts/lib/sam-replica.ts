/**
 * A random-weight Segment Anything replica: the image encoder and the prompt decoder as the
 * segment-anything ONNX export writes them (the decoder with its mask post-processing).
 *
 * Encoder: a ViT — Conv patch embedding, absolute position embedding, blocks of windowed
 * attention (the map padded to whole windows with Pad) and global attention, decomposed relative
 * position terms (a Gather of the rel_pos tables by constant indices, then Einsum "bhwc,hkc->bhwk"
 * and "bhwc,wkc->bhwk" added to the scores), GELU MLPs; the neck: 1×1 and 3×3 Convs each
 * followed by the decomposed LayerNorm2d. Input `image` [1, 3, S, S], output `image_embeddings`.
 *
 * Decoder: prompt points in the 1024 frame → random-Fourier positional encoding (MatMul, Sin,
 * Cos), label embeddings chosen with Equal / Cast / Mul, the dense mask embedding mixed by
 * has_mask_input, a two-way transformer (token self-attention, token→image and image→token
 * cross-attention with a halved inner width, ReLU MLPs), ConvTranspose upscaling with LayerNorm2d
 * and GELU, one hypernetwork MLP per mask token, the IoU head; then the masks are upscaled to the
 * 1024 frame, cropped to the prompt image's scaled size (computed from orig_im_size: ReduceMax,
 * Div, Floor, Cast, Slice) and resized to orig_im_size. Outputs `masks`, `iou_predictions`,
 * `low_res_masks`.
 */
import type { ModelSpec } from '../../test/helpers/onnx-builder.js';
import { GraphBuilder } from './onnx-layers.js';

export interface SamEncoderOptions {
  seed?: number;
  /** Input side S (1024 for the real models) and patch size (16). */
  size: number;
  patch: number;
  /** ViT width, depth, heads; window size of the windowed blocks; the blocks with global attention. */
  width: number;
  depth: number;
  heads: number;
  window: number;
  global: readonly number[];
  /** Embedding channels (256). */
  out: number;
}

export interface SamDecoderOptions {
  seed?: number;
  /** Embedding channels and side (256, 64 for the real models). */
  dim: number;
  side: number;
  heads: number;
  /** Mask tokens (4: one single-mask and three multimask outputs). */
  masks: number;
}

/** ViT-B at full size (the benchmark's SAM encoder). */
export const SAM_VIT_B: SamEncoderOptions = {
  size: 1024,
  patch: 16,
  width: 768,
  depth: 12,
  heads: 12,
  window: 14,
  global: [2, 5, 8, 11],
  out: 256,
};
/** ViT-L and ViT-H (segment-anything's vit_l / vit_h: global attention every sixth / eighth block). */
export const SAM_VIT_L: SamEncoderOptions = {
  ...SAM_VIT_B,
  width: 1024,
  depth: 24,
  heads: 16,
  global: [5, 11, 17, 23],
};
export const SAM_VIT_H: SamEncoderOptions = {
  ...SAM_VIT_B,
  width: 1280,
  depth: 32,
  heads: 16,
  global: [7, 15, 23, 31],
};
export const SAM_DECODER: SamDecoderOptions = { dim: 256, side: 64, heads: 8, masks: 4 };

const FRAME = 1024;

function relIndex(size: number): number[] {
  const out: number[] = [];
  for (let q = 0; q < size; q++) for (let k = 0; k < size; k++) out.push(q - k + size - 1);
  return out;
}

class SamEncoderWriter extends GraphBuilder {
  constructor(private readonly o: SamEncoderOptions) {
    super(o.seed ?? 11);
  }

  /** Attention over an h×w map of [b, h, w, c] with decomposed relative position terms. */
  relAttention(x: string, b: number, h: number, w: number): string {
    const { width: c, heads } = this.o;
    const hd = c / heads;
    const n = h * w;
    const qkv = this.transpose(this.reshape(this.linear(x, c, 3 * c), [b, n, 3, heads, hd]), [2, 0, 3, 1, 4]);
    const [q, k, v] = this.opN('Split', [this.reshape(qkv, [3, b * heads, n, hd]), this.i64([1, 1, 1])], 3, {
      axis: 0,
    }).map((t) => this.op('Squeeze', [t, this.i64([0])]));
    let attn = this.op('MatMul', [
      this.op('Mul', [q!, this.f32([1 / Math.sqrt(hd)], [])]),
      this.transpose(k!, [0, 2, 1]),
    ]);
    const rh = this.op('Gather', [this.param('rel_pos_h', [2 * h - 1, hd], 0.02), this.i64(relIndex(h), [h, h])], {
      axis: 0,
    });
    const rw = this.op('Gather', [this.param('rel_pos_w', [2 * w - 1, hd], 0.02), this.i64(relIndex(w), [w, w])], {
      axis: 0,
    });
    const rq = this.reshape(q!, [b * heads, h, w, hd]);
    const relH = this.op('Einsum', [rq, rh], { equation: 'bhwc,hkc->bhwk' });
    const relW = this.op('Einsum', [rq, rw], { equation: 'bhwc,wkc->bhwk' });
    attn = this.reshape(attn, [b * heads, h, w, h, w]);
    attn = this.op('Add', [attn, this.reshape(relH, [b * heads, h, w, h, 1])]);
    attn = this.op('Add', [attn, this.reshape(relW, [b * heads, h, w, 1, w])]);
    attn = this.op('Softmax', [this.reshape(attn, [b * heads, n, n])], { axis: -1 });
    const out = this.reshape(
      this.transpose(this.reshape(this.op('MatMul', [attn, v!]), [b, heads, h, w, hd]), [0, 2, 3, 1, 4]),
      [b, h, w, c],
    );
    return this.linear(out, c, c);
  }

  block(x: string, g: number, windowed: boolean): string {
    const c = this.o.width;
    let t = this.layerNorm(x, c, 'op', 1e-6);
    if (windowed) {
      const ws = this.o.window;
      const gp = Math.ceil(g / ws) * ws;
      if (gp !== g) t = this.op('Pad', [t, this.i64([0, 0, 0, 0, 0, gp - g, gp - g, 0])], { mode: 'constant' });
      const nw = gp / ws;
      t = this.reshape(this.transpose(this.reshape(t, [1, nw, ws, nw, ws, c]), [0, 1, 3, 2, 4, 5]), [
        nw * nw,
        ws,
        ws,
        c,
      ]);
      t = this.relAttention(t, nw * nw, ws, ws);
      t = this.reshape(this.transpose(this.reshape(t, [1, nw, nw, ws, ws, c]), [0, 1, 3, 2, 4, 5]), [1, gp, gp, c]);
      if (gp !== g) t = this.slice(t, [0, 0], [g, g], [1, 2]);
    } else {
      t = this.relAttention(t, 1, g, g);
    }
    const x1 = this.op('Add', [x, t]);
    return this.op('Add', [x1, this.mlp(this.layerNorm(x1, c, 'op', 1e-6), c, 4 * c)]);
  }

  build(): ModelSpec {
    const { size: s, patch, width: c, out } = this.o;
    const g = s / patch;
    let t = this.conv('image', 3, c, patch, { stride: patch, pad: 0 });
    t = this.op('Add', [this.transpose(t, [0, 2, 3, 1]), this.param('pos_embed', [1, g, g, c], 0.02)]);
    for (let i = 0; i < this.o.depth; i++) t = this.block(t, g, !this.o.global.includes(i));
    t = this.transpose(t, [0, 3, 1, 2]);
    t = this.layerNorm2d(this.conv(t, c, out, 1, { bias: false }), out);
    t = this.layerNorm2d(this.conv(t, out, out, 3, { bias: false }), out);
    this.nameOutput(t, 'image_embeddings');
    return this.model(
      [{ name: 'image', dtype: 'float32', shape: [1, 3, s, s] }],
      [{ name: 'image_embeddings', dtype: 'float32', shape: [1, out, g, g] }],
      17,
    );
  }
}

class SamDecoderWriter extends GraphBuilder {
  constructor(private readonly o: SamDecoderOptions) {
    super(o.seed ?? 13);
  }

  mlp3(x: string, cin: number, hidden: number, cout: number): string {
    const a = this.op('Relu', [this.linear(x, cin, hidden)]);
    const b = this.op('Relu', [this.linear(a, hidden, hidden)]);
    return this.linear(b, hidden, cout);
  }

  build(): ModelSpec {
    const { dim: d, side: e, heads, masks: k } = this.o;
    const gauss = this.param('pe.gaussian', [2, d / 2], 1);
    const twoPi = this.f32([2 * Math.PI], []);
    const fourier = (unit: string) => {
      const proj = this.op('Mul', [
        this.op('MatMul', [this.op('Sub', [this.op('Mul', [unit, this.f32([2], [])]), this.f32([1], [])]), gauss]),
        twoPi,
      ]);
      return this.op('Concat', [this.op('Sin', [proj]), this.op('Cos', [proj])], { axis: -1 });
    };
    // Sparse prompt embeddings [1, N, d].
    let pe = fourier(this.op('Div', [this.op('Add', ['point_coords', this.f32([0.5], [])]), this.f32([FRAME], [])]));
    const labels = this.op('Unsqueeze', ['point_labels', this.i64([2])]);
    const is = (l: number) => this.op('Cast', [this.op('Equal', [labels, this.f32([l], [])])], { to: 1 });
    pe = this.op('Mul', [pe, this.op('Sub', [this.f32([1], []), is(-1)])]);
    pe = this.op('Add', [pe, this.op('Mul', [this.param('not_a_point', [1, 1, d], 1), is(-1)])]);
    for (let l = 0; l < 4; l++)
      pe = this.op('Add', [pe, this.op('Mul', [this.param(`point_embed${l}`, [1, 1, d], 1), is(l)])]);
    // Dense embedding: the mask input downscaled, or the no-mask embedding.
    let m = this.op('Conv', ['mask_input', this.param('mask.c1', [4, 1, 2, 2], 0.5)], {
      kernel_shape: [2, 2],
      strides: [2, 2],
    });
    m = this.gelu(this.layerNorm2d(m, 4));
    m = this.op('Conv', [m, this.param('mask.c2', [d, 4, 2, 2], 0.3)], { kernel_shape: [2, 2], strides: [2, 2] });
    const has = this.reshape('has_mask_input', [1, 1, 1, 1]);
    const dense = this.op('Add', [
      this.op('Mul', [m, has]),
      this.op('Mul', [this.param('no_mask_embed', [1, d, 1, 1], 1), this.op('Sub', [this.f32([1], []), has])]),
    ]);
    const src = this.transpose(this.reshape(this.op('Add', ['image_embeddings', dense]), [1, d, e * e]), [0, 2, 1]);
    const keyPe = this.param('image_pe', [1, e * e, d], 1);
    // Tokens: IoU token, mask tokens, the prompt.
    const tokens = this.op('Concat', [this.param('output_tokens', [1, 1 + k, d], 1), pe], { axis: 1 });
    // Two-way transformer, one layer, then the final token→image attention.
    let qs = this.layerNorm(this.attention(tokens, tokens, 1, -1, -1, d, heads), d);
    let keys = src;
    const t2i = (q: string, kk: string, v: string) =>
      this.attention(q, kk, 1, -1, e * e, d, heads, { inner: d / 2, value: v });
    qs = this.layerNorm(
      this.op('Add', [qs, t2i(this.op('Add', [qs, tokens]), this.op('Add', [keys, keyPe]), keys)]),
      d,
    );
    qs = this.layerNorm(this.op('Add', [qs, this.linear(this.op('Relu', [this.linear(qs, d, 2 * d)]), 2 * d, d)]), d);
    const i2t = this.attention(this.op('Add', [keys, keyPe]), this.op('Add', [qs, tokens]), 1, e * e, -1, d, heads, {
      inner: d / 2,
      value: qs,
    });
    keys = this.layerNorm(this.op('Add', [keys, i2t]), d);
    qs = this.layerNorm(
      this.op('Add', [qs, t2i(this.op('Add', [qs, tokens]), this.op('Add', [keys, keyPe]), keys)]),
      d,
    );
    // Heads.
    const iouToken = this.slice(qs, [0], [1], [1]);
    const maskTokens = this.slice(qs, [1], [1 + k], [1]);
    let up = this.reshape(this.transpose(keys, [0, 2, 1]), [1, d, e, e]);
    up = this.op(
      'ConvTranspose',
      [up, this.param('up1.w', [d, d / 4, 2, 2], Math.sqrt(1 / d)), this.param('up1.b', [d / 4], 0.02)],
      { kernel_shape: [2, 2], strides: [2, 2] },
    );
    up = this.gelu(this.layerNorm2d(up, d / 4));
    up = this.op(
      'ConvTranspose',
      [up, this.param('up2.w', [d / 4, d / 8, 2, 2], Math.sqrt(4 / d)), this.param('up2.b', [d / 8], 0.02)],
      { kernel_shape: [2, 2], strides: [2, 2] },
    );
    up = this.gelu(up);
    const hyper = this.opN('Split', [maskTokens, this.i64(Array(k).fill(1))], k, { axis: 1 }).map((t) =>
      this.mlp3(t, d, d, d / 8),
    );
    const hyperIn = this.op('Concat', hyper, { axis: 1 });
    const lowRes = this.reshape(this.op('MatMul', [hyperIn, this.reshape(up, [1, d / 8, 16 * e * e])]), [
      1,
      k,
      4 * e,
      4 * e,
    ]);
    const iou = this.reshape(this.mlp3(iouToken, d, d, k), [1, k]);
    // Post-processing to orig_im_size.
    const framed = this.resizeTo(lowRes, 1, k, FRAME, FRAME, false);
    const scale = this.op('Div', [this.f32([FRAME], []), this.op('ReduceMax', ['orig_im_size'], { keepdims: 0 })]);
    const prepadded = this.op(
      'Cast',
      [this.op('Floor', [this.op('Add', [this.op('Mul', ['orig_im_size', scale]), this.f32([0.5], [])])])],
      { to: 7 },
    );
    const cropped = this.op('Slice', [framed, this.i64([0, 0]), prepadded, this.i64([2, 3])]);
    const sizes = this.op('Concat', [this.i64([1, k]), this.op('Cast', ['orig_im_size'], { to: 7 })], { axis: 0 });
    const out = this.op('Resize', [cropped, '', '', sizes], {
      mode: 'linear',
      coordinate_transformation_mode: 'pytorch_half_pixel',
    });
    this.nameOutput(out, 'masks');
    this.nameOutput(iou, 'iou_predictions');
    this.nameOutput(lowRes, 'low_res_masks');
    return this.model(
      [
        { name: 'image_embeddings', dtype: 'float32', shape: [1, d, e, e] },
        { name: 'point_coords', dtype: 'float32', shape: [1, 'num_points', 2] },
        { name: 'point_labels', dtype: 'float32', shape: [1, 'num_points'] },
        { name: 'mask_input', dtype: 'float32', shape: [1, 1, 4 * e, 4 * e] },
        { name: 'has_mask_input', dtype: 'float32', shape: [1] },
        { name: 'orig_im_size', dtype: 'float32', shape: [2] },
      ],
      [
        { name: 'masks', dtype: 'float32', shape: [1, k, 'h', 'w'] },
        { name: 'iou_predictions', dtype: 'float32', shape: [1, k] },
        { name: 'low_res_masks', dtype: 'float32', shape: [1, k, 4 * e, 4 * e] },
      ],
      17,
    );
  }
}

export function samEncoderReplica(o: SamEncoderOptions): ModelSpec {
  return new SamEncoderWriter(o).build();
}

export function samDecoderReplica(o: SamDecoderOptions): ModelSpec {
  return new SamDecoderWriter(o).build();
}
