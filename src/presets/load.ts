/**
 * Loads, validates and resolves presets.
 *
 * Presets come from the package's `presets/` folder, then from the library's configured folders
 * (a context's `presetDirs`: env `BG_PRESET_DIRS`, separated by the platform's path delimiter,
 * ':' or ';'), then from the call's `presetDirs` option, in that order; a preset whose name is
 * already known replaces the earlier one, so a user folder can override a built-in preset. Every
 * `*.yaml` file in each folder is a preset whose `name` must equal the file name without `.yaml`.
 * Any invalid file is an E_CONFIG error naming the file and the field (YAML syntax errors name the
 * line and column).
 *
 * Each context has its own PresetLibrary, which caches the folder sets it loaded; `clear()`
 * forgets them (tests, or after editing files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';

import { BgNativeError, type ErrorCode } from '../errors.js';
import { deepMerge } from '../util/deep-merge.js';
import { describeValue, issueLines } from '../util/zod-issues.js';
import {
  PresetFileSchema,
  ResolvedPresetSchema,
  type Preset,
  type PresetFile,
  type PresetOverrides,
} from './schema.js';

/** src/presets/load.ts and dist/presets/load.js both sit two levels below the package root. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILTIN_DIR = path.join(packageRoot, 'presets');

export interface PresetSourceOptions {
  /** Extra preset folders; they win over the configured ones (BG_PRESET_DIRS) and the built-in presets. */
  presetDirs?: readonly string[];
}

export interface GetPresetOptions extends PresetSourceOptions {
  /** One of the preset's prompt types (e.g. vitrinealu's 'garden'); default: the preset's default. */
  promptType?: string;
  /** Values merged over the preset (see `PresetOverrides`); validated after merging. */
  overrides?: PresetOverrides;
}

interface LoadedPreset {
  file: string;
  data: PresetFile;
}

/** The presets of the built-in folder and `configuredDirs`, with the folder sets loaded so far. */
export class PresetLibrary {
  private readonly cache = new Map<string, Map<string, LoadedPreset>>();

  /** `configuredDirs`: the folders after the built-in ones (a context's presetDirs, BG_PRESET_DIRS). */
  constructor(private readonly configuredDirs: readonly string[] = []) {}

  /** Forgets every loaded preset folder; the next call reads the files again. */
  clear(): void {
    this.cache.clear();
  }

  /** The names of all presets (built-in and user folders), sorted. */
  list(options: PresetSourceOptions = {}): string[] {
    return [...loadAll(this.dirs(options), this.cache).keys()].sort();
  }

  /** A preset as written in its file (validated, defaults filled in), and where it came from. */
  getFile(name: string, options: PresetSourceOptions = {}): { name: string; file: string; data: PresetFile } {
    return presetFile(loadAll(this.dirs(options), this.cache), name);
  }

  /**
   * A preset by name, with its prompt type chosen and `overrides` merged over it.
   * Unknown name or prompt type, or invalid overrides → E_BAD_INPUT.
   */
  get(name: string, options: GetPresetOptions = {}): Preset {
    return resolvePreset(loadAll(this.dirs(options), this.cache), name, options);
  }

  private dirs(options: PresetSourceOptions): string[] {
    const extra = options.presetDirs ?? [];
    if (!Array.isArray(extra) || extra.some((d) => typeof d !== 'string' || d.trim() === '')) {
      throw new BgNativeError('E_BAD_INPUT', 'presetDirs must be a list of folder paths.');
    }
    return [BUILTIN_DIR, ...this.configuredDirs, ...extra];
  }
}

function presetFile(
  presets: Map<string, LoadedPreset>,
  name: string,
): { name: string; file: string; data: PresetFile } {
  const key = typeof name === 'string' ? name.trim().toLowerCase() : '';
  const entry = presets.get(key);
  if (!entry) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `Unknown preset ${JSON.stringify(name)}. Valid presets: ${[...presets.keys()].sort().join(', ')}.`,
    );
  }
  return structuredClone({ name: entry.data.name, file: entry.file, data: entry.data });
}

