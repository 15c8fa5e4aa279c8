/**
 * Step previews on the server: a running job's latest preview at GET /v1/jobs/:id/preview
 * (image/jpeg, 404 before the first and once the job has ended) and `previewUrl` in its view
 * while it runs; runJob writes the local engine's previews (tiny SD 1.x fixture model, tiny
 * TAESD) and removes them when the try ends; requests name vae 'full' or 'taesd' only.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { createClient } from '../src/client/index.js';
import { clearDiffusionModels, clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { loadServerConfig } from '../src/server/config.js';
import { createPreviewWriter, previewPath } from '../src/server/job-preview.js';
import { runJob } from '../src/server/jobs.js';
import type { JobRecord } from '../src/queue/types.js';
import { fixturesPresent, sd1Tiny } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';
import {
  TOKEN,
  auth,
  getJson,
  makeFixture,
  postJson,
  testServerConfig,
  waitFor,
  type Fixture,
} from './helpers/server-harness.js';
import { writeTaesd2x } from './helpers/tiny-taesd.js';

/**
 * Every atomic write, so the test sees each preview runJob stores (the real write still happens);
 * with `hold` set, the first preview write waits for it after writing, which keeps that job
 * running (its end waits for the preview writer) until the test lets it go.
 */
const writes = vi.hoisted(() => ({
  list: [] as { dest: string; data: Uint8Array }[],
  hold: undefined as Promise<void> | undefined,
}));
vi.mock('../src/image/atomic-write.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/image/atomic-write.js')>();
  return {
    ...real,
    writeFileAtomic: async (dest: string, data: Uint8Array) => {
      writes.list.push({ dest, data });
      await real.writeFileAtomic(dest, data);
      if (dest.endsWith('preview.jpg') && writes.hold) {
        const hold = writes.hold;
        writes.hold = undefined;
        await hold;
      }
    },
  };
});

const tmp = tempDir('bgn-server-preview-');
let fx: Fixture;
let server: BgServer;
let url: string;
const savedTaesd = process.env.BG_TAESD;

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
  server = await createServer(testServerConfig(fx, tmp.dir, { pollMs: 20, syncWaitMs: 0 }), {
    logger: false,
    worker: false,
  });
  url = await server.listen();
});

afterAll(async () => {
  await server?.close();
  await closeComposePool();
  await clearSegmenters();
  await clearDiffusionModels();
  delete process.env.BG_SEG_MODEL;
  if (savedTaesd === undefined) delete process.env.BG_TAESD;
  else process.env.BG_TAESD = savedTaesd;
  tmp.remove();
});

