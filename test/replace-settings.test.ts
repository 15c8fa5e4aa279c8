/**
 * How a replaceBackground call's options combine with its preset: precedence (preset file <
 * overrides < named options), booleans switching preset values, units of lengths, and the
 * messages of malformed framing values.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { clearPresetCache } from '../src/index.js';
import { parseReplaceOptions } from '../src/options.js';
import { resolveReplaceSettings } from '../src/pipeline/replace-settings.js';
import { PresetLibrary } from '../src/presets/load.js';
import { tempDir } from './helpers/paths.js';

const tmp = tempDir();
afterAll(() => {
  clearPresetCache();
  tmp.remove();
});

const presets = new PresetLibrary();
const settings = (o: Record<string, unknown>) =>
  resolveReplaceSettings(parseReplaceOptions({ input: 'x.jpg', ...o }), presets);

describe('replaceBackground settings', () => {
  it('uses product-studio when no preset is named', () => {
    expect(settings({}).preset.name).toBe('product-studio');
  });

  it('lets overrides change the preset and named options win over overrides', () => {
    const s = settings({ overrides: { prompt: 'from overrides', generation: { steps: 12 } }, steps: 20 });
    expect(s.preset.prompt).toBe('from overrides');
    expect(s.preset.generation.steps).toBe(20);
    expect(s.preset.generation.sampler).toBe('dpmpp_2m_karras'); // untouched keys stay
  });

  it('switches preset compositing on and off with booleans and replaces it with numbers', () => {
    expect(settings({ shadow: false }).compose.shadow).toBe(false);
    expect(settings({ matchColors: 0.7 }).compose.matchColors).toBe(0.7);
    expect(settings({ matchColors: false }).compose.matchColors).toBe(0);
    expect(settings({ featherEdges: false }).compose.featherEdges).toBe(0);
    const on = settings({ shadow: { kind: 'drop', opacity: 0.6 } }).compose.shadow;
    expect(on).toMatchObject({ opacity: 0.6, contact: false });
  });

  it('reads a numeric featherEdges as px at a 1024-px long side, whatever the preset was tuned at', () => {
    const dir = path.join(tmp.dir, 'presets');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'big-ref.yaml'),
      [
        'name: big-ref',
        'description: tuned on 4096-px photos',
        'prompt: a plain studio',
        'generation: { steps: 10, guidanceScale: 5, sampler: euler, strength: 1, resolution: { longSide: 1024 } }',
        'background: { type: solid, color: white }',
        'compositing:',
        '  referenceSize: 4096',
        '  featherEdges: 8',
        '  matchColors: 0',
        '  shadow: { enabled: true, kind: drop, softness: 40, distance: 20, opacity: 0.3, angle: 90 }',
      ].join('\n'),
    );
    const preset = settings({ preset: 'big-ref', presetDirs: [dir] });
    expect(preset.compose.featherEdges).toBe(2); // 8 px at 4096 = 2 px at 1024
    expect(preset.compose.shadow).toMatchObject({ softness: 10, distance: 5 });
    const call = settings({ preset: 'big-ref', presetDirs: [dir], featherEdges: 3, shadow: { softness: 12 } });
    expect(call.compose.featherEdges).toBe(3);
    expect(call.compose.shadow).toMatchObject({ softness: 12, distance: 5 });
  });

  it("explains malformed framing sizes in the user's terms", () => {
    expect(() => settings({ framing: { outputSize: 'big' } })).toThrow(/framing\.outputSize.*WIDTHxHEIGHT/);
    expect(() => settings({ framing: { aspectRatio: 'wide' } })).toThrow(/framing\.aspectRatio.*'W:H'/);
    expect(
      parseReplaceOptions({ input: 'x', framing: { outputSize: '1200 x 800', aspectRatio: '4:5' } }).framing,
    ).toEqual({
      outputSize: { width: 1200, height: 800 },
      aspectRatio: 0.8,
    });
  });

  it("gives each of vitrinealu's prompt types its own procedural background", () => {
    const types = ['studio', 'garden', 'minimal', 'lifestyle'].map(
      (t) => settings({ preset: 'vitrinealu', promptType: t }).preset.background.type,
    );
    expect(types).toEqual(['gradient', 'blurred-original', 'texture', 'gradient']);
    // An override still wins over the prompt type's background.
    const o = settings({
      preset: 'vitrinealu',
      promptType: 'garden',
      overrides: { background: { type: 'solid', color: 'white' } },
    });
    expect(o.preset.background).toEqual({ type: 'solid', color: 'white' });
  });

  it("adds the preset's SDXL prompt style only for SDXL models", async () => {
    const { applyPromptStyle } = await import('../src/engines/local.js');
    const preset = settings({ preset: 'vitrinealu', promptType: 'garden' }).preset;
    expect(preset.styles?.sdxl?.suffix).toMatch(/photorealistic/);
    const xl = applyPromptStyle(preset, 'sdxl');
    expect(xl.prompt.startsWith(preset.prompt)).toBe(true);
    expect(xl.prompt.endsWith(preset.styles!.sdxl!.suffix!)).toBe(true);
    expect(xl.negativePrompt).toMatch(/deformed, cgi, illustration$/);
    expect(applyPromptStyle(preset, 'sd1')).toEqual({ prompt: preset.prompt, negativePrompt: preset.negativePrompt });
  });

  it("maps the seeds' engine names", () => {
    expect(parseReplaceOptions({ input: 'x', engine: 'SDXL' }).engine).toBe('local');
    expect(parseReplaceOptions({ input: 'x', engine: 'stable-diffusion' }).engine).toBe('local');
    expect(parseReplaceOptions({ input: 'x', engine: 'RUNWAY' }).engine).toBe('runway');
    expect(() => parseReplaceOptions({ input: 'x', engine: 'dalle' })).toThrow(/engine.*auto, local, runway, studio/);
  });
});
