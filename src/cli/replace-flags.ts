/**
 * The flags of `bg-native replace` and what they become: text → the options replaceBackground
 * takes (numbers, lists, JSON only; ranges, enums and combinations are the schema's business), and
 * the schema's messages → the same messages with each field's flag named next to it. Shared by the
 * single-photo run (replace.ts) and batch mode (batch.ts).
 */
import { readFileSync } from 'node:fs';

import { InvalidArgumentError } from 'commander';

import { parseLoraSpec } from '../engines/lora-spec.js';
import { BgNativeError } from '../errors.js';
import type { ReplaceOptions, ShadowOption } from '../options.js';
import { studioOptions } from './studio-flags.js';
import { glassFromFlags, promptFromFlags, type SubjectFlags } from './subject-flags.js';

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
export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1, got ${JSON.stringify(value)}.`);
    }
    return n;
  };
}

/** A finite number; its range is the schema's business. */
export function num(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${flag} must be a number, got ${JSON.stringify(value)}.`);
    }
    return n;
  };
}

/** '0.1' (all sides), '0.1,0.2' (top/bottom, left/right) or '0.1,0.2,0.1,0.2' (top, right, bottom, left). */
export function parsePadding(value: string): number | { top: number; right: number; bottom: number; left: number } {
  const parts = value.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n)) || ![1, 2, 4].includes(nums.length)) {
    throw new InvalidArgumentError(
      '--padding must be one fraction (0.1), two (top/bottom,left/right) or four (top,right,bottom,left), ' +
        `got ${JSON.stringify(value)}.`,
    );
  }
  if (nums.length === 1) return nums[0]!;
  const [top, right, bottom, left] =
    nums.length === 2 ? [nums[0]!, nums[1]!, nums[0]!, nums[1]!] : (nums as [number, number, number, number]);
  return { top, right, bottom, left };
}

/** 'draft' and 'final' stay words; anything else is the encode quality number (its range is the schema's). */
export function parseQuality(value: string): number | 'draft' | 'final' {
  const word = value.trim().toLowerCase();
  if (word === 'draft' || word === 'final') return word;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new InvalidArgumentError(
      `--quality must be a number from 1 to 100, draft or final, got ${JSON.stringify(value)}.`,
    );
  }
  return n;
}

/** '4:5' stays text for the schema; a plain number ('1.5') is the width/height ratio. */
export function parseAspect(value: string): string | number {
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
    throw new BgNativeError(
      'E_BAD_INPUT',
      `${where} is not valid JSON (${(err as Error).message}). Pass a JSON object or @file.json.`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `${where} must be a JSON object such as {"background":{"type":"solid","color":"#ffffff"}}.`,
    );
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
      throw new BgNativeError(
        'E_BAD_INPUT',
        '--no-shadow cannot be combined with --shadow-opacity/-angle/-softness/-distance.',
      );
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
