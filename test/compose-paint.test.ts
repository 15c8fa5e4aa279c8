/**
 * The procedural background painter and the studio engine.
 *
 * Speed, measured on the 2-core dev machine (Node 20, one thread, 4000×3000 = 12 MP, three calls
 * each, the first including JIT warm-up; the machine was shared, load ≈ 1): solid 45 ms, linear
 * gradient 95–115 ms, 4-stop 45° gradient 85–95 ms, radial 95–110 ms, texture noise 135–170 ms,
 * grain 220 ms, linen 185–270 ms, concrete 230–260 ms, paper 245–270 ms. No timed assertions here.
 */
import { describe, expect, it } from 'vitest';

import { SRGB_TO_LINEAR } from '../src/compose/color.js';
import { paintBackground } from '../src/compose/paint.js';
import { studioGenerator } from '../src/engines/studio.js';
import { BgNativeError } from '../src/errors.js';
import { getPreset } from '../src/index.js';
import { BackgroundSchema, type PresetBackground } from '../src/presets/schema.js';

const bg = (spec: unknown): PresetBackground => BackgroundSchema.parse(spec);

/** sRGB code as a float for a linear value (the exact value a dithered pixel averages to). */
function encode(lin: number): number {
  return 255 * (lin <= 0.0031308 ? 12.92 * lin : 1.055 * lin ** (1 / 2.4) - 0.055);
}

function channel(rgb: Uint8Array, c: number): Float64Array {
  const out = new Float64Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = rgb[i * 3 + c]!;
  return out;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

function std(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - m) ** 2;
  return Math.sqrt(s / a.length);
}

/** Green channel at (x, y). */
const at = (rgb: Uint8Array, w: number, x: number, y: number, c = 1): number => rgb[(y * w + x) * 3 + c]!;

/** Correlation (green) between pixels `lag` apart, horizontally and vertically: near 1 inside large features. */
function correlationAt(rgb: Uint8Array, w: number, h: number, lag: number): number {
  const g = channel(rgb, 1);
  const m = mean(g);
  const v = std(g) ** 2;
  let s = 0;
  let n = 0;
  for (let y = 0; y < h - lag; y++) {
    for (let x = 0; x < w - lag; x++) {
      const a = g[y * w + x]! - m;
      s += a * (g[y * w + x + lag]! - m) + a * (g[(y + lag) * w + x]! - m);
      n += 2;
    }
  }
  return s / n / v;
}

const PATTERNS = ['noise', 'grain', 'linen', 'concrete', 'paper'] as const;
const texture = (pattern: (typeof PATTERNS)[number], extra: Record<string, unknown> = {}) =>
  bg({ type: 'texture', pattern, colors: ['#8a8070', '#d8d0c0'], scale: 40, intensity: 0.6, ...extra });

describe('solid backgrounds', () => {
  it('paints every pixel exactly the given colour', () => {
    const out = paintBackground(bg({ type: 'solid', color: '#f5f5f2' }), 37, 23, { seed: 1 });
    expect(out.length).toBe(37 * 23 * 3);
    for (let i = 0; i < out.length; i += 3) expect([out[i], out[i + 1], out[i + 2]]).toEqual([0xf5, 0xf5, 0xf2]);
  });
});

