/**
 * The studio modes' maths on synthetic scenes with exact truth (test/helpers/studio-scene.ts): an
 * aluminium frame, a tinted pane (α 0.1, a reflection band at 0.3) and an opaque handle, shot with
 * sensor noise and a tripod that moved between the shots.
 */
import { describe, expect, it } from 'vitest';

import { applyShift, estimateShift } from '../src/compose/align-shift.js';
import { differenceMatte } from '../src/compose/difference-matte.js';
import { fitGain } from '../src/compose/exposure-gain.js';
import { keepOpaqueParts } from '../src/compose/opaque-over-plate.js';
import { studioMatte } from '../src/compose/studio-matte.js';
import { triangulationMatte } from '../src/compose/triangulation-matte.js';
import {
  flatBackdrop,
  renderShot,
  sceneTruth,
  scoreMatte,
  texturedBackdrop,
  type SceneTruth,
} from './helpers/studio-scene.js';

const W = 192;
const H = 144;
const truth = sceneTruth(W, H);
const black = flatBackdrop({ r: 18, g: 18, b: 20 });
const white = flatBackdrop({ r: 242, g: 242, b: 238 });
const green = flatBackdrop({ r: 30, g: 200, b: 60 });
const magenta = flatBackdrop({ r: 210, g: 40, b: 190 });

/** What a segmentation network gives on such a photo: the whole product opaque, panes included. */
function opaqueModel(t: SceneTruth): Uint8Array {
  return Uint8Array.from(t.alpha, (a) => (a > 0 ? 255 : 0));
}

/** Shot 1 and its plate in place, shot 2 and its plate moved by `shift`, all with noise. */
function twoShots(b1: typeof black, b2: typeof black, shift: [number, number], noise: number) {
  return {
    shot: renderShot(truth, b1, { noise, seed: 11 }),
    plate: renderShot(truth, b1, { noise, seed: 12, plate: true }),
    second: {
      shot: renderShot(truth, b2, { noise, seed: 13, shift }),
      plate: renderShot(truth, b2, { noise, seed: 14, shift, plate: true }),
    },
  };
}

describe('alignment', () => {
  it('finds a small shift of a textured shot, and none between flat backdrops', () => {
    const ref = renderShot(truth, texturedBackdrop(2), { noise: 1 });
    const moved = renderShot(truth, texturedBackdrop(2), { noise: 1, seed: 3, shift: [-3, 2] });
    expect(estimateShift(ref, moved, W, H)).toMatchObject({ dx: -3, dy: 2 });
    const flat1 = renderShot(truth, white, { plate: true, noise: 1.5, seed: 4 });
    const flat2 = renderShot(truth, white, { plate: true, noise: 1.5, seed: 5 });
    expect(estimateShift(flat1, flat2, W, H)).toMatchObject({ dx: 0, dy: 0 });
  });

  it('applyShift moves pixels and repeats the border', () => {
    const rgb = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => i);
    const out = applyShift(rgb, 4, 2, 1, 0);
    expect([...out.subarray(0, 3)]).toEqual([3, 4, 5]);
    expect([...out.subarray(9, 12)]).toEqual([9, 10, 11]);
  });
});

describe('exposure gain', () => {
  it('is the background ratio even when product pixels get in', () => {
    const plate = renderShot(truth, texturedBackdrop(1), { plate: true });
    const shot = renderShot(truth, texturedBackdrop(1), { gain: 1.1 });
    expect(fitGain(plate, shot).luma).toBeCloseTo(1.1, 2);
  });
});

