/**
 * The Swin Transformer backbone as detection / segmentation models export it (the Swin code that
 * BiRefNet and BEN2 carry): Conv patch embedding with LayerNorm, window attention with relative
 * position bias (a Gather of the bias table by a constant index), shifted windows (torch.roll as
 * Slice + Concat, the attention mask as a constant), padding to whole windows (Pad), patch merging
 * by strided Slices, LayerNorm, GELU MLPs, a LayerNorm on each stage's output.
 * Runs on a batch of views ([B, 3, s, s]); with B > 1 the shifted-window mask is added as the
 * exporter writes it (scores viewed as [B, nW, heads, N, N], the mask broadcast, viewed back).
 */
import { GraphBuilder, type NormForm } from './onnx-layers.js';

export interface SwinOptions {
  /** Embedding width and per-stage depths / heads. */
  embed: number;
  depths: readonly number[];
  heads: readonly number[];
  window: number;
  norm?: NormForm;
}

/** One NCHW feature map: its name, channels and side. */
export interface SwinFeature {
  name: string;
  c: number;
  h: number;
}

/** The relative-position index of a ws×ws window: [N·N] indices into the (2ws−1)² table. */
function relativeIndex(ws: number): number[] {
  const coords: [number, number][] = [];
  for (let y = 0; y < ws; y++) for (let x = 0; x < ws; x++) coords.push([y, x]);
  const out: number[] = [];
  for (const a of coords)
    for (const b of coords) out.push((a[0] - b[0] + ws - 1) * (2 * ws - 1) + (a[1] - b[1] + ws - 1));
  return out;
}

/** The shifted-window attention mask: [nW, 1, N, N], −100 between tokens of different regions. */
function shiftMask(hp: number, wp: number, ws: number, shift: number): Float32Array {
  const region = new Int32Array(hp * wp);
  const band = (v: number, size: number) => (v < size - ws ? 0 : v < size - shift ? 1 : 2);
  for (let y = 0; y < hp; y++) for (let x = 0; x < wp; x++) region[y * wp + x] = band(y, hp) * 3 + band(x, wp);
  const nh = hp / ws;
  const nw = wp / ws;
  const n = ws * ws;
  const out = new Float32Array(nh * nw * n * n);
  for (let wy = 0; wy < nh; wy++) {
    for (let wx = 0; wx < nw; wx++) {
      const ids: number[] = [];
      for (let y = 0; y < ws; y++) for (let x = 0; x < ws; x++) ids.push(region[(wy * ws + y) * wp + wx * ws + x]!);
      const base = (wy * nw + wx) * n * n;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[base + i * n + j] = ids[i] === ids[j] ? 0 : -100;
    }
  }
  return out;
}

export class SwinGraphBuilder extends GraphBuilder {
  constructor(
    seed: number,
    protected readonly swin: SwinOptions,
  ) {
    super(seed);
  }

  protected get norm(): NormForm {
    return this.swin.norm ?? 'op';
  }