describe('gradient backgrounds', () => {
  it('starts at the first colour and ends at the last', () => {
    const w = 400;
    const h = 64;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#102030', '#e0d0c0'], angle: 0 }), w, h, { seed: 1 });
    for (let y = 0; y < h; y++) {
      expect(Math.abs(at(out, w, 0, y, 0) - 0x10)).toBeLessThanOrEqual(1);
      expect(Math.abs(at(out, w, 0, y, 2) - 0x30)).toBeLessThanOrEqual(1);
      expect(Math.abs(at(out, w, w - 1, y, 0) - 0xe0)).toBeLessThanOrEqual(1);
      expect(Math.abs(at(out, w, w - 1, y, 2) - 0xc0)).toBeLessThanOrEqual(1);
    }
  });

  it('at 0° changes from left to right only (columns differ by no more than the dither)', () => {
    const w = 300;
    const h = 200;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#000000', '#ffffff'], angle: 0 }), w, h, { seed: 2 });
    for (let x = 0; x < w; x++) {
      let lo = 255;
      let hi = 0;
      for (let y = 0; y < h; y++) {
        lo = Math.min(lo, at(out, w, x, y));
        hi = Math.max(hi, at(out, w, x, y));
      }
      expect(hi - lo).toBeLessThanOrEqual(1);
    }
    expect(at(out, w, w - 1, 0) - at(out, w, 0, 0)).toBeGreaterThan(240);
  });

  it('at 90° changes from top to bottom only', () => {
    const w = 200;
    const h = 300;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#000000', '#ffffff'], angle: 90 }), w, h, { seed: 2 });
    for (let y = 0; y < h; y++) {
      let lo = 255;
      let hi = 0;
      for (let x = 0; x < w; x++) {
        lo = Math.min(lo, at(out, w, x, y));
        hi = Math.max(hi, at(out, w, x, y));
      }
      expect(hi - lo).toBeLessThanOrEqual(1);
    }
    expect(at(out, w, 0, h - 1) - at(out, w, 0, 0)).toBeGreaterThan(240);
  });

  it('at 45° runs along the diagonal: constant across it, increasing along it', () => {
    const n = 200;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#000000', '#ffffff'], angle: 45 }), n, n, { seed: 3 });
    for (let k = 0; k < 2 * n - 1; k += 7) {
      let lo = 255;
      let hi = 0;
      for (let x = Math.max(0, k - n + 1); x <= Math.min(k, n - 1); x++) {
        lo = Math.min(lo, at(out, n, x, k - x));
        hi = Math.max(hi, at(out, n, x, k - x));
      }
      expect(hi - lo).toBeLessThanOrEqual(1);
    }
    for (let i = 10; i < n; i += 10) expect(at(out, n, i, i)).toBeGreaterThanOrEqual(at(out, n, i - 10, i - 10));
    expect(at(out, n, 0, 0)).toBeLessThanOrEqual(1);
    expect(at(out, n, n - 1, n - 1)).toBeGreaterThanOrEqual(254);
  });

  it('radial: the first colour at the centre, the last at the corners, the same at equal distances', () => {
    const w = 301;
    const h = 201;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#f0f0f0', '#202020'], shape: 'radial' }), w, h, {
      seed: 4,
    });
    expect(Math.abs(at(out, w, 150, 100) - 0xf0)).toBeLessThanOrEqual(1);
    for (const [x, y] of [
      [0, 0],
      [w - 1, 0],
      [0, h - 1],
      [w - 1, h - 1],
    ] as const) {
      expect(Math.abs(at(out, w, x, y) - 0x20)).toBeLessThanOrEqual(2);
    }
    // Mirror images about the centre are equal within the dither.
    for (const [x, y] of [
      [40, 30],
      [100, 90],
      [10, 150],
    ] as const) {
      const v = at(out, w, x, y);
      expect(Math.abs(at(out, w, w - 1 - x, y) - v)).toBeLessThanOrEqual(1);
      expect(Math.abs(at(out, w, x, h - 1 - y) - v)).toBeLessThanOrEqual(1);
    }
  });

  it('passes through the middle stop of a three-colour gradient', () => {
    const w = 1001;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#ff0000', '#00ff00', '#0000ff'], angle: 0 }), w, 8, {
      seed: 5,
    });
    for (let y = 0; y < 8; y++) {
      expect(at(out, w, 500, y, 0)).toBeLessThanOrEqual(1);
      expect(at(out, w, 500, y, 1)).toBeGreaterThanOrEqual(254);
      expect(at(out, w, 500, y, 2)).toBeLessThanOrEqual(1);
    }
  });

  it('mixes in linear light: halfway from black to white is ~188, not 128', () => {
    const w = 1000;
    const h = 64;
    const out = paintBackground(bg({ type: 'gradient', colors: ['black', 'white'], angle: 0 }), w, h, { seed: 6 });
    const mid: number[] = [];
    for (let y = 0; y < h; y++) mid.push((at(out, w, 499, y) + at(out, w, 500, y)) / 2);
    expect(mean(mid)).toBeGreaterThan(186.5);
    expect(mean(mid)).toBeLessThan(188.5);
  });

  it('is dithered: a wide soft gradient averages to the exact value on every row and skips no code', () => {
    // 100 → 120 over 4000 rows: 200 rows per code, where plain rounding would show bands.
    const w = 512;
    const h = 4000;
    const out = paintBackground(bg({ type: 'gradient', colors: ['#646464', '#787878'], angle: 90 }), w, h, { seed: 7 });
    const a = SRGB_TO_LINEAR[100]!;
    const b = SRGB_TO_LINEAR[120]!;
    let worst = 0;
    const row = new Float64Array(w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) row[x] = at(out, w, x, y);
      const exact = encode(a + (b - a) * ((y + 0.5) / h));
      worst = Math.max(worst, Math.abs(mean(row) - exact));
    }
    // Within 0.5 is what rounding gives; the dither gets much closer.
    expect(worst).toBeLessThan(0.05);
    const seen = new Set<number>();
    for (let y = 0; y < h; y++) seen.add(at(out, w, 17, y));
    for (let v = 100; v <= 120; v++) expect(seen.has(v), `code ${v}`).toBe(true);
  });

  it('is the same for the same seed', () => {
    const spec = bg({ type: 'gradient', colors: ['#203040', '#f0e0c0', '#802020'], angle: 30 });
    expect(paintBackground(spec, 97, 61, { seed: 9 })).toEqual(paintBackground(spec, 97, 61, { seed: 9 }));
  });
});

