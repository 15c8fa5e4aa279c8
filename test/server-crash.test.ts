/**
 * At-least-once on the embedded queue: `bg-native serve` (a real child process) is killed with
 * SIGKILL while 10 jobs are running (each waiting on its input download); after a restart on the
 * same SQLite file every job finishes and every webhook arrives, signed, with the job's id.
 */
import path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { verifyWebhook } from '../src/index.js';
import { tempDir } from './helpers/paths.js';
import {
  SECRET,
  SlowImageHost,
  TOKEN,
  WebhookReceiver,
  getJson,
  makeFixture,
  postJson,
  startCli,
  waitFor,
  type Child,
} from './helpers/server-harness.js';

const tmp = tempDir('bgn-crash-');
const children: Child[] = [];
let host: SlowImageHost | undefined;
let hook: WebhookReceiver | undefined;

afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await host?.stop();
  await hook?.stop();
  tmp.remove();
});

it('finishes all 10 running jobs and delivers each webhook after kill -9 and a restart', async () => {
  const fx = await makeFixture(tmp.dir);
  host = await new SlowImageHost(fx.jpeg).start();
  hook = await new WebhookReceiver().start();
  const env = {
    API_TOKEN: TOKEN,
    APP_WEBHOOK_SECRET: SECRET,
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    QUEUE_DB: path.join(tmp.dir, 'queue.db'),
    OUTPUT_DIR: path.join(tmp.dir, 'out'),
    BG_SEG_MODEL: fx.model,
    BG_THREADS: '1',
    CONCURRENCY: '10',
    QUEUE_POLL: '100ms',
    WEBHOOK_RETRY_SCHEDULE: '200ms,500ms,1s',
    HOST: '127.0.0.1',
    PORT: '0',
  };
  const first = await startCli(['serve'], env);
  children.push(first);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const res = await postJson(`${first.url}/api/background/replace`, {
      mediaId: `m${i}`,
      projectId: 'crash',
      inputUrl: host.url(`photo-${i}`),
      overrides: { engine: 'studio' },
      callbackUrl: hook.url,
    });
    expect(res.status).toBe(202);
    ids.push(res.json.jobId);
  }
  await waitFor(() => host!.inFlight === 10, 30_000, '10 jobs running');
  expect((await getJson(`${first.url}/health`)).json.queue).toMatchObject({ running: 10, queued: 0 });

  first.proc.kill('SIGKILL');
  await first.exited;
  host.release(); // the restarted server's downloads are answered at once
  expect(hook.received).toHaveLength(0);

  const second = await startCli(['serve'], env);
  children.push(second);
  await hook.until((r) => new Set(r.map((x) => x.headers['webhook-id'])).size === 10, 60_000);
  const byId = new Map(hook.received.map((r) => [r.headers['webhook-id'], r]));
  for (const id of ids) {
    const got = byId.get(`msg_${id}`);
    expect(got, id).toBeDefined();
    expect(verifyWebhook(SECRET, got!.headers as Record<string, string>, got!.raw)).toMatchObject({
      type: 'background.job.succeeded',
      jobId: id,
    });
    const job = await getJson(`${second.url}/api/background/jobs/${id}`);
    expect(job.json).toMatchObject({ status: 'succeeded', attempts: 2 });
  }

  second.proc.kill('SIGTERM');
  expect(await second.exited).toBe(0);
});
