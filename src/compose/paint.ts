/**
 * The procedural background painter behind the studio engine (and the other engines' fallback).
 * Pure: a background spec, a size and a seed in, interleaved 8-bit RGB out — no files, no network.
 *
 *   solid             one colour, exact
 *   gradient          N evenly spaced stops, linear at any angle or radial from the centre,
 *                     interpolated in linear light and dithered (±0.5 LSB) so it does not band
 *   blurred-original  the photo blurred with the subject filled in, then brightness/saturation
 *   texture           seeded procedural noise | grain | linen | concrete | paper
 *
 * Everything is painted row by row into typed arrays. A scalar per pixel (gradient position, or
 * the pattern's value in [0, 1]) goes through one colour table (linear light → sRGB as floats),
 * then an 8-bit code is chosen with a stratified dither: floor(v + d), d ∈ [0, 1), so the mean
 * over any 256 pixels of a row equals v. Smooth noise is computed on a coarse grid and
 * interpolated; only what is fine (grain, speckle, threads, fibres) is computed per pixel.
 * Lengths in the spec are pixels at the reference long side and scale with the picture, and
 * patterns are defined in those units, so one seed gives the same picture at any size.
 */
import type { PresetBackground } from '../presets/schema.js';
import { blurredBackground } from './backgrounds.js';
import { parseColor, SRGB_TO_LINEAR } from './color.js';
import { REFERENCE_LONG_SIDE, scaledPx } from './resample.js';

export interface PaintContext {
  /** Integer seed: the only source of randomness. */
  seed: number;
  /** The photo, interleaved RGB width·height·3 (needed by 'blurred-original'). */
  photo?: Uint8Array;
  /** The subject's alpha, width·height (255 = subject), filled in by 'blurred-original'. */
  alpha?: Uint8Array;
  /** Long side (px) at which the spec's pixel sizes are given (default 1024). */
  referenceSize?: number;
}

type TextureSpec = Extract<PresetBackground, { type: 'texture' }>;
type GradientSpec = Extract<PresetBackground, { type: 'gradient' }>;
type BlurredSpec = Extract<PresetBackground, { type: 'blurred-original' }>;

/** Paints `spec` at width×height; returns interleaved RGB, width·height·3 bytes. */
export function paintBackground(spec: PresetBackground, width: number, height: number, ctx: PaintContext): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`paintBackground: expected a positive whole width and height, got ${width}×${height}`);
  }
  if (!Number.isFinite(ctx.seed)) throw new RangeError(`paintBackground: expected a finite seed, got ${ctx.seed}`);
  const ref = ctx.referenceSize ?? REFERENCE_LONG_SIDE;
  const px = (v: number): number => (scaledPx(v, width, height) * REFERENCE_LONG_SIDE) / ref;
  const seed = seed32(ctx.seed);
  switch (spec.type) {
    case 'solid': {
      const c = color(spec.color);
      const out = new Uint8Array(width * height * 3);
      for (let i = 0; i < out.length; i += 3) {
        out[i] = c[0]!;
        out[i + 1] = c[1]!;
        out[i + 2] = c[2]!;
      }
      return out;
    }
    case 'gradient':
      return paintGradient(spec, width, height, seed);
    case 'blurred-original':
      return paintBlurred(spec, width, height, ctx, px(spec.blur), seed);
    case 'texture':
      return paintTexture(spec, width, height, px(spec.scale), seed);
  }
}

// ── colours, tables, dither ─────────────────────────────────────────────────────────────────────

function color(text: string): [number, number, number] {
  const c = parseColor(text);
  if (!c)
    throw new RangeError(
      `paintBackground: '${text}' is not a colour (expected '#rgb', '#rrggbb', 'rgb(r, g, b)' or a colour name)`,
    );
  return [c.r, c.g, c.b];
}

function linearOf(text: string): [number, number, number] {
  const [r, g, b] = color(text);
  return [SRGB_TO_LINEAR[r]!, SRGB_TO_LINEAR[g]!, SRGB_TO_LINEAR[b]!];
}

/** Linear light → sRGB code as a float in [0, 255] (not rounded), snapped when within 1e-3 of a code. */
function encodeF(lin: number): number {
  const l = Math.min(Math.max(lin, 0), 1);
  const v = 255 * (l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055);
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-3 ? r : v;
}

/** Samples of a colour function over [0, 1] (exact), and entries of the 8.8 fixed-point table read per pixel. */
const TABLE = 4096;
const FINE = 65536;

/**
 * A colour table for t ∈ [0, 1]: `linear(t)` gives linear RGB; entry i (of FINE + 1) holds the
 * sRGB codes at t = i/FINE as 8.8 fixed point, so a pixel is (entry + dither) >> 8 — no float
 * work per pixel. Exact codes stay exact.
 */
