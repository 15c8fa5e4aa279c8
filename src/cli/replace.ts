/**
 * `bg-native replace` (the default command): every option of replaceBackground as a flag.
 *
 * Flags only convert text (numbers, lists, JSON); ranges, enums and combinations are checked by
 * ReplaceOptionsSchema inside replaceBackground, so the CLI, the library and the server agree.
 * A value that is not even a number is a usage error (exit 2); a number out of range is the
 * library's E_BAD_INPUT (exit 1), with the field's flag named next to it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Command, InvalidArgumentError, Option } from 'commander';

import { parseLoraSpec } from '../engines/lora-spec.js';
import { BgNativeError } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../image/atomic-write.js';
import {
  DeviceSchema, DiffusionPrecisionSchema, SamplerNameSchema, type ReplaceOptions, type ReplaceProgress, type ShadowOption,
} from '../options.js';
import type { CleanupResult } from '../pipeline/cleanup.js';
import { replaceBackground, type ReplaceResult } from '../pipeline/replace.js';
import { toResultMetadata } from '../result-format.js';
import { studioOptions } from './studio-flags.js';
import { addOptions, glassFlagOptions, glassFromFlags, promptFlagOptions, promptFromFlags, type SubjectFlags } from './subject-flags.js';

/** Where the CLI writes; the same shape as index.ts's CliIO (kept structural to avoid an import cycle). */
export interface ReplaceIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: batch mode draws a progress bar instead of one line per photo. */
  isTTY?: boolean;
  /** Width of that terminal. */
  columns?: number;
}

/** The flags commander hands the action (attribute names as commander derives them). */
export interface ReplaceFlags extends SubjectFlags {
  in: string;
  out: string;
  preset?: string;
  promptType?: string;
  presetDir?: string[];
  prompt?: string;
  negativePrompt?: string;
  engine?: string;
  seed?: number;
  steps?: number;
  guidanceScale?: number;
  strength?: number;
  sampler?: string;
  lora?: string[];
  vae?: string;
  diffusionModel?: string;
  tokenizer?: string;
  model?: string;
  variant?: 'medium' | 'small';
  device?: string;
  precision?: string;
  threads?: number;
  maxPixels?: number;
  refine?: boolean;
  cleanPlate?: string;
  secondIn?: string;
  secondCleanPlate?: string;
  enhanceFg?: boolean;
  matchColors?: boolean | number;
  feather?: boolean | number;
  shadow?: boolean | string;
  shadowOpacity?: number;
  shadowAngle?: number;
  shadowSoftness?: number;
  shadowDistance?: number;
  decontaminate?: boolean;
  padding?: number | { top: number; right: number; bottom: number; left: number };
  outputSize?: string;
  aspect?: string | number;
  overrides?: string;
  format?: string;
  quality?: number | 'draft' | 'final';
  maskOut?: string;
  json?: boolean;
  progress?: boolean;
  /** Batch mode: photos at once. */
  concurrency?: number;
  /** Batch mode: leave photos whose output exists. */
  skipExisting?: boolean;
}

/** A whole number ≥ 1 (counts the CLI itself uses). */
function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1, got ${JSON.stringify(value)}.`);
    return n;
  };
}

/** A finite number; its range is the schema's business. */
function num(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number, got ${JSON.stringify(value)}.`);
    return n;
  };
}

/** '0.1' (all sides), '0.1,0.2' (top/bottom, left/right) or '0.1,0.2,0.1,0.2' (top, right, bottom, left). */
export function parsePadding(value: string): number | { top: number; right: number; bottom: number; left: number } {
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n)) || ![1, 2, 4].includes(nums.length)) {
    throw new InvalidArgumentError(`--padding must be one fraction (0.1), two (top/bottom,left/right) or four (top,right,bottom,left), got ${JSON.stringify(value)}.`);
  }
  if (nums.length === 1) return nums[0]!;
  const [top, right, bottom, left] = nums.length === 2 ? [nums[0]!, nums[1]!, nums[0]!, nums[1]!] : (nums as [number, number, number, number]);
  return { top, right, bottom, left };
}

