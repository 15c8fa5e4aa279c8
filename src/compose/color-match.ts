/**
 * Colour matching of the foreground to a new background in CIE L*a*b*. Pure.
 *
 * Statistics transfer in the spirit of Reinhard et al., "Color Transfer between Images" (2001),
 * reduced to a partial move: with strength s, the foreground's (α-weighted) mean of L*, a*, b*
 * moves toward the background's by the fraction s; optionally the spread (standard deviation)
 * moves by s too. Each foreground pixel (α > 0) is mapped by
 *   x' = μ_t + (x − μ_f) · σ_t / σ_f,   μ_t = μ_f + s(μ_b − μ_f),   σ_t = σ_f + s·spread·(σ_b − σ_f)
 * and converted back to sRGB (gamut-clipped per channel). Pixels with α = 0 are copied.
 */
import { labToSrgb, srgbToLab } from './color.js';

export interface LabStats {
  /** Mean of L*, a*, b*. */
  mean: [number, number, number];
  /** Standard deviation of L*, a*, b*. */
  std: [number, number, number];
  /** Total weight the statistics were taken over (0: no pixels). */
  weight: number;
}

/**
 * L*a*b* statistics of interleaved 8-bit RGB, each pixel weighted by `weights[i] / 255` when
 * given (e.g. the alpha for the subject, 255 − alpha for the visible background). At most about
 * 2²⁰ pixels are visited (a fixed stride), so it is cheap at 12 MP.
 */
export function labStats(rgb: Uint8Array, weights?: Uint8Array): LabStats {
  const n = rgb.length / 3;
  if (!Number.isInteger(n)) throw new RangeError('labStats: RGB length is not a multiple of 3');
  if (weights && weights.length !== n) throw new RangeError('labStats: weights do not match the image');
  const step = Math.max(1, Math.floor(n / (1 << 20)));
  const lab = new Float64Array(3);
  let w = 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let q0 = 0;
  let q1 = 0;
  let q2 = 0;
  for (let i = 0; i < n; i += step) {
    const wi = weights ? weights[i]! / 255 : 1;
    if (wi === 0) continue;
    const si = i * 3;
    srgbToLab(rgb[si]!, rgb[si + 1]!, rgb[si + 2]!, lab);
    const L = lab[0]!;
    const a = lab[1]!;
    const b = lab[2]!;
    w += wi;
    s0 += wi * L;
    s1 += wi * a;
    s2 += wi * b;
    q0 += wi * L * L;
    q1 += wi * a * a;
    q2 += wi * b * b;
  }
  if (w === 0) return { mean: [0, 0, 0], std: [0, 0, 0], weight: 0 };
  const m0 = s0 / w;
  const m1 = s1 / w;
  const m2 = s2 / w;
  const sd = (q: number, m: number) => Math.sqrt(Math.max(0, q / w - m * m));
  return { mean: [m0, m1, m2], std: [sd(q0, m0), sd(q1, m1), sd(q2, m2)], weight: w };
}

export interface ColorMatchOptions {
  /** Fraction 0..1 of the way the foreground's statistics move toward the background's. */
  strength: number;
  /** Also move the spread (standard deviation), as a fraction of `strength` (default 0: means only). */
  spread?: number;
  /** Include lightness L* (default true); false moves only the chroma a*, b*. */
  lightness?: boolean;
}

/**
 * The foreground `rgb` (interleaved 8-bit) recoloured toward `target` (the new background's
 * `labStats`) where α > 0. strength 0 (or a target without pixels) returns an exact copy.
 */
export function matchColors(
  rgb: Uint8Array,
  alpha: Uint8Array,
  target: LabStats,
  options: ColorMatchOptions,
): Uint8Array {
  const n = alpha.length;
  if (rgb.length !== n * 3) throw new RangeError('matchColors: sizes do not match');
  const s = Math.min(1, Math.max(0, options.strength));
  const out = Uint8Array.from(rgb);
  if (s === 0 || target.weight === 0) return out;
  const fg = labStats(rgb, alpha);
  if (fg.weight === 0) return out;
  const spread = Math.min(1, Math.max(0, options.spread ?? 0)) * s;
  const first = options.lightness === false ? 1 : 0;
  // Per channel: x' = x·gain + shift.
  const gain = new Float64Array([1, 1, 1]);
  const shift = new Float64Array(3);
  for (let c = first; c < 3; c++) {
    const mf = fg.mean[c]!;
    const mt = mf + s * (target.mean[c]! - mf);
    const sf = fg.std[c]!;
    const st = sf + spread * (target.std[c]! - sf);
    const g = sf > 1e-6 && spread > 0 ? st / sf : 1;
    gain[c] = g;
    shift[c] = mt - mf * g;
  }
  const g0 = gain[0]!;
  const g1 = gain[1]!;
  const g2 = gain[2]!;
  const h0 = shift[0]!;
  const h1 = shift[1]!;
  const h2 = shift[2]!;
  const lab = new Float64Array(3);
  // The mapping depends on the colour only: a direct-mapped cache of 2¹⁶ recent colours skips the
  // Lab round trip for repeats (the result is the same with or without it).
  const keys = new Int32Array(1 << 16).fill(-1);
  const vals = new Uint8Array(3 << 16);
  for (let i = 0, si = 0; i < n; i++, si += 3) {
    if (alpha[i] === 0) continue;
    const r = rgb[si]!;
    const g = rgb[si + 1]!;
    const b = rgb[si + 2]!;
    const key = (r << 16) | (g << 8) | b;
    const slot = (Math.imul(key, 0x9e3779b1) >>> 16) & 0xffff;
    if (keys[slot] === key) {
      out[si] = vals[slot * 3]!;
      out[si + 1] = vals[slot * 3 + 1]!;
      out[si + 2] = vals[slot * 3 + 2]!;
      continue;
    }
    srgbToLab(r, g, b, lab);
    let L = lab[0]! * g0 + h0;
    L = Math.min(Math.max(L, 0), 100);
    labToSrgb(L, lab[1]! * g1 + h1, lab[2]! * g2 + h2, out, si);
    keys[slot] = key;
    vals[slot * 3] = out[si]!;
    vals[slot * 3 + 1] = out[si + 1]!;
    vals[slot * 3 + 2] = out[si + 2]!;
  }
  return out;
}