  /** One Swin block on [B, h·w, c] tokens. */
  swinBlock(x: string, b: number, h: number, w: number, c: number, heads: number, shift: number): string {
    // Swin as detection backbones run it: a fixed window, the map padded to whole windows.
    const ws = this.swin.window;
    const s = shift;
    const hp = Math.ceil(h / ws) * ws;
    const wp = Math.ceil(w / ws) * ws;
    const n = ws * ws;
    const nW = (hp / ws) * (wp / ws);
    let t = this.reshape(this.layerNorm(x, c, this.norm), [b, h, w, c]);
    if (hp !== h || wp !== w)
      t = this.op('Pad', [t, this.i64([0, 0, 0, 0, 0, hp - h, wp - w, 0])], { mode: 'constant' });
    if (s) t = this.roll(this.roll(t, -s, 1, hp), -s, 2, wp);
    t = this.reshape(this.transpose(this.reshape(t, [b, hp / ws, ws, wp / ws, ws, c]), [0, 1, 3, 2, 4, 5]), [
      b * nW,
      n,
      c,
    ]);
    const table = this.param('relpos.table', [(2 * ws - 1) ** 2, heads], 0.02);
    let bias = this.op('Gather', [table, this.i64(relativeIndex(ws), [n * n])], { axis: 0 });
    bias = this.op('Unsqueeze', [this.transpose(this.reshape(bias, [n, n, heads]), [2, 0, 1]), this.i64([0])]);
    let scores: ((v: string) => string) | undefined;
    if (s && b === 1) bias = this.op('Add', [bias, this.f32(shiftMask(hp, wp, ws, s), [nW, 1, n, n])]);
    else if (s) {
      const mask = this.f32(shiftMask(hp, wp, ws, s), [1, nW, 1, n, n]);
      scores = (v) =>
        this.reshape(this.op('Add', [this.reshape(v, [b, nW, heads, n, n]), mask]), [b * nW, heads, n, n]);
    }
    t = this.attention(t, t, b * nW, n, n, c, heads, { qkv: true, scoreBias: bias, scores });
    t = this.reshape(this.transpose(this.reshape(t, [b, hp / ws, wp / ws, ws, ws, c]), [0, 1, 3, 2, 4, 5]), [
      b,
      hp,
      wp,
      c,
    ]);
    if (s) t = this.roll(this.roll(t, s, 1, hp), s, 2, wp);
    if (hp !== h || wp !== w) t = this.slice(t, [0, 0], [h, w], [1, 2]);
    const x1 = this.op('Add', [x, this.reshape(t, [b, h * w, c])]);
    return this.op('Add', [x1, this.mlp(this.layerNorm(x1, c, this.norm), c, 4 * c)]);
  }

  patchMerge(x: string, b: number, h: number, w: number, c: number): string {
    const t = this.reshape(x, [b, h, w, c]);
    const part = (y0: number, x0: number) => this.slice(t, [y0, x0], [h, w], [1, 2], [2, 2]);
    const cat = this.op('Concat', [part(0, 0), part(1, 0), part(0, 1), part(1, 1)], { axis: -1 });
    return this.linear(
      this.layerNorm(this.reshape(cat, [b, (h / 2) * (w / 2), 4 * c]), 4 * c, this.norm),
      4 * c,
      2 * c,
      false,
    );
  }

  /**
   * The Swin backbone on [B, 3, s, s]: the stages' NCHW features, and with `withEmbed` the patch
   * embedding's (after its LayerNorm) as well.
   */
  swinBackbone(x: string, b: number, s: number, withEmbed = false): { embed?: SwinFeature; stages: SwinFeature[] } {
    const { embed, depths, heads } = this.swin;
    let h = s / 4;
    let c = embed;
    const proj = this.conv(x, 3, embed, 4, { stride: 4, pad: 0 });
    let t = this.layerNorm(this.transpose(this.reshape(proj, [b, c, h * h]), [0, 2, 1]), c, this.norm);
    const embedOut = withEmbed ? this.reshape(this.transpose(t, [0, 2, 1]), [b, c, h, h]) : undefined;
    const stages: SwinFeature[] = [];
    for (let stage = 0; stage < depths.length; stage++) {
      for (let d = 0; d < depths[stage]!; d++)
        t = this.swinBlock(t, b, h, h, c, heads[stage]!, d % 2 ? Math.floor(this.swin.window / 2) : 0);
      const out = this.transpose(this.reshape(this.layerNorm(t, c, this.norm), [b, h, h, c]), [0, 3, 1, 2]);
      stages.push({ name: out, c, h });
      if (stage < depths.length - 1) {
        t = this.patchMerge(t, b, h, h, c);
        h /= 2;
        c *= 2;
      }
    }
    return { ...(embedOut ? { embed: { name: embedOut, c: embed, h: s / 4 } } : {}), stages };
  }
}
