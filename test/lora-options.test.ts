/**
 * The LoRA settings around the native core: `file[:scale]` specs (CLI --lora, env BG_LORAS),
 * the preset field generation.loras, the replaceBackground option, and the server's refusal of
 * LoRA paths in requests.
 */
import { describe, expect, it } from 'vitest';

import { replaceOptionsFromFlags } from '../src/cli/replace-flags.js';
import { lorasFromEnv, parseLoraSpec } from '../src/engines/lora-spec.js';
import { ReplaceOptionsSchema } from '../src/options.js';
import { GenerationSchema } from '../src/presets/schema.js';
import { ClientReplaceOptionsSchema } from '../src/server/schemas.js';

const generation = { steps: 4, guidanceScale: 1, sampler: 'euler', strength: 1, resolution: { longSide: 512 } };

describe('LoRA settings', () => {
  it('reads file[:scale], keeping other colons in the path', () => {
    expect(parseLoraSpec('lcm.safetensors')).toEqual({ path: 'lcm.safetensors', scale: 1 });
    expect(parseLoraSpec('/m/lcm.safetensors:0.75')).toEqual({ path: '/m/lcm.safetensors', scale: 0.75 });
    expect(parseLoraSpec('C:\\loras\\a.safetensors:-1.5')).toEqual({ path: 'C:\\loras\\a.safetensors', scale: -1.5 });
    expect(parseLoraSpec('C:\\loras\\a.safetensors')).toEqual({ path: 'C:\\loras\\a.safetensors', scale: 1 });
  });

  it('refuses scales outside -4..4 and empty paths (E_BAD_INPUT; E_CONFIG from BG_LORAS)', () => {
    for (const bad of ['a.safetensors:4.5', 'a.safetensors:-5', ':1', ''])
      expect(() => parseLoraSpec(bad)).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
    expect(() => lorasFromEnv({ BG_LORAS: 'a.safetensors:9' })).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });

  it('BG_LORAS is a comma-separated list', () => {
    expect(lorasFromEnv({})).toBeUndefined();
    expect(lorasFromEnv({ BG_LORAS: 'a.safetensors:0.5, b.safetensors' })).toEqual([
      { path: 'a.safetensors', scale: 0.5 },
      { path: 'b.safetensors', scale: 1 },
    ]);
  });

  it('--lora is repeatable and becomes the loras option', () => {
    const o = replaceOptionsFromFlags({ in: 'a.jpg', out: 'b.png', lora: ['x.safetensors:0.8', 'y.safetensors'] });
    expect(o.loras).toEqual([
      { path: 'x.safetensors', scale: 0.8 },
      { path: 'y.safetensors', scale: 1 },
    ]);
    expect(replaceOptionsFromFlags({ in: 'a.jpg', out: 'b.png' }).loras).toBeUndefined();
  });

  it('presets and options take up to 8 LoRAs with scales from -4 to 4', () => {
    expect(GenerationSchema.safeParse({ ...generation, loras: [{ path: 'a.safetensors', scale: 1 }] }).success).toBe(
      true,
    );
    expect(GenerationSchema.safeParse({ ...generation, loras: [{ path: 'a.safetensors', scale: 5 }] }).success).toBe(
      false,
    );
    expect(GenerationSchema.safeParse({ ...generation, loras: [{ file: 'a.safetensors' }] }).success).toBe(false);
    const many = Array.from({ length: 9 }, (_, i) => ({ path: `${i}.safetensors` }));
    expect(GenerationSchema.safeParse({ ...generation, loras: many }).success).toBe(false);
    expect(
      ReplaceOptionsSchema.safeParse({ input: 'a.jpg', loras: [{ path: 'a.safetensors', scale: -4 }] }).success,
    ).toBe(true);
    expect(
      ReplaceOptionsSchema.safeParse({ input: 'a.jpg', loras: [{ path: 'a.safetensors', scale: 4.1 }] }).success,
    ).toBe(false);
  });

  it('a server request cannot name LoRA files', () => {
    expect(ClientReplaceOptionsSchema.safeParse({ loras: [{ path: '/etc/passwd' }] }).success).toBe(false);
    const viaOverrides = { overrides: { generation: { loras: [{ path: '/srv/x.safetensors' }] } } };
    expect(ClientReplaceOptionsSchema.safeParse(viaOverrides).success).toBe(false);
    expect(ClientReplaceOptionsSchema.safeParse({ overrides: { generation: { steps: 4 } } }).success).toBe(true);
  });
});
