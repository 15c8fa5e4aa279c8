import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { writeFileAtomic } from '../src/image/atomic-write.js';
import { encodeImage, formatFromPath } from '../src/image/encode.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

describe('encoding', () => {
  const w = 16;
  const h = 8;
  const rgba = new Uint8Array(w * h * 4).map((_, i) => (i % 4 === 3 ? (i >> 2) % 256 : 100));

  it('writes PNG with the alpha channel intact', async () => {
    const png = await encodeImage({ data: rgba, width: w, height: h, channels: 4 }, 'png');
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([w, h, 4]);
    expect(Buffer.compare(data, Buffer.from(rgba))).toBe(0);
  });

  it('writes a mask as an 8-bit single-channel greyscale PNG', async () => {
    const mask = new Uint8Array(w * h).map((_, i) => i);
    const png = await encodeImage({ data: mask, width: w, height: h, channels: 1 }, 'png');
    const meta = await sharp(png).metadata();
    expect([meta.channels, meta.depth, meta.space]).toEqual([1, 'uchar', 'b-w']);
  });

  it('writes JPEG and WebP', async () => {
    const rgb = new Uint8Array(w * h * 3).fill(128);
    expect(
      (await sharp(await encodeImage({ data: rgb, width: w, height: h, channels: 3 }, 'jpeg')).metadata()).format,
    ).toBe('jpeg');
    expect(
      (await sharp(await encodeImage({ data: rgba, width: w, height: h, channels: 4 }, 'webp')).metadata()).hasAlpha,
    ).toBe(true);
  });

  it('refuses transparency in a JPEG', async () => {
    await expect(encodeImage({ data: rgba, width: w, height: h, channels: 4 }, 'jpeg')).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
    });
  });

  it('infers the format from the file extension', () => {
    expect(formatFromPath('a/b.PNG')).toBe('png');
    expect(formatFromPath('x.jpg')).toBe('jpeg');
    expect(formatFromPath('x.webp')).toBe('webp');
    expect(formatFromPath('x.gif')).toBeUndefined();
  });
});

describe('atomic writes', () => {
  it('writes the bytes and leaves no temporary file', async () => {
    const dest = path.join(tmp.dir, 'ok.bin');
    await writeFileAtomic(dest, Buffer.from('hello'));
    expect(readFileSync(dest, 'utf8')).toBe('hello');
    expect(readdirSync(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces an existing file in one step', async () => {
    const dest = path.join(tmp.dir, 'replace.bin');
    writeFileSync(dest, 'old');
    await writeFileAtomic(dest, Buffer.from('new'));
    expect(readFileSync(dest, 'utf8')).toBe('new');
  });

  it('reports a missing output folder as E_IO and creates nothing', async () => {
    const dest = path.join(tmp.dir, 'missing', 'out.png');
    await expect(writeFileAtomic(dest, Buffer.from('x'))).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringMatching(/does not exist/),
    });
    expect(existsSync(path.dirname(dest))).toBe(false);
  });

  it('leaves no partial or temporary file when the final rename fails', async () => {
    const dir = path.join(tmp.dir, 'rename-fails');
    mkdirSync(path.join(dir, 'out.png'), { recursive: true }); // a folder where the file should go
    await expect(writeFileAtomic(path.join(dir, 'out.png'), Buffer.alloc(1 << 20))).rejects.toMatchObject({
      code: 'E_IO',
    });
    expect(readdirSync(dir)).toEqual(['out.png']);
  });

  // Root may write into a chmod 555 folder; sysfs refuses new files to everyone, root included.
  const asRoot = process.getuid?.() === 0;
  it.skipIf(asRoot && process.platform !== 'linux')('reports a read-only folder as E_IO', async () => {
    const dir = asRoot ? '/sys' : path.join(tmp.dir, 'readonly');
    if (!asRoot) {
      mkdirSync(dir);
      chmodSync(dir, 0o555);
    }
    const before = readdirSync(dir);
    try {
      await expect(writeFileAtomic(path.join(dir, 'bg-native-out.png'), Buffer.from('x'))).rejects.toMatchObject({
        code: 'E_IO',
      });
      expect(readdirSync(dir)).toEqual(before);
    } finally {
      if (!asRoot) chmodSync(dir, 0o755);
    }
  });
});