function resolvePreset(presets: Map<string, LoadedPreset>, name: string, options: GetPresetOptions): Preset {
  const key = typeof name === 'string' ? name.trim().toLowerCase() : '';
  const entry = presets.get(key);
  if (!entry) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `Unknown preset ${JSON.stringify(name)}. Valid presets: ${[...presets.keys()].sort().join(', ')}.`,
    );
  }
  const { data, file } = entry;
  const promptTypes = data.prompts ? Object.keys(data.prompts).sort() : [];

  let promptType: string | undefined;
  if (options.promptType !== undefined) {
    promptType = typeof options.promptType === 'string' ? options.promptType.trim().toLowerCase() : '';
    if (!data.prompts || !Object.hasOwn(data.prompts, promptType)) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        promptTypes.length
          ? `Unknown prompt type ${JSON.stringify(options.promptType)} for preset ${data.name}. ` +
              `Valid prompt types: ${promptTypes.join(', ')}.`
          : `Preset ${data.name} has no prompt types; leave promptType out or set a prompt.`,
      );
    }
  } else if (data.defaultPromptType !== undefined) {
    promptType = data.defaultPromptType;
  } else if (data.prompt === undefined && data.prompts) {
    promptType = Object.keys(data.prompts)[0];
  }

  const typed = promptType !== undefined ? data.prompts?.[promptType] : undefined;
  const base = {
    description: data.description,
    prompt: typed?.prompt ?? data.prompt ?? '',
    negativePrompt: typed?.negativePrompt ?? data.negativePrompt,
    generation: data.generation,
    background: typed?.background ?? data.background,
    compositing: data.compositing,
    ...(data.styles !== undefined ? { styles: data.styles } : {}),
  };

  let resolved = base;
  if (options.overrides !== undefined) {
    if (options.overrides === null || typeof options.overrides !== 'object' || Array.isArray(options.overrides)) {
      throw new BgNativeError(
        'E_BAD_INPUT',
        `Invalid preset overrides: expected an object, got ${describeValue(options.overrides, 'shape')}.`,
      );
    }
    const merged = deepMerge(base, options.overrides, overrideReplacesWhole);
    resolved = validate(ResolvedPresetSchema, merged, {
      head: `Invalid overrides of preset ${data.name}: `,
      prefix: '',
      join: '; ',
      code: 'E_BAD_INPUT',
    });
  }

  return structuredClone({ name: data.name, file, promptType, promptTypes, ...resolved });
}

// ---- loading --------------------------------------------------------------------------------

function loadAll(dirs: readonly string[], cache: Map<string, Map<string, LoadedPreset>>): Map<string, LoadedPreset> {
  const key = dirs.map((d) => path.resolve(d)).join('\0');
  const hit = cache.get(key);
  if (hit) return hit;

  const presets = new Map<string, LoadedPreset>();
  const problems: string[] = [];
  for (const dir of dirs) {
    const builtin = dir === BUILTIN_DIR;
    let names: string[];
    try {
      names = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(
        code === 'ENOENT' || code === 'ENOTDIR'
          ? `preset folder ${dir} does not exist (check presetDirs / BG_PRESET_DIRS)`
          : `preset folder ${dir} cannot be read: ${(err as Error).message}`,
      );
      continue;
    }
    for (const f of names) {
      const full = path.join(dir, f);
      const shown = builtin ? `presets/${f}` : full;
      try {
        const data = loadFile(full, shown);
        presets.set(data.name, { file: shown, data });
      } catch (err) {
        if (err instanceof BgNativeError && err.code === 'E_CONFIG') problems.push(err.message);
        else throw err;
      }
    }
  }
  if (problems.length) {
    throw new BgNativeError('E_CONFIG', `Invalid presets:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
  cache.set(key, presets);
  return presets;
}

function loadFile(full: string, shown: string): PresetFile {
  let source: string;
  try {
    source = fs.readFileSync(full, 'utf8');
  } catch (err) {
    throw new BgNativeError('E_CONFIG', `${shown}: cannot be read: ${(err as Error).message}`);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { prettyErrors: false, lineCounter });
  if (doc.errors.length) {
    const lines = doc.errors.map((e) => {
      const at = lineCounter.linePos(e.pos[0]);
      return `${shown}: line ${at.line}, column ${at.col}: ${e.message.split('\n')[0]}`;
    });
    throw new BgNativeError('E_CONFIG', lines.join('\n  '));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // e.g. an alias "billion laughs": refused before it expands
    throw new BgNativeError('E_CONFIG', `${shown}: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BgNativeError(
      'E_CONFIG',
      `${shown}: expected a mapping of preset fields, got ${describeValue(raw, 'shape')}`,
    );
  }
  const data = validate(PresetFileSchema, raw, { head: '', prefix: `${shown}: `, join: '\n  ', code: 'E_CONFIG' });
  const stem = path.basename(full, '.yaml');
  if (data.name !== stem) {
    throw new BgNativeError(
      'E_CONFIG',
      `${shown}: name: expected ${JSON.stringify(stem)} (the file name), got ${JSON.stringify(data.name)}`,
    );
  }
  return data;
}

// ---- validation and merging -----------------------------------------------------------------

/** Parses `raw`; on failure throws `code`: `head` then one "<prefix>field: expected …, got …" per issue. */
function validate<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  how: { head: string; prefix: string; join: string; code: ErrorCode },
): z.output<S> {
  const { head, prefix, join, code } = how;
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = issueLines(result.error, raw, {
    unknownKeys: (keys, at) => keys.map((k) => `${prefix}${[...at, k].map(String).join('.')}: unknown field`),
    issue: (issue, field, message, value) => {
      const where = issue.path.length ? `${field}: ` : '';
      const shown = issue.code === 'custom' && value !== null && typeof value === 'object';
      return `${prefix}${where}${message}${shown ? '' : `, got ${describeValue(value, 'shape')}`}`;
    },
  });
  throw new BgNativeError(code, head + lines.join(join));
}

/**
 * Where overrides replace a preset's object whole (see `PresetOverrides` for the rules): the
 * resolution, and a background of another type.
 */
function overrideReplacesWhole(at: readonly string[], base: Record<string, unknown>, over: Record<string, unknown>) {
  const joined = at.join('.');
  if (joined === 'generation.resolution') return true;
  return joined === 'background' && over.type !== undefined && over.type !== base.type;
}
