/**
 * Compositing that judges pictures: edges, colour, feather, shadow, framing (issue 4, items 4 and 6).
 * All images are synthetic and made here.
 *
 * 12-MP timings, measured once each on a 4000×3000 image with a disc subject of radius 1000 px
 * (≈ 3.1 M subject pixels, 12-px soft edge), single thread on the shared 2-core dev machine:
 *   decontaminate 571 ms · labStats(background) 49 ms · matchColors(strength 0.5, spread 0.5)
 *   512 ms (scales with the subject's pixel count) · featherAlpha(width 8) 198 ms ·
 *   synthesizeShadow 161 ms · alphaBounds 12 ms · applyFraming at scale 1 59 ms, to 2048² (scale
 *   0.82, bilinear) 329 ms.
 * On a real photo (coffee_cup_cc0.jpg resized to 4000×3000): decontaminate 806 ms with a 5.3 M-px
 * subject; matchColors with the whole frame as subject 612 ms (1500 ms before its colour cache).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { compositeOverColor, compositeOverImage } from '../src/compose/alpha.js';
import { labStats, matchColors } from '../src/compose/color-match.js';
import { labToSrgb, srgbToLab, type RGB } from '../src/compose/color.js';
import { decontaminate } from '../src/compose/decontaminate.js';
import { featherAlpha } from '../src/compose/feather.js';
import { alphaBounds, applyFraming, computeFraming } from '../src/compose/framing.js';
import { applyShadow, synthesizeShadow } from '../src/compose/shadow.js';

const RED: RGB = { r: 220, g: 30, b: 30 };
const GREEN: RGB = { r: 40, g: 200, b: 50 };
const BLUE: RGB = { r: 30, g: 60, b: 220 };

interface Scene {
  width: number;
  height: number;
  rgb: Uint8Array;
  alpha: Uint8Array;
}

/**
 * A disc of `fg` (plus a little texture when asked) on a plain `bg`, with a soft edge of known
 * alpha: a linear ramp `ramp` px wide centred on the radius. rgb = round(α·fg + (1−α)·bg).
 */
function discScene(fg: RGB, bg: RGB, { width = 192, height = 144, radius = 40, ramp = 10, texture = 0 } = {}): Scene {
  const rgb = new Uint8Array(width * height * 3);
  const alpha = new Uint8Array(width * height);
  const cx = width / 2;
  const cy = height / 2 - 10;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const a = Math.min(1, Math.max(0, (radius + ramp / 2 - d) / ramp));
      const i = y * width + x;
      alpha[i] = Math.round(a * 255);
      const t = texture * (((x * 7 + y * 13) % 17) / 16 - 0.5);
      const f = [fg.r + t, fg.g + t, fg.b + t];
      const b = [bg.r, bg.g, bg.b];
      const ae = alpha[i]! / 255;
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = Math.round(ae * f[c]! + (1 - ae) * b[c]!);
    }
  }
  return { width, height, rgb, alpha };
}

/** Mean of G − max(R, B) over the pixels with 0 < α < 255. */
function greenExcessInBand(img: Uint8Array, alpha: Uint8Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i]!;
    if (a === 0 || a === 255) continue;
    sum += img[i * 3 + 1]! - Math.max(img[i * 3]!, img[i * 3 + 2]!);
    count++;
  }
  return sum / count;
}

