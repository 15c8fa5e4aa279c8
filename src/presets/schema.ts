/**
 * The preset format, as zod schemas. A preset file (`presets/*.yaml`) is parsed by
 * `PresetFileSchema`; `getPreset()` resolves its prompt type into a `Preset` and validates
 * overrides merged over it with `ResolvedPresetSchema`. Every object is strict: an unknown key is
 * an error, so a typo never passes silently. Messages read "expected …"; the loader adds the file,
 * the field and the value it got.
 *
 * Sizes in pixels (featherEdges, blur, shadow softness and distance) are given at
 * `compositing.referenceSize` (the long side of the picture they were tuned on) and scaled by the
 * pipeline to the real picture's long side.
 */
import { z } from 'zod';

import { COLOR_NAMES, parseColor } from '../compose/color.js';

function num(min: number, max: number, opts: { int?: boolean } = {}) {
  const error = `expected ${opts.int ? 'a whole number' : 'a number'} from ${min} to ${max}`;
  const base = z.number({ error });
  return (opts.int ? base.int({ error }) : base).min(min, { error }).max(max, { error });
}

function text(what: string) {
  const error = `expected ${what}`;
  return z.string({ error }).trim().min(1, { error });
}

function bool() {
  return z.boolean({ error: 'expected true or false' });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

/** Lower-case letters, digits and dashes: preset names and prompt types. */
const SLUG = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;
const slug = (what: string) =>
  z
    .string({ error: `expected ${what}` })
    .regex(SLUG, { error: `expected ${what} (lower-case letters, digits, '-' or '_')` });

export const PresetColorSchema = z.string({ error: 'expected a colour' }).refine((s) => parseColor(s) !== undefined, {
  error: `expected a colour: '#rgb', '#rrggbb', 'rgb(r, g, b)' or one of ${COLOR_NAMES.join(', ')}`,
});

export const SAMPLERS = ['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'dpmpp_2m_karras', 'lms', 'lcm'] as const;
export const SamplerSchema = oneOf(SAMPLERS);
export const TIMESTEP_SPACINGS = ['leading', 'linspace', 'trailing'] as const;
/** 'standard': the generation as written; 'fast': 4 LCM steps without CFG (LCM models and LCM-LoRAs). */
export const GENERATION_PROFILES = ['standard', 'fast'] as const;

/**
 * Generation size: `{ width, height }` as given, or `{ longSide }`: the photo's aspect at the model's
 * native area (512² SD 1.x, 768² SD 2.x, SDXL's ~1 MP buckets), scaled down when the model's native
 * side exceeds `longSide`. Multiples of 8.
 */
const side = num(64, 4096, { int: true }).refine((v) => v % 8 === 0, {
  error: 'expected a multiple of 8 from 64 to 4096',
});
export const ResolutionSchema = z
  .strictObject(
    { width: side.optional(), height: side.optional(), longSide: side.optional() },
    { error: 'expected { width, height } or { longSide }' },
  )
  .superRefine((r, ctx) => {
    const wh = r.width !== undefined || r.height !== undefined;
    if (wh && r.longSide !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected either width and height, or longSide, not both' });
    } else if (wh && (r.width === undefined || r.height === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected both width and height' });
    } else if (!wh && r.longSide === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected { width, height } or { longSide }' });
    }
  });

/**
 * A LoRA the local engine merges into the model: a .safetensors file (kohya or diffusers/PEFT
 * keys; absolute, or relative to the working directory) and its strength from -4 to 4 (default 1).
 */
export const PresetLoraSchema = z.strictObject(
  { path: text('the path of a .safetensors LoRA'), scale: num(-4, 4).optional() },
  { error: 'expected { path, scale? } with scale from -4 to 4' },
);

export const GenerationSchema = z.strictObject(
  {
    /** Denoising steps. */
    steps: num(1, 150, { int: true }),
    /** Classifier-free guidance scale. */
    guidanceScale: num(0, 30),
    sampler: SamplerSchema,
    /** Where the timesteps sit ('trailing' for Turbo / Lightning / Hyper-SD); default the model's scheduler config. */
    timestepSpacing: oneOf(TIMESTEP_SPACINGS).optional(),
    /**
     * 'fast' replaces steps, sampler and guidance with 4 LCM steps at guidance 1; unset, the local
     * engine picks it by itself when the model or a LoRA is an LCM one.
     */
    profile: oneOf(GENERATION_PROFILES).optional(),
    /** How much of the background region is re-noised (1 = fully new). */
    strength: num(0, 1),
    resolution: ResolutionSchema,
    /** LoRAs merged into the model for this preset (local engine); default env BG_LORAS. */
    loras: z
      .array(PresetLoraSchema, { error: 'expected a list of LoRAs' })
      .max(8, { error: 'expected at most 8 LoRAs' })
      .optional(),
    /**
     * What decodes the result (local engine): 'full' (the model's VAE, default), 'taesd' (the tiny
     * autoencoder, a draft in a fraction of the time) or the path of a TAESD folder or file.
     */
    vae: text("'full', 'taesd' or the path of a tiny autoencoder (TAESD / TAESDXL)").optional(),
  },
  { error: 'expected a mapping with steps, guidanceScale, sampler, strength, resolution' },
);

const colors = (min: number, max: number) =>
  z
    .array(PresetColorSchema, { error: `expected a list of ${min} to ${max} colours` })
    .min(min, { error: `expected a list of ${min} to ${max} colours` })
    .max(max, { error: `expected a list of ${min} to ${max} colours` });

/** The procedural background the studio engine paints (and the fallback of the other engines). */
export const BackgroundSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('solid'), color: PresetColorSchema }),
    z.strictObject({
      type: z.literal('gradient'),
      /** Colour stops, evenly spaced. */
      colors: colors(2, 8),
      /** Direction in degrees: 0 = left→right, 90 = top→bottom (linear only). */
      angle: num(0, 360).default(90),
      shape: oneOf(['linear', 'radial'] as const).default('linear'),
    }),
    z.strictObject({
      type: z.literal('blurred-original'),
      /** Gaussian sigma in px at the reference size. */
      blur: num(0, 200),
      /** Multipliers applied after the blur (1 = unchanged). */
      brightness: num(0, 2).default(1),
      saturation: num(0, 2).default(1),
    }),
    z.strictObject({
      type: z.literal('texture'),
      pattern: oneOf(['noise', 'grain', 'linen', 'concrete', 'paper'] as const),
      /** Base colours the pattern varies between. */
      colors: colors(1, 4),
      /** Feature size in px at the reference size. */
      scale: num(1, 500),
      /** 0 = flat base colour, 1 = full-contrast pattern. */
      intensity: num(0, 1),
    }),
  ],
  { error: 'expected type: solid, gradient, blurred-original or texture' },
);