function colorTable(linear: (t: number, out: Float64Array) => void): Uint16Array {
  const coarse = new Float64Array((TABLE + 1) * 3);
  const c = new Float64Array(3);
  for (let i = 0; i <= TABLE; i++) {
    linear(i / TABLE, c);
    coarse[i * 3] = encodeF(c[0]!);
    coarse[i * 3 + 1] = encodeF(c[1]!);
    coarse[i * 3 + 2] = encodeF(c[2]!);
  }
  const lut = new Uint16Array((FINE + 1) * 3);
  for (let i = 0; i <= FINE; i++) {
    const f = (i * TABLE) / FINE;
    const k = Math.min(TABLE - 1, Math.floor(f));
    const fr = f - k;
    for (let ch = 0; ch < 3; ch++) {
      const a = coarse[k * 3 + ch]!;
      const v = Math.round((a + (coarse[k * 3 + 3 + ch]! - a) * fr) * 256);
      lut[i * 3 + ch] = Math.min(Math.max(v, 0), 65280);
    }
  }
  return lut;
}

/**
 * Evenly spaced stops, mixed in linear light. Between three or more stops each channel follows a
 * monotone cubic (Fritsch–Carlson) through them, so the slope does not jump at a stop — a jump
 * reads as a bright or dark ring (Mach band) on a soft backdrop — and never overshoots a stop.
 * Two stops mix linearly.
 */
function rampTable(stops: [number, number, number][]): (t: number, out: Float64Array) => void {
  const n = stops.length;
  // Tangents per stop and channel, in units of one segment.
  const m = stops.map(() => [0, 0, 0]);
  for (let c = 0; c < 3 && n > 1; c++) {
    const d = Array.from({ length: n - 1 }, (_, k) => stops[k + 1]![c]! - stops[k]![c]!);
    m[0]![c] = d[0]!;
    m[n - 1]![c] = d[n - 2]!;
    for (let k = 1; k < n - 1; k++) m[k]![c] = d[k - 1]! * d[k]! > 0 ? (d[k - 1]! + d[k]!) / 2 : 0;
    for (let k = 0; k < n - 1; k++) {
      const dk = d[k]!;
      if (dk === 0) {
        m[k]![c] = 0;
        m[k + 1]![c] = 0;
        continue;
      }
      const a = m[k]![c]! / dk;
      const b = m[k + 1]![c]! / dk;
      const r = a * a + b * b;
      if (r > 9) {
        const tau = 3 / Math.sqrt(r);
        m[k]![c] = tau * a * dk;
        m[k + 1]![c] = tau * b * dk;
      }
    }
  }
  return (t, out) => {
    if (n === 1) {
      out.set(stops[0]!);
      return;
    }
    const s = t * (n - 1);
    const i = Math.min(n - 2, Math.floor(s));
    const f = s - i;
    const f2 = f * f;
    const f3 = f2 * f;
    const h00 = 2 * f3 - 3 * f2 + 1;
    const h10 = f3 - 2 * f2 + f;
    const h01 = -2 * f3 + 3 * f2;
    const h11 = f3 - f2;
    const a = stops[i]!;
    const b = stops[i + 1]!;
    const ma = m[i]!;
    const mb = m[i + 1]!;
    for (let c = 0; c < 3; c++) out[c] = h00 * a[c]! + h10 * ma[c]! + h01 * b[c]! + h11 * mb[c]!;
  };
}

const DITHER = 256;

/**
 * 256×256 dither offsets 0…255 (in 1/256 of a code): each row a seeded shuffle of all 256, so
 * (v·256 + d) >> 8 averages exactly to v over any 256 pixels of a row.
 */
function ditherTile(seed: number): Uint8Array {
  const tile = new Uint8Array(DITHER * DITHER);
  const rnd = rng(seed ^ 0x5eed_d17e);
  for (let y = 0; y < DITHER; y++) {
    const o = y * DITHER;
    for (let k = 0; k < DITHER; k++) tile[o + k] = k;
    for (let k = DITHER - 1; k > 0; k--) {
      const j = (rnd() * (k + 1)) | 0;
      const t = tile[o + k]!;
      tile[o + k] = tile[o + j]!;
      tile[o + j] = t;
    }
  }
  return tile;
}

/** Writes one row at out[o…]: table entry t[x]·a + b (clamped, truncated), dithered to 8 bits. */
function emitRow(
  t: Float32Array,
  width: number,
  lut: Uint16Array,
  a: number,
  b: number,
  tile: Uint8Array,
  y: number,
  out: Uint8Array,
  o: number,
): void {
  const dr = (y & (DITHER - 1)) * DITHER;
  for (let x = 0; x < width; x++, o += 3) {
    const f = t[x]! * a + b;
    const j = (Math.min(Math.max(f, 0), FINE) | 0) * 3;
    const d = tile[dr + (x & (DITHER - 1))]!;
    out[o] = (lut[j]! + d) >> 8;
    out[o + 1] = (lut[j + 1]! + d) >> 8;
    out[o + 2] = (lut[j + 2]! + d) >> 8;
  }
}

// ── random numbers ──────────────────────────────────────────────────────────────────────────────

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Any finite number → a 32-bit seed (the high bits of large integers count too). */
function seed32(seed: number): number {
  const s = Math.trunc(seed);
  return mix32((s >>> 0) ^ mix32(Math.floor(s / 4294967296) >>> 0) ^ 0x9e3779b9);
}

