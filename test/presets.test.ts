import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

import { BgNativeError, type ErrorCode } from '../src/errors.js';
import { clearPresetCache, getPreset, listPresets, resetDefaultContext } from '../src/index.js';
import { PresetFileSchema } from '../src/presets/schema.js';

const BUILTIN = ['minimalist', 'nature-scene', 'portrait-outdoor', 'product-studio', 'studio-gradient', 'vitrinealu'];
const builtinDir = path.resolve(import.meta.dirname, '..', 'presets');

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'bgn-presets-'));
let dirCount = 0;

/** A fresh user preset folder holding the given files (name → YAML text or an object to dump). */
function userDir(files: Record<string, string | object>): string {
  const dir = path.join(tmpRoot, `d${dirCount++}`);
  fs.mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof body === 'string' ? body : stringify(body));
  }
  return dir;
}

/** The built-in minimalist preset as a plain object, renamed, to start a user preset from. */
function minimalistAs(name: string): Record<string, unknown> {
  const data = parse(fs.readFileSync(path.join(builtinDir, 'minimalist.yaml'), 'utf8')) as Record<string, unknown>;
  return { ...data, name };
}

function thrown(fn: () => unknown, code: ErrorCode): BgNativeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BgNativeError);
    expect((err as BgNativeError).code).toBe(code);
    return err as BgNativeError;
  }
  throw new Error(`expected ${code}`);
}

const savedEnv = process.env.BG_PRESET_DIRS;
beforeEach(() => {
  delete process.env.BG_PRESET_DIRS;
  resetDefaultContext();
  clearPresetCache();
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env.BG_PRESET_DIRS;
  else process.env.BG_PRESET_DIRS = savedEnv;
  clearPresetCache();
  resetDefaultContext();
});
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

