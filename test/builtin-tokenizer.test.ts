/**
 * The CLIP vocabulary that ships with the package: it is OpenAI's (the same bytes as a
 * transformers CLIP tokenizer folder), a single-file checkpoint loads and generates with no
 * tokenizer named, with exactly the token ids (and so pixels) of the tokenizer folder; an explicit
 * tokenizer still wins; a truncated or corrupt checkpoint is E_MODEL_FORMAT naming the file before
 * any tokenizer is looked up.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { builtinClipVocabulary } from '../src/clip-vocabulary.js';
import { DiffusionModel, resetDefaultContext } from '../src/index.js';
import { loadAddon } from '../src/native.js';
import { corruptHeaderCopy, fixturesPresent, sd1Tiny, tokenizerDir, truncatedCopy } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';

interface NativeTokenizer {
  encode(prompt: string, opts?: { maxLength?: number }): Int32Array;
}
const tokenizerClass = () =>
  (loadAddon() as unknown as { ClipTokenizer: { load(d: string): Promise<NativeTokenizer> } }).ClipTokenizer;

/** Runs fn with BG_CLIP_TOKENIZER set to `value` (or unset), restoring it after. */
async function withTokenizerEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.BG_CLIP_TOKENIZER;
  if (value === undefined) delete process.env.BG_CLIP_TOKENIZER;
  else process.env.BG_CLIP_TOKENIZER = value;
  resetDefaultContext(); // the package's functions read the environment again
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.BG_CLIP_TOKENIZER;
    else process.env.BG_CLIP_TOKENIZER = saved;
    resetDefaultContext();
  }
}

const prompts = [
  'a red house by a lake',
  'A Watercolor FOX, in the snowy forest!! (detailed:1.2) 4k',
  'naïve café — 東京 at night, émojis 🙂 and <|endoftext|> markers',
  '',
];

describe('the built-in CLIP vocabulary', () => {
  it('holds 49 408 tokens and the 48 894 merges CLIPTokenizer uses', () => {
    const v = builtinClipVocabulary();
    const vocab = JSON.parse(v.vocab) as Record<string, number>;
    expect(Object.keys(vocab).length).toBe(49408);
    expect(new Set(Object.values(vocab)).size).toBe(49408);
    expect(Math.max(...Object.values(vocab))).toBe(49407);
    expect(vocab['<|startoftext|>']).toBe(49406);
    expect(vocab['<|endoftext|>']).toBe(49407);
    const merges = v.merges.split('\n').filter((l) => l.length > 0 && !l.startsWith('#version'));
    expect(merges.length).toBe(48894);
  });

  it.runIf(fixturesPresent)('is byte for byte the tokenizer folder of the fixtures', () => {
    const v = builtinClipVocabulary();
    expect(v.vocab).toBe(readFileSync(path.join(tokenizerDir, 'vocab.json'), 'utf8'));
    expect(v.merges).toBe(readFileSync(path.join(tokenizerDir, 'merges.txt'), 'utf8'));
  });
});

describe.runIf(fixturesPresent)('a single-file checkpoint with no tokenizer named', () => {
  const tmp = tempDir('bgn-builtin-tok-');
  afterAll(() => tmp.remove());
  const req = { prompt: prompts[1]!, negativePrompt: 'blurry', width: 64, height: 64, steps: 2, seed: 7 };

  it('tokenizes exactly as the tokenizer folder does', async () => {
    const dir = path.join(tmp.dir, 'builtin');
    const v = builtinClipVocabulary();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'vocab.json'), v.vocab);
    writeFileSync(path.join(dir, 'merges.txt'), v.merges);
    const ours = await tokenizerClass().load(dir);
    const ref = await tokenizerClass().load(tokenizerDir);
    for (const p of prompts) {
      expect(Array.from(ours.encode(p)), p).toEqual(Array.from(ref.encode(p)));
      expect(Array.from(ours.encode(p, { maxLength: 0 })), p).toEqual(Array.from(ref.encode(p, { maxLength: 0 })));
    }
  });

  it('loads and generates the pixels the tokenizer folder gives (no BG_CLIP_TOKENIZER either)', async () => {
    const builtin = await withTokenizerEnv(undefined, () => DiffusionModel.load(sd1Tiny, { threads: 2 }));
    const folder = await DiffusionModel.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
    try {
      expect(builtin).not.toBe(folder);
      const a = await builtin.generate(req);
      const b = await folder.generate(req);
      expect(a.pixels.length).toBe(64 * 64 * 3);
      expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    } finally {
      builtin.dispose();
      folder.dispose();
    }
  });

  it('an explicit tokenizer option or BG_CLIP_TOKENIZER still wins over it', async () => {
    const missing = path.join(tmp.dir, 'no-such-tokenizer');
    await expect(DiffusionModel.load(sd1Tiny, { threads: 2, tokenizer: missing })).rejects.toMatchObject({
      code: 'E_MODEL_NOT_FOUND',
      message: expect.stringContaining(missing) as unknown,
    });
    await withTokenizerEnv(missing, async () => {
      await expect(DiffusionModel.load(sd1Tiny, { threads: 2 })).rejects.toMatchObject({ code: 'E_MODEL_NOT_FOUND' });
    });
  });

  it('a truncated or corrupt checkpoint is E_MODEL_FORMAT naming the file, before a tokenizer is sought', async () => {
    const missing = path.join(tmp.dir, 'no-such-tokenizer');
    const truncated = path.join(tmp.dir, 'truncated.safetensors');
    truncatedCopy(sd1Tiny, truncated, 0.6);
    const corrupt = path.join(tmp.dir, 'corrupt.safetensors');
    corruptHeaderCopy(sd1Tiny, corrupt);
    for (const file of [truncated, corrupt]) {
      for (const opts of [{ threads: 2 }, { threads: 2, tokenizer: missing }]) {
        await expect(DiffusionModel.load(file, opts), file).rejects.toMatchObject({
          code: 'E_MODEL_FORMAT',
          message: expect.stringContaining(file) as unknown,
        });
      }
    }
  });
});
