/**
 * The Stable Diffusion runtime of the native core (SD 1.x / 2.x and their inpainting variants):
 * load a single-file LDM `.safetensors` or a diffusers folder once, then generate off the event
 * loop with progress and cancellation. `replaceBackground` builds on it; this is the direct door
 * (a context's `DiffusionModel`, or the package's, which follows the environment's settings).
 *
 *   const model = await DiffusionModel.load('sd15.safetensors');   // the built-in CLIP vocabulary
 *   const { pixels, width, height, seed } = await model.generate(
 *     { prompt: 'a sunlit garden', width: 512, height: 512, steps: 20, seed: 1 },
 *     { onProgress: ({ step, steps }) => console.log(step, steps), signal },
 *   );
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import { builtinClipVocabulary } from './clip-vocabulary.js';
import { BgNativeError } from './errors.js';
import {
  loadAddon,
  type DiffusionGenerateParams,
  type DiffusionLoadOptions,
  type NativeDiffusionModel,
} from './native.js';

export type {
  DiffusionGenerateParams,
  DiffusionImage,
  DiffusionLoadOptions,
  DiffusionPrecision,
  DiffusionProgress,
  DiffusionRunOptions,
  NativeDiffusionModel,
} from './native.js';

/** What a context gives every load and generation that does not say otherwise. */
export interface DiffusionDefaults {
  /** CLIP tokenizer folder used instead of the built-in vocabulary (BG_CLIP_TOKENIZER). */
  tokenizer?: string;
  /** Model files above this size are refused (BG_MAX_MODEL_BYTES). */
  maxModelBytes: number;
  /** Where `device: 'auto'` runs (BGN_DEVICE). */
  device?: string;
  /** The tiny autoencoders 'taesd' means for SD 1.x/2.x and SDXL (BG_TAESD, BG_TAESDXL). */
  taesd?: string;
  taesdxl?: string;
}

export type DiffusionModelLoadOptions = DiffusionLoadOptions & { maxModelBytes?: number };

export interface DiffusionModelLoader {
  /** Loads (or reuses, keyed by file identity) a model; rejects with E_MODEL_* codes naming the file. */
  load(pathOrDir: string, options?: DiffusionModelLoadOptions): Promise<NativeDiffusionModel>;
}

function isDir(p: string): boolean {
  try {
    return statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false; // ENOTDIR: the model is a file
  }
}

/**
 * The load options the addon gets. No tokenizer named: a diffusers folder's own tokenizer/, else
 * the configured folder, else the package's CLIP vocabulary.
 */
function loadOptions(
  pathOrDir: string,
  rest: DiffusionLoadOptions,
  given: boolean,
  d: DiffusionDefaults,
): DiffusionLoadOptions | undefined {
  let load: DiffusionLoadOptions | undefined = given ? rest : undefined;
  if (d.device && (rest.device === undefined || rest.device === 'auto'))
    load = { ...rest, device: d.device as DiffusionLoadOptions['device'] };
  if (rest.tokenizer !== undefined || rest.tokenizerData !== undefined) return load;
  if (d.tokenizer && !isDir(path.join(pathOrDir, 'tokenizer'))) return { ...load, tokenizer: d.tokenizer };
  if (d.tokenizer) return load;
  return { ...load, tokenizerData: builtinClipVocabulary() };
}

/** 'taesd' → the configured tiny autoencoder for the model's family, checked to exist; else as given. */
function tinyVae(spec: string | undefined, family: string, d: DiffusionDefaults): string | undefined {
  if (spec !== 'taesd') return spec;
  const [configured, name] = family === 'sdxl' ? [d.taesdxl, 'BG_TAESDXL'] : [d.taesd, 'BG_TAESD'];
  if (!configured) return spec;
  if (!existsSync(configured)) {
    throw new BgNativeError('E_MODEL_NOT_FOUND', `${configured}: no such file or folder (${name})`);
  }
  return configured;
}

/** The generation's decoders with 'taesd' (named, or looked up for previews) resolved to the configured files. */
export function tinyVaeParams(
  params: DiffusionGenerateParams,
  family: string,
  d: DiffusionDefaults,
): DiffusionGenerateParams {
  const vae = tinyVae(params.vae, family, d);
  const wantsPreview = (params.previewEvery ?? 0) > 0 && params.previewVae === undefined;
  // Previews default to `vae`'s tiny autoencoder when it is one, else to 'taesd' (none when not found).
  const previewFallback = wantsPreview && (params.vae === undefined || params.vae === 'full') ? 'taesd' : undefined;
  const previewVae = tinyVae(params.previewVae ?? previewFallback, family, d);
  const out = { ...params };
  if (vae !== undefined) out.vae = vae;
  if (previewVae !== undefined && previewVae !== 'taesd') out.previewVae = previewVae;
  return out;
}

/** The model with its generate() resolving 'taesd' by `defaults()` (read at each generation). */
function withTinyVaeDefaults(model: NativeDiffusionModel, defaults: () => DiffusionDefaults): NativeDiffusionModel {
  return new Proxy(model, {
    get(target, prop) {
      if (prop === 'generate') {
        const generate: NativeDiffusionModel['generate'] = (params, run) =>
          target.generate(tinyVaeParams(params, target.family, defaults()), run);
        return generate;
      }
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Loads diffusion models with `defaults()` (a context's settings) filling in what a call leaves
 * out: the tokenizer, the model size limit, the device, and the tiny autoencoder 'taesd' means.
 */
export function diffusionModelLoader(defaults: () => DiffusionDefaults): DiffusionModelLoader {
  return {
    load(pathOrDir, options) {
      const { maxModelBytes, ...rest } = options ?? {};
      if (maxModelBytes !== undefined && !(Number.isSafeInteger(maxModelBytes) && maxModelBytes >= 1)) {
        return Promise.reject(
          new BgNativeError(
            'E_BAD_INPUT',
            `maxModelBytes must be a positive whole number of bytes (got ${String(maxModelBytes)}).`,
          ),
        );
      }
      let load: DiffusionLoadOptions | undefined;
      try {
        const d = defaults();
        // The core refuses files above BG_MAX_MODEL_BYTES itself; the configured or given limit is checked here.
        const limit = maxModelBytes ?? d.maxModelBytes;
        const st = statSync(pathOrDir, { throwIfNoEntry: false });
        if (st?.isFile() && st.size > limit) {
          throw new BgNativeError(
            'E_MODEL_FORMAT',
            `${pathOrDir} is ${st.size} bytes, more than the ${limit}-byte limit on model files; ` +
              'raise maxModelBytes (or BG_MAX_MODEL_BYTES) if this file is meant to be loaded.',
          );
        }
        load = loadOptions(pathOrDir, rest, options !== undefined, d);
      } catch (err) {
        return Promise.reject(err);
      }
      return loadAddon()
        .DiffusionModel.load(pathOrDir, load)
        .then((m) => withTinyVaeDefaults(m, defaults));
    },
  };
}