/** Deterministic hash of three integers → [0, 1). */
function hash3(a: number, b: number, c: number): number {
  return mix32(Math.imul(a, 0x9e3779b1) ^ mix32(Math.imul(b, 0x85ebca77) ^ mix32(c))) / 4294967296;
}

/** A seeded stream of numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    return mix32(s) / 4294967296;
  };
}

/** A roughly normal number (sum of three uniforms, unit variance). */
function gauss(rnd: () => number): number {
  return (rnd() + rnd() + rnd() - 1.5) * 2;
}

// ── gradient ────────────────────────────────────────────────────────────────────────────────────

function paintGradient(spec: GradientSpec, width: number, height: number, seed: number): Uint8Array {
  const lut = colorTable(rampTable(spec.colors.map(linearOf)));
  const tile = ditherTile(seed);
  const out = new Uint8Array(width * height * 3);
  const t = new Float32Array(width);
  // Geometry on pixel centres, so the end colours land exactly on the edge (corner) pixels.
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  if (spec.shape === 'radial') {
    // Stop 0 at the centre, the last stop at the corners.
    const r = Math.hypot(cx, cy);
    const inv = r > 0 ? 1 / r : 0;
    for (let y = 0; y < height; y++) {
      const dy = y - cy;
      const dy2 = dy * dy;
      for (let x = 0; x < width; x++) {
        const dx = x - cx;
        t[x] = Math.sqrt(dx * dx + dy2) * inv;
      }
      emitRow(t, width, lut, FINE, 0.5, tile, y, out, y * width * 3);
    }
    return out;
  }
  // Linear: t is the projection on (cos θ, sin θ) (y down), 0 and 1 on the lines through the
  // frame's extreme corner pixels, as in CSS.
  const a = (spec.angle * Math.PI) / 180;
  let ux = Math.cos(a);
  let uy = Math.sin(a);
  if (Math.abs(ux) < 1e-12) ux = 0;
  if (Math.abs(uy) < 1e-12) uy = 0;
  const extent = Math.abs(ux) * (width - 1) + Math.abs(uy) * (height - 1);
  const sx = extent > 0 ? ux / extent : 0;
  const sy = extent > 0 ? uy / extent : 0;
  for (let y = 0; y < height; y++) {
    let v = 0.5 - cx * sx + (y - cy) * sy;
    for (let x = 0; x < width; x++, v += sx) t[x] = v;
    emitRow(t, width, lut, FINE, 0.5, tile, y, out, y * width * 3);
  }
  return out;
}

// ── blurred original ────────────────────────────────────────────────────────────────────────────

function paintBlurred(
  spec: BlurredSpec,
  width: number,
  height: number,
  ctx: PaintContext,
  sigma: number,
  seed: number,
): Uint8Array {
  const n = width * height;
  const photo = ctx.photo;
  if (!photo) {
    throw new RangeError(
      "paintBackground: a 'blurred-original' background needs the photo: pass ctx.photo (interleaved RGB, " +
        'width·height·3 bytes)',
    );
  }
  if (photo.length !== n * 3) {
    throw new RangeError(
      `paintBackground: the photo has ${photo.length} bytes; expected ${n * 3} for ${width}×${height} RGB`,
    );
  }
  if (ctx.alpha && ctx.alpha.length !== n) {
    throw new RangeError(
      `paintBackground: the alpha has ${ctx.alpha.length} bytes; expected ${n} for ${width}×${height}`,
    );
  }
  const alpha = ctx.alpha ?? new Uint8Array(n);
  // blurredBackground's radius is strength·long/1.7 and three box passes of radius r make σ ≈ r.
  const base =
    sigma < 0.5
      ? Uint8Array.from(photo)
      : blurredBackground(photo, alpha, width, height, { strength: (1.7 * sigma) / Math.max(width, height) });
  const { brightness, saturation } = spec;
  if (brightness === 1 && saturation === 1) return base;
  // Exposure and saturation in linear light: c' = Y + (b·c − Y)·s, Y = b·luma(c).
  const enc = sqrtEncodeTable();
  const tile = ditherTile(seed);
  const out = new Uint8Array(n * 3);
  for (let y = 0, i = 0; y < height; y++) {
    const dr = (y & (DITHER - 1)) * DITHER;
    for (let x = 0; x < width; x++, i += 3) {
      const r = SRGB_TO_LINEAR[base[i]!]! * brightness;
      const g = SRGB_TO_LINEAR[base[i + 1]!]! * brightness;
      const b = SRGB_TO_LINEAR[base[i + 2]!]! * brightness;
      const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
      const d = (tile[dr + (x & (DITHER - 1))]! + 0.5) / DITHER;
      out[i] = encodeSqrt(enc, l + (r - l) * saturation) + d;
      out[i + 1] = encodeSqrt(enc, l + (g - l) * saturation) + d;
      out[i + 2] = encodeSqrt(enc, l + (b - l) * saturation) + d;
    }
  }
  return out;
}

const SQRT_TABLE = 4096;
let sqrtEnc: Float32Array | undefined;

