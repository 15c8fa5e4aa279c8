/**
 * Decoding of user images with sharp: path or Buffer in, 8-bit RGB at full size out, EXIF
 * orientation applied. The pixel limit is checked from the header before any pixel is decoded.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import sharp, { type Metadata } from 'sharp';

import { BgNativeError, toBgError } from '../errors.js';
import type { ImageInput } from '../options.js';

/** Formats we accept as photos. */
const SUPPORTED = new Set(['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif', 'avif', 'jp2', 'jxl']);

export interface ImageHeader {
  /** sharp's name of the container format, e.g. 'jpeg'. */
  format: string;
  /** Width and height after EXIF orientation. */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 when absent). */
  orientation: number;
  hasAlpha: boolean;
  channels: number;
  /** Colour space as sharp reports it ('srgb', 'b-w', 'cmyk', ...). */
  space: string;
  /** Sample depth as sharp reports it ('uchar', 'ushort', ...). */
  depth: string;
}

export interface RgbImage {
  /** Interleaved RGB, 8 bits per sample, row-major, width*height*3 bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  header: ImageHeader;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this. */
  maxPixels: number;
}

function label(input: ImageInput): string {
  return typeof input === 'string' ? path.basename(input) : `buffer of ${input.byteLength} bytes`;
}

/** Reads the input's bytes: a path is read from disk with typed errors, a Buffer is used as is. */
export async function readInput(input: ImageInput): Promise<Uint8Array> {
  if (typeof input !== 'string') {
    if (input.byteLength === 0)
      throw new BgNativeError(
        'E_BAD_INPUT',
        'Input buffer is empty (0 bytes): pass the bytes of a JPEG, PNG, WebP, TIFF, GIF or AVIF image.',
      );
    return input;
  }
  let size: number;
  try {
    const st = await stat(input);
    if (st.isDirectory()) throw new BgNativeError('E_BAD_INPUT', `Input is a folder, not an image file: ${input}`);
    size = st.size;
  } catch (err) {
    if (err instanceof BgNativeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new BgNativeError('E_BAD_INPUT', `Input file not found: ${input}`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM')
      throw new BgNativeError('E_IO', `Cannot read input file (permission denied): ${input}`, { cause: err });
    throw new BgNativeError('E_IO', `Cannot read input file ${input}: ${(err as Error).message}`, { cause: err });
  }
  if (size === 0) throw new BgNativeError('E_BAD_INPUT', `Input file is empty (0 bytes): ${input}`);
  try {
    return await readFile(input);
  } catch (err) {
    throw new BgNativeError('E_IO', `Cannot read input file ${input}: ${(err as Error).message}`, { cause: err });
  }
}

function badImage(err: unknown, name: string): BgNativeError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/unsupported image format/i.test(msg)) {
    return new BgNativeError(
      'E_BAD_INPUT',
      `Input is not an image in a supported format (JPEG, PNG, WebP, TIFF, GIF, AVIF/HEIF): ${name}`,
      { cause: err },
    );
  }
  if (/premature end|truncated|corrupt|invalid|not a|bad|unexpected end|read error|EOF/i.test(msg)) {
    return new BgNativeError('E_BAD_INPUT', `Input image is corrupt or truncated (${msg.split('\n')[0]}): ${name}`, {
      cause: err,
    });
  }
  return new BgNativeError('E_BAD_INPUT', `Cannot decode input image (${msg.split('\n')[0]}): ${name}`, { cause: err });
}

/**
 * Reads the header only (no pixel decoding) and enforces the format list and the pixel limit.
 * Throws E_BAD_INPUT for non-images/unsupported formats and E_IMAGE_TOO_LARGE over the limit.
 */
export async function probeImage(bytes: Uint8Array, name: string, maxPixels: number): Promise<ImageHeader> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'truncated', limitInputPixels: false }).metadata();
  } catch (err) {
    throw badImage(err, name);
  }
  const format = String(meta.format ?? 'unknown');
  if (!SUPPORTED.has(format)) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `Unsupported image format '${format}' (${name}); use JPEG, PNG, WebP, TIFF, GIF or AVIF/HEIF.`,
    );
  }
  const rawW = meta.width ?? 0;
  const rawH = meta.height ?? 0;
  if (!(rawW > 0 && rawH > 0))
    throw new BgNativeError('E_BAD_INPUT', `Input image has no pixels (width ${rawW}, height ${rawH}): ${name}`);
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  const width = swap ? rawH : rawW;
  const height = swap ? rawW : rawH;
  const pixels = width * height;
  if (pixels > maxPixels) {
    const mp = (n: number): string => `${(n / 1e6).toFixed(n < 1e6 ? 3 : 1)} MP`;
    throw new BgNativeError(
      'E_IMAGE_TOO_LARGE',
      `Image is ${width}×${height} (${mp(pixels)}), above the limit of ${mp(maxPixels)}; downscale it or ` +
        `raise the limit with option maxPixels or env BG_MAX_PIXELS: ${name}`,
    );
  }
  return {
    format,
    width,
    height,
    orientation,
    hasAlpha: Boolean(meta.hasAlpha),
    channels: meta.channels ?? 3,
    space: String(meta.space ?? 'srgb'),
    depth: String(meta.depth ?? 'uchar'),
  };
}

export interface OpenedImage {
  bytes: Uint8Array;
  header: ImageHeader;
  /** A short name for messages (file name, or the buffer size). */
  name: string;
}

/** Reads the input and checks its header (format, pixel limit) without decoding pixels. */
export async function openImage(input: ImageInput, options: DecodeOptions): Promise<OpenedImage> {
  const name = label(input);
  const bytes = await readInput(input);
  const header = await probeImage(bytes, name, options.maxPixels);
  return { bytes, header, name };
}

/**
 * Decodes an opened photo to 8-bit RGB at full size with EXIF orientation applied. Greyscale,
 * CMYK, 16-bit and alpha inputs are converted (alpha is flattened over white).
 */
export async function decodeOpened({ bytes, header, name }: OpenedImage): Promise<RgbImage> {
  try {
    let pipeline = sharp(bytes, { failOn: 'truncated', limitInputPixels: false, sequentialRead: true }).rotate();
    if (header.hasAlpha) pipeline = pipeline.flatten({ background: '#ffffff' });
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== header.width || info.height !== header.height) {
      throw new BgNativeError(
        'E_INTERNAL',
        `Decoder returned ${info.width}×${info.height}×${info.channels}, expected ` +
          `${header.width}×${header.height}×3: ${name}`,
      );
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      channels: 3,
      header,
    };
  } catch (err) {
    if (err instanceof BgNativeError) throw err;
    if (/memory/i.test(String((err as Error)?.message))) throw toBgError(err, 'E_OUT_OF_MEMORY');
    throw badImage(err, name);
  }
}

/** openImage + decodeOpened. */
export async function decodeImage(input: ImageInput, options: DecodeOptions): Promise<RgbImage> {
  return decodeOpened(await openImage(input, options));
}
