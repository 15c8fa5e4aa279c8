/**
 * Scores a cut-out against a glass scene's truth: both composited over white and over black,
 * mean |Δ| per region (background / opaque / glass) in 1/255, over the three channels and the two
 * backdrops. The cut-out is what cleanup() 'transparent' writes: RGBA, un-premultiplied.
 */
import { REGION_BACKGROUND, REGION_GLASS, REGION_OPAQUE, type GlassTruth } from './glass-scenes.js';

export interface GlassScore {
  background: number;
  opaque: number;
  glass: number;
  /** Pixels per region. */
  counts: { background: number; opaque: number; glass: number };
}

/** The goals for single-shot mode with the box given, in 1/255. */
export const SINGLE_SHOT_GOALS = { opaque: 4, glass: 8, background: 3 } as const;

/** Mean |Δ| per region; `rgba` is width*height*4 bytes, un-premultiplied. */
export function scoreCutout(truth: GlassTruth, rgba: Uint8Array): GlassScore {
  const n = truth.width * truth.height;
  if (rgba.length !== n * 4) throw new Error(`the cut-out has ${rgba.length} bytes; expected ${n * 4} (RGBA)`);
  const sum = [0, 0, 0];
  const count = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const a = truth.alpha[i]!;
    const e = rgba[i * 4 + 3]! / 255;
    let d = 0;
    for (let c = 0; c < 3; c++) {
      const tf = a * truth.fg[i * 3 + c]!;
      const ef = e * rgba[i * 4 + c]!;
      // Over white (255) and over black (0).
      d += Math.abs(tf + (1 - a) * 255 - (ef + (1 - e) * 255)) + Math.abs(tf - ef);
    }
    const r = truth.region[i]!;
    sum[r] = sum[r]! + d / 6;
    count[r] = count[r]! + 1;
  }
  const mean = (r: number) => (count[r]! > 0 ? sum[r]! / count[r]! : 0);
  return {
    background: mean(REGION_BACKGROUND),
    opaque: mean(REGION_OPAQUE),
    glass: mean(REGION_GLASS),
    counts: { background: count[REGION_BACKGROUND]!, opaque: count[REGION_OPAQUE]!, glass: count[REGION_GLASS]! },
  };
}

/** The truth as an RGBA cut-out (a perfect estimate scores 0 up to rounding). */
export function truthCutout(truth: GlassTruth): Uint8Array {
  const n = truth.width * truth.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 4 + c] = Math.round(truth.fg[i * 3 + c]!);
    out[i * 4 + 3] = Math.round(truth.alpha[i]! * 255);
  }
  return out;
}
