/**
 * Jobs and files that age out, and a full disk. The real server on loopback with the real queue
 * (a SQLite file; BullMQ on a real redis-server when one is installed), the tiny segmentation
 * model, the studio engine:
 * - the retention sweep deletes ended jobs older than JOB_RETENTION with their files and upload,
 *   and folders left without a job; it keeps queued, running and recent jobs, and jobs whose
 *   webhook is still being delivered; a swept job answers 404;
 * - below MIN_FREE_DISK the routes that enqueue answer 503 E_DISK_FULL + Retry-After (the free
 *   space is played by the server's `diskFree` option), before an upload is stored;
 * - a job that hits ENOSPC while writing (node:fs/promises `open` is wrapped in this file: a temp
 *   file gets half its bytes, then the write fails) fails its try with E_IO, leaves no file, is
 *   tried again and succeeds once there is space; the queue file stays sound;
 * - a soak of 200 jobs with a 1 s retention: the files, the queue's rows and file size, and the
 *   process's memory stay bounded (`npm run bench:soak` runs 2 000 and prints the figures).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';

import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer, type CreateServerOptions } from '../src/server/app.js';
import type { ServerConfigInput } from '../src/server/config.js';
import { diskFree } from '../src/server/retention.js';
import { tempDir } from './helpers/paths.js';
import {
  SECRET,
  SlowImageHost,
  TOKEN,
  auth,
  getJson,
  haveRedis,
  makeFixture,
  postJson,
  startRedis,
  waitFor,
  type Fixture,
} from './helpers/server-harness.js';
import type { ServerReply } from './helpers/server-reply.js';

/** What the wrapped `open` does to temp files whose name starts with `.${name}.`: fail `count` writes. */
const disk = vi.hoisted(() => ({ failName: '', failCount: 0, partialWrites: 0 }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof real.open>) => {
    const fh = await real.open(...args);
    const base = path.basename(String(args[0]));
    const hit = disk.failName !== '' && base.startsWith(`.${disk.failName}.`) && base.endsWith('.tmp');
    if (!hit || disk.failCount <= 0) return fh;
    disk.failCount--;
    // The device fills up half-way through: some bytes land in the temp file, then ENOSPC.
    const writeFile = async (data: Uint8Array) => {
      await fh.write(data.subarray(0, Math.ceil(data.length / 2)));
      disk.partialWrites++;
      const err = new Error('ENOSPC: no space left on device, write');
      throw Object.assign(err, { code: 'ENOSPC', errno: -28, syscall: 'write' });
    };
    return new Proxy(fh, {
      get: (target, prop) => {
        if (prop === 'writeFile') return writeFile;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  };
  return { ...real, open, default: { ...real, open } };
});

const tmp = tempDir('bgn-retention-');
let fx: Fixture;
const servers: BgServer[] = [];
const closers: (() => Promise<void>)[] = [];

async function start(over: ServerConfigInput = {}, options: CreateServerOptions = {}) {
  const n = servers.length;
  const outputDir = path.join(tmp.dir, `out-${n}`);
  const queueDb = path.join(tmp.dir, `queue-${n}.db`);
  const server = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      apiToken: TOKEN,
      webhookSecret: SECRET,
      inputRoots: [fx.inputs],
      outputDir,
      queueDb,
      allowedHosts: ['127.0.0.1'],
      threads: 1,
      concurrency: 1,
      pollMs: 50,
      backoffMs: 100,
      // Sweeps in these tests are called when wanted; the timer's would come too late to matter.
      retentionSweepMs: 3_600_000,
      ...over,
    },
    { logger: false, ...options },
  );
  servers.push(server);
  return { server, url: await server.listen(), outputDir, queueDb };
}