function sha(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

describe('edge decontamination', () => {
  it('a red object cut from green and put on blue has no green cast in its edge band', () => {
    const scene = discScene(RED, GREEN);
    const { rgb, alpha, width, height } = scene;
    const before = compositeOverColor(rgb, alpha, width, BLUE);
    const after = compositeOverColor(decontaminate(rgb, alpha, width, height), alpha, width, BLUE);
    // The ideal: the pure red foreground over blue with the same alpha.
    const pureRed = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) pureRed.set([RED.r, RED.g, RED.b], i * 3);
    const ideal = compositeOverColor(pureRed, alpha, width, BLUE);
    const eBefore = greenExcessInBand(before, alpha);
    const eAfter = greenExcessInBand(after, alpha);
    const eIdeal = greenExcessInBand(ideal, alpha);
    // Measured: before −89.1, after −126.6, ideal −126.9 (G − max(R, B), mean over the band).
    expect(eBefore - eIdeal).toBeGreaterThan(25);
    expect(Math.abs(eAfter - eIdeal)).toBeLessThan(1);
    let maxDiff = 0;
    for (let i = 0; i < after.length; i++) maxDiff = Math.max(maxDiff, Math.abs(after[i]! - ideal[i]!));
    expect(maxDiff).toBeLessThanOrEqual(3);
  });

  it('leaves the opaque interior bit-exact and gives transparent pixels the subject’s colour', () => {
    const { rgb, alpha, width, height } = discScene(RED, GREEN, { texture: 40 });
    const out = decontaminate(rgb, alpha, width, height);
    let interior = 0;
    for (let i = 0; i < alpha.length; i++) {
      if (alpha[i] === 255) {
        interior++;
        expect(out[i * 3]).toBe(rgb[i * 3]);
        expect(out[i * 3 + 1]).toBe(rgb[i * 3 + 1]);
        expect(out[i * 3 + 2]).toBe(rgb[i * 3 + 2]);
      }
    }
    expect(interior).toBeGreaterThan(3000);
    // Just outside the disc (α = 0) the colour is the disc's, not the green it was.
    const x = width / 2 + 50;
    const y = height / 2 - 10;
    const i = (y * width + x) * 3;
    expect(alpha[i / 3]).toBe(0);
    expect(out[i]!).toBeGreaterThan(150);
    expect(out[i + 1]!).toBeLessThan(80);
  });
});

describe('edge decontamination without references', () => {
  it('an alpha with no pure background anywhere leaves the colours as they are', () => {
    const { rgb, width, height } = discScene(RED, GREEN);
    const alpha = new Uint8Array(width * height).fill(200);
    expect(sha(decontaminate(rgb, alpha, width, height))).toBe(sha(rgb));
  });
});

describe('foreground interior', () => {
  it('stays within 1/255 of the original through decontaminate → feather → shadow → composite, no colour match', () => {
    const { rgb, alpha, width, height } = discScene(RED, GREEN, { texture: 60 });
    const fg = decontaminate(rgb, alpha, width, height);
    const soft = featherAlpha(alpha, width, height, { width: 8 });
    const bg = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) bg.set([BLUE.r, BLUE.g, BLUE.b], i * 3);
    const shaded = applyShadow(bg, synthesizeShadow(soft, width, height));
    const out = compositeOverImage(fg, soft, shaded);
    let checked = 0;
    for (let i = 0; i < alpha.length; i++) {
      if (soft[i] !== 255) continue;
      checked++;
      for (let c = 0; c < 3; c++) expect(Math.abs(out[i * 3 + c]! - rgb[i * 3 + c]!)).toBeLessThanOrEqual(1);
    }
    expect(checked).toBeGreaterThan(2500);
  });
});