/** encode(u²) for u = i/4096: sampled evenly in √lin, so the steep start of the sRGB curve is fine-grained. */
function sqrtEncodeTable(): Float32Array {
  if (!sqrtEnc) {
    sqrtEnc = new Float32Array(SQRT_TABLE + 2);
    for (let i = 0; i <= SQRT_TABLE + 1; i++) {
      const u = Math.min(1, i / SQRT_TABLE);
      sqrtEnc[i] = encodeF(u * u);
    }
  }
  return sqrtEnc;
}

/** Linear light → sRGB float code (≤ 254.999 so that + dither stays within a byte). */
function encodeSqrt(enc: Float32Array, lin: number): number {
  if (!(lin > 0)) return 0;
  if (lin >= 1) return 254.999;
  const f = Math.sqrt(lin) * SQRT_TABLE;
  const i = f | 0;
  const v = enc[i]! + (enc[i + 1]! - enc[i]!) * (f - i);
  return Math.min(v, 254.999);
}

// ── smooth noise on a coarse grid ───────────────────────────────────────────────────────────────

interface Octave {
  /** Lattice spacing in pixels along x and y (different values stretch the noise). */
  sx: number;
  sy: number;
  gain: number;
}

/** Standard deviation of one octave: uniform[−1, 1] lattice, cubic B-spline in 2-D (√(0.2295/3)). */
const OCTAVE_STD = 0.2766;

/**
 * Value noise summed over octaves (cubic B-spline through seeded lattice values), sampled on a
 * grid of `step` px and read back row by row with bilinear interpolation. Zero mean, about unit
 * standard deviation.
 */
class NoiseField {
  readonly gw: number;
  readonly gh: number;
  readonly grid: Float32Array;
  private readonly x0: Int32Array;
  private readonly xf: Float32Array;
  private readonly tmp: Float32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly step: number,
    source: Octave[] | Float32Array,
    seed = 0,
    /** Keep the octaves' gains as their standard deviations (else the sum is scaled to unit). */
    raw = false,
  ) {
    const gw = (this.gw = gridSize(width, step));
    const gh = (this.gh = gridSize(height, step));
    if (source instanceof Float32Array) {
      if (source.length !== gw * gh) throw new RangeError(`NoiseField: ${source.length} values for a ${gw}×${gh} grid`);
      this.grid = source;
    } else {
      const grid = (this.grid = new Float32Array(gw * gh));
      let norm = 0;
      source.forEach((oct, k) => {
        addOctave(grid, gw, gh, step, oct, mix32(seed + k * 0x632be5ab));
        norm += oct.gain * oct.gain;
      });
      const inv = 1 / (OCTAVE_STD * (raw ? 1 : Math.sqrt(norm || 1)));
      for (let i = 0; i < grid.length; i++) grid[i]! *= inv;
    }
    this.x0 = new Int32Array(width);
    this.xf = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      const g = x / step;
      const i = Math.floor(g);
      this.x0[x] = i;
      this.xf[x] = g - i;
    }
    this.tmp = new Float32Array(gw);
  }

  /** out[x] = noise at (x, y) · gain, added to what is there when `add`. */
  row(y: number, out: Float32Array, gain = 1, add = false): void {
    const { gw, grid, tmp, x0, xf } = this;
    const g = y / this.step;
    const j = Math.floor(g);
    const fy = g - j;
    const r0 = j * gw;
    const r1 = r0 + gw;
    for (let i = 0; i < gw; i++) {
      const a = grid[r0 + i]!;
      tmp[i] = (a + (grid[r1 + i]! - a) * fy) * gain;
    }
    const w = this.width;
    if (add) {
      for (let x = 0; x < w; x++) {
        const i = x0[x]!;
        const a = tmp[i]!;
        out[x]! += a + (tmp[i + 1]! - a) * xf[x]!;
      }
    } else {
      for (let x = 0; x < w; x++) {
        const i = x0[x]!;
        const a = tmp[i]!;
        out[x] = a + (tmp[i + 1]! - a) * xf[x]!;
      }
    }
  }
}

/** Grid points (every `step` px from 0, one past the end) covering `size` pixels. */
function gridSize(size: number, step: number): number {
  return Math.floor((size - 1) / step) + 2;
}

/** Cubic B-spline taps for a coordinate: first lattice index and the four weights. */
function splineTaps(count: number, pos: (k: number) => number): { i0: Int32Array; w: Float32Array } {
  const i0 = new Int32Array(count);
  const w = new Float32Array(count * 4);
  for (let k = 0; k < count; k++) {
    const u = pos(k);
    const i = Math.floor(u);
    const f = u - i;
    const f2 = f * f;
    const f3 = f2 * f;
    i0[k] = i - 1;
    w[k * 4] = ((1 - f) * (1 - f) * (1 - f)) / 6;
    w[k * 4 + 1] = (3 * f3 - 6 * f2 + 4) / 6;
    w[k * 4 + 2] = (-3 * f3 + 3 * f2 + 3 * f + 1) / 6;
    w[k * 4 + 3] = f3 / 6;
  }
  return { i0, w };
}