export const ShadowSchema = z.strictObject(
  {
    enabled: bool(),
    /**
     * 'contact': a tight dark band where the subject meets the ground; 'drop': an offset soft copy of the silhouette.
     */
    kind: oneOf(['contact', 'drop'] as const).default('contact'),
    /** Direction the shadow falls, in degrees: 0 = right, 90 = straight down, 180 = left. */
    angle: num(0, 360).default(90),
    /** Blur radius in px at the reference size. */
    softness: num(0, 200).default(12),
    opacity: num(0, 1).default(0.35),
    /** Offset in px at the reference size. */
    distance: num(0, 500).default(6),
  },
  { error: 'expected a mapping with enabled, kind, angle, softness, opacity, distance' },
);

export const CompositingSchema = z.strictObject(
  {
    /** Long side in px at which the px sizes below (and background blur) are given. */
    referenceSize: num(64, 16384, { int: true }).default(1024),
    /** Feather width of the mask edge in px at the reference size. */
    featherEdges: num(0, 50),
    /** How far the foreground's colours move toward the background's (0 = untouched). */
    matchColors: num(0, 1),
    shadow: ShadowSchema,
    /**
     * The product's glass (optional): 'auto' (the library's default), 'off', or the glass's
     * transmission (0..1) and tint; a call's own `glass` wins.
     */
    glass: z
      .union(
        [
          z.enum(['auto', 'off']),
          z.strictObject({ transmission: num(0, 1).optional(), tint: PresetColorSchema.optional() }),
        ],
        { error: 'expected auto, off or a mapping with transmission (0 to 1) and tint' },
      )
      .optional(),
  },
  { error: 'expected a mapping with featherEdges, matchColors, shadow (and glass)' },
);

