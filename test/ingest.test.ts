/**
 * The media-ingest step: one photo + its sidecar JSON in, `<name>.bg.jpg` next to the photo and
 * the seed's `background` block in the sidecar out — in-process (the tiny segmentation model,
 * the studio engine) and against the real server on loopback; off does nothing; a corrupt
 * sidecar or a failed job leaves the sidecar byte-for-byte as it was.
 */
import { readFileSync, existsSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { processIngestItem, setTopLevelMember, type IngestResult } from '../src/ingest/index.js';
import { clearSegmenters, closeComposePool } from '../src/index.js';
import { ResultMetadataSchema } from '../src/result-format.js';
import { startServer, type BgServer } from '../src/server/index.js';
import { halvesJpeg } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';
import { TOKEN } from './helpers/server-harness.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-ingest-');
let photoBytes: Buffer;
let n = 0;
const savedSeg = process.env.BG_SEG_MODEL;

/** A sidecar with everything a round trip through JSON.parse/stringify would change. */
const SIDECAR = `{
  "id": "media-42",
  "b": 1,
  "10": "numeric-looking key after b",
  "price": 1.0,
  "big": 12345678901234567890,
  "exp": 1e3,
  "title": "Chaise \\u00e9t\\u00e9 \\"jardin\\"",
  "tags": [ "garden",   "chair" ],
  "nested": {"z": 1, "a": [1,2,{"k": null}]}
}
`;

/** A photo (red subject on blue) and its sidecar in a fresh folder. */
function item(sidecarText = SIDECAR): { imagePath: string; sidecarPath: string; dir: string } {
  const dir = path.join(tmp.dir, `item-${n++}`);
  mkdirSync(dir);
  const imagePath = path.join(dir, 'chair.jpg');
  writeFileSync(imagePath, photoBytes);
  const sidecarPath = path.join(dir, 'chair.json');
  writeFileSync(sidecarPath, sidecarText);
  return { imagePath, sidecarPath, dir };
}

const env = (over: Record<string, string>): NodeJS.ProcessEnv => ({
  MEDIA_INGEST_BACKGROUND_ENGINE: 'studio',
  ...over,
});

function processed(r: IngestResult): Extract<IngestResult, { status: 'processed' }> {
  if (r.status !== 'processed') throw new Error(`expected processed, got ${JSON.stringify(r)}`);
  return r;
}

/** The sidecar text with the appended background member taken out again. */
function withoutAppendedBackground(text: string): string {
  const at = text.lastIndexOf(',\n  "background": ');
  const end = text.lastIndexOf('\n}');
  return text.slice(0, at) + text.slice(end);
}

beforeAll(async () => {
  photoBytes = await halvesJpeg(64, 48);
  process.env.BG_SEG_MODEL = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
});

afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  if (savedSeg === undefined) delete process.env.BG_SEG_MODEL;
  else process.env.BG_SEG_MODEL = savedSeg;
  tmp.remove();
});

