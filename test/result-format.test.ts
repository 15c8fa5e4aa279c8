/**
 * The one result format: what toResultMetadata makes of library results (engine family, cleanup
 * fields, no Buffers), what the schema refuses (the old CLI shape without artifacts, a replacement
 * without a seed), and the server's rows written by earlier versions shown in today's shape.
 */
import { describe, expect, it } from 'vitest';

import type { CleanupResult } from '../src/pipeline/cleanup.js';
import type { ReplaceResult } from '../src/pipeline/replace.js';
import { ResultMetadataSchema, engineFamily, toResultMetadata } from '../src/result-format.js';
import { presentResult, type StoredResult } from '../src/server/jobs.js';

const model = {
  path: '/models/isnet.onnx',
  source: 'option' as const,
  profile: 'isnet' as const,
  inputSize: [1024, 1024] as [number, number],
};
const metrics = { elapsed_ms: 120.5, stages: { decode: 3, infer: 50, generate: 40, encode: 20 } };

function replaceResult(over: Partial<ReplaceResult> = {}): ReplaceResult {
  return {
    engine: 'local',
    engineReason: 'a diffusion model is configured',
    skipped: [],
    engineInfo: { family: 'sd1', model: '/models/sd15.safetensors' },
    preset: 'vitrinealu',
    promptType: 'garden',
    prompt: 'a garden',
    seed: 42,
    artifacts: { output: '/abs/out.jpg', mask: Buffer.from([137, 80, 78, 71]) },
    width: 640,
    height: 480,
    format: 'jpeg',
    model,
    metrics,
    ...over,
  } as ReplaceResult;
}

describe('toResultMetadata', () => {
  it('turns a replacement into the documented shape, JSON only', () => {
    const r = replaceResult();
    const meta = toResultMetadata(r, { output: '/abs/out.jpg', mask: '/abs/mask.png' });
    const json = JSON.parse(JSON.stringify(meta));
    expect(json).toEqual(meta); // nothing a JSON round trip would change: no Buffers
    expect(ResultMetadataSchema.parse(json)).toMatchObject({
      op: 'replace',
      engine: 'local',
      engineFamily: 'stable-diffusion',
      preset: 'vitrinealu',
      seed: 42,
      artifacts: { output: '/abs/out.jpg', mask: '/abs/mask.png' },
      metrics,
      engineReason: 'a diffusion model is configured',
      promptType: 'garden',
      prompt: 'a garden',
      width: 640,
      height: 480,
      format: 'jpeg',
      model,
    });
  });

  it('names the engine family the seeds use: SDXL from the local model family, RUNWAY, studio', () => {
    expect(engineFamily('local', { family: 'sdxl' })).toBe('SDXL');
    expect(engineFamily('local', { family: 'sd2' })).toBe('stable-diffusion');
    expect(engineFamily('local', {})).toBe('stable-diffusion');
    expect(engineFamily('runway', {})).toBe('RUNWAY');
    expect(engineFamily('studio')).toBe('studio');
    const sdxl = toResultMetadata(replaceResult({ engineInfo: { family: 'sdxl' } }), { output: 'o', mask: null });
    expect(sdxl).toMatchObject({ engine: 'local', engineFamily: 'SDXL' });
  });

  it('a studio result without prompt or prompt type reports both as null', () => {
    const studio = replaceResult({ engine: 'studio', promptType: undefined, prompt: undefined });
    const meta = toResultMetadata(studio, { output: 'o', mask: null });
    expect(meta).toMatchObject({ engine: 'studio', engineFamily: 'studio', promptType: null, prompt: null });
    expect(meta.artifacts).toEqual({ output: 'o', mask: null });
  });

  it('a cleanup: engine and family none, preset and seed null, its mode', () => {
    const r: CleanupResult = {
      artifacts: { output: '/abs/c.png', mask: Buffer.alloc(3) },
      width: 10,
      height: 8,
      mode: 'blur',
      format: 'png',
      model,
      metrics,
    };
    const json = JSON.parse(JSON.stringify(toResultMetadata(r, { output: '/abs/c.png', mask: null })));
    const meta = ResultMetadataSchema.parse(json);
    expect(meta).toEqual({
      op: 'cleanup',
      engine: 'none',
      engineFamily: 'none',
      preset: null,
      seed: null,
      mode: 'blur',
      artifacts: { output: '/abs/c.png', mask: null },
      metrics,
      width: 10,
      height: 8,
      format: 'png',
      model,
    });
  });
});