describe('triangulation matting', () => {
  for (const [name, b1, b2] of [
    ['black and white', black, white],
    ['green and magenta', green, magenta],
  ] as const) {
    it(`recovers α and F within 3/255 over ${name}, with a 2–3 px shift and sensor noise`, () => {
      const s = twoShots(b1, b2, [2, -3], 1.5);
      const r = studioMatte({ width: W, height: H, model: opaqueModel(truth), ...s });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.info.shifts.second).toEqual([2, -3]);
      const score = scoreMatte(truth, r.alpha, r.fg, 8);
      expect(score.opaque).toBeLessThanOrEqual(3);
      expect(score.glass).toBeLessThanOrEqual(3);
      expect(score.background).toBeLessThanOrEqual(3);
    });
  }

  it('falls back to the single-shot matte where the backdrops are alike', () => {
    const n = 16;
    const same = new Uint8Array(n * 3).fill(100);
    const fallback = { alpha: new Uint8Array(n).fill(77), fg: new Uint8Array(n * 3).fill(9) };
    const r = triangulationMatte(same, same, same, same, 4, 4, fallback);
    expect([...r.alpha]).toEqual([...fallback.alpha]);
    expect([...r.fg]).toEqual([...fallback.fg]);
  });

  it('exact inputs give exact α: one pixel of α 0.4 over black and white', () => {
    // F = (200, 100, 50), α = 0.4: C1 = 0.4F + 0.6·0, C2 = 0.4F + 0.6·255.
    const c1 = Uint8Array.of(80, 40, 20);
    const c2 = Uint8Array.of(233, 193, 173);
    const r = triangulationMatte(c1, Uint8Array.of(0, 0, 0), c2, Uint8Array.of(255, 255, 255), 1, 1, {
      alpha: new Uint8Array(1),
      fg: new Uint8Array(3),
    });
    expect(r.alpha[0]).toBe(102);
    expect([...r.fg]).toEqual([200, 100, 50]);
  });
});

describe('clean plate', () => {
  it('beats the model alone on the glass, and keeps the frame and the background', () => {
    const backdrop = texturedBackdrop(1);
    const shot = renderShot(truth, backdrop, { noise: 1.5, seed: 21 });
    const plate = renderShot(truth, backdrop, { noise: 1.5, seed: 22, plate: true, shift: [1, 0] });
    const model = opaqueModel(truth);
    const alone = scoreMatte(truth, model, shot, 8);
    const r = studioMatte({ width: W, height: H, shot, model, plate });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const score = scoreMatte(truth, r.alpha, r.fg, 8);
    expect(score.glass).toBeLessThan(alone.glass / 3);
    expect(score.opaque).toBeLessThanOrEqual(6);
    expect(score.background).toBeLessThanOrEqual(6);
  });

  it('removes what the model wrongly keeps of a flat backdrop', () => {
    const shot = renderShot(truth, white, { noise: 1.5, seed: 31 });
    const plate = renderShot(truth, white, { noise: 1.5, seed: 32, plate: true });
    const model = opaqueModel(truth);
    for (let y = 2; y < 20; y++) model.fill(255, y * W + 2, y * W + 30); // a blob out in the background
    const m = differenceMatte(shot, plate, model, W, H);
    let kept = 0;
    for (let y = 2; y < 20; y++) for (let x = 2; x < 30; x++) kept += m.alpha[y * W + x]!;
    expect(kept / (18 * 28)).toBeLessThan(2);
    // The frame stays opaque.
    expect(m.alpha[Math.round(H * 0.5) * W + Math.round(W * 0.21)]).toBe(255);
  });
});

describe('exposure tolerance', () => {
  it('names the file whose exposure is off by more than the tolerance', () => {
    const s = twoShots(black, white, [0, 0], 1);
    const model = opaqueModel(truth);
    const darkPlate = renderShot(truth, texturedBackdrop(1), { plate: true, gain: 0.7 });
    const shotT = renderShot(truth, texturedBackdrop(1));
    expect(studioMatte({ width: W, height: H, shot: shotT, model, plate: darkPlate })).toMatchObject({
      ok: false,
      field: 'cleanPlate',
    });
    const bright2 = renderShot(truth, white, { gain: 1.3, seed: 5 });
    const r = studioMatte({
      width: W,
      height: H,
      shot: s.shot,
      model,
      plate: s.plate,
      second: { shot: bright2, plate: s.second.plate },
    });
    expect(r).toMatchObject({ ok: false });
    const within = renderShot(truth, texturedBackdrop(1), { plate: true, gain: 0.92 });
    expect(studioMatte({ width: W, height: H, shot: shotT, model, plate: within }).ok).toBe(true);
  });
});