describe('in-process', () => {
  it('replace: writes <name>.bg.jpg by the photo, adds the background block, keeps other sidecar bytes', async () => {
    const { imagePath, sidecarPath, dir } = item();
    const before = Date.now();
    const r = processed(
      await processIngestItem({
        imagePath,
        sidecarPath,
        env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace', MEDIA_INGEST_BACKGROUND_PROMPT_TYPE: 'garden' }),
      }),
    );
    expect(r.outputPath).toBe(path.join(dir, 'chair.bg.jpg'));
    expect(r.ranAt).toBe('in-process');
    const meta = await sharp(r.outputPath).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 48]);

    const text = readFileSync(sidecarPath, 'utf8');
    expect(withoutAppendedBackground(text)).toBe(`${SIDECAR.trimEnd()}\n`);
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(json).at(-1)).toBe('background');
    const b = json.background as Record<string, unknown>;
    expect(Object.keys(b)).toEqual(['mode', 'engine', 'outJpg', 'processedAt', 'prompt', 'settings']);
    expect(b).toMatchObject({ mode: 'replace', engine: 'studio', outJpg: r.outputPath });
    expect(b.prompt).toMatch(/garden/i);
    expect(Date.parse(b.processedAt as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(b.settings).toEqual({
      steps: expect.any(Number),
      guidanceScale: expect.any(Number),
      enhanceFg: false,
      matchColors: expect.any(Number),
      featherEdges: expect.any(Number),
    });
    expect(r.sidecar).toEqual(json);
    // The returned item carries the result format too, the output as an absolute path.
    const result = ResultMetadataSchema.parse(JSON.parse(JSON.stringify(r.result)));
    expect(result).toMatchObject({ op: 'replace', engine: 'studio', engineFamily: 'studio', preset: 'vitrinealu' });
    expect(result.promptType).toBe('garden');
    expect(result.artifacts).toEqual({ output: path.resolve(r.outputPath), mask: null });
  });

  it('cleanup: a white-background JPEG and a cleanup block', async () => {
    const { imagePath, sidecarPath } = item();
    const r = processed(
      await processIngestItem({
        imagePath,
        sidecarPath,
        env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'cleanup', MEDIA_INGEST_BACKGROUND_ENHANCE_FG: 'true' }),
      }),
    );
    const { data } = await sharp(r.outputPath).raw().toBuffer({ resolveWithObject: true });
    // The right half (blue backdrop) became white.
    const i = (24 * 64 + 60) * 3;
    expect(Math.min(data[i]!, data[i + 1]!, data[i + 2]!)).toBeGreaterThan(240);
    expect(r.background).toMatchObject({
      mode: 'cleanup',
      engine: 'cleanup',
      prompt: null,
      settings: { steps: null, enhanceFg: true },
    });
    const result = ResultMetadataSchema.parse(JSON.parse(JSON.stringify(r.result)));
    expect(result).toMatchObject({ op: 'cleanup', engine: 'none', preset: null, seed: null, format: 'jpeg' });
    expect(result.mode).toBe('color');
    expect(result.artifacts).toEqual({ output: path.resolve(r.outputPath), mask: null });
  });

  it('a second run replaces the block where it stands', async () => {
    const { imagePath, sidecarPath } = item();
    const e = env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' });
    processed(await processIngestItem({ imagePath, sidecarPath, env: e }));
    const first = readFileSync(sidecarPath, 'utf8');
    const r = processed(await processIngestItem({ imagePath, sidecarPath, env: e }));
    const second = readFileSync(sidecarPath, 'utf8');
    expect(second.replace(/"processedAt": "[^"]+"/, '')).toBe(first.replace(/"processedAt": "[^"]+"/, ''));
    expect(JSON.parse(second).background.processedAt).toBe(r.background.processedAt);
  });

  it('with the sidecar given as an object, returns the updated copy and leaves the caller’s object alone', async () => {
    const { imagePath } = item();
    const sidecar = { id: 'm1', status: 'curated' };
    const r = processed(
      await processIngestItem({ imagePath, sidecar, env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' }) }),
    );
    expect(Object.keys(r.sidecar)).toEqual(['id', 'status', 'background']);
    expect(sidecar).toEqual({ id: 'm1', status: 'curated' });
  });
});

