/**
 * The subject matte of a large photo, analysed on a reduced copy. Pure.
 *
 * The extent flood, the glass regions and the glass layer (subject-matte.ts) are judged on the
 * photo box-averaged to at most `maxSide` pixels on the long side; the result comes back to full
 * resolution as the mask refinement does it (fast guided filter, refine.ts), so edges follow the
 * full-resolution photo:
 *   α     where the stage changed the network's mask (box, flood, glass), the reduced α refined
 *         at full resolution; elsewhere the network's own full-resolution α, untouched
 *   glass the reduced glass mask, upsampled bilinearly and thresholded at one half
 *   F     the photo, except over glass: the reduced F (tint and reflections, smooth) upsampled
 * Nothing outside the prompt's box is kept. Photos within `maxSide` go straight to subjectMatte.
 */
import { guidedCoefficientsColor } from '../guided-filter.js';
import { blockTaps } from '../resample.js';
import { boundsWhere } from './pixel-ops.js';
import { clipBox, type Box, type SubjectPrompt } from './product-extent.js';
import { subjectMatte, type SubjectMatte, type SubjectMatteInput } from './subject-matte.js';

/**
 * Long side of the copy the glass stage analyses: the mask refinement's grid size. Frames and
 * panes of a product that fills a good part of the photo are tens of pixels wide there, and the
 * scores on exact truth at 12 MP match those of the full-size analysis (test/glass-matte-scale).
 */
export const GLASS_ANALYSIS_SIDE = 768;
/** A reduced α this far (8-bit) from the reduced network mask counts as changed by the stage. */
const CHANGED = 12;
/** The guided filter's radius (grid pixels) when bringing α back to full resolution. */
const UPSAMPLE_RADIUS = 1;
const EPS = 1e-3;

/** Block average with factor s: interleaved 8-bit channels (1 or 3), size ceil(w/s) × ceil(h/s). */
export function blockAverage(src: Uint8Array, width: number, height: number, channels: number, s: number): Uint8Array {
  const w = Math.ceil(width / s),
    h = Math.ceil(height / s);
  const sum = new Uint32Array(w * channels);
  const out = new Uint8Array(w * h * channels);
  for (let gy = 0; gy < h; gy++) {
    sum.fill(0);
    const yEnd = Math.min(height, gy * s + s);
    for (let y = gy * s; y < yEnd; y++) {
      let i = y * width * channels;
      // Cell by cell along the row: s pixels (fewer in the last cell) into one sum.
      for (let gx = 0, x = 0; gx < w; gx++) {
        const xEnd = Math.min(width, x + s);
        const o = gx * channels;
        if (channels === 3) {
          let r = 0,
            g = 0,
            b = 0;
          for (; x < xEnd; x++, i += 3) {
            r += src[i]!;
            g += src[i + 1]!;
            b += src[i + 2]!;
          }
          sum[o]! += r;
          sum[o + 1]! += g;
          sum[o + 2]! += b;
        } else {
          for (; x < xEnd; x++) for (let c = 0; c < channels; c++) sum[o + c]! += src[i++]!;
        }
      }
    }
    const rows = yEnd - gy * s;
    for (let gx = 0; gx < w; gx++) {
      const k = 1 / (rows * (Math.min(width, gx * s + s) - gx * s));
      for (let c = 0; c < channels; c++) out[(gy * w + gx) * channels + c] = Math.round(sum[gx * channels + c]! * k);
    }
  }
  return out;
}

function scalePrompt(prompt: SubjectPrompt | undefined, s: number): SubjectPrompt | undefined {
  if (!prompt) return undefined;
  return {
    ...(prompt.box ? { box: prompt.box.map((v) => v / s) as unknown as Box } : {}),
    ...(prompt.points ? { points: prompt.points.map((p) => ({ ...p, x: p.x / s, y: p.y / s })) } : {}),
  };
}

function hasPrompt(prompt: SubjectPrompt | undefined): boolean {
  return Boolean(prompt && (prompt.box || prompt.points?.length));
}

/** Whether the stage changes anything: a prompt, or glass not 'off' (else the network's mask stands). */
export function glassStageRuns(input: Pick<SubjectMatteInput, 'prompt' | 'glass'>): boolean {
  return hasPrompt(input.prompt) || input.glass !== 'off';
}

/** The glass stage judged on a reduced copy of the photo: the copy, its mask and the matte found there. */
export interface ReducedMatte {
  /** Block factor: the copy is ceil(width / s) × ceil(height / s). */
  s: number;
  gw: number;
  gh: number;
  /** The reduced photo (interleaved RGB) and network mask. */
  small: Uint8Array;
  smallSalient: Uint8Array;
  matte: SubjectMatte;
}