describe('texture backgrounds', () => {
  const w = 256;
  const h = 192;

  for (const pattern of PATTERNS) {
    it(`${pattern}: the same seed paints the same picture, another seed a different one`, () => {
      const spec = texture(pattern);
      const a = paintBackground(spec, w, h, { seed: 11 });
      expect(paintBackground(spec, w, h, { seed: 11 })).toEqual(a);
      const b = paintBackground(spec, w, h, { seed: 12 });
      let differ = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
      expect(differ / a.length).toBeGreaterThan(0.3);
    });

    it(`${pattern}: intensity 0 is the flat first colour`, () => {
      const out = paintBackground(texture(pattern, { intensity: 0 }), w, h, { seed: 13 });
      for (let i = 0; i < out.length; i += 3) expect([out[i], out[i + 1], out[i + 2]]).toEqual([0x8a, 0x80, 0x70]);
    });

    it(`${pattern}: more intensity, more contrast`, () => {
      const sd = [0.15, 0.5, 1].map((intensity) =>
        std(channel(paintBackground(texture(pattern, { intensity }), w, h, { seed: 14 }), 1)),
      );
      expect(sd[0]!).toBeGreaterThan(0.3);
      expect(sd[1]!).toBeGreaterThan(sd[0]! * 1.5);
      expect(sd[2]!).toBeGreaterThan(sd[1]! * 1.3);
    });

    it(`${pattern}: a larger scale makes larger features (pixels a few apart stay alike)`, () => {
      // scale 20 and 200 at 1024 px are 5 and 50 px here.
      const fine = paintBackground(texture(pattern, { scale: 20, intensity: 1 }), w, h, { seed: 15 });
      const coarse = paintBackground(texture(pattern, { scale: 200, intensity: 1 }), w, h, { seed: 15 });
      expect(correlationAt(coarse, w, h, 8)).toBeGreaterThan(correlationAt(fine, w, h, 8) + 0.2);
    });
  }

  it('varies between the given colours', () => {
    const out = paintBackground(texture('noise', { colors: ['#000000', '#ff0000'], intensity: 1 }), w, h, { seed: 16 });
    const r = channel(out, 0);
    const g = channel(out, 1);
    expect(Math.max(...g)).toBe(0);
    expect(Math.min(...r)).toBeLessThan(80);
    expect(Math.max(...r)).toBeGreaterThan(180);
  });

  it('scales with the picture: the same seed at twice the size looks the same, only larger', () => {
    const spec = texture('noise', { scale: 60 });
    const small = paintBackground(spec, 128, 96, { seed: 17 });
    const large = paintBackground(spec, 256, 192, { seed: 17 });
    let d = 0;
    for (let y = 0; y < 96; y += 4)
      for (let x = 0; x < 128; x += 4) d += Math.abs(at(small, 128, x, y) - at(large, 256, 2 * x, 2 * y));
    expect(d / (24 * 32)).toBeLessThan(3);
  });
});

