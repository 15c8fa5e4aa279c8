/**
 * Whether the guided-filter refinement helps a model family, measured without the family's
 * weights: the exact truth of a photo is degraded the way the family's network output is (a mask
 * made at the network's resolution and read by its profile), then brought to the photo's size
 * with and without the refinement (`refineAlpha`, exactly as segment() runs it) and both are
 * scored against the truth.
 *
 *   family output model                                          profiles
 *   area average of the truth over the network's grid (fill),    isnet-imgly, isnet, ben2,
 *     soft values kept (a perfect soft network at that size)      birefnet (1024²), birefnet-hr
 *                                                                 (2048²), u2net (320²)
 *   SAM: the truth averaged onto the decoder's 256-px low-res    sam
 *     grid (longest side), upsampled bilinearly to the photo
 *     scaled to a longest side of 1024, thresholded at 0.5
 *
 * This isolates what the refinement is for (recovering the detail a low-resolution or binary
 * mask lost) from the network's own errors, which random-weight replicas cannot show.
 */
import { refineAlpha, type CoarseMask } from '../../src/compose/refine.js';
import { resizeBilinear } from '../../src/compose/resample.js';
import { PROFILES, type ModelProfile } from '../../src/models/profiles.js';
import { type Scores, score } from './segment-metrics.js';

/** The profiles studied, one per distinct output (same size and reading share a result). */
export const STUDY_PROFILES = ['isnet-imgly', 'u2net', 'birefnet', 'birefnet-hr', 'ben2', 'sam'] as const;
export type StudyProfile = (typeof STUDY_PROFILES)[number];

/** SAM's low-res mask side (its decoder's `low_res_masks`, 256 for a 1024 frame). */
const SAM_LOW_RES = 256;
const SAM_FRAME = 1024;

/** Area average of an 8-bit plane onto a w×h grid (exact fractional pixel overlap), in [0, 1]. */
export function areaDownsample(src: Uint8Array, sw: number, sh: number, w: number, h: number): Float32Array {
  const taps = (n: number, m: number) => {
    const k = n / m;
    const out: { i: number; wt: number }[][] = [];
    for (let o = 0; o < m; o++) {
      const a = o * k;
      const b = a + k;
      const list: { i: number; wt: number }[] = [];
      for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
        const wt = Math.min(b, i + 1) - Math.max(a, i);
        if (wt > 0) list.push({ i, wt: wt / k });
      }
      out.push(list);
    }
    return out;
  };
  const tx = taps(sw, w);
  const ty = taps(sh, h);
  const rows = new Float32Array(sh * w);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (const t of tx[x]!) s += src[y * sw + t.i]! * t.wt;
      rows[y * w + x] = s / 255;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (const t of ty[y]!) {
      for (let x = 0; x < w; x++) out[y * w + x] = out[y * w + x]! + rows[t.i * w + x]! * t.wt;
    }
  }
  return out;
}

/** [1, 2, 1] / 4 twice along each axis (a Gaussian of σ ≈ 1 grid pixel), edges clamped. */
export function softenEdges(m: Float32Array, w: number, h: number): Float32Array {
  let a = m;
  for (let pass = 0; pass < 2; pass++) {
    const b = new Float32Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        b[i] = (a[y * w + Math.max(0, x - 1)]! + 2 * a[i]! + a[y * w + Math.min(w - 1, x + 1)]!) / 4;
      }
    const c = new Float32Array(w * h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        c[y * w + x] = (b[Math.max(0, y - 1) * w + x]! + 2 * b[y * w + x]! + b[Math.min(h - 1, y + 1) * w + x]!) / 4;
      }
    a = c;
  }
  return a;
}

/** 'exact': the truth averaged onto the grid; 'soft': then blurred by σ ≈ 1 grid pixel, as a network's edges are. */
export type EdgeModel = 'exact' | 'soft';

/** The truth as the family's network would hand it to the refinement: a coarse mask. */
export function familyOutput(
  truth: Uint8Array,
  width: number,
  height: number,
  profile: ModelProfile,
  edge: EdgeModel = 'exact',
): CoarseMask {
  if (profile.family === 'sam') {
    const k = SAM_FRAME / Math.max(width, height);
    const sw = Math.max(1, Math.round(width * k));
    const sh = Math.max(1, Math.round(height * k));
    const lw = Math.max(1, Math.round((sw * SAM_LOW_RES) / SAM_FRAME));
    const lh = Math.max(1, Math.round((sh * SAM_LOW_RES) / SAM_FRAME));
    const low = areaDownsample(truth, width, height, lw, lh);
    const up = resizeBilinear(low, lw, lh, sw, sh);
    for (let i = 0; i < up.length; i++) up[i] = up[i]! > 0.5 ? 1 : 0;
    return { data: up, width: sw, height: sh };
  }
  const [h, w] = profile.size;
  const grid = areaDownsample(truth, width, height, w, h);
  return { data: edge === 'soft' ? softenEdges(grid, w, h) : grid, width: w, height: h };
}

export interface StudyResult {
  profile: StudyProfile;
  edge: EdgeModel;
  bare: Scores;
  refined: Scores;
}

/** One photo (interleaved RGB) with its exact truth, through every studied profile's output. */
export function studyRefinement(
  rgb: Uint8Array,
  truth: Uint8Array,
  width: number,
  height: number,
  profiles: readonly StudyProfile[] = STUDY_PROFILES,
): StudyResult[] {
  return profiles.flatMap((name) =>
    (name === 'sam' ? (['exact'] as const) : (['exact', 'soft'] as const)).map((edge) => {
      const coarse = familyOutput(truth, width, height, PROFILES[name], edge);
      const bare = refineAlpha(rgb, width, height, coarse, { disabled: true });
      const refined = refineAlpha(rgb, width, height, coarse);
      const refinedScores = score(refined, truth, width, height);
      return { profile: name, edge, bare: score(bare, truth, width, height), refined: refinedScores };
    }),
  );
}
