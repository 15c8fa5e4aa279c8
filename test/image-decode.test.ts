import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { decodeImage } from '../src/image/decode.js';
import { greyJpeg, halvesJpeg, hugeHeaderPng, tinyBmp } from './helpers/images.js';
import { photo, tempDir } from './helpers/paths.js';

const LIMIT = { maxPixels: 100_000_000 };
const tmp = tempDir();
afterAll(() => tmp.remove());

function file(name: string, bytes: Uint8Array | string): string {
  const p = path.join(tmp.dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function code(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('bad input is refused with E_BAD_INPUT', () => {
  it('a 0-byte file', async () => {
    const e = await code(decodeImage(file('empty.jpg', ''), LIMIT));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/empty \(0 bytes\)/);
  });

  it('a 0-byte buffer', async () => {
    expect((await code(decodeImage(Buffer.alloc(0), LIMIT))).code).toBe('E_BAD_INPUT');
  });

  it('a file that does not exist', async () => {
    const e = await code(decodeImage(path.join(tmp.dir, 'nope.jpg'), LIMIT));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/not found/);
  });

  it('a truncated JPEG', async () => {
    const jpg = readFileSync(photo('lemur_cc0.jpg'));
    const e = await code(decodeImage(file('cut.jpg', jpg.subarray(0, jpg.length >> 1)), LIMIT));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/corrupt or truncated/);
  });

  it('corrupt bytes behind a JPEG signature', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200, 0x5a)]);
    expect((await code(decodeImage(bytes, LIMIT))).code).toBe('E_BAD_INPUT');
  });

  it('a text file', async () => {
    const e = await code(decodeImage(file('notes.jpg', 'hello, this is not an image\n'), LIMIT));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/not an image in a supported format/);
  });

  it('an unsupported format (BMP)', async () => {
    expect((await code(decodeImage(file('tiny.bmp', tinyBmp()), LIMIT))).code).toBe('E_BAD_INPUT');
  });

  it('a vector image (SVG)', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>';
    const e = await code(decodeImage(Buffer.from(svg), LIMIT));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/svg/);
  });
});

describe('pixel limit', () => {
  it('refuses an image above the limit from its header, without decoding the pixels', async () => {
    const png = hugeHeaderPng(20_000, 20_000); // 400 MP claimed, a few bytes of data
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const e = await code(decodeImage(png, LIMIT));
    const ms = performance.now() - t0;
    expect(e.code).toBe('E_IMAGE_TOO_LARGE');
    expect(e.message).toMatch(/20000×20000/);
    expect(e.message).toMatch(/BG_MAX_PIXELS/);
    expect(ms).toBeLessThan(500);
    // Decoding would need 1.2 GB; nothing close to that was allocated.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 * 1024 * 1024);
  });

  it('applies a lower limit given as an option', async () => {
    const e = await code(decodeImage(photo('lemur_cc0.jpg'), { maxPixels: 100_000 }));
    expect(e.code).toBe('E_IMAGE_TOO_LARGE');
  });
});

describe('decoding', () => {
  it('honours EXIF orientation (6 = rotate 90° clockwise)', async () => {
    const jpg = await halvesJpeg(60, 40, 6); // stored 60×40: red left, blue right
    const img = await decodeImage(jpg, LIMIT);
    expect([img.width, img.height]).toEqual([40, 60]);
    const at = (x: number, y: number) =>
      Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
    // After a clockwise quarter turn the stored left half (red) is on top.
    expect(at(20, 5)[0]).toBeGreaterThan(200);
    expect(at(20, 5)[2]).toBeLessThan(60);
    expect(at(20, 55)[2]).toBeGreaterThan(200);
    expect(at(20, 55)[0]).toBeLessThan(60);
  });

  it('turns a 1-channel greyscale JPEG into RGB', async () => {
    const img = await decodeImage(await greyJpeg(32, 24), LIMIT);
    expect(img.header.channels).toBe(1);
    expect(img.data.length).toBe(32 * 24 * 3);
    const mid = (12 * 32 + 16) * 3;
    expect(img.data[mid]).toBe(img.data[mid + 1]);
    expect(img.data[mid]).toBe(img.data[mid + 2]);
  });

  it('turns a 16-bit PNG with alpha into 8-bit RGB, flattened over white', async () => {
    const raw = Buffer.alloc(4 * 4 * 4);
    for (let i = 0; i < 16; i++) raw.set([255, 0, 0, i < 8 ? 255 : 0], i * 4);
    const png = await sharp(raw, { raw: { width: 4, height: 4, channels: 4 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const img = await decodeImage(png, LIMIT);
    expect(img.data.length).toBe(4 * 4 * 3);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(img.data.subarray(15 * 3, 16 * 3))).toEqual([255, 255, 255]);
  });

  it('turns a CMYK JPEG into RGB', async () => {
    const cmyk = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#3366cc' } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    const img = await decodeImage(cmyk, LIMIT);
    expect(img.header.space).toBe('cmyk');
    expect(img.data.length).toBe(8 * 8 * 3);
    expect(img.data[2]!).toBeGreaterThan(img.data[0]!);
  });

  it('keeps the full resolution of a photo', async () => {
    const img = await decodeImage(photo('lemur_cc0.jpg'), LIMIT);
    expect([img.width, img.height]).toEqual([680, 440]);
  });
});