describe('blurred-original backgrounds', () => {
  const w = 96;
  const h = 64;
  const photo = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      photo[i] = x < w / 2 ? 200 : 60;
      photo[i + 1] = 120;
      photo[i + 2] = 40 + y;
    }
  }

  it('blurs the photo (no hard edge left)', () => {
    const out = paintBackground(bg({ type: 'blurred-original', blur: 60 }), w, h, { seed: 1, photo });
    const step = Math.abs(at(out, w, w / 2, 32, 0) - at(out, w, w / 2 - 1, 32, 0));
    expect(step).toBeLessThan(20);
  });

  it('brightness above 1 makes it brighter, below 1 darker', () => {
    const lum = (brightness: number) =>
      mean(
        channel(paintBackground(bg({ type: 'blurred-original', blur: 20, brightness }), w, h, { seed: 1, photo }), 1),
      );
    expect(lum(1.5)).toBeGreaterThan(lum(1) + 10);
    expect(lum(0.5)).toBeLessThan(lum(1) - 10);
  });

  it('saturation 0 makes it grey, saturation below 1 less colourful', () => {
    const chroma = (saturation: number) => {
      const out = paintBackground(bg({ type: 'blurred-original', blur: 20, saturation }), w, h, { seed: 1, photo });
      let s = 0;
      for (let i = 0; i < out.length; i += 3)
        s += Math.max(out[i]!, out[i + 1]!, out[i + 2]!) - Math.min(out[i]!, out[i + 1]!, out[i + 2]!);
      return s / (w * h);
    };
    expect(chroma(0)).toBeLessThanOrEqual(1);
    expect(chroma(0.5)).toBeLessThan(chroma(1) * 0.8);
  });

  it('fills the subject area from its surroundings', () => {
    const alpha = new Uint8Array(w * h);
    const withSubject = Uint8Array.from(photo);
    for (let y = 20; y < 44; y++) {
      for (let x = 10; x < 40; x++) {
        alpha[y * w + x] = 255;
        withSubject.fill(0, (y * w + x) * 3, (y * w + x) * 3 + 3); // a black subject
      }
    }
    const out = paintBackground(bg({ type: 'blurred-original', blur: 8 }), w, h, {
      seed: 1,
      photo: withSubject,
      alpha,
    });
    expect(at(out, w, 25, 32, 0)).toBeGreaterThan(150); // red of the left half, not the black subject
  });

  it('without the photo, says that it needs it', () => {
    expect(() => paintBackground(bg({ type: 'blurred-original', blur: 10 }), w, h, { seed: 1 })).toThrow(RangeError);
    expect(() => paintBackground(bg({ type: 'blurred-original', blur: 10 }), w, h, { seed: 1 })).toThrow(
      /needs the photo/,
    );
  });
});

describe('studio engine', () => {
  const base = getPreset('product-studio');
  const request = (background: PresetBackground, signal?: AbortSignal) => ({
    photo: new Uint8Array(64 * 48 * 3).fill(128),
    alpha: new Uint8Array(64 * 48),
    width: 64,
    height: 48,
    preset: { ...base, background },
    seed: 42,
    device: 'cpu' as const,
    signal,
  });

  it('paints the preset background at the request size and says what it painted', async () => {
    const spec = bg({ type: 'texture', pattern: 'linen', colors: ['#d8cfc0'], scale: 6, intensity: 0.5 });
    const result = await studioGenerator.generate(request(spec));
    expect(studioGenerator.name).toBe('studio');
    expect(result.rgb.length).toBe(64 * 48 * 3);
    expect(result.info).toMatchObject({ background: 'texture', pattern: 'linen', seed: 42 });
    expect(result.rgb).toEqual(
      paintBackground(spec, 64, 48, { seed: 42, referenceSize: base.compositing.referenceSize }),
    );
  });

  it('uses the photo for a blurred original', async () => {
    const result = await studioGenerator.generate(request(bg({ type: 'blurred-original', blur: 10 })));
    expect(result.info).toMatchObject({ background: 'blurred-original' });
    expect(Math.abs(mean(result.rgb) - 128)).toBeLessThan(1);
  });

  it('rejects a request whose signal is already aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const p = studioGenerator.generate(request(bg({ type: 'solid', color: 'white' }), ctl.signal));
    await expect(p).rejects.toBeInstanceOf(BgNativeError);
    await expect(p).rejects.toMatchObject({ code: 'E_CANCELLED' });
  });
});
