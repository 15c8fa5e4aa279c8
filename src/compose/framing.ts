/**
 * Framing: padding around the subject, output size or aspect ratio, subject centred (as
 * Photoroom's `padding` / `outputSize`). Pure geometry (`alphaBounds`, `computeFraming`) plus
 * `applyFraming`, which resamples RGB and alpha into the frame.
 *
 * A framing maps source to output pixels by  out = src · scale + offset  (pixel edges). With
 * scale 1 the offsets are whole pixels and `applyFraming` copies pixels exactly.
 */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Sides {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export interface FramingOptions {
  /** Margin as a fraction of the output side: one number for all sides or per side (default 0). */
  padding?: number | Partial<Sides>;
  /** Exact output size; the subject is scaled to fit inside the padding. */
  outputSize?: { width: number; height: number };
  /** Output width/height when no outputSize is given: the frame grows along one axis to match. */
  aspectRatio?: number;
}

export interface Framing {
  /** The subject's box in the source. */
  subject: Rect;
  /** Output size. */
  width: number;
  height: number;
  /** out = src · scale + (offsetX, offsetY). */
  scale: number;
  offsetX: number;
  offsetY: number;
}

/** Bounding box of the pixels with alpha ≥ threshold (default 8); undefined when there are none. */
export function alphaBounds(alpha: Uint8Array, width: number, height: number, threshold = 8): Rect | undefined {
  if (alpha.length !== width * height) throw new RangeError('alphaBounds: sizes do not match');
  let x0 = width;
  let y0 = -1;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (alpha[base + x]! >= threshold) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (y0 < 0) y0 = y;
    y1 = y;
    if (first < x0) x0 = first;
    if (last > x1) x1 = last;
  }
  if (y0 < 0) return undefined;
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

function sides(p: FramingOptions['padding']): Sides {
  const all = typeof p === 'number' ? p : 0;
  const o = typeof p === 'object' ? p : {};
  const s = { top: o.top ?? all, right: o.right ?? all, bottom: o.bottom ?? all, left: o.left ?? all };
  for (const [k, v] of Object.entries(s)) {
    if (!(v >= 0 && v < 0.5)) throw new RangeError(`framing: padding ${k} must be a fraction in [0, 0.5), got ${v}`);
  }
  return s;
}

/** Where the subject goes: the frame for a subject box in a source image. */
export function computeFraming(subject: Rect, options: FramingOptions = {}): Framing {
  if (!(subject.width > 0 && subject.height > 0)) throw new RangeError('framing: the subject box is empty');
  const pad = sides(options.padding);
  const fx = 1 - pad.left - pad.right;
  const fy = 1 - pad.top - pad.bottom;
  let width: number;
  let height: number;
  let scale: number;
  if (options.outputSize) {
    ({ width, height } = options.outputSize);
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new RangeError(`framing: outputSize must be whole positive pixels, got ${width}×${height}`);
    }
    scale = Math.min((width * fx) / subject.width, (height * fy) / subject.height);
  } else {
    scale = 1;
    let w = subject.width / fx;
    let h = subject.height / fy;
    const ar = options.aspectRatio;
    if (ar !== undefined) {
      if (!(ar > 0 && Number.isFinite(ar)))
        throw new RangeError(`framing: aspectRatio must be a positive number, got ${ar}`);
      if (w / h < ar) w = h * ar;
      else h = w / ar;
    }
    width = Math.max(1, Math.round(w));
    height = Math.max(1, Math.round(h));
  }
  // Centre the scaled subject in the box left inside the padding.
  let offsetX = width * pad.left + (width * fx - subject.width * scale) / 2 - subject.x * scale;
  let offsetY = height * pad.top + (height * fy - subject.height * scale) / 2 - subject.y * scale;
  if (scale === 1) {
    offsetX = Math.round(offsetX);
    offsetY = Math.round(offsetY);
  }
  return { subject: { ...subject }, width, height, scale, offsetX, offsetY };
}

