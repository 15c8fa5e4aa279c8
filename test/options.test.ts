import { describe, expect, it } from 'vitest';

import { parseColor } from '../src/compose/color.js';
import { BgNativeError } from '../src/errors.js';
import { DEFAULT_MAX_PIXELS, parseCleanupOptions, parseSegmentOptions, resolveMaxPixels } from '../src/options.js';

function badInput(fn: () => unknown): BgNativeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BgNativeError);
    expect((err as BgNativeError).code).toBe('E_BAD_INPUT');
    return err as BgNativeError;
  }
  throw new Error('expected E_BAD_INPUT');
}

describe('options', () => {
  it('accepts a path or a Buffer as input', () => {
    expect(parseSegmentOptions({ input: 'a.jpg' }).input).toBe('a.jpg');
    const buf = Buffer.from([1, 2, 3]);
    expect(parseSegmentOptions({ input: buf }).input).toBe(buf);
  });

  it('names the field when the input is missing', () => {
    expect(badInput(() => parseSegmentOptions({})).message).toMatch(/`input`/);
  });

  it('rejects an unknown cleanup mode, listing the valid ones', () => {
    const err = badInput(() => parseCleanupOptions({ input: 'a.jpg', mode: 'sepia' }));
    expect(err.message).toMatch(/`mode`/);
    expect(err.message).toMatch(/transparent/);
    expect(err.message).toMatch(/"sepia"/);
  });

  it('rejects a colour it cannot parse and explains the accepted forms', () => {
    const err = badInput(() => parseCleanupOptions({ input: 'a.jpg', mode: 'color', color: '#12345' }));
    expect(err.message).toMatch(/`color`/);
    expect(err.message).toMatch(/#rrggbb/);
  });

  it('rejects zero or fractional threads', () => {
    expect(badInput(() => parseSegmentOptions({ input: 'a.jpg', threads: 0 })).message).toMatch(/`threads`/);
    expect(badInput(() => parseSegmentOptions({ input: 'a.jpg', threads: 1.5 })).message).toMatch(/`threads`/);
  });

  it('rejects unknown option names (typos do not pass silently)', () => {
    expect(badInput(() => parseCleanupOptions({ input: 'a.jpg', mdoe: 'color' })).message).toMatch(/`mdoe`/);
  });

  it('rejects a non-object', () => {
    badInput(() => parseSegmentOptions('a.jpg'));
    badInput(() => parseSegmentOptions(null));
  });

  it("normalises the format 'jpg' to 'jpeg'", () => {
    expect(parseCleanupOptions({ input: 'a.jpg', format: 'JPG' }).format).toBe('jpeg');
  });

  it('rejects a bad nested segmentation option by its full name', () => {
    expect(badInput(() => parseSegmentOptions({ input: 'a.jpg', segmentation: { variant: 'large' } })).message).toMatch(
      /`segmentation.variant`/,
    );
  });

  it("takes the segmentation network's precision 'auto', 'f32' or 'bf16' and nothing else", () => {
    for (const precision of ['auto', 'f32', 'bf16'] as const)
      expect(parseSegmentOptions({ input: 'a.jpg', segmentation: { precision } }).segmentation?.precision).toBe(
        precision,
      );
    const bad = { input: 'a.jpg', segmentation: { precision: 'fp16' } } as never;
    expect(badInput(() => parseSegmentOptions(bad)).message).toMatch(/`segmentation.precision`/);
  });
});

describe('colours', () => {
  it('parses #rgb, #rrggbb, rgb() and names', () => {
    expect(parseColor('#fff')).toEqual({ r: 255, g: 255, b: 255 });
    expect(parseColor('#1A2b3C')).toEqual({ r: 0x1a, g: 0x2b, b: 0x3c });
    expect(parseColor('rgb(1, 2, 3)')).toEqual({ r: 1, g: 2, b: 3 });
    expect(parseColor('White')).toEqual({ r: 255, g: 255, b: 255 });
    expect(parseColor('rgb(256,0,0)')).toBeUndefined();
    expect(parseColor('nope')).toBeUndefined();
  });
});

describe('pixel limit', () => {
  it('defaults to 100 MP, is overridden by BG_MAX_PIXELS, and the option wins over both', () => {
    expect(resolveMaxPixels(undefined, {})).toBe(DEFAULT_MAX_PIXELS);
    expect(DEFAULT_MAX_PIXELS).toBe(100_000_000);
    expect(resolveMaxPixels(undefined, { BG_MAX_PIXELS: '5000' })).toBe(5000);
    expect(resolveMaxPixels(42, { BG_MAX_PIXELS: '5000' })).toBe(42);
  });

  it('reports a malformed BG_MAX_PIXELS as a configuration error', () => {
    expect(() => resolveMaxPixels(undefined, { BG_MAX_PIXELS: 'lots' })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    );
  });
});