describe('presets', () => {
  it('ships presets that all validate against the schema', () => {
    const files = fs.readdirSync(builtinDir).filter((f) => f.endsWith('.yaml'));
    expect(files.map((f) => path.basename(f, '.yaml')).sort()).toEqual(BUILTIN);
    for (const f of files) {
      const raw: unknown = parse(fs.readFileSync(path.join(builtinDir, f), 'utf8'));
      const result = PresetFileSchema.safeParse(raw);
      expect(result.success, `${f}: ${result.error?.message}`).toBe(true);
      const preset = getPreset(path.basename(f, '.yaml'));
      expect(preset.prompt.length).toBeGreaterThan(20);
      expect(preset.negativePrompt.length).toBeGreaterThan(0);
    }
  });

  it('lists every preset name sorted', () => {
    expect(listPresets()).toEqual(BUILTIN);
  });

  it('gives vitrinealu the prompt types studio, garden, minimal, lifestyle and a negative prompt', () => {
    const studio = getPreset('vitrinealu');
    expect(studio.promptTypes).toEqual(['garden', 'lifestyle', 'minimal', 'studio']);
    expect(studio.promptType).toBe('studio');
    expect(studio.negativePrompt).toMatch(/watermark/);
    const prompts = new Set(studio.promptTypes.map((t) => getPreset('vitrinealu', { promptType: t }).prompt));
    expect(prompts.size).toBe(4);
    expect(getPreset('vitrinealu', { promptType: 'garden' }).prompt).toMatch(/garden/);
    expect(getPreset('vitrinealu', { promptType: 'garden' }).negativePrompt).toBe(studio.negativePrompt);
  });

  it('lets overrides win over preset values, merging nested objects', () => {
    const base = getPreset('product-studio');
    const p = getPreset('product-studio', {
      overrides: {
        prompt: 'on a marble table',
        generation: { steps: 12 },
        compositing: { shadow: { enabled: false } },
      },
    });
    expect(p.prompt).toBe('on a marble table');
    expect(p.generation.steps).toBe(12);
    expect(p.generation.sampler).toBe(base.generation.sampler);
    expect(p.compositing.shadow.enabled).toBe(false);
    expect(p.compositing.shadow.opacity).toBe(base.compositing.shadow.opacity);
    expect(
      getPreset('product-studio', { overrides: { background: { type: 'solid', color: '#fff' } } }).background,
    ).toEqual({
      type: 'solid',
      color: '#fff',
    });
    expect(
      getPreset('product-studio', { overrides: { generation: { resolution: { width: 512, height: 768 } } } }).generation
        .resolution,
    ).toEqual({
      width: 512,
      height: 768,
    });
    expect(getPreset('product-studio').generation.steps).toBe(base.generation.steps);
  });

  it('validates overrides after merging, naming the field', () => {
    const err = thrown(() => getPreset('product-studio', { overrides: { generation: { steps: 500 } } }), 'E_BAD_INPUT');
    expect(err.message).toMatch(/generation\.steps: expected a whole number from 1 to 150, got 500/);
    const unknown = thrown(() => getPreset('product-studio', { overrides: { colour: 'red' } as never }), 'E_BAD_INPUT');
    expect(unknown.message).toMatch(/colour: unknown field/);
  });

  it('adds presets from a user folder and lets them override built-ins of the same name', () => {
    const dir = userDir({
      'my-shop.yaml': minimalistAs('my-shop'),
      'product-studio.yaml': { ...minimalistAs('product-studio'), description: 'Our own packshot look.' },
    });
    expect(listPresets({ presetDirs: [dir] })).toEqual([...BUILTIN, 'my-shop'].sort());
    expect(getPreset('my-shop', { presetDirs: [dir] }).file).toBe(path.join(dir, 'my-shop.yaml'));
    expect(getPreset('product-studio', { presetDirs: [dir] }).description).toBe('Our own packshot look.');
    expect(getPreset('product-studio').description).not.toBe('Our own packshot look.');
  });

  it('reads user folders from BG_PRESET_DIRS', () => {
    const a = userDir({ 'alpha.yaml': minimalistAs('alpha') });
    const b = userDir({ 'beta.yaml': minimalistAs('beta') });
    process.env.BG_PRESET_DIRS = [a, b].join(path.delimiter);
    resetDefaultContext(); // the package's functions read the environment again
    expect(listPresets()).toEqual([...BUILTIN, 'alpha', 'beta'].sort());
  });

  it('reports a YAML syntax error as E_CONFIG with the file and line', () => {
    const dir = userDir({ 'broken.yaml': 'name: broken\ndescription: "unterminated\ngeneration: [\n' });
    const err = thrown(() => listPresets({ presetDirs: [dir] }), 'E_CONFIG');
    expect(err.message).toContain(path.join(dir, 'broken.yaml'));
    expect(err.message).toMatch(/line \d+, column \d+/);
  });

  it('reports an unknown key as E_CONFIG naming the file and field', () => {
    const data = minimalistAs('typo');
    const dir = userDir({ 'typo.yaml': { ...data, generation: { ...(data.generation as object), stepz: 20 } } });
    const err = thrown(() => listPresets({ presetDirs: [dir] }), 'E_CONFIG');
    expect(err.message).toContain(`${path.join(dir, 'typo.yaml')}: generation.stepz: unknown field`);
  });

  it('reports a value of the wrong type as E_CONFIG naming the file, field and value', () => {
    const data = minimalistAs('wrong');
    const dir = userDir({ 'wrong.yaml': { ...data, generation: { ...(data.generation as object), steps: 'abc' } } });
    const err = thrown(() => listPresets({ presetDirs: [dir] }), 'E_CONFIG');
    expect(err.message).toContain(
      `${path.join(dir, 'wrong.yaml')}: generation.steps: expected a whole number from 1 to 150, got "abc"`,
    );
  });

  it('reports an out-of-range value as E_CONFIG naming the file and field', () => {
    const data = minimalistAs('range');
    const compositing = data.compositing as Record<string, unknown>;
    const dir = userDir({ 'range.yaml': { ...data, compositing: { ...compositing, matchColors: 1.5 } } });
    const err = thrown(() => listPresets({ presetDirs: [dir] }), 'E_CONFIG');
    expect(err.message).toContain(
      `${path.join(dir, 'range.yaml')}: compositing.matchColors: expected a number from 0 to 1, got 1.5`,
    );
  });

  it('rejects an unknown preset, listing the valid names', () => {
    const err = thrown(() => getPreset('sunset-beach'), 'E_BAD_INPUT');
    expect(err.message).toContain('sunset-beach');
    expect(err.message).toContain(BUILTIN.join(', '));
  });

  it('rejects an unknown prompt type, listing the valid ones', () => {
    const err = thrown(() => getPreset('vitrinealu', { promptType: 'beach' }), 'E_BAD_INPUT');
    expect(err.message).toContain('garden, lifestyle, minimal, studio');
  });
});