describe('nothing to do, or nothing done', () => {
  it('automation off (empty): skipped, no file touched', async () => {
    const { imagePath, sidecarPath, dir } = item();
    const mtime = statSync(sidecarPath).mtimeMs;
    for (const v of [undefined, '', 'off']) {
      const r = await processIngestItem({
        imagePath,
        sidecarPath,
        env: v === undefined ? {} : { MEDIA_INGEST_BACKGROUND_AUTOMATION: v },
      });
      expect(r).toMatchObject({
        status: 'skipped',
        reason: expect.stringMatching(/MEDIA_INGEST_BACKGROUND_AUTOMATION/),
      });
    }
    expect(readFileSync(sidecarPath, 'utf8')).toBe(SIDECAR);
    expect(statSync(sidecarPath).mtimeMs).toBe(mtime);
    expect(existsSync(path.join(dir, 'chair.bg.jpg'))).toBe(false);
  });

  it('skips its own outputs', async () => {
    const { dir, sidecarPath } = item();
    const out = path.join(dir, 'chair.bg.jpg');
    writeFileSync(out, photoBytes);
    const r = await processIngestItem({
      imagePath: out,
      sidecarPath,
      env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' }),
    });
    expect(r).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/output of this step/) });
  });

  it('a corrupt sidecar: failed with the file and the JSON error named, sidecar untouched, no output', async () => {
    const broken = '{ "id": "x", "tags": [1, 2,, }';
    const { imagePath, sidecarPath, dir } = item(broken);
    const r = await processIngestItem({
      imagePath,
      sidecarPath,
      env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' }),
    });
    expect(r).toMatchObject({
      status: 'failed',
      error: { code: 'E_BAD_INPUT', message: expect.stringContaining(sidecarPath) },
    });
    expect((r as { error: { message: string } }).error.message).toMatch(/not valid JSON.*untouched/);
    expect(readFileSync(sidecarPath, 'utf8')).toBe(broken);
    expect(existsSync(path.join(dir, 'chair.bg.jpg'))).toBe(false);
  });

  it('a sidecar not an object, a missing photo, a bad setting: failed with the reason, sidecar untouched', async () => {
    const a = item('[1, 2]');
    expect(
      await processIngestItem({
        imagePath: a.imagePath,
        sidecarPath: a.sidecarPath,
        env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' }),
      }),
    ).toMatchObject({
      status: 'failed',
      error: { code: 'E_BAD_INPUT', message: expect.stringMatching(/JSON object, not an array/) },
    });
    const b = item();
    expect(
      await processIngestItem({
        imagePath: path.join(b.dir, 'gone.jpg'),
        sidecarPath: b.sidecarPath,
        env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' }),
      }),
    ).toMatchObject({
      status: 'failed',
      error: { code: 'E_BAD_INPUT', message: expect.stringMatching(/gone\.jpg does not exist/) },
    });
    expect(
      await processIngestItem({
        imagePath: b.imagePath,
        sidecarPath: b.sidecarPath,
        env: { MEDIA_INGEST_BACKGROUND_AUTOMATION: 'repalce' },
      }),
    ).toMatchObject({
      status: 'failed',
      error: { code: 'E_CONFIG', message: expect.stringMatching(/'replace', 'cleanup' or empty/) },
    });
    expect(
      await processIngestItem({
        imagePath: b.imagePath,
        sidecarPath: b.sidecarPath,
        env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace', MEDIA_INGEST_BACKGROUND_PROMPT_TYPE: 'moon' }),
      }),
    ).toMatchObject({
      status: 'failed',
      error: { code: 'E_BAD_INPUT', message: expect.stringMatching(/moon/) },
    });
    expect(readFileSync(b.sidecarPath, 'utf8')).toBe(SIDECAR);
  });

  it('a photo with no subject: failed with E_NO_SUBJECT, sidecar untouched', async () => {
    const { imagePath, sidecarPath, dir } = item();
    const blue = Buffer.alloc(64 * 48 * 3);
    for (let i = 0; i < 64 * 48; i++) blue[i * 3 + 2] = 255;
    writeFileSync(
      imagePath,
      await sharp(blue, { raw: { width: 64, height: 48, channels: 3 } })
        .jpeg()
        .toBuffer(),
    );
    const r = await processIngestItem({
      imagePath,
      sidecarPath,
      env: env({ MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace' }),
    });
    expect(r).toMatchObject({ status: 'failed', error: { code: 'E_NO_SUBJECT' } });
    expect(readFileSync(sidecarPath, 'utf8')).toBe(SIDECAR);
    expect(existsSync(path.join(dir, 'chair.bg.jpg'))).toBe(false);
  });
});

