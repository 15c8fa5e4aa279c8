/**
 * The HTTP server on loopback, as a client sees it: the seed API (enqueue → signed webhook),
 * the client API (/v1, JSON and multipart, bounded wait), artifacts under /files, /health,
 * the OpenAPI document — and every refusal: token, INPUT_ROOTS (traversal, symlinks), the
 * URL allow-list and internal addresses, size limits, bad JSON, unknown preset, a full queue.
 * Real server, real SQLite file, the tiny segmentation model, the studio engine.
 */
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clearSegmenters, closeComposePool, verifyWebhook } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import type { ServerConfigInput } from '../src/server/config.js';
import { tempDir } from './helpers/paths.js';
import {
  SECRET,
  TOKEN,
  WebhookReceiver,
  auth,
  getJson,
  makeFixture,
  postJson,
  waitFor,
  type Fixture,
} from './helpers/server-harness.js';
import type { ServerReply } from './helpers/server-reply.js';

const tmp = tempDir('bgn-server-');
let fx: Fixture;
const servers: BgServer[] = [];
const receivers: WebhookReceiver[] = [];

async function start(over: ServerConfigInput = {}, worker = true): Promise<{ server: BgServer; url: string }> {
  const n = servers.length;
  const server = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      apiToken: TOKEN,
      webhookSecret: SECRET,
      inputRoots: [fx.inputs],
      outputDir: path.join(tmp.dir, `out-${n}`),
      queueDb: path.join(tmp.dir, `queue-${n}.db`),
      allowedHosts: ['127.0.0.1'],
      threads: 1,
      concurrency: 1,
      pollMs: 50,
      webhookSchedule: [200, 400, 800],
      syncWaitMs: 20_000,
      ...over,
    },
    { logger: false, worker },
  );
  servers.push(server);
  return { server, url: await server.listen() };
}

async function receiver(): Promise<WebhookReceiver> {
  const r = await new WebhookReceiver().start();
  receivers.push(r);
  return r;
}

let main: { server: BgServer; url: string };

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
  main = await start({ publicBaseUrl: 'https://media.example.com/bg' });
});

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const r of receivers) await r.stop();
  await closeComposePool();
  await clearSegmenters();
  delete process.env.BG_SEG_MODEL;
  tmp.remove();
});