/** A resolvable promise: the test decides when the job goes on. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe('GET /v1/jobs/:id/preview', () => {
  it('serves the latest preview of a running job as JPEG, 404 before the first and after the end', async () => {
    const outputDir = server.config.outputDir;
    const started = gate();
    const previewed = gate();
    const finish = gate();
    let running: JobRecord | undefined;
    // A job handler that stands in for the pipeline: it reports previews when the test says so.
    server.queue.startWorker(async (job) => {
      running = job;
      mkdirSync(path.join(outputDir, job.id), { recursive: true }); // as runJob does before the pipeline
      const writer = createPreviewWriter(previewPath(outputDir, job.id));
      started.open();
      await previewed.wait;
      const pixels = new Uint8Array(48 * 32 * 3).fill(200);
      writer.push({ pixels, width: 48, height: 32 });
      writer.push({ pixels: new Uint8Array(40 * 24 * 3).fill(90), width: 40, height: 24 });
      await waitFor(() => existsSync(previewPath(outputDir, job.id)), 10_000, 'the preview file');
      await finish.wait;
      await writer.close();
      return { files: { output: `${job.id}/output.png`, mask: `${job.id}/mask.png` } };
    }, 1);
    const posted = await postJson(`${url}/v1/replace?wait=0`, {
      inputPath: fx.photo,
      engine: 'studio',
      previewEvery: 2,
    });
    expect(posted.status).toBe(202);
    const id = posted.json.jobId as string;
    await started.wait;
    await waitFor(async () => (await getJson(`${url}/v1/jobs/${id}`)).json.status === 'running', 10_000, 'running');

    const view = await getJson(`${url}/v1/jobs/${id}`);
    expect(view.json.previewUrl).toBe(`/v1/jobs/${id}/preview`);
    const none = await getJson(`${url}/v1/jobs/${id}/preview`);
    expect(none.status).toBe(404);
    expect(none.json.error).toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/No preview yet/) });
    expect((await fetch(`${url}/v1/jobs/${id}/preview`)).status).toBe(401);
    const client = createClient({ baseUrl: url, token: TOKEN, env: {}, retryDelayMs: 10 });
    expect(await client.preview(id)).toBeUndefined();
    expect((await client.getJob(id)).previewUrl).toBe(`${url}/v1/jobs/${id}/preview`);

    previewed.open();
    await waitFor(
      async () => (await fetch(`${url}/v1/jobs/${id}/preview`, { headers: auth() })).status === 200,
      10_000,
      'a preview',
    );
    // The newest preview wins once its write is done.
    await waitFor(
      async () => {
        const res = await fetch(`${url}/v1/jobs/${id}/preview`, { headers: auth() });
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        return meta.width === 40;
      },
      10_000,
      'the latest preview',
    );
    const res = await fetch(`${url}/api/background/jobs/${id}/preview`, { headers: auth() });
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 40, 24]);
    expect((await sharp((await client.preview(id))!).metadata()).width).toBe(40);

    finish.open();
    await waitFor(async () => (await getJson(`${url}/v1/jobs/${id}`)).json.status !== 'running', 10_000, 'the end');
    const ended = await getJson(`${url}/v1/jobs/${id}`);
    expect(ended.json.previewUrl).toBeUndefined();
    const after = await getJson(`${url}/v1/jobs/${id}/preview`);
    expect(after.status).toBe(404);
    expect(after.json.error.message).toMatch(/previews are shown only while it runs/);
    expect(existsSync(previewPath(outputDir, running!.id))).toBe(false);
    expect(await client.preview(id)).toBeUndefined();
    await expect(client.preview('nope')).resolves.toBeUndefined();
    expect((await getJson(`${url}/v1/jobs/nope/preview`)).status).toBe(404);
  }, 60_000);

  it('a job that asked for no previews has no previewUrl', async () => {
    const posted = await postJson(`${url}/v1/replace?wait=0`, { inputPath: fx.photo, engine: 'studio' });
    expect(posted.json.previewUrl).toBeUndefined();
  });

  it("requests name vae 'full' or 'taesd', quality 'draft'; a file path, a bad previewEvery: E_BAD_INPUT", async () => {
    const bad = async (body: Record<string, unknown>, field: RegExp) => {
      const r = await postJson(`${url}/v1/replace?wait=0`, { inputPath: fx.photo, ...body });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringMatching(field) });
    };
    await bad({ vae: '/srv/models/taesd' }, /vae/);
    await bad({ overrides: { generation: { vae: '/srv/models/taesd' } } }, /generation\.vae/);
    await bad({ previewEvery: 0 }, /previewEvery/);
    await bad({ quality: 'best' }, /quality/);
    for (const body of [
      { vae: 'taesd' },
      { vae: 'full' },
      { quality: 'draft' },
      { overrides: { generation: { vae: 'taesd' } } },
    ]) {
      const r = await postJson(`${url}/v1/replace?wait=0`, { inputPath: fx.photo, engine: 'studio', ...body });
      expect(r.status, JSON.stringify(r.json)).toBe(202);
    }
  });
});

describe.skipIf(!fixturesPresent)('runJob with the local engine', () => {
  it('stores the previews the local engine reports as JPEG and removes them when the job ends', async () => {
    process.env.BG_TAESD = writeTaesd2x(path.join(tmp.dir, 'taesd-2x'));
    const cfg = loadServerConfig({
      outputDir: path.join(tmp.dir, 'run-out'),
      queueDb: path.join(tmp.dir, 'run-queue.db'),
      inputRoots: [fx.inputs],
      modelPath: sd1Tiny,
      engine: 'local',
      threads: 2,
      apiToken: TOKEN,
    });
    const now = Date.now();
    const job: JobRecord = {
      id: 'job_preview1',
      kind: 'replace',
      status: 'running',
      progress: 0,
      attempts: 1,
      maxAttempts: 1,
      createdAt: now,
      updatedAt: now,
      payload: {
        op: 'replace',
        source: { kind: 'path', path: fx.photo },
        options: {
          previewEvery: 1,
          steps: 3,
          seed: 5,
          quality: 'draft',
          shadow: false,
          overrides: { generation: { resolution: { width: 64, height: 64 } } },
        },
      },
    };
    const file = previewPath(cfg.outputDir, job.id);
    writes.list.length = 0;
    const stages: string[] = [];
    const result = await runJob(
      job,
      { signal: new AbortController().signal, attempt: 1, progress: (_f, s) => s && stages.push(s) },
      cfg,
    );
    expect(result.engine).toBe('local');
    expect(stages).toContain('generate');
    const previews = writes.list.filter((w) => w.dest === file);
    expect(previews.length).toBeGreaterThanOrEqual(1);
    for (const w of previews) {
      const meta = await sharp(Buffer.from(w.data)).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 64]);
    }
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.join(cfg.outputDir, job.id, 'mask.png'))).toBe(true);
  }, 120_000);
});

describe.skipIf(!fixturesPresent)('a local-engine job on the server', () => {
  it('shows its previews at GET /v1/jobs/:id/preview while it runs, then none', async () => {
    process.env.BG_TAESD = writeTaesd2x(path.join(tmp.dir, 'taesd-route'));
    const local = await createServer(
      {
        port: 0,
        host: '127.0.0.1',
        apiToken: TOKEN,
        inputRoots: [fx.inputs],
        outputDir: path.join(tmp.dir, 'local-out'),
        queueDb: path.join(tmp.dir, 'local-queue.db'),
        modelPath: sd1Tiny,
        engine: 'local',
        threads: 2,
        concurrency: 1,
        pollMs: 20,
        syncWaitMs: 0,
      },
      { logger: false },
    );
    try {
      const base = await local.listen();
      const release = gate();
      writes.hold = release.wait;
      const posted = await postJson(`${base}/v1/replace?wait=0`, {
        inputPath: fx.photo,
        previewEvery: 1,
        steps: 3,
        seed: 2,
        overrides: { generation: { resolution: { width: 64, height: 64 } } },
      });
      expect(posted.status).toBe(202);
      const id = posted.json.jobId as string;
      // The first preview is written and held: the job cannot end before the test lets it.
      await waitFor(() => writes.hold === undefined, 60_000, 'the first preview');
      const view = await getJson(`${base}/v1/jobs/${id}`);
      expect(view.json).toMatchObject({ status: 'running', previewUrl: `/v1/jobs/${id}/preview` });
      const res = await fetch(`${base}/v1/jobs/${id}/preview`, { headers: auth() });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 64]);
      release.open();
      await waitFor(
        async () => (await getJson(`${base}/v1/jobs/${id}`)).json.status === 'succeeded',
        60_000,
        'the end',
      );
      expect((await getJson(`${base}/v1/jobs/${id}/preview`)).status).toBe(404);
      expect(existsSync(previewPath(local.config.outputDir, id))).toBe(false);
    } finally {
      writes.hold = undefined;
      await local.close();
    }
  }, 120_000);
});
