/**
 * Resource limits, each set by an option and by an environment variable, each refusing with a
 * typed error that names the limit: image pixels (maxPixels / BG_MAX_PIXELS), prompt length
 * (maxPromptChars / BG_MAX_PROMPT_CHARS, enforced in JS and again in the native tokenizer),
 * model file size (maxModelBytes / BG_MAX_MODEL_BYTES, enforced before mapping), and jobs run at
 * once (concurrency / CONCURRENCY).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  clearSegmenters,
  cleanup,
  closeComposePool,
  createBgNative,
  DiffusionModel,
  fromEnv,
  resetDefaultContext,
} from '../src/index.js';
import { loadAddon } from '../src/native.js';
import { parseReplaceOptions, resolveMaxModelBytes, resolveMaxPromptChars } from '../src/options.js';
import { createQueue } from '../src/queue/index.js';
import { ServerConfigSchema, loadServerConfig } from '../src/server/config.js';
import { halvesJpeg } from './helpers/images.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-limits-');
const tinyTokenizer = path.join(repoRoot, 'test', 'malformed', 'tokenizer');
let model: string;
let photo: string;
const saved = { ...process.env };

beforeAll(async () => {
  model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
  photo = path.join(tmp.dir, 'photo.jpg');
  writeFileSync(photo, await halvesJpeg(64, 48));
});
afterEach(() => {
  for (const k of ['BG_MAX_PIXELS', 'BG_MAX_PROMPT_CHARS', 'BG_MAX_MODEL_BYTES']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  resetDefaultContext();
});

/** Sets an environment variable for the package's functions: the default context reads the environment again. */
function setEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  resetDefaultContext();
}
afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (err) {
    return String((err as { code?: string }).code);
  }
}

describe('max image pixels', () => {
  it('maxPixels refuses a 64×48 photo above 3000 pixels with E_IMAGE_TOO_LARGE', async () => {
    expect(await codeOf(cleanup({ input: photo, model, maxPixels: 3000 }))).toBe('E_IMAGE_TOO_LARGE');
    expect(await codeOf(cleanup({ input: photo, model, maxPixels: 3072 }))).toBe('ok');
  });
  it('BG_MAX_PIXELS sets the same limit; a bad value is E_CONFIG', async () => {
    setEnv('BG_MAX_PIXELS', '3000');
    expect(await codeOf(cleanup({ input: photo, model }))).toBe('E_IMAGE_TOO_LARGE');
    setEnv('BG_MAX_PIXELS', 'lots');
    expect(await codeOf(cleanup({ input: photo, model }))).toBe('E_CONFIG');
  });
});

describe('max prompt length', () => {
  // The checks replaceBackground runs first, with the settings the environment gives now.
  const replace = (extra: Record<string, unknown>) => () =>
    createBgNative(fromEnv(process.env)).checkReplaceOptions({ input: photo, ...extra });
  it('defaults to 4000 characters, counting an emoji as one', async () => {
    expect(resolveMaxPromptChars(undefined, {})).toBe(4000);
    expect(await codeOf(replace({ prompt: '👟'.repeat(4000) }))).toBe('ok');
    expect(await codeOf(replace({ prompt: 'a'.repeat(4001) }))).toBe('E_BAD_INPUT');
    expect(await codeOf(replace({ negativePrompt: 'a'.repeat(4001) }))).toBe('E_BAD_INPUT');
  });
  it('maxPromptChars lowers or raises it, and the message names the limit', async () => {
    expect(await codeOf(replace({ prompt: 'a red cat', maxPromptChars: 5 }))).toBe('E_BAD_INPUT');
    expect(() => parseReplaceOptions({ input: photo, prompt: 'a red cat', maxPromptChars: 5 })).toThrow(
      /9 characters long, more than the limit of 5/,
    );
    expect(await codeOf(replace({ prompt: 'a'.repeat(6000), maxPromptChars: 8000 }))).toBe('ok');
  });
  it('BG_MAX_PROMPT_CHARS sets it; a bad value is E_CONFIG', async () => {
    process.env.BG_MAX_PROMPT_CHARS = '5';
    expect(await codeOf(replace({ prompt: 'a red cat' }))).toBe('E_BAD_INPUT');
    process.env.BG_MAX_PROMPT_CHARS = '-1';
    expect(await codeOf(replace({ prompt: 'a red cat' }))).toBe('E_CONFIG');
  });
  it('the native tokenizer enforces BG_MAX_PROMPT_CHARS itself', async () => {
    const tok = await loadAddon().ClipTokenizer.load(tinyTokenizer);
    expect(await codeOf(() => tok.encodeWeighted('a'.repeat(4001)))).toBe('E_BAD_INPUT');
    process.env.BG_MAX_PROMPT_CHARS = '5';
    expect(await codeOf(() => tok.encodeWeighted('a cat'))).toBe('ok');
    expect(await codeOf(() => tok.encodeWeighted('a red cat'))).toBe('E_BAD_INPUT');
    process.env.BG_MAX_PROMPT_CHARS = 'many';
    expect(await codeOf(() => tok.encodeWeighted('a cat'))).toBe('E_CONFIG');
  });
});

describe('max model file size', () => {
  it('maxModelBytes refuses a larger file before loading it, with E_MODEL_FORMAT naming the limit', async () => {
    const file = path.join(repoRoot, 'test', 'malformed', 'models', 'overlapping.safetensors');
    const p = DiffusionModel.load(file, { tokenizer: tinyTokenizer, maxModelBytes: 16 });
    await expect(p).rejects.toMatchObject({
      code: 'E_MODEL_FORMAT',
      message: expect.stringMatching(/more than the 16-byte limit/),
    });
    expect(resolveMaxModelBytes(undefined, {})).toBe(64 * 1024 ** 3);
  });
  it('BG_MAX_MODEL_BYTES is enforced by the core before mapping any model (here an ONNX segmenter)', async () => {
    await clearSegmenters(); // a model already loaded stays usable; the limit applies to mapping
    setEnv('BG_MAX_MODEL_BYTES', '64');
    expect(await codeOf(cleanup({ input: photo, model }))).toBe('E_MODEL_FORMAT');
    setEnv('BG_MAX_MODEL_BYTES', '1e9');
    expect(await codeOf(cleanup({ input: photo, model }))).toBe('E_CONFIG');
    setEnv('BG_MAX_MODEL_BYTES', undefined);
    expect(await codeOf(cleanup({ input: photo, model }))).toBe('ok');
  });
});

describe('max concurrent jobs', () => {
  it('a queue worker with concurrency 2 never runs more than 2 of 6 jobs at once', async () => {
    const cfg = ServerConfigSchema.parse({ queueDb: path.join(tmp.dir, 'q.db'), pollMs: 10, concurrency: 2 });
    const queue = await createQueue(cfg, {});
    let running = 0;
    let most = 0;
    let done = 0;
    queue.startWorker(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 60));
      running--;
      done++;
      return {};
    }, cfg.concurrency);
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await queue.enqueue('test', { i })).job.id);
    for (const id of ids) await queue.waitFor(id, 10_000);
    await queue.close(1000);
    expect(done).toBe(6);
    expect(most).toBe(2);
  });
  it('CONCURRENCY configures it and refuses a value that is not a whole number', () => {
    expect(loadServerConfig({}, { CONCURRENCY: '3' }).concurrency).toBe(3);
    expect(() => loadServerConfig({}, { CONCURRENCY: 'two' })).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });
});
