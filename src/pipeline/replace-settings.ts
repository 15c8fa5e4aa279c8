/**
 * From a replaceBackground call to the settings every stage uses: the preset (its prompt type
 * chosen, `overrides` and the call's own generation/compositing values merged over it and
 * validated) and the compositing switches in the units the compose functions take.
 *
 * Precedence: preset file < `overrides` < the call's named options (prompt, steps, matchColors, …).
 * Booleans switch a preset value on or off; numbers replace it.
 */
import type { ShadowOptions } from '../compose/shadow.js';
import { REFERENCE_LONG_SIDE } from '../compose/resample.js';
import type { PresetLibrary } from '../presets/load.js';
import type { Preset, PresetOverrides, PresetShadow } from '../presets/schema.js';
import type { ParsedReplaceOptions } from '../options.js';
import { deepMerge, isPlainObject } from '../util/deep-merge.js';

/** The preset used when a call names none. */
export const DEFAULT_PRESET = 'product-studio';

export interface ComposeSettings {
  decontaminate: boolean;
  enhanceFg: boolean;
  /** 0..1; 0 = off. */
  matchColors: number;
  /** px at a 1024-px long side; 0 = off. */
  featherEdges: number;
  shadow: ShadowOptions | false;
}

export interface ReplaceSettings {
  preset: Preset;
  compose: ComposeSettings;
}

/** The call's named options as preset overrides. */
function callOverrides(opts: ParsedReplaceOptions): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (opts.prompt !== undefined) o.prompt = opts.prompt;
  if (opts.negativePrompt !== undefined) o.negativePrompt = opts.negativePrompt;
  const generation: Record<string, unknown> = {};
  if (opts.steps !== undefined) generation.steps = opts.steps;
  if (opts.guidanceScale !== undefined) generation.guidanceScale = opts.guidanceScale;
  if (opts.strength !== undefined) generation.strength = opts.strength;
  if (opts.sampler !== undefined) generation.sampler = opts.sampler;
  if (opts.loras !== undefined) generation.loras = opts.loras;
  // The decoder: `vae` as given; else quality 'draft' is the tiny autoencoder and 'final' the full VAE.
  const vae = opts.vae ?? (opts.quality === 'draft' ? 'taesd' : opts.quality === 'final' ? 'full' : undefined);
  if (vae !== undefined) generation.vae = vae;
  if (Object.keys(generation).length) o.generation = generation;
  if (typeof opts.matchColors === 'number') o.compositing = { matchColors: opts.matchColors };
  // featherEdges and shadow lengths from the call are px at a 1024-px long side, not at the
  // preset's referenceSize: they are applied after the preset is resolved (see below).
  return o;
}

/** The preset's shadow as synthesizeShadow options, lengths rescaled from `referenceSize` to 1024. */
export function shadowOptions(shadow: PresetShadow, referenceSize: number): ShadowOptions | false {
  if (!shadow.enabled || shadow.opacity <= 0) return false;
  const k = REFERENCE_LONG_SIDE / referenceSize;
  if (shadow.kind === 'drop') {
    return {
      angle: shadow.angle,
      distance: shadow.distance * k,
      softness: shadow.softness * k,
      opacity: shadow.opacity,
      contact: false,
    };
  }
  // Contact: the subject standing on the ground — shadow only under it, no silhouette copy (which
  // would read as a sticker's halo around the top of the product).
  return {
    angle: shadow.angle,
    distance: shadow.distance * k,
    softness: shadow.softness * k,
    opacity: 0,
    contact: { height: Math.max(4, (shadow.softness * k) / 2), opacity: shadow.opacity },
  };
}

/** The call's preset (from `presets`, a context's library) with the call's settings merged in. */
export function resolveReplaceSettings(opts: ParsedReplaceOptions, presets: PresetLibrary): ReplaceSettings {
  const given = isPlainObject(opts.overrides) ? opts.overrides : {};
  const overrides = deepMerge(given, callOverrides(opts)) as Record<string, unknown>;
  const preset = presets.get(opts.preset ?? DEFAULT_PRESET, {
    promptType: opts.promptType,
    presetDirs: opts.presetDirs,
    overrides: Object.keys(overrides).length ? (overrides as PresetOverrides) : undefined,
  });
  const c = preset.compositing;
  const k = REFERENCE_LONG_SIDE / c.referenceSize;
  const featherEdges =
    typeof opts.featherEdges === 'number' ? opts.featherEdges : opts.featherEdges === false ? 0 : c.featherEdges * k;
  let shadow: ShadowOptions | false;
  if (opts.shadow === false) {
    shadow = false;
  } else if (opts.shadow === undefined) {
    shadow = shadowOptions(c.shadow, c.referenceSize);
  } else {
    // The preset's shadow in 1024-px units, switched on, with the call's values over it.
    const own = typeof opts.shadow === 'object' ? opts.shadow : {};
    const scaled: PresetShadow = { ...c.shadow, softness: c.shadow.softness * k, distance: c.shadow.distance * k };
    shadow = shadowOptions({ ...scaled, ...own, enabled: true }, REFERENCE_LONG_SIDE);
  }
  return {
    preset,
    compose: {
      decontaminate: opts.decontaminate ?? true,
      enhanceFg: opts.enhanceFg ?? false,
      matchColors: opts.matchColors === false ? 0 : c.matchColors,
      featherEdges,
      shadow,
    },
  };
}