describe('colour matching', () => {
  it('moves the foreground’s Lab mean toward the background’s by the configured fraction', () => {
    const fgColor: RGB = { r: 190, g: 120, b: 80 };
    const { rgb, alpha, width, height } = discScene(fgColor, { r: 128, g: 128, b: 128 }, { texture: 50 });
    // A cool, darker background with some variation.
    const bg = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++)
        bg.set([70 + (x % 20), 100 + (y % 15), 150 + ((x + y) % 25)], (y * width + x) * 3);
    }
    const target = labStats(bg);
    const interior = alpha.map((a) => (a === 255 ? 255 : 0));
    const before = labStats(rgb, interior);
    for (const strength of [0.25, 0.5]) {
      const out = matchColors(rgb, alpha, target, { strength });
      const after = labStats(out, interior);
      const wanted = [0, 1, 2].map((c) => strength * (target.mean[c]! - before.mean[c]!));
      const moved = [0, 1, 2].map((c) => after.mean[c]! - before.mean[c]!);
      const err = Math.hypot(...[0, 1, 2].map((c) => moved[c]! - wanted[c]!));
      expect(err).toBeLessThanOrEqual(0.1 * Math.hypot(...wanted));
      // Background pixels are left alone.
      for (let i = 0; i < alpha.length; i++) if (alpha[i] === 0) expect(out[i * 3]).toBe(rgb[i * 3]);
    }
  });

  it('strength 0 returns the foreground unchanged', () => {
    const { rgb, alpha } = discScene(RED, GREEN, { texture: 30 });
    expect(sha(matchColors(rgb, alpha, labStats(rgb), { strength: 0 }))).toBe(sha(rgb));
  });

  it('sRGB → Lab → sRGB round-trips every 8-bit grey and primary exactly', () => {
    const lab = new Float64Array(3);
    const back = new Uint8Array(3);
    for (let v = 0; v < 256; v++) {
      for (const [r, g, b] of [
        [v, v, v],
        [v, 0, 0],
        [0, v, 0],
        [0, 0, v],
        [v, 255 - v, (v * 7) & 255],
      ] as const) {
        srgbToLab(r, g, b, lab);
        labToSrgb(lab[0]!, lab[1]!, lab[2]!, back);
        expect(Array.from(back)).toEqual([r, g, b]);
      }
    }
  });
});

describe('feathering', () => {
  it('keeps the interior opaque, the subject’s size, and widens the ramp', () => {
    const [w, h] = [256, 192];
    const alpha = new Uint8Array(w * h);
    for (let y = 60; y < 140; y++) alpha.fill(255, y * w + 70, y * w + 190);
    const soft = featherAlpha(alpha, w, h, { width: 24 }); // 6 px at this size: r = 3
    const row = 100 * w;
    const ramp = (a: Uint8Array) => {
      let n = 0;
      for (let x = 0; x < w; x++) if (a[row + x]! > 0 && a[row + x]! < 255) n++;
      return n;
    };
    expect(ramp(alpha)).toBe(0);
    expect(ramp(soft)).toBeGreaterThanOrEqual(2 * 8); // both sides, ≥ 8 px each
    // Interior beyond the ramp's reach (3r = 9 px) is exactly opaque; far background exactly 0.
    for (let y = 70; y < 130; y++) for (let x = 80; x < 180; x++) expect(soft[y * w + x]).toBe(255);
    for (let x = 0; x < 60; x++) expect(soft[row + x]).toBe(0);
    // The half-way point stays at the original edge (x = 69.5 | 70).
    expect(Math.abs(soft[row + 69]! + soft[row + 70]! - 255)).toBeLessThanOrEqual(30);
  });
});

describe('shadow', () => {
  it('lies below the object and inside the frame', () => {
    const { alpha, width, height } = discScene(RED, GREEN, { width: 256, height: 256, radius: 50 });
    const shadow = synthesizeShadow(alpha, width, height, { angle: 90, distance: 40, softness: 30, opacity: 0.4 });
    const b = alphaBounds(alpha, width, height)!;
    let sy = 0;
    let sw = 0;
    let oy = 0;
    let ow = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        sy += y * shadow[i]!;
        sw += shadow[i]!;
        oy += y * alpha[i]!;
        ow += alpha[i]!;
      }
    }
    expect(sw).toBeGreaterThan(0);
    expect(sy / sw).toBeGreaterThan(oy / ow + 5);
    // Dark right under the object, nothing above it, and faded out before the frame's edges.
    const below = shadow[(b.y + b.height + 2) * width + width / 2]!;
    expect(below).toBeGreaterThan(60);
    for (let x = 0; x < width; x++) expect(shadow[Math.max(0, b.y - 20) * width + x]).toBe(0);
    for (let i = 0; i < width; i++) {
      expect(shadow[(height - 1) * width + i]).toBe(0);
      expect(shadow[i * width]).toBe(0);
      expect(shadow[i * width + width - 1]).toBe(0);
    }
  });
});