/** The block factor for analysing a `width` × `height` photo on at most `maxSide` pixels. */
export function analysisFactor(width: number, height: number, maxSide = GLASS_ANALYSIS_SIDE): number {
  return Math.ceil(Math.max(width, height) / maxSide);
}

/**
 * The analysis on a reduced copy made elsewhere (the mask refinement's guide, say): `small` and
 * `smallSalient` are the photo and the network's mask reduced by `s`; the prompt is in full-size
 * pixels. Moves nothing: the arrays are kept in the result.
 */
export function analyseReduced(
  small: Uint8Array,
  smallSalient: Uint8Array,
  gw: number,
  gh: number,
  s: number,
  options: Pick<SubjectMatteInput, 'prompt' | 'glass' | 'salientPrompted'>,
): ReducedMatte {
  const prompt = scalePrompt(options.prompt, s);
  const matte = subjectMatte({
    rgb: small,
    width: gw,
    height: gh,
    salient: smallSalient,
    ...(prompt ? { prompt } : {}),
    ...(options.glass !== undefined ? { glass: options.glass } : {}),
    ...(options.salientPrompted ? { salientPrompted: true } : {}),
  });
  return { s, gw, gh, small, smallSalient, matte };
}

/** Like subjectMatte, with the analysis on a copy of at most `maxSide` pixels on the long side. */
export function subjectMatteAtScale(input: SubjectMatteInput, maxSide = GLASS_ANALYSIS_SIDE): SubjectMatte {
  const { rgb, width, height, salient } = input;
  const s = analysisFactor(width, height, maxSide);
  if (s <= 1 || !glassStageRuns(input)) return subjectMatte(input);
  const gw = Math.ceil(width / s),
    gh = Math.ceil(height / s);
  const reduced = analyseReduced(
    blockAverage(rgb, width, height, 3, s),
    blockAverage(salient, width, height, 1, s),
    gw,
    gh,
    s,
    input,
  );
  return bringBack(input, reduced);
}

