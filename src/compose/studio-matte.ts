/**
 * The studio modes' matte, from decoded pixels to α and F. Pure; runs on a pixel worker.
 *
 *   clean plate   align the plate to the shot → fit its exposure on the background → difference
 *                 matte (./difference-matte.ts); each pane the glass stage found solved against
 *                 the plate (./glass/glass-over-plate.ts); the model's opaque parts kept where
 *                 they only happen to equal the plate (./opaque-over-plate.ts)
 *   two shots     the same for each shot and its plate, shot 2 (with its plate) aligned to shot 1
 *                 and brought to its exposure over the opaque product → triangulation matte
 *                 (./triangulation-matte.ts), the difference matte of shot 1 where the backdrops
 *                 are alike
 *
 * Exposures that differ by more than the tolerance (default ±15 % in luma) are not corrected but
 * reported, naming the file: a studio shoots with a fixed manual exposure, and a bigger gap means
 * another light or another camera setting, which a gain does not undo.
 */
import { applyShift, differencePlane, estimatePlaneShift, estimateShift, type Shift } from './align-shift.js';
import { differenceMatte, noiseLevels, rmsDiff, type Matte } from './difference-matte.js';
import { applyGain, fitGain } from './exposure-gain.js';
import { glassOverPlate, type GlassLine, type GlassOverPlateLook } from './glass/glass-over-plate.js';
import { keepOpaqueParts } from './opaque-over-plate.js';
import { triangulationMatte } from './triangulation-matte.js';

export interface StudioMatteTask {
  width: number;
  height: number;
  /** The photo (shot 1), interleaved 8-bit RGB. */
  shot: Uint8Array;
  /** The segmentation model's alpha for the photo. */
  model: Uint8Array;
  /** The clean plate of the photo. */
  plate: Uint8Array;
  /** The product on a second backdrop, and that backdrop's clean plate. */
  second?: { shot: Uint8Array; plate: Uint8Array };
  /** The pixels the glass stage found to be glass (255), and the look it assumed. */
  glass?: { mask: Uint8Array } & GlassOverPlateLook;
  /** Largest exposure difference corrected, as a fraction (default 0.15). */
  tolerance?: number;
  /** Largest misalignment searched, px (default 8). */
  maxShift?: number;
}

/** Which input a problem is about: the option's field. */
export type StudioField = 'cleanPlate' | 'second.input' | 'second.cleanPlate';

export interface StudioInfo {
  mode: 'clean-plate' | 'two-shot';
  /** Shifts applied, px: the plate to the photo; shot 2 to the photo; plate 2 to shot 2. */
  shifts: { cleanPlate: [number, number]; second?: [number, number]; secondCleanPlate?: [number, number] };
  /** Luma gains applied to the plate, shot 2 and plate 2. */
  gains: { cleanPlate: number; second?: number; secondCleanPlate?: number };
}

export type StudioMatteResult =
  | ({ ok: true; info: StudioInfo } & Matte)
  | { ok: false; field: StudioField; gain: number; tolerance: number };

const pair = (s: Shift): [number, number] => [s.dx, s.dy];

export function studioMatte(task: StudioMatteTask): StudioMatteResult {
  const { width, height, shot, model } = task;
  const n = width * height;
  if (shot.length !== n * 3 || model.length !== n || task.plate.length !== n * 3)
    throw new RangeError('studioMatte: sizes do not match');
  const tolerance = task.tolerance ?? 0.15;
  const align = { maxShift: task.maxShift ?? 8 };
  const background = (i: number) => model[i]! <= 8;

  const sp = estimateShift(shot, task.plate, width, height, align);
  const plateShifted = applyShift(task.plate, width, height, sp.dx, sp.dy);
  const gp = fitGain(plateShifted, shot, background);
  if (Math.abs(gp.luma - 1) > tolerance) return { ok: false, field: 'cleanPlate', gain: gp.luma, tolerance };
  const plate = applyGain(plateShifted, gp.gain);
  const noise = noiseLevels(shot, plate, model);
  const single = differenceMatte(shot, plate, model, width, height, { noise });
  const equal = (i: number): boolean => rmsDiff(shot, plate, i * 3) <= noise.t0;
  let line: GlassLine | undefined;
  if (task.glass) {
    if (task.glass.mask.length !== n) throw new RangeError('studioMatte: sizes do not match');
    line = glassOverPlate(shot, plate, task.glass.mask, width, height, task.glass, single.alpha, single.fg);
  }
  keepOpaqueParts(shot, plate, model, width, height, equal, line, single);
  if (!task.second) {
    return {
      ok: true,
      ...single,
      info: { mode: 'clean-plate', shifts: { cleanPlate: pair(sp) }, gains: { cleanPlate: gp.luma } },
    };
  }

  const second = task.second;
  if (second.shot.length !== n * 3 || second.plate.length !== n * 3)
    throw new RangeError('studioMatte: sizes do not match');
  // Plate 2 to shot 2; then shot 2 (with its plate) to shot 1 on what they share: the product's
  // silhouette, each shot's difference from its own plate.
  const p2 = estimateShift(second.shot, second.plate, width, height, align);
  const plate2Own = applyShift(second.plate, width, height, p2.dx, p2.dy);
  const s2 = estimatePlaneShift(
    differencePlane(shot, plateShifted),
    differencePlane(second.shot, plate2Own),
    width,
    height,
    align,
  );
  const shot2Shifted = applyShift(second.shot, width, height, s2.dx, s2.dy);
  const plate2Shifted = applyShift(second.plate, width, height, s2.dx + p2.dx, s2.dy + p2.dy);
  const gp2 = fitGain(plate2Shifted, shot2Shifted, background);
  if (Math.abs(gp2.luma - 1) > tolerance) return { ok: false, field: 'second.cleanPlate', gain: gp2.luma, tolerance };
  const plate2Lit = applyGain(plate2Shifted, gp2.gain);
  // Shot 2's exposure against shot 1's over what is opaque in both: there C1 − g·C2 ≈ 0 while
  // B1 − B2 is large. A loose pass finds g roughly, a strict one with g applied settles it.
  const opaque =
    (g: number, share: number) =>
    (i: number): boolean => {
      const s = i * 3;
      let num = 0;
      let den = 0;
      for (let c = 0; c < 3; c++) {
        const db = plate[s + c]! - plate2Lit[s + c]!;
        num += (shot[s + c]! - g * shot2Shifted[s + c]!) * db;
        den += db * db;
      }
      return den > 3 * 48 * 48 && Math.abs(num) < share * den;
    };
  const rough = fitGain(shot2Shifted, shot, opaque(1, 0.35));
  const g2 = fitGain(shot2Shifted, shot, opaque(rough.luma, 0.06));
  if (Math.abs(g2.luma - 1) > tolerance) return { ok: false, field: 'second.input', gain: g2.luma, tolerance };
  const shot2 = applyGain(shot2Shifted, g2.gain);
  const plate2 = applyGain(plate2Lit, g2.gain);
  const matte = triangulationMatte(shot, plate, shot2, plate2, width, height, single);
  return {
    ok: true,
    ...matte,
    info: {
      mode: 'two-shot',
      shifts: { cleanPlate: pair(sp), second: pair(s2), secondCleanPlate: pair(p2) },
      gains: { cleanPlate: gp.luma, second: g2.luma, secondCleanPlate: gp2.luma * g2.luma },
    },
  };
}
