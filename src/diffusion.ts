/**
 * The Stable Diffusion runtime of the native core (SD 1.x / 2.x and their inpainting variants):
 * load a single-file LDM `.safetensors` or a diffusers folder once, then generate off the event
 * loop with progress and cancellation. `replaceBackground` builds on it; this is the direct door.
 *
 *   const model = await DiffusionModel.load('sd15.safetensors');   // the built-in CLIP vocabulary
 *   const { pixels, width, height, seed } = await model.generate(
 *     { prompt: 'a sunlit garden', width: 512, height: 512, steps: 20, seed: 1 },
 *     { onProgress: ({ step, steps }) => console.log(step, steps), signal },
 *   );
 */
import { statSync } from 'node:fs';

import { builtinClipVocabulary } from './clip-vocabulary.js';
import { BgNativeError } from './errors.js';
import { loadAddon, type DiffusionLoadOptions, type NativeDiffusionModel } from './native.js';
import { resolveMaxModelBytes } from './options.js';

export type {
  DiffusionGenerateParams,
  DiffusionImage,
  DiffusionLoadOptions,
  DiffusionPrecision,
  DiffusionProgress,
  DiffusionRunOptions,
  NativeDiffusionModel,
} from './native.js';

export const DiffusionModel = {
  /** Loads (or reuses, keyed by file identity) a model; rejects with E_MODEL_* codes naming the file. */
  load(pathOrDir: string, options?: DiffusionLoadOptions & { maxModelBytes?: number }): Promise<NativeDiffusionModel> {
    const { maxModelBytes, ...rest } = options ?? {};
    if (maxModelBytes !== undefined && !(Number.isSafeInteger(maxModelBytes) && maxModelBytes >= 1)) {
      return Promise.reject(new BgNativeError('E_BAD_INPUT', `maxModelBytes must be a positive whole number of bytes (got ${String(maxModelBytes)}).`));
    }
    try {
      // The core refuses files above BG_MAX_MODEL_BYTES itself; an explicit option is checked here.
      const limit = resolveMaxModelBytes(maxModelBytes);
      const st = statSync(pathOrDir, { throwIfNoEntry: false });
      if (st?.isFile() && st.size > limit) {
        throw new BgNativeError(
          'E_MODEL_FORMAT',
          `${pathOrDir} is ${st.size} bytes, more than the ${limit}-byte limit on model files; raise maxModelBytes (or BG_MAX_MODEL_BYTES) if this file is meant to be loaded.`,
        );
      }
    } catch (err) {
      return Promise.reject(err);
    }
    // No tokenizer named: the package's CLIP vocabulary, used when the model brings none either.
    let load: DiffusionLoadOptions | undefined = options === undefined ? undefined : rest;
    if (rest.tokenizer === undefined && rest.tokenizerData === undefined && !process.env.BG_CLIP_TOKENIZER) {
      try {
        load = { ...rest, tokenizerData: builtinClipVocabulary() };
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return loadAddon().DiffusionModel.load(pathOrDir, load);
  },
};
