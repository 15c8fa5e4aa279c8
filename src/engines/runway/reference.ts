/**
 * The product photo as a reference image for Runway: a `data:image/jpeg;base64,…` URI no longer
 * than Runway's limit for data URIs (5 MB), an aspect between 1:2 and 2:1 (the range Runway
 * accepts for reference images) and sides under 8000 px. Photos that do not fit are padded with
 * their own edge pixels (never cropped: the product must stay whole), downscaled and re-encoded.
 */
import sharp from 'sharp';

import { BgNativeError } from '../../errors.js';

/** Runway's limit on an image passed as a data URI; taken as 5·10⁶ bytes, the stricter reading. */
export const MAX_DATA_URI_BYTES = 5_000_000;
const PREFIX = 'data:image/jpeg;base64,';

export interface ReferenceOptions {
  /** Largest data URI in bytes (default 5 MB). */
  maxBytes?: number;
  /** Longest side sent, before any size-driven downscale (default 4096; Runway allows < 8000). */
  maxSide?: number;
}

export interface ReferenceImage {
  uri: string;
  width: number;
  height: number;
  quality: number;
  bytes: number;
}

const dataUriBytes = (jpegBytes: number) => PREFIX.length + 4 * Math.ceil(jpegBytes / 3);

/** Encodes interleaved RGB (width·height·3) as a JPEG data URI that fits Runway's limits. */
export async function encodeReference(
  rgb: Uint8Array,
  width: number,
  height: number,
  options: ReferenceOptions = {},
): Promise<ReferenceImage> {
  const maxBytes = options.maxBytes ?? MAX_DATA_URI_BYTES;
  const maxSide = Math.min(options.maxSide ?? 4096, 7999);
  if (
    !(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) ||
    rgb.length !== width * height * 3
  ) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `The reference photo must be ${width}×${height}×3 bytes of RGB; got ${rgb.length} bytes.`,
    );
  }
  const raw = { width, height, channels: 3 as const };
  const input = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);

  // Pad to an aspect within [1/2, 2] with copies of the edge pixels, centred.
  let padX = 0;
  let padY = 0;
  if (width > 2 * height) padY = Math.ceil(width / 2) - height;
  else if (height > 2 * width) padX = Math.ceil(height / 2) - width;
  let base = input;
  let bw = width;
  let bh = height;
  if (padX || padY) {
    const top = Math.floor(padY / 2);
    const left = Math.floor(padX / 2);
    base = await sharp(input, { raw })
      .extend({ top, bottom: padY - top, left, right: padX - left, extendWith: 'copy' })
      .raw()
      .toBuffer();
    bw = width + padX;
    bh = height + padY;
  }

  let scale = Math.min(1, maxSide / Math.max(bw, bh));
  let quality = 90;
  for (let attempt = 0; attempt < 12; attempt++) {
    const w = Math.max(1, Math.round(bw * scale));
    const h = Math.max(1, Math.round(bh * scale));
    let img = sharp(base, { raw: { width: bw, height: bh, channels: 3 } });
    if (w !== bw || h !== bh) img = img.resize(w, h, { fit: 'fill', kernel: 'lanczos3' });
    const jpeg = await img.jpeg({ quality, chromaSubsampling: '4:2:0', mozjpeg: false }).toBuffer();
    const bytes = dataUriBytes(jpeg.length);
    if (bytes <= maxBytes) {
      return { uri: PREFIX + jpeg.toString('base64'), width: w, height: h, quality, bytes };
    }
    if (quality > 80) {
      quality = 80;
    } else {
      // JPEG size grows roughly with the pixel count: shrink the area by the overshoot, plus 10 %.
      scale *= Math.sqrt(maxBytes / bytes) * 0.95;
      if (Math.max(bw, bh) * scale < 64) break;
    }
  }
  throw new BgNativeError(
    'E_BAD_INPUT',
    `The photo cannot be encoded as a reference image under ${Math.round(maxBytes / 1e6)} MB.`,
  );
}
