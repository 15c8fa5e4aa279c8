/**
 * Where the product is and how its glass is treated, as flags: --box x,y,w,h and --point x,y[,label]
 * (repeatable) become `prompt`; --glass auto|off, --glass-transmission and --glass-tint become
 * `glass`. Shared by segment, cleanup and replace (and so by the batch mode).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

import { BgNativeError } from '../errors.js';
import type { GlassOption, SegmentPrompt } from '../options.js';

export type PromptPointFlag = { x: number; y: number; label: 0 | 1 };

export interface SubjectFlags {
  box?: [number, number, number, number] | undefined;
  point?: PromptPointFlag[] | undefined;
  glass?: string | undefined;
  glassTransmission?: number | undefined;
  glassTint?: string | undefined;
}

function numbers(flag: string, v: string, min: number, max: number): number[] {
  const parts = v.split(',').map((x) => (x.trim() === '' ? NaN : Number(x.trim())));
  if (parts.length < min || parts.length > max || parts.some((x) => !Number.isFinite(x))) {
    const count = min === max ? `${min}` : `${min} or ${max}`;
    throw new InvalidArgumentError(`${flag} takes ${count} comma-separated numbers, got '${v}'.`);
  }
  return parts;
}

/** --box x,y,w,h in photo pixels. */
export function parseBoxFlag(v: string): [number, number, number, number] {
  return numbers('--box', v, 4, 4) as [number, number, number, number];
}

/** --point x,y[,label], label 1 (product, default) or 0 (not product); repeatable. */
export function parsePointFlag(v: string, prev: PromptPointFlag[] = []): PromptPointFlag[] {
  const [x, y, label = 1] = numbers('--point', v, 2, 3);
  if (label !== 0 && label !== 1) {
    throw new InvalidArgumentError(`--point's label must be 1 (product) or 0 (not product), got ${label}.`);
  }
  return [...prev, { x: x!, y: y!, label }];
}

function parseTransmission(v: string): number {
  const t = Number(v);
  if (v.trim() === '' || !Number.isFinite(t) || t < 0 || t > 1) {
    throw new InvalidArgumentError(`--glass-transmission takes the share of light passing the glass, 0-1, got '${v}'.`);
  }
  return t;
}

/** --box and --point, for a command's options. */
export function promptFlagOptions(): Option[] {
  return [
    new Option('--box <x,y,w,h>', "the product's box in photo pixels: nothing outside it is kept").argParser(
      parseBoxFlag,
    ),
    new Option(
      '--point <x,y[,label]>',
      'a point on the product (label 1, default) or off it (0); repeatable',
    ).argParser(parsePointFlag),
  ];
}

/** --glass, --glass-transmission and --glass-tint, for a command's options. */
export function glassFlagOptions(): Option[] {
  return [
    new Option('--glass <mode>', 'panes and glassware: auto (default: found and made see-through) or off').choices([
      'auto',
      'off',
    ]),
    new Option(
      '--glass-transmission <t>',
      "share of light the product's glass lets through, 0-1 (default 0.9)",
    ).argParser(parseTransmission),
    new Option('--glass-tint <colour>', "the glass's own colour, e.g. '#c8dcd8'"),
  ];
}

/** Adds options to a command. */
export function addOptions(cmd: Command, options: Option[]): Command {
  for (const o of options) cmd.addOption(o);
  return cmd;
}

/** --box / --point → `prompt` (undefined without either). */
export function promptFromFlags(f: SubjectFlags): SegmentPrompt | undefined {
  if (f.box === undefined && !f.point?.length) return undefined;
  return { ...(f.box ? { box: f.box } : {}), ...(f.point?.length ? { points: f.point } : {}) };
}

/** --glass / --glass-transmission / --glass-tint → `glass` (undefined: the library's default). */
export function glassFromFlags(f: SubjectFlags): GlassOption | undefined {
  const detail = f.glassTransmission !== undefined || f.glassTint !== undefined;
  if (f.glass === 'off' && detail) {
    const flag = f.glassTransmission !== undefined ? '--glass-transmission' : '--glass-tint';
    throw new BgNativeError('E_BAD_INPUT', `${flag} describes the glass that --glass off ignores: drop one of them.`);
  }
  if (detail) {
    return {
      ...(f.glassTransmission !== undefined ? { transmission: f.glassTransmission } : {}),
      ...(f.glassTint !== undefined ? { tint: f.glassTint } : {}),
    };
  }
  return f.glass === 'auto' || f.glass === 'off' ? f.glass : undefined;
}