describe('ResultMetadataSchema', () => {
  it('refuses the shapes the documented result is not', () => {
    const good = toResultMetadata(replaceResult(), { output: '/o.jpg', mask: null });
    expect(ResultMetadataSchema.safeParse(good).success).toBe(true);
    // The CLI line of earlier versions: output and mask at the top level, no artifacts.
    const { artifacts: _a, ...flat } = good;
    expect(ResultMetadataSchema.safeParse({ ...flat, output: '/o.jpg', mask: null }).success).toBe(false);
    const { seed: _s, ...noSeed } = good;
    expect(ResultMetadataSchema.safeParse(noSeed).success).toBe(false);
    expect(ResultMetadataSchema.safeParse({ ...good, metrics: { stages: {} } }).success).toBe(false);
    expect(ResultMetadataSchema.safeParse({ ...good, engine: 'SDXL' }).success).toBe(false);
    expect(ResultMetadataSchema.safeParse({ ...good, op: 'cleanup' }).success).toBe(false);
  });
});

describe('the server shows stored results in today’s shape', () => {
  it('a replacement row written by an earlier version (no op fields of today, no artifacts)', () => {
    const old = {
      op: 'replace',
      files: { output: 'job_1/output.png', mask: 'job_1/mask.png' },
      width: 64,
      height: 48,
      format: 'png',
      metrics,
      engine: 'studio',
      engineReason: 'asked for',
      preset: 'product-studio',
      seed: 7,
    } as unknown as StoredResult;
    const shown = presentResult(old, 'https://h.example/bg');
    const meta = ResultMetadataSchema.parse(shown);
    expect(meta).toMatchObject({ op: 'replace', engine: 'studio', engineFamily: 'studio', preset: 'product-studio' });
    expect(meta.seed).toBe(7);
    expect(meta.promptType).toBeNull();
    expect(meta.artifacts).toEqual({
      output: 'https://h.example/bg/files/job_1/output.png',
      mask: 'https://h.example/bg/files/job_1/mask.png',
    });
    expect(shown).toMatchObject({ outputUrl: meta.artifacts.output, maskUrl: meta.artifacts.mask });
    expect(shown).not.toHaveProperty('files');
  });

  it('a cleanup row written by an earlier version', () => {
    const files = { output: 'j/output.png', mask: 'j/mask.png' };
    const old = { op: 'cleanup', files, width: 4, height: 4, format: 'png', metrics, mode: 'color' };
    const meta = ResultMetadataSchema.parse(presentResult(old as unknown as StoredResult, undefined));
    expect(meta).toMatchObject({ op: 'cleanup', engine: 'none', preset: null, seed: null, mode: 'color' });
    expect(meta.artifacts).toEqual({ output: '/files/j/output.png', mask: '/files/j/mask.png' });
  });

  it('a row of today keeps the engine family it was stored with', () => {
    const stored = {
      ...toResultMetadata(replaceResult({ engineInfo: { family: 'sdxl' } }), { output: 'j/o.jpg', mask: 'j/m.png' }),
      files: { output: 'j/output.jpg', mask: 'j/mask.png' },
    } as StoredResult;
    delete (stored as { engineInfo?: unknown }).engineInfo;
    expect(presentResult(stored, undefined)).toMatchObject({ engine: 'local', engineFamily: 'SDXL' });
  });
});
