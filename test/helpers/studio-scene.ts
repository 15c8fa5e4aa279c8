/**
 * A small synthetic studio scene with exact truth, for the clean-plate and two-shot tests: an
 * aluminium frame (shaded profile) around a tinted glass pane (transmission 0.9, a brighter
 * reflection band), an opaque handle on the pane, shot over backdrops the test chooses — flat
 * studio colours or a textured "room". Shots can be shifted (a tripod that moved) and carry
 * Gaussian sensor noise. The scorer composites cut-out and truth over white and over black and
 * gives the mean |Δ| per region (opaque, glass, background) in 1/255.
 */
export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export type Backdrop = (x: number, y: number) => Rgb;

export interface SceneTruth {
  width: number;
  height: number;
  alpha: Float32Array;
  /** F, 0..255 floats, interleaved. */
  fg: Float32Array;
}

/** A flat studio backdrop with a faint vertical falloff, as a paper roll under lights. */
export function flatBackdrop(c: Rgb): Backdrop {
  return (_x, y) => ({ r: c.r * (1 - 0.0004 * y), g: c.g * (1 - 0.0004 * y), b: c.b * (1 - 0.0004 * y) });
}

/** A textured backdrop: smooth colour waves plus fine stripes, like a room seen behind a door. */
export function texturedBackdrop(seed = 1): Backdrop {
  return (x, y) => {
    const u = Math.sin(x * 0.21 + seed) * Math.cos(y * 0.17 - seed);
    const v = Math.sin((x + 2 * y) * 0.5 + seed * 3);
    return {
      r: 120 + 60 * u + 30 * v,
      g: 140 + 40 * Math.sin(y * 0.13 + seed) + 25 * v,
      b: 100 + 50 * Math.cos(x * 0.09) - 20 * v,
    };
  };
}

/** The frame-and-pane product's truth at a point. */
function product(x: number, y: number, w: number, h: number): { a: number; f: Rgb } {
  const x0 = Math.round(w * 0.2);
  const x1 = Math.round(w * 0.8);
  const y0 = Math.round(h * 0.15);
  const y1 = Math.round(h * 0.88);
  const fw = Math.max(4, Math.round(w * 0.05));
  if (x < x0 || x >= x1 || y < y0 || y >= y1) return { a: 0, f: { r: 0, g: 0, b: 0 } };
  const inPane = x >= x0 + fw && x < x1 - fw && y >= y0 + fw && y < y1 - fw;
  if (!inPane) {
    // Aluminium profile: shading across the frame's width.
    const across = Math.min(x - x0, x1 - 1 - x, y - y0, y1 - 1 - y) / fw;
    const v = 150 + 70 * Math.sin(Math.PI * across);
    return { a: 1, f: { r: v, g: v + 4, b: v + 10 } };
  }
  // Handle: an opaque dark bar on the pane.
  const hx = x1 - fw - Math.round(w * 0.08);
  if (
    x >= hx &&
    x < hx + Math.max(2, Math.round(w * 0.025)) &&
    y >= (y0 + y1) / 2 - h * 0.1 &&
    y < (y0 + y1) / 2 + h * 0.1
  ) {
    return { a: 1, f: { r: 40, g: 40, b: 45 } };
  }
  // Glass: green-grey tint, a diagonal reflection band where more light comes back.
  const band = Math.abs(x - x0 - 0.8 * (y - y0) - w * 0.15) < w * 0.05;
  return band ? { a: 0.3, f: { r: 235, g: 242, b: 240 } } : { a: 0.1, f: { r: 150, g: 185, b: 170 } };
}

export function sceneTruth(width: number, height: number): SceneTruth {
  const alpha = new Float32Array(width * height);
  const fg = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = product(x, y, width, height);
      const i = y * width + x;
      alpha[i] = p.a;
      fg[i * 3] = p.f.r;
      fg[i * 3 + 1] = p.f.g;
      fg[i * 3 + 2] = p.f.b;
    }
  }
  return { width, height, alpha, fg };
}

/** Deterministic Gaussian noise. */
function gaussian(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uni = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uni())) * Math.cos(2 * Math.PI * uni());
}

export interface ShotOptions {
  /** The camera moved: the shot shows the scene at (x − dx, y − dy). */
  shift?: [number, number];
  /** Sensor noise, standard deviation in 8-bit units. */
  noise?: number;
  seed?: number;
  /** Leave the product out: the clean plate. */
  plate?: boolean;
  /** Exposure gain. */
  gain?: number;
}

/** A shot (or its clean plate) of the scene over `backdrop`: interleaved 8-bit RGB. */
export function renderShot(truth: SceneTruth, backdrop: Backdrop, o: ShotOptions = {}): Uint8Array {
  const { width, height } = truth;
  const [dx, dy] = o.shift ?? [0, 0];
  const noise = gaussian(o.seed ?? 7);
  const sigma = o.noise ?? 0;
  const gain = o.gain ?? 1;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = x - dx;
      const sy = y - dy;
      const bg = backdrop(sx, sy);
      const p = o.plate ? { a: 0, f: bg } : product(sx, sy, width, height);
      const c = [p.f.r, p.f.g, p.f.b];
      const b = [bg.r, bg.g, bg.b];
      for (let k = 0; k < 3; k++) {
        const v = (p.a * c[k]! + (1 - p.a) * b[k]!) * gain + (sigma ? sigma * noise() : 0);
        out[(y * width + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return out;
}

export interface RegionScores {
  opaque: number;
  glass: number;
  background: number;
}

/**
 * Mean |Δ| per region (1/255, over the channels and pixels) between the cut-out and the truth,
 * composited over white and over black; the worse of the two for each region. `margin` leaves the
 * image border out (a shifted shot repeats its edge there).
 */
export function scoreMatte(truth: SceneTruth, alpha: Uint8Array, fg: Uint8Array, margin = 0): RegionScores {
  const sums = { opaque: [0, 0], glass: [0, 0], background: [0, 0] };
  const counts = { opaque: 0, glass: 0, background: 0 };
  const { width, height } = truth;
  for (let y = margin; y < height - margin; y++) {
    for (let x = margin; x < width - margin; x++) {
      const i = y * width + x;
      const at = truth.alpha[i]!;
      const region = at >= 1 ? 'opaque' : at > 0 ? 'glass' : 'background';
      counts[region]++;
      const a = alpha[i]! / 255;
      for (const [k, over] of [0, 255].entries()) {
        let d = 0;
        for (let c = 0; c < 3; c++) {
          const t = at * truth.fg[i * 3 + c]! + (1 - at) * over;
          const v = a * fg[i * 3 + c]! + (1 - a) * over;
          d += Math.abs(t - v);
        }
        sums[region][k]! += d / 3;
      }
    }
  }
  const mean = (r: keyof typeof sums) => (counts[r] ? Math.max(sums[r][0]!, sums[r][1]!) / counts[r] : 0);
  return { opaque: mean('opaque'), glass: mean('glass'), background: mean('background') };
}
