/**
 * The server's documented contracts, as an integration built from the documentation meets them:
 * the webhook body carries `event` (and the Standard Webhooks `type`, same value), checked by a
 * receiver that verifies the signature with its own HMAC code; `/health` is open by default and
 * says only `{ status }` without the token; callbacks and input URLs go to any public host out of
 * the box while internal addresses stay refused unless listed, and a non-empty
 * WEBHOOK_ALLOWED_HOSTS narrows them. Real server on loopback, real SQLite queue.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { loadServerConfig, type ServerConfigInput } from '../src/server/config.js';
import { checkUrl, guardedRequest, UrlRefusedError } from '../src/net/guard.js';
import { tempDir } from './helpers/paths.js';
import {
  SECRET,
  WebhookReceiver,
  auth,
  getJson,
  makeFixture,
  postJson,
  testServerConfig,
  type Fixture,
  type Received,
} from './helpers/server-harness.js';

const tmp = tempDir('bgn-contracts-');
let fx: Fixture;
const servers: BgServer[] = [];
const receivers: WebhookReceiver[] = [];

/** A server with the documented defaults: no WEBHOOK_ALLOWED_HOSTS, no HEALTH_PUBLIC. */
async function start(over: ServerConfigInput = {}, worker = false): Promise<{ server: BgServer; url: string }> {
  const n = servers.length;
  const server = await createServer(
    testServerConfig(fx, tmp.dir, {
      outputDir: path.join(tmp.dir, `out-${n}`),
      queueDb: path.join(tmp.dir, `queue-${n}.db`),
      webhookSchedule: [200, 400],
      ...over,
    }),
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

/**
 * Standard Webhooks verification written from the specification, not with the project's code:
 * HMAC-SHA256 over `${id}.${timestamp}.${body}` keyed with the base64 bytes after `whsec_`,
 * sent as space-separated `v1,<base64>` entries.
 */
function verifiedEvent(r: Received): Record<string, unknown> {
  const id = String(r.headers['webhook-id']);
  const ts = String(r.headers['webhook-timestamp']);
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const want = createHmac('sha256', key).update(`${id}.${ts}.${r.raw}`).digest();
  const sigs = String(r.headers['webhook-signature'])
    .split(' ')
    .map((s) => s.split(','));
  const ok = sigs.some(
    ([v, b64]) => v === 'v1' && b64 !== undefined && timingSafeEqual(Buffer.from(b64, 'base64'), want),
  );
  if (!ok) throw new Error(`webhook ${id}: signature does not verify`);
  expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(300);
  return JSON.parse(r.raw) as Record<string, unknown>;
}

const seed = (over: Record<string, unknown>) => ({
  mediaId: 'm-1',
  projectId: 'p-1',
  inputPath: fx.photo,
  overrides: { engine: 'studio' },
  ...over,
});

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
});

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const r of receivers) await r.stop();
  await closeComposePool();
  await clearSegmenters();
  delete process.env.BG_SEG_MODEL;
  tmp.remove();
});

describe('webhook body', () => {
  it('carries the documented `event` and the Standard Webhooks `type` with the same value, signed', async () => {
    const hook = await receiver();
    const { url } = await start({ allowedHosts: ['127.0.0.1'] }, true);
    const ok = await postJson(`${url}/api/background/replace`, seed({ mediaId: 'door-1', callbackUrl: hook.url }));
    expect(ok.status).toBe(202);
    const bad = await postJson(
      `${url}/api/background/replace`,
      seed({ mediaId: 'door-2', overrides: { engine: 'studio', preset: 'no-such' }, callbackUrl: hook.url }),
    );
    // An unknown preset is refused at enqueue time; a job that fails while running needs an input that breaks later.
    expect(bad.status).toBe(422);
    const broken = path.join(fx.inputs, 'broken.jpg');
    writeFileSync(broken, Buffer.from('not a photo'));
    const failing = await postJson(
      `${url}/api/background/replace`,
      seed({ mediaId: 'door-3', inputPath: broken, callbackUrl: hook.url }),
    );
    expect(failing.status).toBe(202);

    const got = await hook.until((r) => r.length >= 2);
    const events = got.map(verifiedEvent);
    const success = events.find((e) => e.jobId === ok.json.jobId)!;
    const failure = events.find((e) => e.jobId === failing.json.jobId)!;

    expect(success.event).toBe('background.job.succeeded');
    expect(success.type).toBe(success.event);
    expect(success).toMatchObject({ jobId: ok.json.jobId, mediaId: 'door-1', projectId: 'p-1' });
    expect(success.outputUrl).toMatch(/^\/files\/.+\/output\.png$/);
    expect(new Date(String(success.timestamp)).toISOString()).toBe(success.timestamp);

    expect(failure.event).toBe('background.job.failed');
    expect(failure.type).toBe(failure.event);
    expect(failure).toMatchObject({ jobId: failing.json.jobId, mediaId: 'door-3', projectId: 'p-1' });
    expect(failure.error).toMatchObject({ code: expect.stringMatching(/^E_[A-Z_]+$/), message: expect.any(String) });
    expect(failure).not.toHaveProperty('outputUrl');
  });
});