/** The reduced matte brought back to the full-size photo of `input` (see the file's comment). */
export function bringBack(input: SubjectMatteInput, reduced: ReducedMatte): SubjectMatte {
  const { rgb, width, height, salient } = input;
  const { s, gw, gh, small, smallSalient, matte: m } = reduced;
  if (gw !== Math.ceil(width / s) || gh !== Math.ceil(height / s) || small.length !== gw * gh * 3)
    throw new RangeError('bringBack: the reduced copy does not match the photo');
  const prompted = hasPrompt(input.prompt);
  const n = width * height;
  if (!prompted && m.glassPixels === 0) return { alpha: salient, fg: rgb, glass: new Uint8Array(n), glassPixels: 0 };

  // Cells the stage changed, grown by one cell so that the refined band covers their edges.
  const changed = new Uint8Array(gw * gh);
  for (let i = 0; i < gw * gh; i++) {
    if (Math.abs(m.alpha[i]! - smallSalient[i]!) > CHANGED || m.glass[i]) changed[i] = 1;
  }
  const grown = new Uint8Array(gw * gh);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      if (!changed[y * gw + x]) continue;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const X = x + dx,
            Y = y + dy;
          if (X >= 0 && Y >= 0 && X < gw && Y < gh) grown[Y * gw + X] = 1;
        }
      }
    }
  }

  // Guided-filter coefficients of the reduced α, the reduced photo as guide (refine.ts's method),
  // over the changed cells' bounds (grown by the filter's reach and the bilinear neighbour) only.
  const cells = boundsWhere(gw, gh, (i) => grown[i]! > 0, 2 * UPSAMPLE_RADIUS + 1);
  const [cx0, cy0] = cells ? [cells.x0, cells.y0] : [0, 0];
  const cw = cells ? cells.x1 - cells.x0 + 1 : 0,
    ch = cells ? cells.y1 - cells.y0 + 1 : 0;
  const k = 1 / 255;
  const grid = new Float32Array(gw * gh * 8);
  if (cw > 0 && ch > 0) {
    const cn = cw * ch;
    const planes = [0, 1, 2].map(() => new Float32Array(cn));
    const p = new Float32Array(cn);
    for (let y = 0, j = 0; y < ch; y++) {
      for (let x = 0, i = (cy0 + y) * gw + cx0; x < cw; x++, i++, j++) {
        planes[0]![j] = small[i * 3]! * k;
        planes[1]![j] = small[i * 3 + 1]! * k;
        planes[2]![j] = small[i * 3 + 2]! * k;
        p[j] = m.alpha[i]! * k;
      }
    }
    const [pr, pg, pb] = planes as [Float32Array, Float32Array, Float32Array];
    const co = guidedCoefficientsColor(pr, pg, pb, p, cw, ch, { radius: UPSAMPLE_RADIUS, eps: EPS });
    // Per cell [ar, ag, ab, b, glass, F r, F g, F b], bilinear between cell centres at full resolution.
    for (let y = 0, j = 0; y < ch; y++) {
      for (let x = 0, i = (cy0 + y) * gw + cx0; x < cw; x++, i++, j++) {
        const o = i * 8,
          f = i * 3;
        grid[o] = co.ar[j]! * k;
        grid[o + 1] = co.ag[j]! * k;
        grid[o + 2] = co.ab[j]! * k;
        grid[o + 3] = co.b[j]!;
        grid[o + 4] = m.glass[i]! * k;
        grid[o + 5] = m.fg[f]!;
        grid[o + 6] = m.fg[f + 1]!;
        grid[o + 7] = m.fg[f + 2]!;
      }
    }
  }
  const tx = blockTaps(gw, width, s);
  const ty = blockTaps(gh, height, s);
  const box = input.prompt?.box ? clipBox(input.prompt.box, width, height) : undefined;
  const [x0, y0, x1, y1] = box ? [box[0], box[1], box[0] + box[2], box[1] + box[3]] : [0, 0, width, height];
  const alpha = new Uint8Array(n);
  const glass = new Uint8Array(n);
  const fg = m.glassPixels > 0 ? Uint8Array.from(rgb) : rgb;
  let glassPixels = 0;
  const row = new Float32Array(gw * 8);
  const cellOf = new Int32Array(width);
  for (let x = 0; x < width; x++) cellOf[x] = (x / s) | 0;
  // Only the grid columns the box's pixels interpolate between.
  const rowFrom = x1 > x0 ? tx.i0[x0]! * 8 : 0,
    rowTo = x1 > x0 ? (tx.i1[x1 - 1]! + 1) * 8 : 0;
  for (let y = y0; y < y1; y++) {
    const cellRow = ((y / s) | 0) * gw;
    const r0 = ty.i0[y]! * gw * 8,
      r1 = ty.i1[y]! * gw * 8,
      fy = ty.f[y]!;
    const q0 = ty.i0[y]! * gw,
      q1 = ty.i1[y]! * gw;
    let rowDone = false;
    for (let x = x0; x < x1; x++) {
      const i = y * width + x;
      if (!grown[cellRow + cellOf[x]!]) {
        alpha[i] = salient[i]!;
        continue;
      }
      if (!rowDone) {
        for (let j = rowFrom; j < rowTo; j++) row[j] = grid[r0 + j]! + (grid[r1 + j]! - grid[r0 + j]!) * fy;
        rowDone = true;
      }
      // Between four opaque (or four empty) cells the value stays exact; the filter shapes the rest.
      const u0 = tx.i0[x]!,
        u1 = tx.i1[x]!;
      const t00 = m.alpha[q0 + u0]!,
        t01 = m.alpha[q0 + u1]!,
        t10 = m.alpha[q1 + u0]!,
        t11 = m.alpha[q1 + u1]!;
      if ((t00 & t01 & t10 & t11) === 255 || (t00 | t01 | t10 | t11) === 0) {
        alpha[i] = t00;
        continue;
      }
      const c0 = u0 * 8,
        c1 = u1 * 8,
        fx = tx.f[x]!;
      if ((m.glass[q0 + u0]! & m.glass[q0 + u1]! & m.glass[q1 + u0]! & m.glass[q1 + u1]!) === 255) {
        // Inside a pane: the glass's α is smooth on the grid, bilinear is enough (no edge to follow).
        const top = t00 + (t01 - t00) * fx,
          bottom = t10 + (t11 - t10) * fx;
        alpha[i] = top + (bottom - top) * fy + 0.5;
        glass[i] = 255;
        glassPixels++;
        for (let j = 5; j < 8; j++) fg[i * 3 + j - 5] = Math.round(row[c0 + j]! + (row[c1 + j]! - row[c0 + j]!) * fx);
        continue;
      }
      const a =
        ((row[c0]! + (row[c1]! - row[c0]!) * fx) * rgb[i * 3]! +
          (row[c0 + 1]! + (row[c1 + 1]! - row[c0 + 1]!) * fx) * rgb[i * 3 + 1]! +
          (row[c0 + 2]! + (row[c1 + 2]! - row[c0 + 2]!) * fx) * rgb[i * 3 + 2]! +
          (row[c0 + 3]! + (row[c1 + 3]! - row[c0 + 3]!) * fx)) *
          255 +
        0.5;
      alpha[i] = Math.min(Math.max(a, 0), 255);
      if (row[c0 + 4]! + (row[c1 + 4]! - row[c0 + 4]!) * fx < 0.5) continue;
      glass[i] = 255;
      glassPixels++;
      for (let j = 5; j < 8; j++) fg[i * 3 + j - 5] = Math.round(row[c0 + j]! + (row[c1 + j]! - row[c0 + j]!) * fx);
    }
  }
  return { alpha, fg, glass, glassPixels };
}
