/**
 * The malformed-input corpus (test/malformed/manifest.json): every entry is fed to bg-native the
 * way a user's input would reach it — the library (cleanup, replaceBackground, DiffusionModel,
 * the CLIP tokenizer), the preset loader, the HTTP server on loopback — and must be refused with
 * its typed error code (or accepted, where the manifest says `ok`), leave no partial output
 * file, and leave the process running. Adding a case is one file and one manifest line.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  clearPresetCache,
  clearSegmenters,
  cleanup,
  closeComposePool,
  DiffusionModel,
  getPreset,
  replaceBackground,
} from '../src/index.js';
import { loadAddon } from '../src/native.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { TOKEN, makeFixture, type Fixture } from './helpers/server-harness.js';

interface Entry {
  file: string;
  entry:
    | 'cleanup'
    | 'diffusion-load'
    | 'segment-model'
    | 'tokenizer'
    | 'prompt'
    | 'replace-prompt'
    | 'preset'
    | 'server'
    | 'mask';
  expect: string;
  note: string;
  role?: 'vocab' | 'merges';
  route?: string;
  status?: number;
}

const corpus = path.join(repoRoot, 'test', 'malformed');
const manifest = JSON.parse(readFileSync(path.join(corpus, 'manifest.json'), 'utf8')) as { entries: Entry[] };
const tmp = tempDir('bgn-malformed-');
const tinyTokenizer = path.join(corpus, 'tokenizer');
let fx: Fixture;
let server: BgServer;
let url: string;

function generated(name: string, photo: string): Buffer {
  switch (name) {
    case 'prompt-100k':
      return Buffer.from('a red cat, '.repeat(10_000).slice(0, 100_000));
    case 'body-2mb':
      return Buffer.from(JSON.stringify({ inputPath: photo, prompt: 'x'.repeat(2 * 1024 * 1024) }));
    case 'body-long-prompt':
      return Buffer.from(
        JSON.stringify({ inputPath: photo, engine: 'studio', prompt: 'studio light '.repeat(400).slice(0, 5000) }),
      );
  }
  throw new Error(`no generator for ${name}`);
}

function input(e: Entry): Buffer {
  if (e.file.startsWith('gen:')) return generated(e.file.slice(4), fx.photo);
  return readFileSync(path.join(corpus, e.file));
}

/** Runs one entry; resolves with 'ok' or the error code, and the folder that must stay empty. */
async function feed(e: Entry, i: number): Promise<{ code: string; outDir?: string; status?: number }> {
  const outDir = path.join(tmp.dir, `out-${i}`);
  mkdirSync(outDir, { recursive: true });
  const code = (err: unknown) => String((err as { code?: unknown }).code ?? `uncoded: ${(err as Error).message}`);
  try {
    switch (e.entry) {
      case 'cleanup':
        await cleanup({
          input: path.join(corpus, e.file),
          output: path.join(outDir, 'out.png'),
          model: fx.model,
          threads: 1,
        });
        break;
      case 'segment-model':
        await cleanup({
          input: fx.photo,
          output: path.join(outDir, 'out.png'),
          model: path.join(corpus, e.file),
          threads: 1,
        });
        break;
      case 'diffusion-load':
        (await DiffusionModel.load(path.join(corpus, e.file), { threads: 1, tokenizer: tinyTokenizer })).dispose();
        break;
      case 'tokenizer': {
        const file = path.join(corpus, e.file);
        const files = {
          vocab: e.role === 'vocab' ? file : path.join(tinyTokenizer, 'vocab.json'),
          merges: e.role === 'merges' ? file : path.join(tinyTokenizer, 'merges.txt'),
        };
        await loadAddon().ClipTokenizer.load(files);
        break;
      }
      case 'prompt': {
        const tok = await loadAddon().ClipTokenizer.load(tinyTokenizer);
        const chunks = tok.encodeWeighted(input(e).toString('utf8')) as { ids: Int32Array; weights: Float32Array }[];
        expect(chunks.length).toBeGreaterThan(0);
        for (const c of chunks) expect(c.ids.length).toBe(77);
        break;
      }
      case 'replace-prompt':
        await replaceBackground({
          input: fx.photo,
          output: path.join(outDir, 'out.png'),
          engine: 'studio',
          prompt: input(e).toString('utf8'),
          model: { segmentation: fx.model },
          threads: 1,
        });
        rmOutputs(outDir); // accepted: its output is not what this test is about
        break;
      case 'preset': {
        const stem = path.basename(e.file, '.yaml');
        const dir = path.join(outDir, 'presets');
        mkdirSync(dir);
        copyFileSync(path.join(corpus, e.file), path.join(dir, `${stem}.yaml`));
        clearPresetCache();
        getPreset(stem, { presetDirs: [dir] });
        break;
      }
      case 'server': {
        const body = input(e).toString('utf8').replaceAll('@photo', fx.photo);
        const res = await fetch(`${url}${e.route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body,
        });
        const json = (await res.json()) as { error?: { code: string } };
        return { code: res.ok ? 'ok' : (json.error?.code ?? `status ${res.status}`), status: res.status };
      }
      case 'mask': {
        const model = await DiffusionModel.load(sd1Tiny, { threads: 1, tokenizer: tokenizerDir });
        try {
          const bytes = input(e);
          const mask = e.file.endsWith('.f32')
            ? new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))
            : new Uint8Array(bytes);
          await model.generate({
            prompt: 'a garden',
            width: 64,
            height: 64,
            steps: 1,
            seed: 1,
            initImage: new Uint8Array(64 * 64 * 3),
            mask,
          });
        } finally {
          model.dispose();
        }
        break;
      }
    }
    return { code: 'ok', outDir };
  } catch (err) {
    return { code: code(err), outDir };
  }
}

function rmOutputs(dir: string): void {
  // readable, complete files only
  for (const f of readdirSync(dir)) if (f !== 'presets') readFileSync(path.join(dir, f));
}

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  server = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      apiToken: TOKEN,
      inputRoots: [fx.inputs],
      outputDir: path.join(tmp.dir, 'server-out'),
      queueDb: path.join(tmp.dir, 'queue.db'),
      threads: 1,
      concurrency: 1,
      pollMs: 50,
      syncWaitMs: 20_000,
    },
    { logger: false, worker: true },
  );
  url = await server.listen();
  process.env.BG_SEG_MODEL = fx.model;
});

afterAll(async () => {
  await server?.close();
  await closeComposePool();
  await clearSegmenters();
  clearPresetCache();
  delete process.env.BG_SEG_MODEL;
  tmp.remove();
});

describe('malformed-input corpus', () => {
  it('holds at least 30 cases, each naming an existing file or a generator', () => {
    expect(manifest.entries.length).toBeGreaterThanOrEqual(30);
    for (const e of manifest.entries)
      if (!e.file.startsWith('gen:')) expect(existsSync(path.join(corpus, e.file)), e.file).toBe(true);
  });

  manifest.entries.forEach((e, i) => {
    const needsFixtures = e.entry === 'mask';
    it.skipIf(needsFixtures && !fixturesPresent)(`${e.entry}: ${e.file} (${e.note}) → ${e.expect}`, async () => {
      const r = await feed(e, i);
      expect(r.code).toBe(e.expect);
      if (e.status !== undefined) expect(r.status).toBe(e.status);
      else if (r.status !== undefined && e.expect !== 'ok') expect(r.status).toBeGreaterThanOrEqual(400);
      // No partial output: a refused input leaves its output folder empty (no temp files either).
      if (r.outDir && e.expect !== 'ok') expect(readdirSync(r.outDir).filter((f) => f !== 'presets')).toEqual([]);
      // The process is alive and still serving.
      const health = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(health.status).toBe(200);
    });
  });
});
