/**
 * The local engine's generation size for SDXL models: the SDXL aspect bucket nearest the frame's
 * aspect (about 1 MP, multiples of 64), 1024² for square frames; explicit preset sizes win.
 */
import { describe, expect, it } from 'vitest';

import { SDXL_BUCKETS, generationSize, nativeSide } from '../src/engines/local.js';

describe('SDXL generation sizes', () => {
  it('SDXL models are native at 1024, whatever their context width says', () => {
    expect(nativeSide({ contextDim: 2048, family: 'sdxl' })).toBe(1024);
    expect(nativeSide({ contextDim: 64, family: 'sdxl' })).toBe(1024);
    expect(nativeSide({ contextDim: 768, family: 'sd1' })).toBe(512);
  });

  it('every bucket is about one megapixel in multiples of 64, each aspect with its transpose', () => {
    for (const [w, h] of SDXL_BUCKETS) {
      expect(w % 64 === 0 && h % 64 === 0).toBe(true);
      expect(w * h).toBeGreaterThanOrEqual(0.9 * 2 ** 20);
      expect(w * h).toBeLessThanOrEqual(1.1 * 2 ** 20);
      expect(SDXL_BUCKETS.some(([a, b]) => a === h && b === w)).toBe(true);
    }
  });

  it('square frames get 1024×1024; 3:2 and 2:3 frames get 1216×832 and 832×1216; 16:9 gets 1344×768', () => {
    expect(generationSize({}, 3000, 3000, 1024, SDXL_BUCKETS)).toEqual({ width: 1024, height: 1024 });
    expect(generationSize({}, 3000, 2000, 1024, SDXL_BUCKETS)).toEqual({ width: 1216, height: 832 });
    expect(generationSize({}, 2000, 3000, 1024, SDXL_BUCKETS)).toEqual({ width: 832, height: 1216 });
    expect(generationSize({}, 1920, 1080, 1024, SDXL_BUCKETS)).toEqual({ width: 1344, height: 768 });
  });

  it("a preset's longSide caps the native side: 1024 keeps SDXL's buckets, 512 halves them; given sizes stay", () => {
    expect(generationSize({ longSide: 1024 }, 3000, 2000, 1024, SDXL_BUCKETS)).toEqual({ width: 1216, height: 832 });
    expect(generationSize({ longSide: 512 }, 3000, 2000, 1024, SDXL_BUCKETS)).toEqual({ width: 640, height: 448 });
    expect(generationSize({ longSide: 1024 }, 3000, 2000, 512)).toEqual({ width: 640, height: 448 });
    expect(generationSize({ width: 768, height: 512 }, 3000, 2000, 1024, SDXL_BUCKETS)).toEqual({
      width: 768,
      height: 512,
    });
  });
});
