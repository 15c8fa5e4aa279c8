/**
 * Encoding of raw pixels (from the pipeline) to PNG, JPEG or WebP with sharp. PNG settings favour
 * speed: a large RGBA PNG at sharp's defaults costs several times more than at level 1 without
 * adaptive filtering, for files only modestly larger.
 */
import sharp from 'sharp';

import { BgNativeError, toBgError } from '../errors.js';
import type { OutputFormat } from '../options.js';

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
}

export interface EncodeOptions {
  /** JPEG/WebP quality 1–100 (default 90). */
  quality?: number;
}

/** The formats that can store an alpha channel. */
export function formatHasAlpha(format: OutputFormat): boolean {
  return format !== 'jpeg';
}

/** Encodes raw pixels; JPEG of RGBA is refused (flatten first). */
export async function encodeImage(img: RawImage, format: OutputFormat, options: EncodeOptions = {}): Promise<Buffer> {
  if (img.data.byteLength !== img.width * img.height * img.channels) {
    throw new BgNativeError(
      'E_INTERNAL',
      `Raw image size mismatch: ${img.data.byteLength} bytes for ${img.width}×${img.height}×${img.channels}.`,
    );
  }
  if (format === 'jpeg' && img.channels === 4) {
    throw new BgNativeError('E_BAD_INPUT', 'JPEG cannot store transparency: use PNG or WebP, or a background mode.');
  }
  const quality = options.quality ?? 90;
  try {
    let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
    if (img.channels === 1) s = s.toColourspace('b-w');
    switch (format) {
      case 'png':
        return await s.png({ compressionLevel: 1, adaptiveFiltering: false }).toBuffer();
      case 'jpeg':
        return await s
          .jpeg({ quality, mozjpeg: false, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' })
          .toBuffer();
      case 'webp':
        return await s.webp({ quality, alphaQuality: 100, effort: 2 }).toBuffer();
    }
  } catch (err) {
    throw toBgError(err, 'E_INTERNAL');
  }
}

/** Infers an output format from a file name's extension; undefined when unknown. */
export function formatFromPath(file: string): OutputFormat | undefined {
  const m = /\.([a-z0-9]+)$/i.exec(file);
  switch (m?.[1]?.toLowerCase()) {
    case 'png':
      return 'png';
    case 'jpg':
    case 'jpeg':
      return 'jpeg';
    case 'webp':
      return 'webp';
    default:
      return undefined;
  }
}
