/**
 * `@vitrinealu/bg-native/client` against the real server on loopback: cleanup and replace round
 * trips (server path, upload when the server cannot read the path, bytes), enqueue + waitForJob,
 * retries through a proxy that fails first (503 + Retry-After, dropped connections), the call
 * deadline, AbortSignal, the server's error codes, isHealthy, settings from the environment, and
 * brandPresets generated from presets/*.yaml. Tiny segmentation model, studio engine.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { renderBrandPresets, GENERATED_FILE } from '../scripts/gen-brand-presets.js';
import { BackgroundApiError, brandPresets, createClient, resolveClientConfig, type Job } from '../src/client/index.js';
import { clearSegmenters, closeComposePool, getPreset } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import type { ServerConfigInput } from '../src/server/config.js';
import { tempDir } from './helpers/paths.js';
import { TOKEN, freePort, makeFixture, type Fixture } from './helpers/server-harness.js';

const tmp = tempDir('bgn-client-');
let fx: Fixture;
const servers: BgServer[] = [];
let url: string;

async function start(over: ServerConfigInput = {}, worker = true): Promise<string> {
  const n = servers.length;
  const server = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      apiToken: TOKEN,
      inputRoots: [fx.inputs],
      outputDir: path.join(tmp.dir, `out-${n}`),
      queueDb: path.join(tmp.dir, `queue-${n}.db`),
      engine: 'studio',
      threads: 1,
      concurrency: 1,
      pollMs: 50,
      syncWaitMs: 20_000,
      ...over,
    },
    { logger: false, worker },
  );
  servers.push(server);
  return server.listen();
}

/** A proxy in front of `target` whose first `failures` requests get `fail` instead. */
async function flakyProxy(
  target: string,
  failures: number,
  fail: (res: http.ServerResponse, req: http.IncomingMessage) => void,
) {
  const t = new URL(target);
  const seen: string[] = [];
  let left = failures;
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (left > 0) {
      left--;
      req.resume();
      return fail(res, req);
    }
    const up = http.request(
      { host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const client = (over: Parameters<typeof createClient>[0] = {}) =>
  createClient({ baseUrl: url, token: TOKEN, env: {}, retryDelayMs: 10, pollMs: 50, ...over });

async function rejection(p: Promise<unknown>): Promise<BackgroundApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackgroundApiError);
  return err as BackgroundApiError;
}

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
  url = await start();
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await closeComposePool();
  await clearSegmenters();
  delete process.env.BG_SEG_MODEL;
  tmp.remove();
});

describe('round trips', () => {
  it('cleanup() with a server path resolves with the finished job and absolute artifact URLs', async () => {
    const job = await client().cleanup({ imagePath: fx.photo, mode: 'color', color: '#ffffff', enhanceFg: true });
    expect(job).toMatchObject({
      status: 'succeeded',
      type: 'cleanup',
      result: { mode: 'color', width: 64, height: 48 },
    });
    expect(job.result.outputUrl).toBe(`${url}/files/${job.jobId}/output.png`);
    expect(job.statusUrl).toBe(`${url}/v1/jobs/${job.jobId}`);
  });

  it('replace() with a brand preset prompt saves the output to a local file', async () => {
    const saveTo = path.join(tmp.dir, 'saved', 'chair.jpg');
    const job = await client().replace({
      imagePath: fx.photo,
      preset: 'vitrinealu',
      promptType: 'garden',
      prompt: brandPresets.vitrinealu.prompts.garden,
      negativePrompt: brandPresets.vitrinealu.negativePrompt,
      engine: 'studio',
      seed: 5,
      format: 'jpeg',
      saveTo,
    });
    expect(job.result).toMatchObject({
      engine: 'studio',
      preset: 'vitrinealu',
      promptType: 'garden',
      seed: 5,
      format: 'jpeg',
    });
    expect(job.savedTo).toBe(saveTo);
    const meta = await sharp(readFileSync(saveTo)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 48]);
  });

  it("uploads the file the server cannot read (upload: 'auto'); E_FORBIDDEN when told not to upload", async () => {
    const outside = path.join(tmp.dir, 'elsewhere', 'chair.jpg');
    mkdirSync(path.dirname(outside), { recursive: true });
    writeFileSync(outside, fx.jpeg);
    const job = await client().replace({ imagePath: outside, engine: 'studio' });
    expect(job.result).toMatchObject({ width: 64, height: 48 });

    const err = await rejection(client({ upload: false }).replace({ imagePath: outside, engine: 'studio' }));
    expect(err).toMatchObject({ code: 'E_FORBIDDEN', status: 403 });
    expect(err.message).toMatch(/INPUT_ROOTS/);
  });

  it('uploads bytes given as image', async () => {
    const job = await client().cleanup({ image: fx.jpeg, filename: 'chair.jpg' });
    expect(job.result).toMatchObject({ mode: 'transparent', format: 'png' });
    const png = await client().download(job.result.outputUrl);
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);
  });

  it('replace() keeps polling after the server answers 202, reporting progress', async () => {
    const seen: Job[] = [];
    const job = await client({ syncWaitMs: 0 }).replace({
      imagePath: fx.photo,
      engine: 'studio',
      onProgress: (j) => seen.push(j),
    });
    expect(job.status).toBe('succeeded');
    expect(seen.at(-1)?.status).toBe('succeeded');
  });

  it('enqueue() answers with the job id at once and waitForJob() resolves when it succeeded', async () => {
    const bg = client();
    const q = await bg.enqueue({
      mediaId: 'm-1',
      projectId: 'p-1',
      imagePath: fx.photo,
      preset: 'product-studio',
      engine: 'studio',
      seed: 9,
    });
    expect(q).toMatchObject({ created: true, statusUrl: `${url}/api/background/jobs/${q.jobId}` });
    const job = await bg.waitForJob(q.jobId, { pollMs: 20 });
    expect(job).toMatchObject({
      status: 'succeeded',
      mediaId: 'm-1',
      projectId: 'p-1',
      result: { engine: 'studio', seed: 9 },
    });
    expect((await bg.getJob(q.jobId)).status).toBe('succeeded');
  });
});