/** grid += gain · (B-spline value noise with lattice spacing sx×sy px), separably. */
function addOctave(grid: Float32Array, gw: number, gh: number, step: number, oct: Octave, seed: number): void {
  const rnd = rng(seed);
  const ox = rnd() * 64;
  const oy = rnd() * 64;
  const tx = splineTaps(gw, (k) => (k * step) / oct.sx + ox);
  const ty = splineTaps(gh, (k) => (k * step) / oct.sy + oy);
  const lx0 = tx.i0[0]!;
  const ly0 = ty.i0[0]!;
  const lw = tx.i0[gw - 1]! - lx0 + 4;
  const lh = ty.i0[gh - 1]! - ly0 + 4;
  // Lattice values from a hash of their integer coordinates: the same lattice at any image size.
  const lat = new Float32Array(lw);
  const horiz = new Float32Array(lh * gw);
  for (let j = 0; j < lh; j++) {
    for (let i = 0; i < lw; i++) lat[i] = hash3(lx0 + i, ly0 + j, seed) * 2 - 1;
    const o = j * gw;
    for (let k = 0; k < gw; k++) {
      const i = tx.i0[k]! - lx0;
      const q = k * 4;
      horiz[o + k] =
        lat[i]! * tx.w[q]! + lat[i + 1]! * tx.w[q + 1]! + lat[i + 2]! * tx.w[q + 2]! + lat[i + 3]! * tx.w[q + 3]!;
    }
  }
  const g = oct.gain;
  for (let k = 0; k < gh; k++) {
    const j = ty.i0[k]! - ly0;
    const q = k * 4;
    const w0 = ty.w[q]! * g;
    const w1 = ty.w[q + 1]! * g;
    const w2 = ty.w[q + 2]! * g;
    const w3 = ty.w[q + 3]! * g;
    const r0 = j * gw;
    const r1 = r0 + gw;
    const r2 = r1 + gw;
    const r3 = r2 + gw;
    const o = k * gw;
    for (let i = 0; i < gw; i++) {
      grid[o + i]! += horiz[r0 + i]! * w0 + horiz[r1 + i]! * w1 + horiz[r2 + i]! * w2 + horiz[r3 + i]! * w3;
    }
  }
}

/** Octaves from `coarse` px down to no finer than `finest` px, halving, with gain ·= persistence. */
function octaves(coarse: number, count: number, persistence: number, finest = 3): Octave[] {
  const list: Octave[] = [];
  let s = coarse;
  let g = 1;
  for (let k = 0; k < count && (s >= finest || k === 0); k++) {
    list.push({ sx: s, sy: s, gain: g });
    s /= 2;
    g *= persistence;
  }
  return list;
}

/**
 * Noise on a grid of about `samples` points per lattice cell of its finest octave: bilinear
 * reading between them keeps the spline's smoothness (3–4 samples) or a grain's texture (2).
 */
function field(width: number, height: number, oct: Octave[], seed: number, samples = 3.5, raw = false): NoiseField {
  let finest = Infinity;
  for (const o of oct) finest = Math.min(finest, o.sx, o.sy);
  return new NoiseField(width, height, Math.max(1, Math.floor(finest / samples)), oct, seed, raw);
}

/** Octave sets mixed into one field (read with `raw`): each set scaled to the given standard deviation. */
function mixed(...sets: [Octave[], number][]): Octave[] {
  return sets.flatMap(([list, sd]) => {
    const norm = Math.sqrt(list.reduce((a, o) => a + o.gain * o.gain, 0)) || 1;
    return list.map((o) => ({ ...o, gain: (o.gain * sd) / norm }));
  });
}

/**
 * Per-pixel white noise (about unit variance) from a seeded 1024² tile, each row read at its own
 * seeded offset so the tile never shows as a repeat.
 */
class WhiteNoise {
  private readonly tile = new Float32Array(1024 * 1024);
  constructor(private readonly seed: number) {
    const rnd = rng(seed);
    for (let i = 0; i < this.tile.length; i++) this.tile[i] = (rnd() - 0.5) * 3.4641;
  }
  row(y: number, out: Float32Array, width: number, gain: number): void {
    const o = (y & 1023) * 1024;
    const shift = mix32(this.seed ^ (y >>> 10) ^ Math.imul(y, 0x2545f491)) & 1023;
    const t = this.tile;
    for (let x = 0; x < width; x++) out[x]! += t[o + ((x + shift) & 1023)]! * gain;
  }
}

// ── textures ────────────────────────────────────────────────────────────────────────────────────

interface Pattern {
  /** Fills z (length width) with the pattern's value at row y: about unit spread, 0 = neutral. */
  row: (y: number, z: Float32Array) => void;
  /** Contrast: the colour is ½ + ½·tanh(gain·z) of the way along the texture's colours. */
  gain: number;
}

/** Pattern values z (about unit spread, 0 = the neutral tone) are read through a table over ±Z_RANGE. */
const Z_RANGE = 4;