export const PromptTypeSchema = z.strictObject(
  {
    prompt: text('a non-empty prompt'),
    /** Replaces the preset's negativePrompt for this prompt type. */
    negativePrompt: z.string({ error: 'expected a text' }).optional(),
    /** Replaces the preset's procedural background for this prompt type (what the studio engine paints). */
    background: BackgroundSchema.optional(),
  },
  { error: 'expected a mapping with prompt (and optionally negativePrompt, background)' },
);

/**
 * Words added to the prompt for one model family (SDXL follows short natural sentences and needs
 * fewer quality tags than SD 1.x): `prefix` before, `suffix` after the prompt, `negativeSuffix`
 * after the negative prompt.
 */
export const PromptStyleSchema = z.strictObject(
  {
    prefix: z.string({ error: 'expected a text' }).optional(),
    suffix: z.string({ error: 'expected a text' }).optional(),
    negativeSuffix: z.string({ error: 'expected a text' }).optional(),
  },
  { error: 'expected a mapping with prefix, suffix, negativeSuffix' },
);

export const PromptStylesSchema = z.strictObject(
  { sd1: PromptStyleSchema.optional(), sd2: PromptStyleSchema.optional(), sdxl: PromptStyleSchema.optional() },
  { error: 'expected a mapping of model family (sd1, sd2, sdxl) → { prefix, suffix, negativeSuffix }' },
);

const describedFields = {
  description: text('a one-line description'),
  generation: GenerationSchema,
  background: BackgroundSchema,
  compositing: CompositingSchema,
  /** Per model family prompt additions for the local engine. */
  styles: PromptStylesSchema.optional(),
};

/** A preset file as written. Give `prompt`, or `prompts` (per prompt type), or both. */
export const PresetFileSchema = z
  .strictObject(
    {
      name: slug('a preset name'),
      ...describedFields,
      prompt: text('a non-empty prompt').optional(),
      negativePrompt: z.string({ error: 'expected a text' }).default(''),
      prompts: z
        .record(slug('a prompt type name'), PromptTypeSchema, {
          error: 'expected a mapping of prompt type → { prompt, negativePrompt }',
        })
        .optional(),
      /** The prompt type used when none is asked for (default: `prompt`, else the first type). */
      defaultPromptType: slug('a prompt type name').optional(),
    },
    { error: 'expected a mapping of preset fields' },
  )
  .superRefine((p, ctx) => {
    const types = p.prompts ? Object.keys(p.prompts) : [];
    if (p.prompt === undefined && types.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'expected a prompt, or prompts per prompt type' });
    }
    if (p.defaultPromptType !== undefined && !types.includes(p.defaultPromptType)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultPromptType'],
        message: types.length
          ? `expected one of the prompt types ${types.join(', ')}`
          : 'expected prompts to define this prompt type',
      });
    }
  });

/** A preset after its prompt type is chosen; overrides merged over it are validated with this. */
export const ResolvedPresetSchema = z.strictObject({
  ...describedFields,
  prompt: text('a non-empty prompt'),
  negativePrompt: z.string({ error: 'expected a text' }),
});

export type PresetFile = z.output<typeof PresetFileSchema>;
export type Sampler = z.output<typeof SamplerSchema>;
export type PresetResolution = z.output<typeof ResolutionSchema>;
export type PresetGeneration = z.output<typeof GenerationSchema>;
export type PresetBackground = z.output<typeof BackgroundSchema>;
export type PresetShadow = z.output<typeof ShadowSchema>;
export type PresetCompositing = z.output<typeof CompositingSchema>;
export type PromptStyle = z.output<typeof PromptStyleSchema>;

/** A preset ready to use: its prompt type chosen, overrides applied. */
export interface Preset extends z.output<typeof ResolvedPresetSchema> {
  name: string;
  /** The file it came from, as `presets/<name>.yaml` for built-ins or the user folder's path. */
  file: string;
  /** The prompt type in effect, when the preset has prompt types. */
  promptType: string | undefined;
  /** The prompt types this preset offers (empty when it has a single prompt). */
  promptTypes: string[];
}

type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * Values merged over a preset: any subset of description, prompt, negativePrompt, generation,
 * background, compositing. Objects merge key by key; arrays replace; `generation.resolution`
 * replaces as a whole; a `background` with a different `type` replaces the background.
 */
export type PresetOverrides = DeepPartial<z.input<typeof ResolvedPresetSchema>>;
