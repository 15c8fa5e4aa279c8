/**
 * Triangulation matting (Smith & Blinn, "Blue Screen Matting", SIGGRAPH 1996): the product shot
 * over two different backdrops B1, B2, each known from its clean plate, gives α and the
 * premultiplied foreground F̃ = αF exactly. Pure; every input must already be aligned to shot 1 and
 * brought to its exposure.
 *
 * Per pixel, from C1 = F̃ + (1 − α)B1 and C2 = F̃ + (1 − α)B2:
 *   C1 − C2 = (1 − α)(B1 − B2)
 *   α = 1 − Σ_c (C1 − C2)(B1 − B2) / Σ_c (B1 − B2)²      (least squares over the three channels)
 *   F̃ = ½[(C1 − (1 − α)B1) + (C2 − (1 − α)B2)]
 * α clamped to [0, 1], F = F̃ / α. Where the backdrops are alike (|B1 − B2| small) the solve is
 * ill-conditioned: the result is blended toward the single-shot `fallback` there.
 */
import type { Matte } from './difference-matte.js';

export interface TriangulationOptions {
  /**
   * Backdrop separation, rms over the channels in 8-bit units, below which the pixel takes the
   * fallback (default 12); from there to twice that it is blended in.
   */
  minSeparation?: number;
}

/** α and F from two shots over two known backdrops; `fallback` where the backdrops are alike. */
export function triangulationMatte(
  shot1: Uint8Array,
  plate1: Uint8Array,
  shot2: Uint8Array,
  plate2: Uint8Array,
  width: number,
  height: number,
  fallback: Matte,
  options: TriangulationOptions = {},
): Matte {
  const n = width * height;
  for (const a of [shot1, plate1, shot2, plate2, fallback.fg]) {
    if (a.length !== n * 3) throw new RangeError('triangulationMatte: sizes do not match');
  }
  if (fallback.alpha.length !== n) throw new RangeError('triangulationMatte: sizes do not match');
  const lo = options.minSeparation ?? 12;
  // Thresholds on Σ_c (B1 − B2)², i.e. 3·rms².
  const lo2 = 3 * lo * lo;
  const hi2 = 3 * (2 * lo) ** 2;
  const alpha = new Uint8Array(n);
  const fg = new Uint8Array(n * 3);
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    let num = 0;
    let den = 0;
    for (let c = 0; c < 3; c++) {
      const db = plate1[s + c]! - plate2[s + c]!;
      num += (shot1[s + c]! - shot2[s + c]!) * db;
      den += db * db;
    }
    if (den <= lo2) {
      alpha[i] = fallback.alpha[i]!;
      fg[s] = fallback.fg[s]!;
      fg[s + 1] = fallback.fg[s + 1]!;
      fg[s + 2] = fallback.fg[s + 2]!;
      continue;
    }
    let a = 1 - num / den;
    a = Math.min(Math.max(a, 0), 1);
    const k = 1 - a;
    // Premultiplied foreground, 8-bit units.
    let p0 = 0.5 * (shot1[s]! - k * plate1[s]! + (shot2[s]! - k * plate2[s]!));
    let p1 = 0.5 * (shot1[s + 1]! - k * plate1[s + 1]! + (shot2[s + 1]! - k * plate2[s + 1]!));
    let p2 = 0.5 * (shot1[s + 2]! - k * plate1[s + 2]! + (shot2[s + 2]! - k * plate2[s + 2]!));
    if (den < hi2) {
      // Toward the single-shot estimate where the backdrops barely differ.
      const w = (den - lo2) / (hi2 - lo2);
      const fa = (1 - w) * (fallback.alpha[i]! / 255);
      p0 = w * p0 + fa * fallback.fg[s]!;
      p1 = w * p1 + fa * fallback.fg[s + 1]!;
      p2 = w * p2 + fa * fallback.fg[s + 2]!;
      a = w * a + fa;
    }
    const a8 = Math.round(a * 255);
    alpha[i] = a8;
    if (a8 === 0) {
      fg[s] = shot1[s]!;
      fg[s + 1] = shot1[s + 1]!;
      fg[s + 2] = shot1[s + 2]!;
      continue;
    }
    // F from the premultiplied colour and the alpha as stored, so that α·F reproduces F̃.
    const inv = 255 / a8;
    fg[s] = clamp8(p0 * inv);
    fg[s + 1] = clamp8(p1 * inv);
    fg[s + 2] = clamp8(p2 * inv);
  }
  return { alpha, fg };
}

function clamp8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}