function paintTexture(spec: TextureSpec, width: number, height: number, size: number, seed: number): Uint8Array {
  const colors = textureColors(spec.colors.map(linearOf), spec.intensity);
  // v = ½ + ½·tanh(z): the pattern's soft clip into [0, 1] is part of the table.
  const lut = colorTable((t, out) => colors(0.5 + 0.5 * Math.tanh((2 * t - 1) * Z_RANGE), out));
  const out = new Uint8Array(width * height * 3);
  const tile = ditherTile(seed);
  const z = new Float32Array(width);
  if (spec.intensity === 0) {
    for (let y = 0; y < height; y++) emitRow(z, width, lut, 0, FINE / 2, tile, y, out, y * width * 3);
    return out;
  }
  const pseed = mix32(seed ^ hashName(spec.pattern));
  const pattern = PATTERNS[spec.pattern](width, height, Math.max(1, size), pseed);
  const a = (pattern.gain * FINE) / (2 * Z_RANGE);
  for (let y = 0; y < height; y++) {
    pattern.row(y, z);
    emitRow(z, width, lut, a, FINE / 2 + 0.5, tile, y, out, y * width * 3);
  }
  return out;
}

function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The pattern value v ∈ [0, 1] → colour. Several colours: v·intensity runs through them as
 * evenly spaced stops (0 = the first). One colour: its lightness moves by up to ±30 L* around it
 * (the range shifted inside 0…100), scaled by intensity.
 */
function textureColors(stops: [number, number, number][], intensity: number): (t: number, out: Float64Array) => void {
  if (stops.length > 1) {
    const ramp = rampTable(stops);
    return (t, out) => ramp(t * intensity, out);
  }
  const c = stops[0]!;
  const Y = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  const L = lstar(Y);
  const k = 30 * intensity;
  let lo = L - k;
  let hi = L + k;
  if (hi > 100) {
    lo -= hi - 100;
    hi = 100;
  }
  if (lo < 0) {
    hi = Math.min(100, hi - lo);
    lo = 0;
  }
  return (t, out) => {
    const Yt = yOf(lo + (hi - lo) * t);
    for (let i = 0; i < 3; i++) out[i] = Y > 1e-5 ? Math.min(1, (c[i]! * Yt) / Y) : Yt;
  };
}

function lstar(Y: number): number {
  return Y > 216 / 24389 ? 116 * Math.cbrt(Y) - 16 : (Y * 24389) / 27;
}

function yOf(L: number): number {
  const f = (L + 16) / 116;
  return L > 8 ? f * f * f : (L * 27) / 24389;
}

const PATTERNS: Record<TextureSpec['pattern'], (w: number, h: number, s: number, seed: number) => Pattern> = {
  noise: noisePattern,
  grain: grainPattern,
  linen: linenPattern,
  concrete: concretePattern,
  paper: paperPattern,
};

/** Smooth fractal noise: blobs about `s` px across, five octaves. */
function noisePattern(w: number, h: number, s: number, seed: number): Pattern {
  const f = field(w, h, octaves(s * 1.5, 5, 0.5), seed);
  return { row: (y, z) => f.row(y, z), gain: 0.9 };
}

/** Film grain: clumps about `s` px over the flat colour (white noise where s is ~1 px). */
function grainPattern(w: number, h: number, s: number, seed: number): Pattern {
  const fine = Math.min(1, Math.max(0, (s - 1) / 2)); // 0 at 1 px: all per-pixel noise
  const clumps =
    s >= 1.5
      ? field(
          w,
          h,
          [
            { sx: s, sy: s, gain: 1 },
            { sx: s * 2, sy: s * 2, gain: 0.4 },
          ],
          seed,
          2.5,
        )
      : undefined;
  const white = new WhiteNoise(seed ^ 0x9a1f);
  const wGain = 0.35 + 0.65 * (1 - fine);
  const cGain = clumps ? fine : 0;
  const norm = 1 / Math.hypot(wGain, cGain);
  const row = (y: number, z: Float32Array): void => {
    if (clumps) clumps.row(y, z, cGain * norm);
    else z.fill(0);
    white.row(y, z, w, wGain * norm);
  };
  return { row, gain: 0.55 };
}

/**
 * Concrete: mottled low-frequency blotches a few `s` across, a finer aggregate texture, per-pixel
 * speckle, and scattered small dark pores (air holes).
 */
