/**
 * Scale-out: QUEUE_URL=redis://… puts the jobs on BullMQ. The HTTP server (in this process, not
 * running jobs) and `bg-native worker` (a child process, no HTTP) share one queue on a real
 * redis-server started for the test. Skipped, with a message, when redis-server is not installed
 * (.ci/run installs it).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clearSegmenters, closeComposePool, verifyWebhook } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { tempDir } from './helpers/paths.js';
import {
  SECRET,
  TOKEN,
  WebhookReceiver,
  auth,
  getJson,
  haveRedis,
  makeFixture,
  postJson,
  startCli,
  startRedis,
  type Child,
  type Fixture,
} from './helpers/server-harness.js';
import type { ServerReply } from './helpers/server-reply.js';

const redisInstalled = haveRedis();
if (!redisInstalled) {
  console.warn(
    'server-redis.test.ts: SKIPPED — no `redis-server` binary on PATH (apt-get install redis-server; .ci/run ' +
      'installs it).',
  );
}

describe.skipIf(!redisInstalled)('BullMQ queue on Redis', () => {
  const tmp = tempDir('bgn-redis-');
  let redis: { url: string; stop: () => Promise<void> };
  let fx: Fixture;
  let server: BgServer;
  let url: string;
  let worker: Child | undefined;
  let hook: WebhookReceiver;
  const outputDir = path.join(tmp.dir, 'out');

  beforeAll(async () => {
    redis = await startRedis();
    fx = await makeFixture(tmp.dir);
    hook = await new WebhookReceiver().start();
    server = await createServer(
      {
        port: 0,
        host: '127.0.0.1',
        apiToken: TOKEN,
        webhookSecret: SECRET,
        inputRoots: [fx.inputs],
        outputDir,
        queueUrl: redis.url,
        allowedHosts: ['127.0.0.1'],
        concurrency: 0, // HTTP only: the worker process runs the jobs
        webhookSchedule: [200, 400],
      },
      { logger: false },
    );
    url = await server.listen();
  });

  afterAll(async () => {
    if (worker && worker.proc.exitCode === null) {
      worker.proc.kill('SIGTERM');
      await worker.exited;
    }
    await server?.close();
    await hook?.stop();
    await redis?.stop();
    await closeComposePool();
    await clearSegmenters();
    tmp.remove();
  });

  it('cancels a job still waiting in Redis', async () => {
    const res = await postJson(`${url}/api/background/replace`, { mediaId: 'c', projectId: 'p', inputPath: fx.photo });
    expect(res.status).toBe(202);
    const del = await fetch(`${url}/api/background/jobs/${res.json.jobId}`, { method: 'DELETE', headers: auth() });
    expect(((await del.json()) as ServerReply).status).toBe('cancelled');
    expect((await getJson(`${url}/api/background/jobs/${res.json.jobId}`)).json).toMatchObject({
      status: 'cancelled',
      error: { code: 'E_CANCELLED' },
    });
  });

  it('gives the same job for the same Idempotency-Key', async () => {
    const body = { mediaId: 'i', projectId: 'p', inputPath: fx.photo, overrides: { engine: 'studio' } };
    const a = await postJson(`${url}/api/background/replace`, body, auth({ 'idempotency-key': 'redis-key-1' }));
    const b = await postJson(`${url}/api/background/replace`, body, auth({ 'idempotency-key': 'redis-key-1' }));
    expect(b.json.jobId).toBe(a.json.jobId);
    expect((await getJson(`${url}/health`)).json.queue).toMatchObject({ backend: 'redis', queued: 1 });
  });

  it('a `bg-native worker` process runs the queued jobs and sends the signed webhooks', async () => {
    const res = await postJson(`${url}/api/background/replace`, {
      mediaId: 'r1',
      projectId: 'p',
      inputPath: fx.photo,
      overrides: { engine: 'studio', seed: 5 },
      callbackUrl: hook.url,
    });
    expect(res.status).toBe(202);
    worker = await startCli(['worker', '--concurrency', '2'], {
      QUEUE_URL: redis.url,
      OUTPUT_DIR: outputDir,
      INPUT_ROOTS: fx.inputs,
      APP_WEBHOOK_SECRET: SECRET,
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      BG_SEG_MODEL: fx.model,
      BG_THREADS: '1',
    });
    const [got] = await hook.until((r) => r.some((x) => x.headers['webhook-id'] === `msg_${res.json.jobId}`), 60_000);
    const payload = verifyWebhook(SECRET, got!.headers as Record<string, string>, got!.raw);
    expect(payload).toMatchObject({ type: 'background.job.succeeded', jobId: res.json.jobId, mediaId: 'r1' });
    const job = await getJson(`${url}/api/background/jobs/${res.json.jobId}`);
    expect(job.json).toMatchObject({ status: 'succeeded', progress: 1, result: { engine: 'studio', seed: 5 } });
    const file = await fetch(`${url}${job.json.result.outputUrl}`, { headers: auth() });
    expect(file.status).toBe(200);
  });

  it('/v1/cleanup waits for the worker and answers with the result', async () => {
    const res = await postJson(`${url}/v1/cleanup?wait=30`, { imagePath: fx.photo, mode: 'color' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'succeeded', result: { mode: 'color', width: 64 } });
  });

  it('a job that cannot run fails once (no retry for bad input) and sends background.job.failed', async () => {
    const notImage = path.join(fx.inputs, 'notes.jpg');
    writeFileSync(notImage, 'this is not a photo');
    const res = await postJson(`${url}/api/background/replace`, {
      mediaId: 'bad',
      projectId: 'p',
      inputPath: notImage,
      callbackUrl: hook.url,
    });
    const all = await hook.until((r) => r.some((x) => x.headers['webhook-id'] === `msg_${res.json.jobId}`), 60_000);
    const got = all.find((x) => x.headers['webhook-id'] === `msg_${res.json.jobId}`)!;
    const payload = verifyWebhook(SECRET, got.headers as Record<string, string>, got.raw);
    expect(payload).toMatchObject({
      type: 'background.job.failed',
      jobId: res.json.jobId,
      mediaId: 'bad',
      error: { code: 'E_BAD_INPUT' },
    });
    const job = await getJson(`${url}/api/background/jobs/${res.json.jobId}`);
    expect(job.json).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'E_BAD_INPUT' } });
  });
});