/** 'draft' and 'final' stay words; anything else is the encode quality number (its range is the schema's). */
function parseQuality(value: string): number | 'draft' | 'final' {
  const word = value.trim().toLowerCase();
  if (word === 'draft' || word === 'final') return word;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`--quality must be a number from 1 to 100, draft or final, got ${JSON.stringify(value)}.`);
  }
  return n;
}

/** '4:5' stays text for the schema; a plain number ('1.5') is the width/height ratio. */
function parseAspect(value: string): string | number {
  return /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
}

/** `--overrides '{"background":{"type":"solid","color":"#fff"}}'` or `--overrides @file.json`. */
export function parseOverrides(value: string): Record<string, unknown> {
  let text = value;
  let where = '--overrides';
  if (value.startsWith('@')) {
    const file = value.slice(1);
    where = `--overrides file ${file}`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new BgNativeError('E_BAD_INPUT', `Cannot read ${where}: ${(err as Error).message}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BgNativeError('E_BAD_INPUT', `${where} is not valid JSON (${(err as Error).message}). Pass a JSON object or @file.json.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BgNativeError('E_BAD_INPUT', `${where} must be a JSON object such as {"background":{"type":"solid","color":"#ffffff"}}.`);
  }
  return parsed as Record<string, unknown>;
}

/** Flags → the options replaceBackground takes (validation is the library's). */
export function replaceOptionsFromFlags(f: ReplaceFlags): ReplaceOptions {
  const o: ReplaceOptions = { input: f.in, output: f.out };
  if (f.preset !== undefined) o.preset = f.preset;
  if (f.promptType !== undefined) o.promptType = f.promptType;
  if (f.presetDir?.length) o.presetDirs = f.presetDir;
  if (f.overrides !== undefined) o.overrides = parseOverrides(f.overrides);
  if (f.prompt !== undefined) o.prompt = f.prompt;
  const subject = promptFromFlags(f);
  if (subject) o.prompt = { ...(f.prompt !== undefined ? { text: f.prompt } : {}), ...subject };
  const glass = glassFromFlags(f);
  if (glass !== undefined) o.glass = glass;
  if (f.negativePrompt !== undefined) o.negativePrompt = f.negativePrompt;
  if (f.engine !== undefined) o.engine = f.engine as ReplaceOptions['engine'];
  if (f.seed !== undefined) o.seed = f.seed;
  if (f.steps !== undefined) o.steps = f.steps;
  if (f.guidanceScale !== undefined) o.guidanceScale = f.guidanceScale;
  if (f.strength !== undefined) o.strength = f.strength;
  if (f.sampler !== undefined) o.sampler = f.sampler as ReplaceOptions['sampler'];
  if (f.lora?.length) o.loras = f.lora.map((s) => parseLoraSpec(s));
  if (f.vae !== undefined) o.vae = f.vae;
  const model: NonNullable<ReplaceOptions['model']> = {};
  if (f.diffusionModel !== undefined) model.diffusion = f.diffusionModel;
  if (f.tokenizer !== undefined) model.tokenizer = f.tokenizer;
  if (f.precision !== undefined) model.precision = f.precision as NonNullable<ReplaceOptions['model']>['precision'];
  if (f.model !== undefined) {
    // The seeds' `--model path` names the Stable Diffusion weights; ours names the segmentation
    // model. An .onnx file is a segmentation model, anything else (.safetensors, .gguf, a
    // diffusers folder) the diffusion model — unless --diffusion-model already gave that.
    if (/\.onnx$/i.test(f.model) || f.diffusionModel !== undefined) model.segmentation = f.model;
    else model.diffusion = f.model;
  }
  if (Object.keys(model).length) o.model = model;
  if (f.variant !== undefined) o.segmentation = { variant: f.variant };
  if (f.device !== undefined) o.device = f.device as ReplaceOptions['device'];
  if (f.threads !== undefined) o.threads = f.threads;
  if (f.maxPixels !== undefined) o.maxPixels = f.maxPixels;
  if (f.refine === false) o.refine = false;
  Object.assign(o, studioOptions(f));
  if (f.enhanceFg) o.enhanceFg = true;
  if (f.matchColors !== undefined) o.matchColors = f.matchColors;
  if (f.feather !== undefined) o.featherEdges = f.feather;
  if (f.decontaminate === false) o.decontaminate = false;

  const shadowDetail: Exclude<ShadowOption, boolean> = {};
  if (typeof f.shadow === 'string') shadowDetail.kind = f.shadow as 'contact' | 'drop';
  if (f.shadowOpacity !== undefined) shadowDetail.opacity = f.shadowOpacity;
  if (f.shadowAngle !== undefined) shadowDetail.angle = f.shadowAngle;
  if (f.shadowSoftness !== undefined) shadowDetail.softness = f.shadowSoftness;
  if (f.shadowDistance !== undefined) shadowDetail.distance = f.shadowDistance;
  if (f.shadow === false) {
    if (Object.keys(shadowDetail).length) {
      throw new BgNativeError('E_BAD_INPUT', '--no-shadow cannot be combined with --shadow-opacity/-angle/-softness/-distance.');
    }
    o.shadow = false;
  } else if (Object.keys(shadowDetail).length) {
    o.shadow = shadowDetail;
  } else if (f.shadow === true) {
    o.shadow = true;
  }

  const framing: NonNullable<ReplaceOptions['framing']> = {};
  if (f.padding !== undefined) framing.padding = f.padding;
  if (f.outputSize !== undefined) framing.outputSize = f.outputSize;
  if (f.aspect !== undefined) framing.aspectRatio = f.aspect;
  if (Object.keys(framing).length) o.framing = framing;

  if (f.format !== undefined) o.format = f.format as ReplaceOptions['format'];
  if (f.quality !== undefined) o.quality = f.quality;
  return o;
}

/** Option fields whose flag has another name: named next to the field in validation errors. */
const FIELD_FLAGS: Record<string, string> = {
  input: '--in',
  output: '--out',
  promptType: '--prompt-type',
  presetDirs: '--preset-dir',
  negativePrompt: '--negative-prompt',
  guidanceScale: '--guidance',
  'model.diffusion': '--diffusion-model',
  'model.segmentation': '--model',
  'model.tokenizer': '--tokenizer',
  maxPixels: '--max-pixels',
  cleanPlate: '--clean-plate',
  'second.input': '--second-in',
  'second.cleanPlate': '--second-clean-plate',
  'prompt.box': '--box',
  'prompt.points': '--point',
  glass: '--glass',
  'glass.transmission': '--glass-transmission',
  'glass.tint': '--glass-tint',
  matchColors: '--match-colors',
  featherEdges: '--feather',
  'shadow.kind': '--shadow',
  'shadow.opacity': '--shadow-opacity',
  'shadow.angle': '--shadow-angle',
  'shadow.softness': '--shadow-softness',
  'shadow.distance': '--shadow-distance',
  'framing.padding': '--padding',
  'framing.outputSize': '--output-size',
  'framing.aspectRatio': '--aspect',
};

/** "`guidanceScale` must be…" → "`guidanceScale` (--guidance) must be…", so the user finds the flag. */
export function withFlagNames(message: string): string {
  return message.replace(/`([A-Za-z][\w.]*)`/g, (whole, field: string) => {
    const flag = FIELD_FLAGS[field] ?? FIELD_FLAGS[field.split('.').slice(0, 2).join('.')];
    return flag ? `${whole} (${flag})` : whole;
  });
}

/**
 * The result as printed by --json: the result format (src/result-format.ts; artifacts as absolute
 * paths, `mask: null` without --mask-out) after the CLI's own `command` and `input`, and `output`/
 * `mask` also at the top level as before.
 */
export function resultJson(
  r: ReplaceResult | CleanupResult,
  input: string,
  mask: string | null,
): Record<string, unknown> {
  const output = r.artifacts.output as string;
  const command = 'mode' in r ? 'cleanup' : 'replace';
  return { command, input, output, mask, ...toResultMetadata(r, { output, mask }) };
}

function progressLine(p: ReplaceProgress): string {
  const pct = `${Math.round(p.progress * 100)}%`.padStart(4);
  const steps = p.step !== undefined && p.steps !== undefined ? ` step ${p.step}/${p.steps}` : '';
  return `bg-native: progress ${pct} ${p.stage}${steps}\n`;
}

async function runReplace(f: ReplaceFlags, io: ReplaceIO): Promise<void> {
  const options = replaceOptionsFromFlags(f);
  if (f.maskOut) await checkWritable(f.maskOut);

  // Ctrl-C cancels the job (the library throws E_CANCELLED and writes nothing); a second one quits.
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      io.stderr('bg-native: cancelling… (Ctrl-C again to quit at once)\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  options.signal = controller.signal;
  if (f.progress) options.onProgress = (p) => io.stderr(progressLine(p));

  let result: ReplaceResult;
  try {
    result = await replaceBackground(options);
  } catch (err) {
    if (err instanceof BgNativeError && err.code === 'E_BAD_INPUT') {
      throw new BgNativeError('E_BAD_INPUT', withFlagNames(err.message), { cause: err });
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }

  let mask: string | null = null;
  if (f.maskOut) {
    mask = path.resolve(f.maskOut);
    await writeFileAtomic(mask, result.artifacts.mask);
  }
  if (f.json) io.stdout(JSON.stringify(resultJson(result, f.in, mask)) + '\n');
}

/** Adds `replace` to the program as its default command. */
export function registerReplaceCommand(program: Command, io: ReplaceIO): Command {
  const cmd = program
    .command('replace', { isDefault: true })
    .description('put the subject on a new background (the default command)')
    .usage('--in <photo|dir|glob> --out <file|dir> [options]')
    .exitOverride()
    .allowExcessArguments(true)
    .optionsGroup('Input and output:')
    .requiredOption('-i, --in <photo|dir|glob>', "input photo (JPEG, PNG, WebP, TIFF, GIF, AVIF); a folder or a quoted glob ('photos/*.jpg') runs a batch")
    .requiredOption('-o, --out <file|dir>', 'output file, written atomically; a folder in batch mode')
    .addOption(new Option('--format <fmt>', 'output format (default: from --out, else png)').choices(['png', 'jpeg', 'jpg', 'webp']))
    .option('--quality <q>', "JPEG/WebP quality 1-100 (default 90); draft: decode with the tiny autoencoder (TAESD)", parseQuality)
    .option('--mask-out <file|dir>', 'also write the mask (greyscale PNG, output size); a folder in batch mode')
    .option('--json', 'print the result metadata as one JSON line (batch: one line per photo)')
    .option('--progress', 'print progress lines on stderr')
    .optionsGroup('Batch (--in is a folder or a glob):')
    .option('--concurrency <n>', 'photos processed at once (default 1: one job already uses every core)', positiveInt('--concurrency'))
    .option('--skip-existing', 'leave photos whose output file already exists')
    .optionsGroup('Preset:')
    .option('-p, --preset <name>', 'product-studio (default), minimalist, studio-gradient, …')
    .option('--prompt-type <type>', 'prompt type of the preset (vitrinealu: studio, garden, minimal, lifestyle)')
    .option('--preset-dir <dir>', 'extra folder of preset .yaml files (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--overrides <json|@file>', 'JSON object merged over the preset, or @file.json')
    .optionsGroup('Background engine:')
    .option('--engine <name>', 'auto (default), local, runway, studio; SDXL = local')
    .option('--seed <n>', 'seed for a repeatable result (default random)', num('--seed'))
    .option('--prompt <text>', "background prompt (default: the preset's)")
    .option('--negative-prompt <text>', "what the background must not show")
    .option('--steps <n>', 'diffusion steps, 1-150', num('--steps'))
    .option('--guidance, --guidance-scale <g>', 'classifier-free guidance, 0-30', num('--guidance'))
    .option('--strength <s>', 'how far to repaint the old background, 0-1', num('--strength'))
    .addOption(new Option('--sampler <name>', 'diffusion sampler').choices(SamplerNameSchema.options))
    .option('--diffusion-model <path>', 'SD checkpoint or diffusers folder (env BG_DIFFUSION_MODEL)')
    .option('--tokenizer <dir>', 'CLIP tokenizer folder (env BG_CLIP_TOKENIZER)')
    .option('--lora <file[:scale]>', 'LoRA .safetensors merged into the local model, scale -4 to 4 (repeatable; env BG_LORAS)',
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--vae <taesd|full|path>', "what decodes the local engine's result: full (default), taesd (env BG_TAESD) or a TAESD path")
    .addOption(new Option('--device <name>', 'where the local engine runs (default auto)').choices(DeviceSchema.options))
    .addOption(
      new Option('--precision <p>', 'UNet compute on the CPU: auto (default; bf16 with AVX512-BF16), f32, bf16')
        .choices(DiffusionPrecisionSchema.options),
    )
    .optionsGroup('Cut-out:')
    .option('-m, --model <path>', 'an .onnx file: the segmentation model (env BG_SEG_MODEL); otherwise the SD weights, as --diffusion-model')
    .addOption(new Option('--variant <name>', '@imgly model (default medium)').choices(['medium', 'small']))
    .option('--no-refine', 'skip the full-resolution mask refinement')
    .option('--max-pixels <n>', 'refuse larger photos (default 100 MP, env BG_MAX_PIXELS)', num('--max-pixels'))
    .option('-t, --threads <n>', 'native worker threads (default: all cores)', num('--threads'))
    .optionsGroup('Product (where it is, its glass):');
  addOptions(cmd, [...promptFlagOptions(), ...glassFlagOptions()])
    .optionsGroup('Studio (tripod shots; see README):')
    .option('--clean-plate <file>', 'the same framing without the product: difference matting (batch: one plate for every photo)')
    .option('--second-in <photo>', 'the product over a second, clearly different backdrop: exact alpha with --second-clean-plate')
    .option('--second-clean-plate <file>', 'the second backdrop without the product')
    .optionsGroup('Compositing (defaults from the preset):')
    .option('--match-colors [strength]', 'match subject colours to the background, 0-1', num('--match-colors'))
    .option('--no-match-colors', 'keep the subject colours exactly')
    .option('--feather <px>', 'soften the edge, px at a 1024-px long side (0-50)', num('--feather'))
    .option('--no-feather', 'hard edge')
    .addOption(new Option('--shadow [kind]', 'add a shadow').choices(['contact', 'drop']))
    .option('--no-shadow', 'no shadow')
    .option('--shadow-opacity <o>', 'shadow opacity, 0-1', num('--shadow-opacity'))
    .option('--shadow-angle <deg>', 'direction the shadow falls (90 = down)', num('--shadow-angle'))
    .option('--shadow-softness <px>', 'shadow blur, px at a 1024-px long side', num('--shadow-softness'))
    .option('--shadow-distance <px>', 'shadow offset, px at a 1024-px long side', num('--shadow-distance'))
    .option('--no-decontaminate', "leave the old background's colour in edge pixels")
    .option('--enhance-fg', 'auto levels + mild sharpening on the subject')
    .optionsGroup('Framing (subject centred):')
    .option('--padding <f|t,r,b,l>', 'margin as a fraction of the side, 0-0.45', parsePadding)
    .option('--output-size <WxH>', 'output size in pixels, e.g. 2000x2000')
    .option('--aspect <W:H>', 'output aspect ratio, e.g. 4:5 or 1.5', parseAspect)
    .optionsGroup('Help:');

  cmd.action(async (flags: ReplaceFlags, self: Command) => {
    if (self.args.length) {
      const known = program.commands.map((c) => c.name()).join(', ');
      self.error(`unknown command or stray argument ${JSON.stringify(self.args[0])} (commands: ${known}; photos go after --in)`, { exitCode: 2 });
    }
    const batch = await import('./batch.js');
    if (batch.isBatchInput(flags.in)) await batch.runBatch(flags, io);
    else {
      if (flags.concurrency !== undefined || flags.skipExisting) {
        throw new BgNativeError('E_BAD_INPUT', '--concurrency and --skip-existing apply to batches: give a folder or a quoted glob as --in.');
      }
      await runReplace(flags, io);
    }
  });
  cmd.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  bg-native --in chair.jpg --out chair.png --preset product-studio --engine studio',
      '  bg-native --in chair.jpg --out chair.jpg --preset vitrinealu --prompt-type garden --seed 42 --json',
      "  bg-native --in photos/ --out out/                      every photo in photos/ → out/<name>.png",
      "  bg-native --in 'shoot/**/*.jpg' --out out/ --format jpeg --concurrency 2 --json",
      '',
      'Batch mode: outputs keep the path below the folder (or below the glob\'s fixed part) with the',
      "format's extension; a progress bar shows on a terminal, one line per photo otherwise, then a",
      'summary. Exit status 1 when any photo failed, 130 after Ctrl-C.',
    ].join('\n'),
  );
  return cmd;
}