function concretePattern(w: number, h: number, s: number, seed: number): Pattern {
  // Blotches (7 octaves from 3·s) and the aggregate's finer mottle (s/6 and s/12) in one field.
  const blotch = field(
    w,
    h,
    mixed([octaves(s * 3, 7, 0.62, Math.max(3, s / 10)), 0.6], [octaves(Math.max(3, s / 6), 2, 0.6), 0.4]),
    seed,
    3.5,
    true,
  );
  const speckle = new WhiteNoise(seed ^ 0x51ec);
  // Pores: one candidate per cell of c px, kept with probability 0.08, radius 5–20 % of c.
  const c = Math.max(3, s / 4);
  const ncx = Math.ceil(w / c) + 1;
  const px = new Float32Array(ncx);
  const py = new Float32Array(ncx);
  const pr2 = new Float32Array(ncx);
  const pd = new Float32Array(ncx);
  let cellRow = -1;
  const row = (y: number, v: Float32Array): void => {
    blotch.row(y, v);
    speckle.row(y, v, w, 0.3);
    const cy = Math.floor(y / c);
    if (cy !== cellRow) {
      cellRow = cy;
      for (let cx = 0; cx < ncx; cx++) {
        const keep = hash3(cx, cy, seed ^ 0x90e5) < 0.08;
        const u = hash3(cx, cy, seed ^ 0x1234);
        const r = c * (0.05 + 0.15 * u * u); // mostly pinholes, a few larger

        px[cx] = (cx + r / c + (1 - (2 * r) / c) * hash3(cx, cy, seed ^ 0x7777)) * c;
        py[cx] = (cy + r / c + (1 - (2 * r) / c) * hash3(cx, cy, seed ^ 0x8888)) * c;
        pr2[cx] = keep ? r * r : 0;
        pd[cx] = 0.5 + 0.8 * hash3(cx, cy, seed ^ 0x4321);
      }
    }
    const yc = y + 0.5;
    for (let x = 0; x < w; x++) {
      const cx = (x / c) | 0;
      let z = v[x]!;
      const r2 = pr2[cx]!;
      if (r2 > 0) {
        const dx = x + 0.5 - px[cx]!;
        const dy = yc - py[cx]!;
        const d2 = dx * dx + dy * dy;
        if (d2 < r2) z -= pd[cx]! * (1 - d2 / r2);
      }
      v[x] = z;
    }
  };
  return { row, gain: 0.75 };
}

/** Boundaries of threads of about `pitch` px (±25 %): which thread each pixel is on and where across it. */
function threads(
  count: number,
  pitch: number,
  rnd: () => number,
): { index: Int32Array; across: Float32Array; n: number } {
  const index = new Int32Array(count);
  const across = new Float32Array(count);
  let start = -rnd() * pitch;
  let width = pitch * (0.75 + 0.5 * rnd());
  let i = 0;
  for (let p = 0; p < count; p++) {
    while (p + 0.5 >= start + width) {
      start += width;
      width = pitch * (0.75 + 0.5 * rnd());
      i++;
    }
    index[p] = i;
    across[p] = (p + 0.5 - start) / width;
  }
  return { index, across, n: i + 1 };
}

/**
 * Linen: a plain weave of warp (vertical) and weft (horizontal) threads `s` px wide with uneven
 * widths and tones, slubs (thick and thin stretches along each thread), fibre streaks along the
 * thread on top, a slight wander of the threads, and dark gaps where they cross.
 */
function linenPattern(w: number, h: number, s: number, seed: number): Pattern {
  const pitch = Math.max(2, s);
  const rnd = rng(seed);
  const margin = Math.ceil(pitch) + 2;
  // Threads are laid out with a margin so the wander (≤ ±0.35 pitch) stays inside the maps.
  const warp = threads(w + 2 * margin, pitch, rnd);
  const weft = threads(h + 2 * margin, pitch, rnd);
  const warpTone = Float32Array.from({ length: warp.n }, () => gauss(rnd));
  const weftTone = Float32Array.from({ length: weft.n }, () => gauss(rnd));
  // Slubs: per-thread noise along the thread, lattice every ~7 pitches, linear between.
  const slubLen = pitch * 7;
  const nsy = Math.ceil(h / slubLen) + 2;
  const nsx = Math.ceil(w / slubLen) + 2;
  const warpSlub = Float32Array.from({ length: warp.n * nsy }, () => gauss(rnd));
  const weftSlub = Float32Array.from({ length: weft.n * nsx }, () => gauss(rnd));
  // Wander: the warp shifts along x as y goes, the weft along y as x goes (smooth, ~20 pitches).
  const wander = (n: number, sd: number): Int32Array => {
    const f = new NoiseField(n, 1, 1, [{ sx: pitch * 20, sy: pitch * 20, gain: 1 }], sd);
    const row = new Float32Array(n);
    f.row(0, row);
    return Int32Array.from(row, (r) => margin + Math.round(r * 0.3 * pitch));
  };
  const warpShift = wander(h, seed ^ 0xabc1);
  const weftShift = wander(w, seed ^ 0xabc2);
  // Fibres: fine streaks along the thread; a random table read at a per-thread offset.
  const FIB = 4096;
  const fib = new Float32Array(FIB);
  {
    let prev = 0;
    for (let i = 0; i < FIB; i++) {
      prev = 0.45 * prev + gauss(rnd);
      fib[i] = prev;
    }
  }
  const FOFF = 1023;
  // About eight fibres across a thread, however wide it is drawn.
  const fibW = Math.max(1, pitch / 8);
  const colFib = Int32Array.from({ length: w }, (_, x) => Math.floor(x / fibW));
  const fibOff = Int32Array.from({ length: FOFF + 1 }, () => (rnd() * FIB) | 0);
  // Profiles: bright at a thread's centre, dark at its edges; a float dips where it goes under.
  const PROF = 256;
  const profile = Float32Array.from({ length: PROF + 1 }, (_, k) => Math.sin((Math.PI * k) / PROF) ** 0.5);
  const colSlubK = Int32Array.from({ length: w }, (_, x) => Math.floor(x / slubLen));
  const colSlubF = Float32Array.from({ length: w }, (_, x) => x / slubLen - Math.floor(x / slubLen));
  const warpSlubRow = new Float32Array(warp.n);
  const row = (y: number, v: Float32Array): void => {
    const sy = warpShift[y]!;
    const rowFib = Math.floor(y / fibW);
    // Warp slubs at this row, one per warp thread.
    const ky = Math.floor(y / slubLen);
    const fy = y / slubLen - ky;
    for (let i = 0; i < warp.n; i++) {
      const a = warpSlub[i * nsy + ky]!;
      warpSlubRow[i] = a + (warpSlub[i * nsy + ky + 1]! - a) * fy;
    }
    for (let x = 0; x < w; x++) {
      const xi = x + sy;
      const yi = y + weftShift[x]!;
      const ti = warp.index[xi]!; // the warp thread at this pixel
      const tj = weft.index[yi]!; // the weft thread at this pixel
      const uWarp = warp.across[xi]!;
      const uWeft = weft.across[yi]!;
      let z: number;
      if (((ti + tj) & 1) === 0) {
        // Warp on top: across = x, along = y.
        const slub = warpSlubRow[ti]!;
        z =
          profile[(uWarp * PROF) | 0]! * (0.75 + 0.25 * profile[(uWeft * PROF) | 0]!) * 2.2 -
          1.5 +
          0.4 * warpTone[ti]! +
          0.45 * slub +
          0.22 * fib[(colFib[x]! + fibOff[(ti * 131 + tj) & FOFF]!) & (FIB - 1)]!;
      } else {
        const k = colSlubK[x]!;
        const a = weftSlub[tj * nsx + k]!;
        const slub = a + (weftSlub[tj * nsx + k + 1]! - a) * colSlubF[x]!;
        z =
          profile[(uWeft * PROF) | 0]! * (0.75 + 0.25 * profile[(uWarp * PROF) | 0]!) * 2.2 -
          1.5 +
          0.4 * weftTone[tj]! +
          0.45 * slub +
          0.22 * fib[(rowFib + fibOff[(tj * 131 + ti) & FOFF]!) & (FIB - 1)]!;
      }
      v[x] = z;
    }
  };
  return { row, gain: 0.8 };
}