describe('/health', () => {
  it('is open by default and answers only { status } without the token', async () => {
    const { url } = await start();
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    // Everything else stays behind the token.
    expect((await fetch(`${url}/v1/presets`)).status).toBe(401);
  });

  it('gives the detailed view with the token, on /health, /health?details=1 and /v1/status', async () => {
    const { url } = await start();
    for (const route of ['/health', '/health?details=1', '/v1/status']) {
      const res = await getJson(`${url}${route}`);
      expect(res.status, route).toBe(200);
      expect(res.json, route).toMatchObject({
        status: 'ok',
        queue: { backend: 'sqlite', queued: 0 },
        engines: { studio: true },
      });
      expect(typeof res.json.version, route).toBe('string');
    }
  });

  it(
    'keeps the details behind the token: ?details=1 and /v1/status answer 401 without it, ' +
      'and a wrong token is 401',
    async () => {
      const { url } = await start();
      for (const route of ['/health?details=1', '/health?details=true', '/v1/status']) {
        const res = await fetch(`${url}${route}`);
        expect(res.status, route).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED');
      }
      expect((await fetch(`${url}/health`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect(await (await fetch(`${url}/health?details=0`)).json()).toEqual({ status: 'ok' });
    },
  );

  it('HEALTH_PUBLIC=false puts /health behind the token', async () => {
    const cfg = loadServerConfig({}, { HEALTH_PUBLIC: 'false' });
    expect(cfg.healthPublic).toBe(false);
    expect(loadServerConfig({}, {}).healthPublic).toBe(true);
    const { url } = await start({ healthPublic: false });
    expect((await fetch(`${url}/health`)).status).toBe(401);
    expect((await fetch(`${url}/health`, { headers: auth() })).status).toBe(200);
  });

  it('the OpenAPI document describes /health and /v1/status', async () => {
    const { url } = await start();
    const doc = await getJson(`${url}/openapi.json`);
    expect(Object.keys(doc.json.paths)).toEqual(expect.arrayContaining(['/health', '/v1/status']));
  });
});

describe('callback and input URLs', () => {
  const INTERNAL = [
    'http://127.0.0.1:9/hook',
    'http://[::1]:9/hook',
    'http://169.254.169.254/latest',
    'http://10.1.2.3/x',
    'http://192.168.1.5/x',
    'http://localhost:9/x',
  ];

  it('accept any public host by default, as in the documented request', async () => {
    const { url } = await start();
    for (const callbackUrl of [
      'https://your-app.com/webhooks/background',
      'http://93.184.216.34/hook',
      'https://hooks.example.org:8443/bg?x=1',
    ]) {
      const res = await postJson(`${url}/api/background/replace`, seed({ callbackUrl }));
      expect(res.status, callbackUrl).toBe(202);
    }
    const input = await postJson(`${url}/v1/replace?wait=0`, {
      inputUrl: 'https://cdn.your-app.com/photos/door.jpg',
      engine: 'studio',
    });
    expect(input.status).toBe(202);
  });

  it('refuse loopback, link-local and private addresses by default, for callbackUrl and inputUrl', async () => {
    const { url } = await start();
    for (const target of INTERNAL) {
      const cb = await postJson(`${url}/api/background/replace`, seed({ callbackUrl: target }));
      expect(cb.status, target).toBe(403);
      expect(cb.json.error.code).toBe('E_FORBIDDEN');
      expect(cb.json.error.message, target).toMatch(/internal address .*list that exact host in WEBHOOK_ALLOWED_HOSTS/);
      const inp = await postJson(`${url}/api/background/replace`, seed({ inputPath: undefined, inputUrl: target }));
      expect(inp.status, target).toBe(403);
      expect(inp.json.error.message, target).toMatch(/^inputUrl .*internal address/);
    }
    for (const target of ['file:///etc/passwd', 'ftp://example.com/x', 'not a url']) {
      const res = await postJson(`${url}/api/background/replace`, seed({ callbackUrl: target }));
      expect(res.status, target).toBe(403);
    }
  });

  it('an internal host listed exactly is allowed, and the webhook reaches it', async () => {
    const hook = await receiver();
    const { url } = await start({ allowedHosts: ['*', '127.0.0.1'] }, true);
    const res = await postJson(`${url}/api/background/replace`, seed({ callbackUrl: hook.url }));
    expect(res.status).toBe(202);
    const [got] = await hook.until((r) => r.length >= 1);
    expect(verifiedEvent(got!)).toMatchObject({ event: 'background.job.succeeded', jobId: res.json.jobId });
    // `*` keeps public hosts allowed next to the listed internal one; other internal ones stay refused.
    expect(
      (await postJson(`${url}/api/background/replace`, seed({ callbackUrl: 'https://your-app.com/hook' }))).status,
    ).toBe(202);
    expect(
      (await postJson(`${url}/api/background/replace`, seed({ callbackUrl: 'http://10.0.0.8/hook' }))).status,
    ).toBe(403);
  });

  it('a non-empty WEBHOOK_ALLOWED_HOSTS narrows callbacks and inputs to the list', async () => {
    const { url } = await start({ allowedHosts: ['hooks.example.com', '*.cdn.example.com'] });
    const listed = await postJson(
      `${url}/api/background/replace`,
      seed({ callbackUrl: 'https://hooks.example.com/bg' }),
    );
    expect(listed.status).toBe(202);
    const other = await postJson(
      `${url}/api/background/replace`,
      seed({ callbackUrl: 'https://your-app.com/webhooks/background' }),
    );
    expect(other.status).toBe(403);
    expect(other.json.error.message).toContain(
      'callbackUrl host "your-app.com" is not allowed: ' +
        'add it to WEBHOOK_ALLOWED_HOSTS (now hooks.example.com, *.cdn.example.com)',
    );
    const input = await postJson(
      `${url}/api/background/replace`,
      seed({ inputPath: undefined, inputUrl: 'https://img.cdn.example.com/a.jpg' }),
    );
    expect(input.status).toBe(202);
    const offList = await postJson(
      `${url}/api/background/replace`,
      seed({ inputPath: undefined, inputUrl: 'https://elsewhere.example.net/a.jpg' }),
    );
    expect(offList.status).toBe(403);
  });

  it(
    'checks the address when the request connects: ' + 'a name that resolves to loopback is refused unless listed',
    async () => {
      const hook = await receiver();
      const local = `http://localhost:${hook.port}/hook`;
      await expect(
        guardedRequest(local, { allowedHosts: [] }, 'callbackUrl', {
          method: 'POST',
          body: '{}',
          timeoutMs: 2000,
          maxBytes: 1024,
        }),
      ).rejects.toBeInstanceOf(UrlRefusedError);
      await expect(
        guardedRequest(local, { allowedHosts: ['*'] }, 'callbackUrl', {
          method: 'POST',
          body: '{}',
          timeoutMs: 2000,
          maxBytes: 1024,
        }),
      ).rejects.toThrow(/resolves to the internal address/);
      const res = await guardedRequest(local, { allowedHosts: ['localhost'] }, 'callbackUrl', {
        method: 'POST',
        body: '{}',
        timeoutMs: 2000,
        maxBytes: 1024,
      });
      expect(res.status).toBe(200);
      expect(hook.received).toHaveLength(1);
      // The early check at enqueue time says the same.
      await expect(checkUrl('http://localhost/x', { allowedHosts: [] }, 'inputUrl')).rejects.toThrow(
        /internal address/,
      );
    },
  );
});