/** An HTTP receiver that holds every request until `release()`: a webhook delivery still under way. */
async function holdingReceiver(): Promise<{ url: string; count: () => number; release: () => void }> {
  const held: http.ServerResponse[] = [];
  let released = false;
  let count = 0;
  const srv = http.createServer((req, res) => {
    req.resume();
    count++;
    if (released) res.writeHead(200).end();
    else held.push(res);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const r of held.splice(0)) r.destroy();
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/hook`,
    count: () => count,
    release: () => {
      released = true;
      for (const r of held.splice(0)) r.writeHead(200).end();
    },
  };
}

async function job(url: string, id: string): Promise<{ status: number; json: ServerReply }> {
  return getJson(`${url}/v1/jobs/${id}`);
}

async function until(url: string, id: string, pred: (j: ServerReply) => boolean, what: string): Promise<ServerReply> {
  let last: ServerReply | undefined;
  await waitFor(async () => pred((last = (await job(url, id)).json)), 60_000, `${id}: ${what}`);
  return last!; // set by the poll that satisfied pred
}

/** Every file under `dir`, relative, folders included (with a trailing slash). */
function listTree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = `${prefix}${e.name}`;
    if (e.isDirectory()) out.push(`${rel}/`, ...listTree(path.join(dir, e.name), `${rel}/`));
    else out.push(rel);
  }
  return out;
}

const jobFolders = (outputDir: string) => readdirSync(outputDir).filter((n) => n.startsWith('job_'));
/** What jobs left under OUTPUT_DIR (uploads aside). */
const outputs = (outputDir: string) => listTree(outputDir).filter((f) => !f.startsWith('.uploads'));

async function cancel(url: string, id: string): Promise<number> {
  return (await fetch(`${url}/v1/jobs/${id}`, { method: 'DELETE', headers: auth() })).status;
}

async function delivered(server: BgServer, jobId: string): Promise<void> {
  const isDelivered = async () => (await server.queue.getDelivery(`msg_${jobId}`))?.status === 'delivered';
  await waitFor(isDelivered, 30_000, 'the webhook delivery');
}

/** POSTs the fixture photo as a multipart upload. */
async function upload(url: string, route: string): Promise<{ status: number; json: ServerReply; headers: Headers }> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(fx.jpeg)], { type: 'image/jpeg' }), 'photo.jpg');
  const res = await fetch(`${url}${route}`, { method: 'POST', headers: auth(), body: form });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
});

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const c of closers) await c();
  await closeComposePool();
  await clearSegmenters();
  delete process.env.BG_SEG_MODEL;
  tmp.remove();
});

describe('retention (SQLite queue)', () => {
  it('deletes old ended jobs with their files; keeps queued, running, recent and still-announced ones', async () => {
    const retentionMs = 1500;
    const { server, url, outputDir, queueDb } = await start({ jobRetentionMs: retentionMs, webhookTimeoutMs: 120_000 });
    const uploads = path.join(outputDir, '.uploads');

    // Ended long enough ago: a success, a success from an upload, a failure (not a photo).
    const ok = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo });
    expect(ok.status).toBe(200);
    const up = await upload(`${url}`, '/v1/cleanup?wait=60');
    expect(up.status).toBe(200);
    expect(readdirSync(uploads)).toHaveLength(1);
    const notPhoto = path.join(fx.inputs, 'not-a-photo.jpg');
    writeFileSync(notPhoto, 'plain text, not an image');
    const bad = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: notPhoto });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    const badId = bad.json.jobId as string;
    expect((await job(url, badId)).json).toMatchObject({ status: 'failed' });
    // Ended as long ago, but its webhook is still being delivered: the receiver has not answered.
    const hook = await holdingReceiver();
    const announced = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo, callbackUrl: hook.url });
    expect(announced.status).toBe(200);
    await waitFor(() => hook.count() >= 1, 30_000, 'the webhook delivery to start');

    // Folders named like jobs with no job behind them: one old (left by a crash), one new.
    const orphan = path.join(outputDir, `job_${randomUUID()}`);
    const youngOrphan = path.join(outputDir, `job_${randomUUID()}`);
    const other = path.join(outputDir, 'not-a-job');
    for (const d of [orphan, youngOrphan, other]) {
      mkdirSync(d);
      writeFileSync(path.join(d, 'output.png'), 'x');
    }
    const past = new Date(Date.now() - 10 * retentionMs);
    for (const d of [orphan, other]) utimesSync(d, past, past);

    await new Promise((r) => setTimeout(r, retentionMs + 100));
    utimesSync(youngOrphan, new Date(), new Date());

    // Recent: a success, a job running (its input is held), one queued behind it, one cancelled.
    const recent = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo });
    expect(recent.status).toBe(200);
    const host = await new SlowImageHost(fx.jpeg).start();
    closers.push(() => host.stop());
    const running = await postJson(`${url}/v1/cleanup?wait=0`, { inputUrl: host.url('held') });
    await until(url, running.json.jobId, (j) => j.status === 'running', 'running');
    const queued = await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo });
    const cancelled = await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo });
    expect(await cancel(url, cancelled.json.jobId)).toBe(200);

    const report = await server.retention.sweep();
    expect(report).toEqual({ jobs: 3, orphans: 1 });

    for (const id of [ok.json.jobId, up.json.jobId, badId]) {
      const gone = await job(url, id);
      expect(gone.status).toBe(404);
      expect(gone.json.error.code).toBe('E_NOT_FOUND');
      expect(existsSync(path.join(outputDir, id))).toBe(false);
    }
    expect((await fetch(`${url}/files/${ok.json.jobId}/output.png`, { headers: auth() })).status).toBe(404);
    expect(readdirSync(uploads)).toEqual([]);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(youngOrphan)).toBe(true);
    expect(existsSync(other)).toBe(true);

    const kept: [string, string][] = [
      [announced.json.jobId, 'succeeded'],
      [recent.json.jobId, 'succeeded'],
      [running.json.jobId, 'running'],
      [queued.json.jobId, 'queued'],
      [cancelled.json.jobId, 'cancelled'],
    ];
    for (const [id, status] of kept) expect((await job(url, id)).json.status).toBe(status);
    for (const id of [announced.json.jobId, recent.json.jobId]) {
      expect(readdirSync(path.join(outputDir, id)).sort()).toEqual(['mask.png', 'output.png']);
      expect((await fetch(`${url}/files/${id}/output.png`, { headers: auth() })).status).toBe(200);
    }

    // The webhook is answered, the held input arrives: once old enough, everything goes.
    hook.release();
    await delivered(server, announced.json.jobId);
    host.release();
    for (const id of [running.json.jobId, queued.json.jobId]) {
      await until(url, id, (j) => j.status === 'succeeded', 'the end');
    }
    await new Promise((r) => setTimeout(r, retentionMs + 100));
    expect(await server.retention.sweep()).toEqual({ jobs: 5, orphans: 1 });
    expect(jobFolders(outputDir)).toEqual([]);
    expect(await server.queue.getDelivery(`msg_${announced.json.jobId}`)).toBeUndefined();
    const db = new Database(queueDb, { readonly: true });
    try {
      expect(db.prepare('SELECT COUNT(*) AS n FROM jobs').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT COUNT(*) AS n FROM deliveries').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('keeps everything with JOB_RETENTION=0', async () => {
    const { server, url, outputDir } = await start({ jobRetentionMs: 0 });
    const ok = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo });
    expect(ok.status).toBe(200);
    const orphan = path.join(outputDir, `job_${randomUUID()}`);
    mkdirSync(orphan);
    const past = new Date(Date.now() - 86_400_000);
    utimesSync(orphan, past, past);
    expect(await server.retention.sweep()).toEqual({ jobs: 0, orphans: 0 });
    expect((await job(url, ok.json.jobId)).json.status).toBe('succeeded');
    expect(existsSync(orphan)).toBe(true);
  });
});

describe('disk guard', () => {
  it('answers 503 E_DISK_FULL + Retry-After on the routes that enqueue below MIN_FREE_DISK', async () => {
    let free = 10 * 1024 * 1024;
    const { url, outputDir } = await start({ minFreeDisk: 512 * 1024 * 1024 }, { diskFree: async () => free });
    const uploads = path.join(outputDir, '.uploads');

    const refusals = [
      await postJson(`${url}/api/background/replace`, { mediaId: 'm', projectId: 'p', inputPath: fx.photo }),
      await postJson(`${url}/v1/replace`, { inputPath: fx.photo, engine: 'studio' }),
      await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo }),
      await upload(url, '/v1/cleanup?wait=0'),
    ];
    for (const r of refusals) {
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('E_DISK_FULL');
      expect(r.json.error.message).toMatch(/10 MB free under OUTPUT_DIR, MIN_FREE_DISK is 512 MB/);
      expect(r.headers.get('retry-after')).toBe('60');
    }
    expect(readdirSync(uploads)).toEqual([]);
    expect(jobFolders(outputDir)).toEqual([]);
    // The token is still checked first, and reading is not refused.
    expect((await postJson(`${url}/v1/cleanup`, { inputPath: fx.photo }, {})).status).toBe(401);
    expect((await getJson(`${url}/v1/presets`)).status).toBe(200);

    free = 2 * 1024 ** 3;
    const ok = await upload(url, '/v1/cleanup?wait=60');
    expect(ok.status).toBe(200);
    expect(ok.json.status).toBe('succeeded');
  });

  it('asks nothing with MIN_FREE_DISK=0, and the real probe reads the file system', async () => {
    let asked = 0;
    const { url } = await start({ minFreeDisk: 0 }, { diskFree: async () => (asked++, 0) });
    expect((await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo })).status).toBe(200);
    expect(asked).toBe(0);
    expect(await diskFree(tmp.dir)).toBeGreaterThan(0);
  });
});

describe('a full disk while a job runs', () => {
  it('fails the try with E_IO, leaves no file, and succeeds on a later try once there is space', async () => {
    const { url, outputDir, queueDb } = await start({ attempts: 2, backoffMs: 100 });

    // The disk stays full: both tries fail, the job fails with E_IO, nothing is left.
    disk.failName = 'mask.png';
    disk.failCount = 1000;
    disk.partialWrites = 0;
    const full = await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo });
    expect(full.status).toBe(202);
    const failed = await until(url, full.json.jobId, (j) => j.status === 'failed', 'failed');
    expect(failed).toMatchObject({ attempts: 2, error: { code: 'E_IO' } });
    expect(failed.error.message).toMatch(/disk under OUTPUT_DIR is full/);
    expect(disk.partialWrites).toBe(2);
    expect(outputs(outputDir)).toEqual([]);

    // The disk is full for the first try only: the second succeeds.
    disk.failCount = 1;
    disk.partialWrites = 0;
    const later = await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo });
    const id = later.json.jobId as string;
    const done = await until(url, id, (j) => j.status === 'succeeded', 'succeeded');
    expect(disk.partialWrites).toBe(1);
    expect(done.attempts).toBe(2);
    expect(outputs(outputDir).sort()).toEqual([`${id}/`, `${id}/mask.png`, `${id}/output.png`]);
    expect((await sharp(path.join(outputDir, id, 'mask.png')).metadata()).width).toBe(64);

    const db = new Database(queueDb, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    disk.failName = '';
    disk.failCount = 0;
  });
});

const redisInstalled = haveRedis();
if (!redisInstalled) {
  console.warn('server-retention.test.ts: Redis part SKIPPED — no `redis-server` on PATH (.ci/run installs it).');
}

describe.skipIf(!redisInstalled)('retention (BullMQ queue on Redis)', () => {
  let redis: { url: string; stop: () => Promise<void> };
  beforeAll(async () => {
    redis = await startRedis();
    closers.push(() => redis.stop());
  });

  it('deletes old ended jobs and their files, keeps running, queued and still-announced ones', async () => {
    const retentionMs = 1500;
    const over = { queueUrl: redis.url, jobRetentionMs: retentionMs, webhookTimeoutMs: 120_000 };
    const { server, url, outputDir } = await start(over);
    const ok = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo });
    expect(ok.status).toBe(200);
    const up = await upload(url, '/v1/cleanup?wait=60');
    expect(up.status).toBe(200);
    const hook = await holdingReceiver();
    const announced = await postJson(`${url}/v1/cleanup?wait=60`, { inputPath: fx.photo, callbackUrl: hook.url });
    expect(announced.status).toBe(200);
    await waitFor(() => hook.count() >= 1, 30_000, 'the webhook delivery to start');
    const host = await new SlowImageHost(fx.jpeg).start();
    closers.push(() => host.stop());
    const running = await postJson(`${url}/v1/cleanup?wait=0`, { inputUrl: host.url('held') });
    await until(url, running.json.jobId, (j) => j.status === 'running', 'running');
    const queued = await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo });
    const cancelled = await postJson(`${url}/v1/cleanup?wait=0`, { inputPath: fx.photo });
    expect(await cancel(url, cancelled.json.jobId)).toBe(200);

    await new Promise((r) => setTimeout(r, retentionMs + 100));
    expect(await server.retention.sweep()).toEqual({ jobs: 3, orphans: 0 });
    for (const id of [ok.json.jobId, up.json.jobId, cancelled.json.jobId]) {
      expect((await job(url, id)).status).toBe(404);
      expect(existsSync(path.join(outputDir, id))).toBe(false);
    }
    expect(readdirSync(path.join(outputDir, '.uploads'))).toEqual([]);
    expect((await job(url, announced.json.jobId)).json.status).toBe('succeeded');
    expect(existsSync(path.join(outputDir, announced.json.jobId, 'output.png'))).toBe(true);
    expect((await job(url, running.json.jobId)).json.status).toBe('running');
    expect((await job(url, queued.json.jobId)).json.status).toBe('queued');

    hook.release();
    await delivered(server, announced.json.jobId);
    host.release();
    for (const id of [running.json.jobId, queued.json.jobId]) {
      await until(url, id, (j) => j.status === 'succeeded', 'the end');
    }
    await new Promise((r) => setTimeout(r, retentionMs + 100));
    expect(await server.retention.sweep()).toEqual({ jobs: 3, orphans: 0 });
    expect(jobFolders(outputDir)).toEqual([]);
    expect(await server.queue.getDelivery(`msg_${announced.json.jobId}`)).toBeUndefined();
    expect(await server.queue.counts()).toEqual({ queued: 0, running: 0 });
  });
});

function dbBytes(file: string): number {
  return ['', '-wal'].reduce((n, s) => n + (existsSync(file + s) ? statSync(file + s).size : 0), 0);
}

function readDb<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('soak', () => {
  it('keeps files, queue rows, the queue file and memory bounded over 200 jobs with a 1 s retention', async () => {
    const total = 200;
    const inFlight = 4;
    const retentionMs = 1000;
    const over = { concurrency: 2, jobRetentionMs: retentionMs, retentionSweepMs: 200 };
    const { server, url, outputDir, queueDb } = await start(over);
    const photo = path.join(fx.inputs, 'small.png');
    writeFileSync(photo, await sharp(fx.jpeg).png().toBuffer());
    const rows = () => readDb(queueDb, (db) => (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n);
    /** When each job's answer came (it ended just before). */
    const ended: number[] = [];
    // A job may stay for the retention plus a sweep period and a sweep's own time (2 s of slack);
    // without retention, every job of the run would stay.
    const allowed = (at: number) => ended.filter((t) => t >= at - retentionMs - 2000).length + inFlight + 2;
    const samples: { done: number; folders: number; rows: number; allowed: number; db: number; rss: number }[] = [];
    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < total) {
          const body = { inputPath: photo, engine: 'studio', seed: next++, preset: 'product-studio' };
          const r = await postJson(`${url}/v1/replace?wait=60`, body);
          if (r.status !== 200) failures.push(`HTTP ${r.status} ${JSON.stringify(r.json)}`);
          ended.push(Date.now());
          if (ended.length % 20 === 0) {
            const folders = jobFolders(outputDir).length;
            const at = { done: ended.length, folders, rows: rows(), allowed: allowed(Date.now()) };
            samples.push({ ...at, db: dbBytes(queueDb), rss: process.memoryUsage().rss });
          }
        }
      }),
    );
    expect(failures).toEqual([]);
    await new Promise((r) => setTimeout(r, retentionMs + 100));
    await server.retention.sweep();
    const end = { folders: jobFolders(outputDir).length, rows: rows(), rss: process.memoryUsage().rss };
    const mib = (n: number) => (n / 2 ** 20).toFixed(0);
    console.log(
      `soak: ${total} jobs; job folders / rows / at most allowed / queue file KiB / RSS MiB every 20 jobs: ` +
        samples.map((s) => `${s.folders}/${s.rows}/${s.allowed}/${(s.db / 1024).toFixed(0)}/${mib(s.rss)}`).join(' ') +
        `; after the last sweep ${end.folders}/${end.rows}, RSS ${mib(end.rss)} MiB`,
    );
    for (const s of samples) {
      expect(s.folders).toBeLessThanOrEqual(s.allowed);
      expect(s.rows).toBeLessThanOrEqual(s.allowed);
    }
    expect(end).toMatchObject({ folders: 0, rows: 0 });
    expect(outputs(outputDir)).toEqual([]);
    // The queue file gives the swept jobs' pages back: once checkpointed, it is about as small as an empty queue.
    const file = readDb(queueDb, (db) => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      const autoVacuum = db.pragma('auto_vacuum', { simple: true });
      return { autoVacuum, free: db.pragma('freelist_count', { simple: true }) };
    });
    expect(file).toEqual({ autoVacuum: 2, free: 0 });
    expect(dbBytes(queueDb)).toBeLessThanOrEqual(64 * 1024);
    expect(end.rss - samples[Math.floor(samples.length / 4)]!.rss).toBeLessThan(128 * 2 ** 20);
  });
});