/**
 * Paper: a faint cloudy formation (low-frequency tone, several `s` across), short thin fibres
 * about `s` long in every direction, a little lighter or darker than the sheet, and a fine tooth.
 */
function paperPattern(w: number, h: number, s: number, seed: number): Pattern {
  // Formation: a cloudy tone several s across and a finer flocculation (s/2, s/4), one field.
  const tone = field(
    w,
    h,
    mixed([octaves(s * 5, 3, 0.5), 0.45], [octaves(Math.max(3, s / 2), 2, 0.5), 0.3]),
    seed,
    3.5,
    true,
  );
  const tooth = new WhiteNoise(seed ^ 0x7007);
  const rnd = rng(seed ^ 0xf1b5);
  const long = Math.max(w, h);
  const thick = Math.max(0.8, long / 1024);
  // Fibres are drawn one lane wide on a grid of q px (q ≈ their thickness), read back bilinearly.
  const q = Math.max(1, Math.floor(thick));
  const fw = gridSize(w, q);
  const fh = gridSize(h, q);
  const fibreGrid = new Float32Array(fw * fh);
  const meanLen = Math.max(3, s);
  const count = Math.min(600_000, Math.round((0.5 * w * h) / (meanLen * thick)));
  for (let k = 0; k < count; k++) {
    const cx = rnd() * w;
    const cy = rnd() * h;
    const len = meanLen * (0.4 + 1.2 * rnd());
    const ang = rnd() * Math.PI;
    const bend = (rnd() - 0.5) * 0.5 * len;
    const amp = (rnd() < 0.65 ? 1 : -0.8) * (0.4 + 0.6 * rnd());
    const dx = Math.cos(ang);
    const dy = Math.sin(ang);
    const steps = Math.max(2, Math.ceil(len / (0.7 * q)));
    for (let st = 0; st <= steps; st++) {
      const t = st / steps - 0.5;
      const taper = amp * Math.sqrt(1 - 4 * t * t) * 0.7 * (thick / q);
      const off = (0.25 - t * t) * bend;
      splat(fibreGrid, fw, fh, (cx + t * len * dx - off * dy) / q, (cy + t * len * dy + off * dx) / q, taper);
    }
  }
  const fibres = new NoiseField(w, h, q, fibreGrid);
  const row = (y: number, v: Float32Array): void => {
    tone.row(y, v);
    tooth.row(y, v, w, 0.12);
    fibres.row(y, v, 0.4, true);
  };
  return { row, gain: 0.8 };
}

/** Adds `a` at grid coordinates (x, y) with bilinear weights. */
function splat(buf: Float32Array, w: number, h: number, x: number, y: number, a: number): void {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const ax = x - x0;
  const ay = y - y0;
  if (x0 >= 0 && x0 + 1 < w && y0 >= 0 && y0 + 1 < h) {
    const o = y0 * w + x0;
    buf[o]! += a * (1 - ax) * (1 - ay);
    buf[o + 1]! += a * ax * (1 - ay);
    buf[o + w]! += a * (1 - ax) * ay;
    buf[o + w + 1]! += a * ax * ay;
  }
}