describe('errors', () => {
  it("carries the server's code, status and message", async () => {
    const bad = await rejection(client().replace({ imagePath: fx.photo, preset: 'no-such-preset' }));
    expect(bad.code).toBe('E_BAD_INPUT');
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.message).toMatch(/Unknown preset "no-such-preset"/);

    const missing = await rejection(client().getJob('job_nope'));
    expect(missing).toMatchObject({ code: 'E_NOT_FOUND', status: 404 });

    const retries: unknown[] = [];
    const denied = await rejection(client({ token: 'wrong', onRetry: (r) => retries.push(r) }).getJob('job_nope'));
    expect(denied).toMatchObject({ code: 'E_UNAUTHORIZED', status: 401, attempts: 1 });
    expect(retries).toEqual([]);
  });

  it('a failed job rejects with its code and job id', async () => {
    const notPhoto = path.join(fx.inputs, 'notes.jpg');
    writeFileSync(notPhoto, 'not a photo');
    const err = await rejection(client().cleanup({ imagePath: notPhoto }));
    expect(err.jobId).toMatch(/^job_/);
    expect(err.code).toMatch(/^E_/);
    expect(err.retryable).toBe(false);
  });

  it('refuses a call without a photo before sending anything', async () => {
    const err = await rejection(client().replace({ engine: 'studio' }));
    expect(err.code).toBe('E_BAD_INPUT');
    expect(err.message).toMatch(/imagePath, image \(bytes\) or imageUrl/);
  });
});