describe('seed API', () => {
  it('enqueues a replacement, answers 202 with a job id, POSTs a signed background.job.succeeded webhook', async () => {
    const hook = await receiver();
    const res = await postJson(`${main.url}/api/background/replace`, {
      mediaId: 'media-1',
      projectId: 'proj-1',
      inputPath: fx.photo,
      preset: 'product-studio',
      overrides: { engine: 'studio', seed: 7 },
      callbackUrl: hook.url,
    });
    expect(res.status).toBe(202);
    expect(res.json.jobId).toMatch(/^job_/);

    const [got] = await hook.until((r) => r.length >= 1);
    const payload = verifyWebhook(SECRET, got!.headers as Record<string, string>, got!.raw) as {
      outputUrl: string;
      timestamp: string;
    };
    expect(payload).toMatchObject({
      type: 'background.job.succeeded',
      jobId: res.json.jobId,
      mediaId: 'media-1',
      projectId: 'proj-1',
    });
    expect(got!.headers['webhook-id']).toBe(`msg_${res.json.jobId}`);
    expect(payload.outputUrl).toBe(`https://media.example.com/bg/files/${res.json.jobId}/output.png`);
    expect(Date.parse(payload.timestamp)).toBeGreaterThan(0);

    const job = await getJson(`${main.url}/api/background/jobs/${res.json.jobId}`);
    expect(job.json).toMatchObject({ status: 'succeeded', progress: 1, mediaId: 'media-1' });
    expect(job.json.result).toMatchObject({
      engine: 'studio',
      preset: 'product-studio',
      seed: 7,
      width: 64,
      height: 48,
      format: 'png',
    });
    expect(job.json.result.metrics.elapsed_ms).toBeGreaterThanOrEqual(0);

    const file = await fetch(`${main.url}/files/${res.json.jobId}/output.png`, { headers: auth() });
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(Buffer.from(await file.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([64, 48]);
  });

  it('cancels a queued job with DELETE and reports it as cancelled', async () => {
    const idle = await start({}, false); // enqueues, runs nothing
    const res = await postJson(`${idle.url}/api/background/replace`, {
      mediaId: 'm',
      projectId: 'p',
      inputPath: fx.photo,
    });
    const del = await fetch(`${idle.url}/api/background/jobs/${res.json.jobId}`, { method: 'DELETE', headers: auth() });
    expect(del.status).toBe(200);
    expect(await del.json()).toMatchObject({ status: 'cancelled', error: { code: 'E_CANCELLED' } });
    expect((await getJson(`${idle.url}/api/background/jobs/${res.json.jobId}`)).json.status).toBe('cancelled');
  });

  it('answers 404 for a job that does not exist', async () => {
    const res = await getJson(`${main.url}/api/background/jobs/job_nope`);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('E_NOT_FOUND');
  });

  it('returns the same job for the same Idempotency-Key', async () => {
    const body = { mediaId: 'idem', projectId: 'p', inputPath: fx.photo, overrides: { engine: 'studio' } };
    const a = await postJson(`${main.url}/api/background/replace`, body, auth({ 'idempotency-key': 'order-42' }));
    const b = await postJson(`${main.url}/api/background/replace`, body, auth({ 'idempotency-key': 'order-42' }));
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect(b.json.jobId).toBe(a.json.jobId);
  });
});

describe('client API', () => {
  it('/v1/cleanup with a server path answers with the result once done', async () => {
    const res = await postJson(`${main.url}/v1/cleanup`, { imagePath: fx.photo, mode: 'color', color: '#ffffff' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      status: 'succeeded',
      type: 'cleanup',
      result: { mode: 'color', width: 64, height: 48 },
    });
  });

  it('/v1/replace takes a multipart upload', async () => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(fx.jpeg)], { type: 'image/jpeg' }), 'chair.jpg');
    form.append('engine', 'studio');
    form.append('options', JSON.stringify({ seed: 3, format: 'jpeg' }));
    const res = await fetch(`${main.url}/v1/replace`, { method: 'POST', headers: auth(), body: form });
    const json = (await res.json()) as ServerReply;
    expect(res.status).toBe(200);
    expect(json.result).toMatchObject({ engine: 'studio', seed: 3, format: 'jpeg' });
    expect(json.result.outputUrl).toMatch(/\/output\.jpg$/);
  });

  it('/v1/replace answers 202 with the job when the result is not ready within the wait', async () => {
    const idle = await start({}, false);
    const res = await postJson(`${idle.url}/v1/replace?wait=0.2`, { imagePath: fx.photo, engine: 'studio' });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'queued' });
    expect(res.headers.get('location')).toBe(`/v1/jobs/${res.json.jobId}`);
    expect((await getJson(`${idle.url}/v1/jobs/${res.json.jobId}`)).json.status).toBe('queued');
  });

  it('/health reports queue depth, engines, backends and version', async () => {
    const res = await getJson(`${main.url}/health`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', queue: { backend: 'sqlite' }, engines: { studio: true } });
    expect(res.json.backends.some((b: { name: string }) => b.name === 'cpu')).toBe(true);
    expect(res.json.presets).toContain('product-studio');
  });

  it('serves the OpenAPI document generated from the route schemas, and /docs', async () => {
    const doc = await getJson(`${main.url}/openapi.json`);
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining([
        '/api/background/replace',
        '/api/background/jobs/{id}',
        '/v1/replace',
        '/v1/cleanup',
        '/health',
      ]),
    );
    const body = doc.json.paths['/api/background/replace']?.post?.requestBody.content['application/json']?.schema;
    expect(body?.required).toEqual(expect.arrayContaining(['mediaId', 'projectId']));
    expect(body?.properties?.overrides?.properties).toHaveProperty('engine');
    expect((await fetch(`${main.url}/docs`, { headers: auth() })).status).toBe(200);
  });
});

