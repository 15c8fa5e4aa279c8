/**
 * The Stable Diffusion runtime of the native core (SD 1.x / 2.x and their inpainting variants):
 * load a single-file LDM `.safetensors` or a diffusers folder once, then generate off the event
 * loop with progress and cancellation. `replaceBackground` builds on it; this is the direct door.
 *
 *   const model = await DiffusionModel.load('sd15.safetensors', { tokenizer: 'clip-tokenizer/' });
 *   const { pixels, width, height, seed } = await model.generate(
 *     { prompt: 'a sunlit garden', width: 512, height: 512, steps: 20, seed: 1 },
 *     { onProgress: ({ step, steps }) => console.log(step, steps), signal },
 *   );
 */
import { loadAddon, type DiffusionLoadOptions, type NativeDiffusionModel } from './native.js';

export type {
  DiffusionGenerateParams,
  DiffusionImage,
  DiffusionLoadOptions,
  DiffusionProgress,
  DiffusionRunOptions,
  NativeDiffusionModel,
} from './native.js';

export const DiffusionModel = {
  /** Loads (or reuses, keyed by file identity) a model; rejects with E_MODEL_* codes naming the file. */
  load(pathOrDir: string, options?: DiffusionLoadOptions): Promise<NativeDiffusionModel> {
    return loadAddon().DiffusionModel.load(pathOrDir, options);
  },
};