describe('framing', () => {
  const [w, h] = [200, 150];
  const subject = { x: 30, y: 40, width: 50, height: 20 };
  const alpha = new Uint8Array(w * h);
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside =
        x >= subject.x && x < subject.x + subject.width && y >= subject.y && y < subject.y + subject.height;
      alpha[y * w + x] = inside ? 255 : 0;
      rgb.set([x, y, (x * y) & 255], (y * w + x) * 3);
    }
  }

  it('centres the subject inside the requested padding of the requested output size', () => {
    expect(alphaBounds(alpha, w, h)).toEqual(subject);
    const frame = computeFraming(subject, { padding: 0.1, outputSize: { width: 300, height: 300 } });
    expect(frame.scale).toBeCloseTo(4.8, 6); // limited by the width: 240 / 50
    const out = applyFraming(rgb, alpha, w, h, frame);
    expect([out.width, out.height]).toEqual([300, 300]);
    const got = alphaBounds(out.alpha, out.width, out.height, 128)!;
    // 240×96 centred: x 30..270, y 102..198.
    expect(Math.abs(got.x - 30)).toBeLessThanOrEqual(1);
    expect(Math.abs(got.x + got.width - 270)).toBeLessThanOrEqual(1);
    expect(Math.abs(got.y - 102)).toBeLessThanOrEqual(1);
    expect(Math.abs(got.y + got.height - 198)).toBeLessThanOrEqual(1);
  });

  it('at scale 1 pads to the aspect ratio and copies the subject’s pixels exactly', () => {
    const frame = computeFraming(subject, { padding: 0.1, aspectRatio: 1 });
    expect(frame.scale).toBe(1);
    expect([frame.width, frame.height]).toEqual([63, 63]); // 50 / 0.8 = 62.5 → 63, squared
    const out = applyFraming(rgb, alpha, w, h, frame);
    const got = alphaBounds(out.alpha, out.width, out.height)!;
    expect(Math.abs(got.x + got.width / 2 - 31.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(got.y + got.height / 2 - 31.5)).toBeLessThanOrEqual(0.5);
    for (let y = 0; y < subject.height; y++) {
      for (let x = 0; x < subject.width; x++) {
        const s = ((subject.y + y) * w + subject.x + x) * 3;
        const d = ((got.y + y) * out.width + got.x + x) * 3;
        expect([out.rgb[d], out.rgb[d + 1], out.rgb[d + 2]]).toEqual([rgb[s], rgb[s + 1], rgb[s + 2]]);
      }
    }
  });

  it('rejects padding that leaves no room', () => {
    expect(() => computeFraming(subject, { padding: 0.5 })).toThrow(/padding/);
  });
});

describe('determinism', () => {
  it('the same inputs give identical bytes through every compositing step', () => {
    const run = () => {
      const { rgb, alpha, width, height } = discScene(RED, GREEN, { texture: 40 });
      const bg = new Uint8Array(width * height * 3);
      for (let i = 0; i < width * height; i++) bg.set([BLUE.r, (i * 31) & 255, BLUE.b], i * 3);
      const fg = matchColors(decontaminate(rgb, alpha, width, height), alpha, labStats(bg), {
        strength: 0.3,
        spread: 0.5,
      });
      const soft = featherAlpha(alpha, width, height, { width: 12 });
      const shadow = synthesizeShadow(soft, width, height, { angle: 60 });
      const out = compositeOverImage(fg, soft, applyShadow(bg, shadow));
      const framed = applyFraming(
        out,
        soft,
        width,
        height,
        computeFraming(alphaBounds(soft, width, height)!, { padding: 0.15, outputSize: { width: 120, height: 90 } }),
      );
      return sha(fg, soft, shadow, out, framed.rgb, framed.alpha);
    };
    expect(run()).toBe(run());
  });
});