describe('webhook retries', () => {
  it('delivers later, with the same webhook-id, when the receiver was down at first', async () => {
    const hook = await receiver();
    hook.status = 503; // down
    const res = await postJson(`${main.url}/api/background/replace`, {
      mediaId: 'retry',
      projectId: 'p',
      inputPath: fx.photo,
      overrides: { engine: 'studio' },
      callbackUrl: hook.url,
    });
    await hook.until((r) => r.length >= 2);
    hook.status = 200; // up again
    const all = await hook.until((r) => r.length >= 3);
    const ids = new Set(all.map((r) => r.headers['webhook-id']));
    expect(ids).toEqual(new Set([`msg_${res.json.jobId}`]));
    for (const r of all) verifyWebhook(SECRET, r.headers as Record<string, string>, r.raw);
    await waitFor(
      async () => (await main.server.queue.getDelivery(`msg_${res.json.jobId}`))?.status === 'delivered',
      5000,
      'delivered',
    );
  });

  it('stops retrying when the receiver answers 410 Gone', async () => {
    const hook = await receiver();
    hook.status = 410;
    const res = await postJson(`${main.url}/api/background/replace`, {
      mediaId: 'gone',
      projectId: 'p',
      inputPath: fx.photo,
      overrides: { engine: 'studio' },
      callbackUrl: hook.url,
    });
    await hook.until((r) => r.length >= 1);
    await waitFor(
      async () => (await main.server.queue.getDelivery(`msg_${res.json.jobId}`))?.status === 'gone',
      5000,
      'gone',
    );
    await new Promise((r) => setTimeout(r, 700));
    expect(hook.received).toHaveLength(1);
  });
});

