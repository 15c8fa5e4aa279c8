/**
 * How a request is fitted to Runway's documented limits: the ratio enum, the seed range, the
 * 1000-character prompt, the reference tag rules and the 5 MB data URI.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { parseRetryAfter, runwayConfigured } from '../src/engines/runway/client.js';
import {
  ALL_RUNWAY_RATIOS,
  capPrompt,
  pickRatio,
  runwayCredits,
  runwaySeed,
  RUNWAY_TAG,
} from '../src/engines/runway/ratio.js';
import { encodeReference, MAX_DATA_URI_BYTES } from '../src/engines/runway/reference.js';
import { REFERENCE_TAG } from '../src/engines/runway/engine.js';
import { MOCK_RATIOS } from './helpers/runway-mock.js';

describe('ratio', () => {
  it('picks the documented size closest to the photo’s aspect', () => {
    expect(pickRatio(1000, 1000)).toBe('1080:1080');
    expect(pickRatio(1920, 1080)).toBe('1920:1080');
    expect(pickRatio(1080, 1920)).toBe('1080:1920');
    expect(pickRatio(3000, 4000)).toBe('1080:1440');
    expect(pickRatio(4000, 3000)).toBe('1440:1080');
    expect(pickRatio(2100, 900)).toBe('2112:912');
    expect(pickRatio(5000, 1000)).toBe('1808:768'); // wider than any size: the widest
    expect(pickRatio(1000, 5000)).toBe('1080:1920'); // taller than any size: the tallest
  });

  it('picks from the 720p sizes when asked', () => {
    expect(pickRatio(4000, 3000, '720p')).toBe('960:720');
    expect(pickRatio(1000, 1000, '720p')).toBe('720:720');
    expect(pickRatio(2400, 1000, '720p')).toBe('1680:720');
  });

  it('only ever picks sizes from the documented enum', () => {
    expect([...ALL_RUNWAY_RATIOS].sort()).toEqual([...MOCK_RATIOS].sort());
    for (let a = 0.2; a < 5; a *= 1.07) {
      expect(ALL_RUNWAY_RATIOS).toContain(pickRatio(Math.round(1000 * a), 1000));
      expect(ALL_RUNWAY_RATIOS).toContain(pickRatio(Math.round(1000 * a), 1000, '720p'));
    }
  });

  it('prices gen4_image at 8 credits in 1080p, 5 in 720p, and turbo at 2', () => {
    expect(runwayCredits('gen4_image', '1080p')).toBe(8);
    expect(runwayCredits('gen4_image', '720p')).toBe(5);
    expect(runwayCredits('gen4_image_turbo', '1080p')).toBe(2);
  });
});

describe('seed', () => {
  it('keeps seeds in 0..4294967295 and wraps the others', () => {
    expect(runwaySeed(0)).toBe(0);
    expect(runwaySeed(4294967295)).toBe(4294967295);
    expect(runwaySeed(4294967296)).toBe(0);
    expect(runwaySeed(-1)).toBe(4294967295);
    expect(runwaySeed(12.7)).toBe(12);
    expect(runwaySeed(Number.NaN)).toBe(0);
  });
});

describe('prompt', () => {
  it('leaves a short prompt as it is, with whitespace collapsed', () => {
    expect(capPrompt('  a  studio\n sweep ')).toBe('a studio sweep');
  });

  it('cuts a long prompt at the last word boundary under 1000 characters', () => {
    const text = 'soft light, '.repeat(120);
    const out = capPrompt(text);
    expect(out.length).toBeLessThanOrEqual(1000);
    expect(out).toMatch(/ (soft|light)$/);
    expect(text.startsWith(out)).toBe(true);
  });

  it('cuts one endless word hard, never through a surrogate pair', () => {
    const out = capPrompt('a'.repeat(999) + '😀'.repeat(10));
    expect(out.length).toBe(999);
    expect(capPrompt('x'.repeat(2000))).toHaveLength(1000);
  });
});

describe('reference image', () => {
  it('uses a tag that follows Runway’s rules', () => {
    expect(RUNWAY_TAG.test(REFERENCE_TAG)).toBe(true);
    expect(RUNWAY_TAG.test('ab')).toBe(false);
    expect(RUNWAY_TAG.test('1product')).toBe(false);
    expect(RUNWAY_TAG.test('a'.repeat(17))).toBe(false);
  });

  it('downscales a large photo so its data URI stays within 5 MB', async () => {
    const w = 4000; // a 12-megapixel phone photo of pure noise: the worst case for JPEG
    const h = 3000;
    const noise = new Uint8Array(w * h * 3);
    let s = 12345;
    for (let i = 0; i < noise.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      noise[i] = s >>> 24;
    }
    const ref = await encodeReference(noise, w, h);
    expect(ref.uri.length).toBeLessThanOrEqual(MAX_DATA_URI_BYTES);
    expect(ref.bytes).toBe(ref.uri.length);
    expect(ref.width).toBeLessThan(w);
    expect(ref.width / ref.height).toBeCloseTo(w / h, 2);
    const meta = await sharp(Buffer.from(ref.uri.slice(ref.uri.indexOf(',') + 1), 'base64')).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([ref.width, ref.height]);
  });

  it('keeps a small photo at its size', async () => {
    const ref = await encodeReference(new Uint8Array(64 * 48 * 3).fill(100), 64, 48);
    expect([ref.width, ref.height, ref.quality]).toEqual([64, 48, 90]);
  });

  it('pads a very tall photo to 1:2 instead of cropping it', async () => {
    const ref = await encodeReference(new Uint8Array(40 * 200 * 3).fill(100), 40, 200);
    expect([ref.width, ref.height]).toEqual([100, 200]);
  });
});

describe('configuration', () => {
  it('reports Runway as configured only with a non-empty RUNWAY_API_KEY', () => {
    expect(runwayConfigured({})).toBe(false);
    expect(runwayConfigured({ RUNWAY_API_KEY: '  ' })).toBe(false);
    expect(runwayConfigured({ RUNWAY_API_KEY: 'key_x' })).toBe(true);
  });

  it('reads Retry-After as seconds or as a date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
  });
});