describe('remote (MEDIA_INGEST_BACKGROUND_API_URL)', () => {
  let server: BgServer & { url: string };
  beforeAll(async () => {
    const root = path.join(tmp.dir, 'server');
    mkdirSync(root);
    server = await startServer(
      {
        port: 0,
        host: '127.0.0.1',
        apiToken: TOKEN,
        outputDir: path.join(root, 'out'),
        queueDb: path.join(root, 'q.db'),
        threads: 1,
        concurrency: 1,
        pollMs: 50,
        syncWaitMs: 20_000,
      },
      { logger: false, worker: true },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('uploads the photo to the server, writes its result by the photo and the block into the sidecar', async () => {
    const { imagePath, sidecarPath, dir } = item();
    const r = processed(
      await processIngestItem({
        imagePath,
        sidecarPath,
        env: env({
          MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace',
          MEDIA_INGEST_BACKGROUND_API_URL: server.url,
          API_TOKEN: TOKEN,
          MEDIA_INGEST_BACKGROUND_PROMPT_TYPE: 'minimal',
        }),
      }),
    );
    expect(r.ranAt).toBe('remote');
    expect(r.jobId).toMatch(/\S/);
    expect(r.outputPath).toBe(path.join(dir, 'chair.bg.jpg'));
    const meta = await sharp(r.outputPath).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 48]);
    const text = readFileSync(sidecarPath, 'utf8');
    expect(withoutAppendedBackground(text)).toBe(`${SIDECAR.trimEnd()}\n`);
    expect(JSON.parse(text).background).toMatchObject({
      mode: 'replace',
      engine: 'studio',
      outJpg: r.outputPath,
      prompt: expect.stringMatching(/\S/),
    });
    // The server's result, its URLs swapped for the file written here.
    const result = ResultMetadataSchema.parse(JSON.parse(JSON.stringify(r.result)));
    expect(result).toMatchObject({ op: 'replace', engine: 'studio', engineFamily: 'studio', preset: 'vitrinealu' });
    expect(result.promptType).toBe('minimal');
    expect(result.artifacts).toEqual({ output: path.resolve(r.outputPath), mask: null });
    expect(JSON.stringify(result)).not.toContain('/files/');
  });

  it('a refused token: failed with what to set, sidecar untouched, no output', async () => {
    const { imagePath, sidecarPath, dir } = item();
    const r = await processIngestItem({
      imagePath,
      sidecarPath,
      env: env({
        MEDIA_INGEST_BACKGROUND_AUTOMATION: 'cleanup',
        MEDIA_INGEST_BACKGROUND_API_URL: server.url,
        MEDIA_INGEST_BACKGROUND_API_TOKEN: 'wrong',
      }),
    });
    expect(r).toMatchObject({
      status: 'failed',
      error: { code: 'E_CONFIG', message: expect.stringMatching(/E_UNAUTHORIZED.*MEDIA_INGEST_BACKGROUND_API_TOKEN/) },
    });
    expect(readFileSync(sidecarPath, 'utf8')).toBe(SIDECAR);
    expect(existsSync(path.join(dir, 'chair.bg.jpg'))).toBe(false);
  });

  it('a server that is not there: failed naming the URL setting', async () => {
    const { imagePath, sidecarPath } = item();
    const r = await processIngestItem({
      imagePath,
      sidecarPath,
      env: env({
        MEDIA_INGEST_BACKGROUND_AUTOMATION: 'replace',
        MEDIA_INGEST_BACKGROUND_API_URL: 'http://127.0.0.1:9',
      }),
    });
    expect(r).toMatchObject({
      status: 'failed',
      error: {
        code: 'E_PROVIDER_FAILED',
        message: expect.stringMatching(/Cannot reach.*MEDIA_INGEST_BACKGROUND_API_URL/),
      },
    });
    expect(readFileSync(sidecarPath, 'utf8')).toBe(SIDECAR);
  });
});

describe('sidecar edits keep the file’s own formatting', () => {
  const block = { mode: 'replace', n: 1 };
  it('CRLF and tab indentation', () => {
    const t = '{\r\n\t"a": 1.50,\r\n\t"b": [1,2]\r\n}\r\n';
    expect(setTopLevelMember(t, 'background', block)).toBe(
      '{\r\n\t"a": 1.50,\r\n\t"b": [1,2],\r\n\t"background": {\r\n\t\t"mode": "replace",\r\n\t\t"n": 1\r\n\t}\r\n}\r\n',
    );
  });
  it('a one-line object stays on one line; an empty object gets the member', () => {
    expect(setTopLevelMember('{"a":1e3}', 'background', block)).toBe(
      '{"a":1e3, "background": {"mode":"replace","n":1}}',
    );
    expect(setTopLevelMember('{}', 'background', block)).toBe(
      '{\n  "background": {\n    "mode": "replace",\n    "n": 1\n  }\n}',
    );
  });
  it('an existing member is replaced in place (the last one when the key repeats), a BOM is kept', () => {
    const t = '\ufeff{\n  "background": 1,\n  "x": "}",\n  "background": {"old": true},\n  "y": 2\n}';
    const out = setTopLevelMember(t, 'background', { v: 2 });
    expect(out).toBe('\ufeff{\n  "background": 1,\n  "x": "}",\n  "background": {\n    "v": 2\n  },\n  "y": 2\n}');
  });
});