describe('refusals', () => {
  const seed = (over: Record<string, unknown>) => ({ mediaId: 'm', projectId: 'p', inputPath: fx.photo, ...over });

  it('401 without the bearer token, on every route including /health', async () => {
    for (const [method, route] of [
      ['POST', '/api/background/replace'],
      ['GET', '/health'],
      ['GET', '/openapi.json'],
      ['GET', '/files/x/output.png'],
    ] as const) {
      const res = await fetch(`${main.url}${route}`, { method, headers: { authorization: 'Bearer wrong' } });
      expect(res.status, route).toBe(401);
      expect(((await res.json()) as ServerReply).error.code).toBe('E_UNAUTHORIZED');
    }
  });

  it('/health is closed when HEALTH_PUBLIC is false, open (liveness only) by default', async () => {
    const closed = await start({ healthPublic: false }, false);
    expect((await fetch(`${closed.url}/health`)).status).toBe(401);
    expect(await (await fetch(`${main.url}/health`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${main.url}/v1/jobs/x`)).status).toBe(401);
  });

  it('403 for a path outside INPUT_ROOTS, by traversal or through a symlink', async () => {
    const traversal = await postJson(
      `${main.url}/api/background/replace`,
      seed({ inputPath: `${fx.inputs}/../../../etc/passwd` }),
    );
    expect(traversal.status).toBe(403);
    expect(traversal.json.error).toMatchObject({ code: 'E_FORBIDDEN' });
    expect(traversal.json.error.message).toMatch(/outside the folders this server may read \(INPUT_ROOTS\)/);

    const outside = path.join(tmp.dir, 'secret.jpg');
    writeFileSync(outside, fx.jpeg);
    const link = path.join(fx.inputs, 'escape.jpg');
    symlinkSync(outside, link);
    const escaped = await postJson(`${main.url}/api/background/replace`, seed({ inputPath: link }));
    expect(escaped.status).toBe(403);
    expect(escaped.json.error.message).toMatch(/INPUT_ROOTS/);
  });

  it('403 for a callbackUrl host not on the allow-list, and for internal addresses not listed exactly', async () => {
    const other = await postJson(
      `${main.url}/api/background/replace`,
      seed({ callbackUrl: 'https://evil.example.net/hook' }),
    );
    expect(other.status).toBe(403);
    expect(other.json.error.message).toMatch(
      /callbackUrl host "evil.example.net" is not allowed: add it to WEBHOOK_ALLOWED_HOSTS/,
    );

    const wild = await start({ allowedHosts: ['*'] }, false);
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://[::1]:9/hook',
      'http://169.254.169.254/latest',
      'http://10.1.2.3/x',
      'http://localhost:9/x',
    ]) {
      const res = await postJson(`${wild.url}/api/background/replace`, seed({ callbackUrl: url }));
      expect(res.status, url).toBe(403);
      expect(res.json.error.message, url).toMatch(/internal address/);
    }
    const file = await postJson(
      `${main.url}/api/background/replace`,
      seed({ inputPath: undefined, inputUrl: 'file:///etc/passwd' }),
    );
    expect(file.status).toBe(403);
  });

  it('413 for a body over BODY_LIMIT and an upload over UPLOAD_LIMIT', async () => {
    const small = await start({ bodyLimit: 2048, uploadLimit: 2048 }, false);
    const big = await postJson(
      `${small.url}/api/background/replace`,
      seed({ overrides: { prompt: 'x'.repeat(3000) } }),
    );
    expect(big.status).toBe(413);
    expect(big.json.error).toMatchObject({ code: 'E_TOO_LARGE' });
    expect(big.json.error.message).toMatch(/BODY_LIMIT/);

    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(4096)], { type: 'image/jpeg' }), 'big.jpg');
    const up = await fetch(`${small.url}/v1/replace`, { method: 'POST', headers: auth(), body: form });
    expect(up.status).toBe(413);
    expect(((await up.json()) as ServerReply).error.message).toMatch(/UPLOAD_LIMIT/);
    expect(readdirSync(path.join(small.server.config.outputDir, '.uploads'))).toEqual([]);
  });

  it('400 for a body that is not JSON, naming the problem', async () => {
    const res = await fetch(`${main.url}/api/background/replace`, {
      method: 'POST',
      headers: auth({ 'content-type': 'application/json' }),
      body: '{"mediaId": ',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ServerReply).error).toMatchObject({ code: 'E_BAD_JSON' });
  });

  it('400 naming the fields for a body that does not fit the schema', async () => {
    const res = await postJson(`${main.url}/api/background/replace`, {
      mediaId: 'm',
      inputPath: fx.photo,
      overrides: { engine: 'dalle' },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('E_BAD_INPUT');
    expect(res.json.error.message).toMatch(/`projectId`/);
    expect(res.json.error.message).toMatch(/`overrides.engine` must be one of auto, local, runway, studio/);
  });

  it('422 for an unknown preset, listing the valid ones', async () => {
    const res = await postJson(`${main.url}/api/background/replace`, seed({ preset: 'no-such-preset' }));
    expect(res.status).toBe(422);
    expect(res.json.error.message).toMatch(/Unknown preset "no-such-preset"\. Valid presets: .*product-studio/);
  });

  it('403 for /files paths that leave OUTPUT_DIR, 404 for missing files', async () => {
    mkdirSync(path.join(main.server.config.outputDir, 'x'), { recursive: true });
    for (const p of [
      '/files/../queue-0.db',
      '/files/%2e%2e/queue-0.db',
      '/files/.uploads/a',
      '/files/x/..%2f..%2fqueue-0.db',
    ]) {
      const res = await fetch(`${main.url}${p}`, { headers: auth() });
      expect([403, 404], p).toContain(res.status);
    }
  });

  it('503 with Retry-After when the queue is full', async () => {
    const full = await start({ maxQueued: 1, retryAfterSec: 7 }, false);
    expect((await postJson(`${full.url}/api/background/replace`, seed({}))).status).toBe(202);
    const res = await postJson(`${full.url}/api/background/replace`, seed({}));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(res.json.error.code).toBe('E_QUEUE_FULL');
  });
});
