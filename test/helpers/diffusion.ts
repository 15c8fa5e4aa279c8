/**
 * Helpers for DiffusionModel tests: where the tiny fixture models live, a diffusers pipeline
 * folder assembled from the shared component folders, altered copies of a .safetensors file,
 * and small test images.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

import { repoRoot } from './paths.js';

export const sharedFixtures = path.resolve(repoRoot, '..', 'shared', 'fixtures');
export const modelsDir = path.join(sharedFixtures, 'models');
/** LDM single-file SD 1.x checkpoint with tiny random weights (VAE downscale 2). */
export const sd1Tiny = path.join(modelsDir, 'sd1-tiny.safetensors');
/** The CLIP tokenizer, given as the task's relative path from the repository. */
export const tokenizerDir = path.resolve(repoRoot, '../shared/fixtures/clip-tokenizer');

export const fixturesPresent = existsSync(sd1Tiny) && existsSync(path.join(tokenizerDir, 'vocab.json'));

/** SD 1.5's EulerDiscreteScheduler configuration, as the fixtures record it. */
export const sd15SchedulerConfig = {
  _class_name: 'EulerDiscreteScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 1,
};

/**
 * Builds a diffusers pipeline folder in `dir` from the shared component folders (symlinks):
 * text_encoder = te-sd1 (or the given one), vae = vae, unet = the given one, tokenizer = the shared CLIP tokenizer,
 * scheduler/scheduler_config.json = SD 1.5's Euler configuration.
 */
export function makeDiffusersFolder(
  dir: string,
  unet: 'unet-sd1' | 'unet-sd1-inpaint' = 'unet-sd1',
  textEncoder: 'te-sd1' | 'te-sd2' = 'te-sd1',
): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.join(modelsDir, textEncoder), path.join(dir, 'text_encoder'));
  symlinkSync(path.join(modelsDir, 'vae'), path.join(dir, 'vae'));
  symlinkSync(path.join(modelsDir, unet), path.join(dir, 'unet'));
  symlinkSync(tokenizerDir, path.join(dir, 'tokenizer'));
  mkdirSync(path.join(dir, 'scheduler'));
  writeFileSync(path.join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify(sd15SchedulerConfig));
  return dir;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

interface SafetensorsParts {
  header: Record<string, SafetensorsEntry | Record<string, string>>;
  data: Buffer;
}

function readParts(file: string): SafetensorsParts {
  const buf = readFileSync(file);
  if (buf.length < 8) throw new Error(`${file} is too short for a safetensors header`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} runs past the end`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as SafetensorsParts['header'];
  return { header, data: buf.subarray(8 + n) };
}

function writeParts(file: string, parts: SafetensorsParts): void {
  const json = Buffer.from(JSON.stringify(parts.header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, parts.data]));
}

function entry(parts: SafetensorsParts, name: string): SafetensorsEntry {
  const e = parts.header[name] as SafetensorsEntry | undefined;
  if (!e || !Array.isArray(e.shape)) throw new Error(`no tensor ${name}`);
  return e;
}

/** A copy of `src` whose tensor `name` holds only NaN (f32, f16 or bf16). */
export function copyWithNaN(src: string, dst: string, name: string): void {
  const parts = readParts(src);
  const e = entry(parts, name);
  const [begin, end] = e.data_offsets;
  const data = Buffer.from(parts.data);
  if (e.dtype === 'F32') for (let i = begin; i + 4 <= end; i += 4) data.writeFloatLE(Number.NaN, i);
  else if (e.dtype === 'F16') for (let i = begin; i + 2 <= end; i += 2) data.writeUInt16LE(0x7e00, i);
  else if (e.dtype === 'BF16') for (let i = begin; i + 2 <= end; i += 2) data.writeUInt16LE(0x7fc0, i);
  else throw new Error(`cannot write NaN into ${e.dtype}`);
  writeParts(dst, { header: parts.header, data });
}

/** A copy of `src` in which tensor `name` claims `shape` (same element count, same bytes). */
export function copyWithShape(src: string, dst: string, name: string, shape: number[]): void {
  const parts = readParts(src);
  const e = entry(parts, name);
  const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
  if (count(e.shape) !== count(shape)) throw new Error('the new shape must keep the element count');
  e.shape = shape;
  writeParts(dst, parts);
}

/** The first `fraction` of `src`'s bytes. */
export function truncatedCopy(src: string, dst: string, fraction: number): void {
  const buf = readFileSync(src);
  writeFileSync(dst, buf.subarray(0, Math.floor(buf.length * fraction)));
}

/** A copy of `src` whose JSON header bytes are overwritten with garbage (length field intact). */
export function corruptHeaderCopy(src: string, dst: string): void {
  const buf = Buffer.from(readFileSync(src));
  buf.fill(0x7b, 8, 8 + 64); // '{{{{…'
  writeFileSync(dst, buf);
}

/** The shape of a tensor in a .safetensors file (reads only the header). */
export function tensorShape(file: string, name: string): number[] {
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const head = Buffer.alloc(n);
    readSync(fd, head, 0, n, 8);
    const header = JSON.parse(head.toString('utf8')) as Record<string, SafetensorsEntry>;
    return header[name]!.shape;
  } finally {
    closeSync(fd);
  }
}

/** A smooth RGB test picture, width·height·3 bytes. */
export function testImage(width: number, height: number): Uint8Array {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; ++y)
    for (let x = 0; x < width; ++x) {
      const i = (y * width + x) * 3;
      px[i] = Math.round((255 * x) / (width - 1));
      px[i + 1] = Math.round((255 * y) / (height - 1));
      px[i + 2] = 128;
    }
  return px;
}

/** A mask (one byte per pixel) that repaints the right half: 255 where x ≥ width/2, else 0. */
export function rightHalfMask(width: number, height: number): Uint8Array {
  const m = new Uint8Array(width * height);
  for (let y = 0; y < height; ++y) for (let x = width / 2; x < width; ++x) m[y * width + x] = 255;
  return m;
}
