/**
 * Plain-JS reference implementations of the ONNX operators bg-native runs, written straight from
 * the ONNX operator specification (float64 arithmetic, no shared code with the native side).
 * Tensors are row-major { shape, data }.
 */

export interface T {
  shape: number[];
  data: Float32Array;
}

export function tensor(shape: number[], data?: ArrayLike<number>): T {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = data ? Float32Array.from(data) : new Float32Array(n);
  if (d.length !== n) throw new Error(`shape ${JSON.stringify(shape)} needs ${n} values, got ${d.length}`);
  return { shape: [...shape], data: d };
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; --i) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

export function map(x: T, f: (v: number) => number): T {
  return { shape: [...x.shape], data: x.data.map(f) };
}

// biome-ignore lint/complexity/useMathMinMax: NaN maps to 0, as in the native kernels (`x > 0 ? x : 0`)
export const relu = (x: T): T => map(x, (v) => (v > 0 ? v : 0));
export const sigmoid = (x: T): T => map(x, (v) => 1 / (1 + Math.exp(-v)));

// ---- broadcasting binary ops ------------------------------------------------------------------------

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; ++i) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`shapes ${a} and ${b} do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function binary(a: T, b: T, f: (x: number, y: number) => number): T {
  const shape = broadcastShape(a.shape, b.shape);
  const r = shape.length;
  const out = tensor(shape);
  const sa = strides(a.shape),
    sb = strides(b.shape);
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < out.data.length; ++o) {
    let ia = 0,
      ib = 0;
    for (let d = 0; d < r; ++d) {
      const ka = d - (r - a.shape.length),
        kb = d - (r - b.shape.length);
      if (ka >= 0 && a.shape[ka]! !== 1) ia += idx[d]! * sa[ka]!;
      if (kb >= 0 && b.shape[kb]! !== 1) ib += idx[d]! * sb[kb]!;
    }
    out.data[o] = f(a.data[ia]!, b.data[ib]!);
    for (let d = r - 1; d >= 0; --d) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

export const add = (a: T, b: T): T => binary(a, b, (x, y) => x + y);
export const mul = (a: T, b: T): T => binary(a, b, (x, y) => x * y);

// ---- data movement ----------------------------------------------------------------------------------

export function concat(xs: T[], axis: number): T {
  const r = xs[0]!.shape.length;
  const ax = axis < 0 ? axis + r : axis;
  const shape = [...xs[0]!.shape];
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax]!, 0);
  const out = tensor(shape);
  const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  let o = 0;
  for (let i = 0; i < outer; ++i)
    for (const x of xs) {
      const len = x.shape[ax]! * inner;
      out.data.set(x.data.subarray(i * len, (i + 1) * len), o);
      o += len;
    }
  return out;
}

/** out[..., j, ...] = x[..., indices[j], ...] along `axis` (indices 1-D, may be negative). */
export function gather(x: T, indices: number[], axis: number): T {
  const r = x.shape.length;
  const ax = axis < 0 ? axis + r : axis;
  const dim = x.shape[ax]!;
  const shape = [...x.shape];
  shape[ax] = indices.length;
  const out = tensor(shape);
  const outer = x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  let o = 0;
  for (let i = 0; i < outer; ++i)
    for (const j of indices) {
      const k = j < 0 ? j + dim : j;
      out.data.set(x.data.subarray((i * dim + k) * inner, (i * dim + k + 1) * inner), o);
      o += inner;
    }
  return out;
}

/** Slice on one axis with numpy semantics (start/end clamped, negative values count from the end). */
export function slice1(x: T, axis: number, start: number, end: number, step = 1): T {
  const dim = x.shape[axis]!;
  const idx: number[] = [];
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
    for (let i = s; i < e; i += step) idx.push(i);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
    for (let i = s; i > e; i += step) idx.push(i);
  }
  return gather(x, idx, axis);
}

// ---- convolution --------------------------------------------------------------------------------------

export interface ConvOptions {
  strides?: [number, number];
  /** [top, left, bottom, right] */
  pads?: [number, number, number, number];
  dilations?: [number, number];
  group?: number;
}

export function convOutSize(inp: number, k: number, s: number, p0: number, p1: number, d: number): number {
  return Math.floor((inp + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

/** x (N,C,H,W) * w (O,C/group,KH,KW) + b (O). */
export function conv2d(x: T, w: T, b: T | undefined, o: ConvOptions = {}): T {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, CG, KH, KW] = w.shape as [number, number, number, number];
  const [sh, sw] = o.strides ?? [1, 1];
  const [pt, pl, pb, pr] = o.pads ?? [0, 0, 0, 0];
  const [dh, dw] = o.dilations ?? [1, 1];
  const G = o.group ?? 1;
  if (CG * G !== C) throw new Error('conv2d: channels do not fit the group');
  const OG = O / G;
  const OH = convOutSize(H, KH, sh, pt, pb, dh);
  const OW = convOutSize(W, KW, sw, pl, pr, dw);
  const y = tensor([N, O, OH, OW]);
  for (let n = 0; n < N; ++n)
    for (let oc = 0; oc < O; ++oc) {
      const g = Math.floor(oc / OG);
      for (let oy = 0; oy < OH; ++oy)
        for (let ox = 0; ox < OW; ++ox) {
          let acc = b ? b.data[oc]! : 0;
          for (let ci = 0; ci < CG; ++ci) {
            const c = g * CG + ci;
            for (let ky = 0; ky < KH; ++ky) {
              const iy = oy * sh - pt + ky * dh;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; ++kx) {
                const ix = ox * sw - pl + kx * dw;
                if (ix < 0 || ix >= W) continue;
                acc += x.data[((n * C + c) * H + iy) * W + ix]! * w.data[((oc * CG + ci) * KH + ky) * KW + kx]!;
              }
            }
          }
          y.data[((n * O + oc) * OH + oy) * OW + ox] = acc;
        }
    }
  return y;
}

// ---- pooling ------------------------------------------------------------------------------------------

export interface PoolOptions {
  kernel: [number, number];
  strides?: [number, number];
  pads?: [number, number, number, number];
  dilations?: [number, number];
  ceilMode?: boolean;
}

export function poolOutSize(
  inp: number,
  k: number,
  s: number,
  p0: number,
  p1: number,
  d: number,
  ceil: boolean,
): number {
  const span = inp + p0 + p1 - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // A window must start inside the input or its leading padding (PyTorch / onnxruntime rule).
  if (ceil && (out - 1) * s >= inp + p0) out -= 1;
  return out;
}

export function maxpool2d(x: T, o: PoolOptions): T {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [KH, KW] = o.kernel;
  const [sh, sw] = o.strides ?? [1, 1];
  const [pt, pl, pb, pr] = o.pads ?? [0, 0, 0, 0];
  const [dh, dw] = o.dilations ?? [1, 1];
  const OH = poolOutSize(H, KH, sh, pt, pb, dh, !!o.ceilMode);
  const OW = poolOutSize(W, KW, sw, pl, pr, dw, !!o.ceilMode);
  const y = tensor([N, C, OH, OW]);
  for (let nc = 0; nc < N * C; ++nc)
    for (let oy = 0; oy < OH; ++oy)
      for (let ox = 0; ox < OW; ++ox) {
        let m = -Infinity;
        for (let ky = 0; ky < KH; ++ky) {
          const iy = oy * sh - pt + ky * dh;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < KW; ++kx) {
            const ix = ox * sw - pl + kx * dw;
            if (ix < 0 || ix >= W) continue;
            m = Math.max(m, x.data[(nc * H + iy) * W + ix]!);
          }
        }
        y.data[(nc * OH + oy) * OW + ox] = m;
      }
  return y;
}

// ---- resize -------------------------------------------------------------------------------------------

export type CoordMode = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric';
export type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil';

export interface ResizeOptions {
  mode: 'nearest' | 'linear';
  coord: CoordMode;
  nearest?: NearestMode;
  /** The scale used in the coordinate transform; default out/in per axis. */
  scales?: [number, number];
}

function sourceCoord(xo: number, scale: number, inLen: number, outLen: number, coord: CoordMode): number {
  switch (coord) {
    case 'half_pixel':
      return (xo + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel':
      return outLen > 1 ? (xo + 0.5) / scale - 0.5 : 0;
    case 'align_corners':
      return outLen === 1 ? 0 : (xo * (inLen - 1)) / (outLen - 1);
    case 'asymmetric':
      return xo / scale;
  }
}

function nearestIndex(v: number, mode: NearestMode): number {
  switch (mode) {
    case 'floor':
      return Math.floor(v);
    case 'ceil':
      return Math.ceil(v);
    case 'round_prefer_floor':
      return v === Math.floor(v) + 0.5 ? Math.floor(v) : Math.round(v);
    case 'round_prefer_ceil':
      return Math.round(v);
  }
}

/** Resize of the last two axes of an NCHW tensor to (OH, OW). */
export function resize2d(x: T, OH: number, OW: number, o: ResizeOptions): T {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [sh, sw] = o.scales ?? [OH / H, OW / W];
  const y = tensor([N, C, OH, OW]);
  const axis = (inLen: number, outLen: number, scale: number) =>
    Array.from({ length: outLen }, (_, i) => sourceCoord(i, scale, inLen, outLen, o.coord));
  const ys = axis(H, OH, sh),
    xs = axis(W, OW, sw);
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  for (let nc = 0; nc < N * C; ++nc) {
    const src = (yy: number, xx: number) => x.data[(nc * H + yy) * W + xx]!;
    for (let oy = 0; oy < OH; ++oy)
      for (let ox = 0; ox < OW; ++ox) {
        let v: number;
        if (o.mode === 'nearest') {
          const m = o.nearest ?? 'round_prefer_floor';
          v = src(clamp(nearestIndex(ys[oy]!, m), H - 1), clamp(nearestIndex(xs[ox]!, m), W - 1));
        } else {
          const fy = clamp(ys[oy]!, H - 1),
            fx = clamp(xs[ox]!, W - 1);
          const y0 = Math.floor(fy),
            x0 = Math.floor(fx);
          const y1 = Math.min(y0 + 1, H - 1),
            x1 = Math.min(x0 + 1, W - 1);
          const ly = fy - y0,
            lx = fx - x0;
          v = (1 - ly) * ((1 - lx) * src(y0, x0) + lx * src(y0, x1)) + ly * ((1 - lx) * src(y1, x0) + lx * src(y1, x1));
        }
        y.data[(nc * OH + oy) * OW + ox] = v;
      }
  }
  return y;
}

// ---- normalisation --------------------------------------------------------------------------------------

export function batchnorm(x: T, scale: T, bias: T, mean: T, variance: T, eps: number): T {
  const [N, C] = x.shape as [number, number];
  const S = x.data.length / (N * C);
  const y = tensor(x.shape);
  for (let n = 0; n < N; ++n)
    for (let c = 0; c < C; ++c) {
      const k = scale.data[c]! / Math.sqrt(variance.data[c]! + eps);
      for (let s = 0; s < S; ++s) {
        const i = (n * C + c) * S + s;
        y.data[i] = (x.data[i]! - mean.data[c]!) * k + bias.data[c]!;
      }
    }
  return y;
}

// ---- quantisation -----------------------------------------------------------------------------------

/** Round half to even, as ONNX quantisation specifies. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** DynamicQuantizeLinear: uint8 y, scale, zero point from the range of x widened to include 0. */
export function dynamicQuantizeLinear(x: T): { y: Uint8Array; scale: number; zeroPoint: number } {
  let lo = 0,
    hi = 0;
  for (const v of x.data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  // float32 arithmetic throughout, as the runtimes compute it
  const scale = Math.fround(Math.fround(hi - lo) / 255);
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(Math.fround(0 - Math.fround(lo / scale)))));
  const y = new Uint8Array(x.data.length);
  for (let i = 0; i < y.length; ++i)
    y[i] = Math.min(255, Math.max(0, roundHalfEven(Math.fround(x.data[i]! / scale)) + zeroPoint));
  return { y, scale, zeroPoint };
}

/** DequantizeLinear with a per-tensor or per-axis scale / zero point. */
export function dequantizeLinear(
  x: ArrayLike<number>,
  shape: number[],
  scale: number[],
  zeroPoint: number[],
  axis = 1,
): T {
  const y = tensor(shape);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < y.data.length; ++i) {
    const k = scale.length === 1 ? 0 : Math.floor(i / inner) % scale.length;
    y.data[i] = (x[i]! - zeroPoint[k]!) * scale[k]!;
  }
  return y;
}

/** QuantizeLinear to uint8 with a per-tensor scale / zero point (x / scale in float32, as runtimes do). */
export function quantizeLinearU8(x: T, scale: number, zeroPoint: number): Uint8Array {
  return Uint8Array.from(x.data, (v) => Math.min(255, Math.max(0, roundHalfEven(Math.fround(v / scale)) + zeroPoint)));
}

/** ConvInteger: integer convolution of zero-point-shifted operands (result as exact integers). */
export function convInteger(
  x: Uint8Array,
  xShape: number[],
  xZero: number,
  w: ArrayLike<number>,
  wShape: number[],
  wZero: number,
  o: ConvOptions = {},
): T {
  const xs = tensor(
    xShape,
    Array.from(x, (v) => v - xZero),
  );
  const ws = tensor(
    wShape,
    Array.from(w as ArrayLike<number>, (v) => v - wZero),
  );
  return conv2d(xs, ws, undefined, o);
}