describe('clean plate over the glass the glass stage found', () => {
  /** What the glass stage gives: the frame and handle opaque, the pane at its look's α with its mask. */
  function glassStage(t: SceneTruth): { model: Uint8Array; mask: Uint8Array } {
    const model = Uint8Array.from(t.alpha, (a) => (a >= 1 ? 255 : a > 0 ? 26 : 0));
    const mask = Uint8Array.from(t.alpha, (a) => (a > 0 && a < 1 ? 255 : 0));
    return { model, mask };
  }

  it('measures the pane against a textured plate: α and the light it adds, the reflection band included', () => {
    const backdrop = texturedBackdrop(3);
    const shot = renderShot(truth, backdrop, { noise: 1.5, seed: 41 });
    const plate = renderShot(truth, backdrop, { noise: 1.5, seed: 42, plate: true });
    const { model, mask } = glassStage(truth);
    // The look's transmission is off on purpose (0.8 for a 0.9 pane): the plate corrects it.
    const r = studioMatte({ width: W, height: H, shot, model, plate, glass: { mask, transmission: 0.8 } });
    const without = studioMatte({ width: W, height: H, shot, model, plate });
    expect(r.ok && without.ok).toBe(true);
    if (!r.ok || !without.ok) return;
    const score = scoreMatte(truth, r.alpha, r.fg, 8);
    // (The worse of over white and over black; the band's sharp edges cost most of it.)
    expect(score.glass).toBeLessThanOrEqual(4);
    const before = scoreMatte(truth, without.alpha, without.fg, 8);
    expect(score.glass).toBeLessThan(before.glass / 3);
    expect(score.opaque).toBeLessThanOrEqual(before.opaque + 0.5);
    // The plain pane (α 0.1) and the reflection band (α 0.3) each: mean |Δα|.
    const err = [0, 0];
    const count = [0, 0];
    for (let i = 0; i < W * H; i++) {
      if (!mask[i]) continue;
      const k = truth.alpha[i]! > 0.2 ? 1 : 0;
      err[k]! += Math.abs(r.alpha[i]! / 255 - truth.alpha[i]!);
      count[k]!++;
    }
    expect(err[0]! / count[0]!).toBeLessThan(0.015);
    // (The band is drawn as F = near white at α 0.3, not as the tint plus a reflection: a little off.)
    expect(err[1]! / count[1]!).toBeLessThan(0.06);
  });

  it('measures the pane the same way on a photo above the fitting grid (1280 px: two pixels a cell)', () => {
    const [w, h] = [1280, 960];
    const big = sceneTruth(w, h);
    const backdrop = texturedBackdrop(3);
    const shot = renderShot(big, backdrop, { noise: 1.5, seed: 47 });
    const plate = renderShot(big, backdrop, { noise: 1.5, seed: 48, plate: true });
    const { model, mask } = glassStage(big);
    const r = studioMatte({ width: w, height: h, shot, model, plate, glass: { mask, transmission: 0.8 } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    let err = 0,
      count = 0;
    for (let i = 0; i < w * h; i++) {
      if (!mask[i] || big.alpha[i]! > 0.2) continue;
      err += Math.abs(r.alpha[i]! / 255 - big.alpha[i]!);
      count++;
    }
    expect(err / count).toBeLessThan(0.015);
    expect(scoreMatte(big, r.alpha, r.fg, 16).glass).toBeLessThanOrEqual(4);
  });

  it("keeps the look's transmission where the plate is flat, and a transmission the user gave as it is", () => {
    const shot = renderShot(truth, white, { noise: 1.5, seed: 43 });
    const plate = renderShot(truth, white, { noise: 1.5, seed: 44, plate: true });
    const { model, mask } = glassStage(truth);
    const pane = Math.round(H * 0.3) * W + Math.round(W * 0.3);
    const flat = studioMatte({ width: W, height: H, shot, model, plate, glass: { mask, transmission: 0.9 } });
    expect(flat.ok && Math.abs(flat.alpha[pane]! - 26)).toBeLessThanOrEqual(3);
    const textured = texturedBackdrop(3);
    const given = studioMatte({
      width: W,
      height: H,
      shot: renderShot(truth, textured, { noise: 1.5, seed: 45 }),
      model,
      plate: renderShot(truth, textured, { noise: 1.5, seed: 46, plate: true }),
      glass: { mask, transmission: 0.75, given: true },
    });
    expect(given.ok && Math.abs(given.alpha[pane]! - 64)).toBeLessThanOrEqual(2);
  });
});

// At 240 × 160 pixel by pixel; at 2400 × 1600 (the same scene ten times larger) on the grid.
describe.each([1, 10])('keepOpaqueParts (scene × %i)', (k) => {
  const w = 240 * k;
  const h = 160 * k;
  const n = w * h;
  /** A textured plate; the shot shows an opaque part at x 20..99 and another at 140..219 (y 20..139), × k. */
  function scene(partColour: (x: number, y: number, b: number[]) => number[]) {
    const plate = new Uint8Array(n * 3);
    const shot = new Uint8Array(n * 3);
    const model = new Uint8Array(n);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        const [X, Y] = [x / k, y / k];
        const b = [
          100 + 40 * Math.sin(X * 0.9) * Math.cos(Y * 0.7),
          110 + 30 * Math.sin(Y * 1.1),
          90 + 35 * Math.cos(X * 0.6 + Y),
        ];
        plate.set(b.map(Math.round), i * 3);
        const inPart = Y >= 20 && Y < 140 && ((X >= 20 && X < 100) || (X >= 140 && X < 220));
        shot.set((inPart ? partColour(x, y, b) : b).map(Math.round), i * 3);
        if (inPart) model[i] = 255;
      }
    }
    return { plate, shot, model };
  }
  const equalTo = (shot: Uint8Array, plate: Uint8Array) => (i: number) =>
    Math.abs(shot[i * 3]! - plate[i * 3]!) +
      Math.abs(shot[i * 3 + 1]! - plate[i * 3 + 1]!) +
      Math.abs(shot[i * 3 + 2]! - plate[i * 3 + 2]!) <=
    6;

  it('makes a part opaque again where it only happens to equal the plate', () => {
    // A flat grey part, equal to the plate in blotches (a quarter of it); the matte let those go.
    const blotch = (v: number) => Math.floor(v / (4 * k));
    const { plate, shot, model } = scene((x, y, b) => ((blotch(x) + blotch(y)) % 4 === 0 ? b : [120, 122, 125]));
    const matte = {
      alpha: Uint8Array.from(model, (m, i) => (m && !equalTo(shot, plate)(i) ? 255 : 0)),
      fg: shot.slice(),
    };
    keepOpaqueParts(shot, plate, model, w, h, equalTo(shot, plate), undefined, matte);
    let lost = 0;
    for (let y = 22 * k; y < 138 * k; y++)
      for (let x = 22 * k; x < 98 * k; x++) lost += matte.alpha[y * w + x]! < 255 ? 1 : 0;
    // On the grid a cell straddling a blotch's corner may side with the blotch: a few pixels in a million.
    expect(lost / ((98 - 22) * (138 - 22) * k * k)).toBeLessThanOrEqual(k === 1 ? 0 : 1e-4);
  });

  it('leaves what equals the plate everywhere, and glass the plate shows through, to the matte', () => {
    // Left: a background object the model kept (the plate itself); right: glass, 0.85·B + 20.
    const { plate, shot, model } = scene((x, _y, b) => (x < 120 * k ? b : b.map((v) => 0.85 * v + 20)));
    const matte = { alpha: new Uint8Array(n), fg: shot.slice() };
    for (let i = 0; i < n; i++) if (model[i] && i % w >= 120 * k) matte.alpha[i] = 38;
    keepOpaqueParts(shot, plate, model, w, h, equalTo(shot, plate), { s: 0.85, u: [20, 20, 20] }, matte);
    let kept = 0;
    let off = 0;
    for (let y = 22 * k; y < 138 * k; y++) {
      for (let x = 22 * k; x < 98 * k; x++) kept += matte.alpha[y * w + x]!;
      for (let x = 142 * k; x < 218 * k; x++) off = Math.max(off, Math.abs(matte.alpha[y * w + x]! - 38));
    }
    expect(kept).toBe(0);
    expect(off).toBeLessThanOrEqual(3);
  });
});