describe('retries, deadline and cancellation', () => {
  it('retries a 503 honouring Retry-After, then succeeds', async () => {
    const proxy = await flakyProxy(url, 2, (res) =>
      res
        .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
        .end(JSON.stringify({ error: { code: 'E_QUEUE_FULL', message: 'The queue is full.' } })),
    );
    try {
      const retries: { retry: number; delayMs: number; code: string }[] = [];
      const t0 = Date.now();
      const job = await client({
        baseUrl: proxy.url,
        onRetry: (r) => retries.push({ retry: r.retry, delayMs: r.delayMs, code: r.error.code }),
      }).cleanup({ imagePath: fx.photo });
      expect(job.status).toBe('succeeded');
      expect(retries).toEqual([
        { retry: 1, delayMs: 1000, code: 'E_QUEUE_FULL' },
        { retry: 2, delayMs: 1000, code: 'E_QUEUE_FULL' },
      ]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
      // Every try carried the same Idempotency-Key: one job only.
      expect(proxy.seen.filter((s) => s.startsWith('POST /v1/cleanup'))).toHaveLength(3);
    } finally {
      await proxy.close();
    }
  });

  it('retries dropped connections, and gives up with the last error when the retries run out', async () => {
    const proxy = await flakyProxy(url, 1, (res) => res.socket?.destroy());
    try {
      expect((await client({ baseUrl: proxy.url }).health()).status).toBe('ok');
    } finally {
      await proxy.close();
    }
    const down = await flakyProxy(url, 100, (res) =>
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad gateway</h1>'),
    );
    try {
      const err = await rejection(client({ baseUrl: down.url, retryAttempts: 2 }).getJob('job_x'));
      expect(err).toMatchObject({ code: 'E_HTTP_502', status: 502, attempts: 3, retryable: true });
      expect(down.seen).toHaveLength(3);
    } finally {
      await down.close();
    }
  });

  it('rejects with E_TIMEOUT and the job id when the job is not done within timeoutMs', async () => {
    const idle = await start({}, false); // enqueues, runs nothing
    const t0 = Date.now();
    const err = await rejection(client({ baseUrl: idle }).replace({ imagePath: fx.photo, timeoutMs: 600 }));
    expect(err.code).toBe('E_TIMEOUT');
    expect(err.jobId).toMatch(/^job_/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await client({ baseUrl: idle }).getJob(err.jobId!)).status).toBe('queued');
  });

  it('an AbortSignal cancels the call with E_CANCELLED and cancels the server job', async () => {
    const idle = await start({}, false);
    const ac = new AbortController();
    const seen: Job[] = [];
    const p = client({ baseUrl: idle, syncWaitMs: 0 }).replace({
      imagePath: fx.photo,
      signal: ac.signal,
      onProgress: (j) => (seen.push(j), ac.abort()),
    });
    const err = await rejection(p);
    expect(err.code).toBe('E_CANCELLED');
    expect(err.jobId).toBe(seen[0]!.jobId);
    expect((await client({ baseUrl: idle }).getJob(err.jobId!)).status).toBe('cancelled');
  });

  it('isHealthy() is true for a running server and false, quickly, when nothing listens', async () => {
    expect(await client().isHealthy()).toBe(true);
    const port = await freePort();
    const t0 = Date.now();
    expect(await client({ baseUrl: `http://127.0.0.1:${port}` }).isHealthy()).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('settings', () => {
  it('reads BACKGROUND_API_URL, API_TOKEN, BACKGROUND_TIMEOUT and the retry settings; options win', () => {
    const env = {
      BACKGROUND_API_URL: 'https://media.example.com/bg/',
      API_TOKEN: ' secret ',
      BACKGROUND_TIMEOUT: '90s',
      BACKGROUND_RETRY_ATTEMPTS: '5',
      BACKGROUND_RETRY_DELAY: '250',
    };
    expect(resolveClientConfig({ env })).toMatchObject({
      baseUrl: 'https://media.example.com/bg',
      token: 'secret',
      timeoutMs: 90_000,
      retryAttempts: 5,
      retryDelayMs: 250,
    });
    expect(
      resolveClientConfig({ env, timeoutMs: 1000, retryAttempts: 0, baseUrl: 'http://localhost:9' }),
    ).toMatchObject({ baseUrl: 'http://localhost:9', timeoutMs: 1000, retryAttempts: 0 });
    expect(resolveClientConfig({ env: {} })).toMatchObject({
      baseUrl: 'http://127.0.0.1:3001',
      timeoutMs: 300_000,
      retryAttempts: 3,
      retryDelayMs: 1000,
    });
  });

  it('names the variable of a bad setting', () => {
    expect(() => resolveClientConfig({ env: { BACKGROUND_TIMEOUT: 'soon' } })).toThrow(
      /BACKGROUND_TIMEOUT must be milliseconds/,
    );
    expect(() => resolveClientConfig({ env: { BACKGROUND_API_URL: 'ftp://x' } })).toThrow(
      /BACKGROUND_API_URL must start with http/,
    );
    expect(() => resolveClientConfig({ env: { BACKGROUND_RETRY_ATTEMPTS: '-1' } })).toThrow(
      /BACKGROUND_RETRY_ATTEMPTS must be a whole number/,
    );
  });

  it('never sends the token to another origin', async () => {
    const seen: (string | undefined)[] = [];
    const other = http.createServer((req, res) => (seen.push(req.headers.authorization), res.end('x')));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const bytes = await client().download(`http://127.0.0.1:${(other.address() as net.AddressInfo).port}/file.png`);
      expect(bytes.toString()).toBe('x');
      expect(seen).toEqual([undefined]);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });
});

describe('brandPresets', () => {
  it('is generated from presets/*.yaml and up to date (npm run build:ts regenerates it)', () => {
    expect(readFileSync(GENERATED_FILE, 'utf8')).toBe(renderBrandPresets());
  });

  it("matches the library's presets", () => {
    const garden = getPreset('vitrinealu', { promptType: 'garden' });
    expect(brandPresets.vitrinealu.prompts.garden).toBe(garden.prompt);
    expect(brandPresets.vitrinealu.negativePrompt).toBe(garden.negativePrompt);
    expect(brandPresets.vitrinealu.prompts.studio).toBe(brandPresets.vitrinealu.prompt);
    expect(brandPresets.vitrinealu.promptTypes).toEqual(['studio', 'garden', 'minimal', 'lifestyle']);
    expect(brandPresets['product-studio'].prompt).toBe(getPreset('product-studio').prompt);
    expect(existsSync(GENERATED_FILE)).toBe(true);
  });
});