export interface FramedImage {
  rgb: Uint8Array;
  alpha: Uint8Array;
  width: number;
  height: number;
}

/**
 * RGB and alpha resampled into the frame: bilinear (pixel centres), exact copies at scale 1.
 * Outside the source the alpha is 0 and the colour repeats the nearest source pixel.
 * Downscaling by more than 2× is prefiltered by averaging k×k bilinear samples (k = ⌈1/scale⌉).
 */
export function applyFraming(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  frame: Framing,
): FramedImage {
  if (rgb.length !== width * height * 3 || alpha.length !== width * height)
    throw new RangeError('applyFraming: sizes do not match');
  const W = frame.width;
  const H = frame.height;
  const outRgb = new Uint8Array(W * H * 3);
  const outA = new Uint8Array(W * H);
  const inv = 1 / frame.scale;
  if (frame.scale === 1 && Number.isInteger(frame.offsetX) && Number.isInteger(frame.offsetY)) {
    for (let y = 0; y < H; y++) {
      const sy = y - frame.offsetY;
      const cy = sy < 0 ? 0 : sy >= height ? height - 1 : sy;
      for (let x = 0; x < W; x++) {
        const sx = x - frame.offsetX;
        const cx = sx < 0 ? 0 : sx >= width ? width - 1 : sx;
        const si = cy * width + cx;
        const d = y * W + x;
        outRgb[d * 3] = rgb[si * 3]!;
        outRgb[d * 3 + 1] = rgb[si * 3 + 1]!;
        outRgb[d * 3 + 2] = rgb[si * 3 + 2]!;
        outA[d] = sx === cx && sy === cy ? alpha[si]! : 0;
      }
    }
    return { rgb: outRgb, alpha: outA, width: W, height: H };
  }
  const k = frame.scale < 0.5 ? Math.min(8, Math.ceil(inv)) : 1;
  const acc = new Float64Array(4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      acc.fill(0);
      for (let j = 0; j < k; j++) {
        // Source coordinate of the sample (pixel centres at integer + 0.5 edges).
        const v = (y + (j + 0.5) / k - frame.offsetY) * inv - 0.5;
        for (let i = 0; i < k; i++) {
          const u = (x + (i + 0.5) / k - frame.offsetX) * inv - 0.5;
          sampleInto(rgb, alpha, width, height, u, v, acc);
        }
      }
      const d = y * W + x;
      const kk = 1 / (k * k);
      outRgb[d * 3] = acc[0]! * kk + 0.5;
      outRgb[d * 3 + 1] = acc[1]! * kk + 0.5;
      outRgb[d * 3 + 2] = acc[2]! * kk + 0.5;
      outA[d] = acc[3]! * kk + 0.5;
    }
  }
  return { rgb: outRgb, alpha: outA, width: W, height: H };
}

/** Adds the bilinear sample at (u, v) to acc: colour edge-clamped, alpha 0 outside the source. */
function sampleInto(
  rgb: Uint8Array,
  alpha: Uint8Array,
  width: number,
  height: number,
  u: number,
  v: number,
  acc: Float64Array,
): void {
  const x0 = Math.floor(u);
  const y0 = Math.floor(v);
  const fx = u - x0;
  const fy = v - y0;
  for (let t = 0; t < 4; t++) {
    const xx = x0 + (t & 1);
    const yy = y0 + (t >> 1);
    const w = (t & 1 ? fx : 1 - fx) * (t >> 1 ? fy : 1 - fy);
    if (w === 0) continue;
    const inside = xx >= 0 && xx < width && yy >= 0 && yy < height;
    const cx = xx < 0 ? 0 : xx >= width ? width - 1 : xx;
    const cy = yy < 0 ? 0 : yy >= height ? height - 1 : yy;
    const si = cy * width + cx;
    acc[0]! += w * rgb[si * 3]!;
    acc[1]! += w * rgb[si * 3 + 1]!;
    acc[2]! += w * rgb[si * 3 + 2]!;
    if (inside) acc[3]! += w * alpha[si]!;
  }
}
