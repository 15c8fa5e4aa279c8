/**
 * Real things the server tests talk to: a webhook receiver, a slow image host, a redis-server
 * started on a free port, the server as a child process (`bg-native serve` through tsx), and the
 * tiny segmentation model + synthetic photos the jobs run on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

import type { ServerConfigInput } from '../../src/server/config.js';
import { halvesJpeg } from './images.js';
import { repoRoot } from './paths.js';
import type { ServerReply } from './server-reply.js';
import { redSubjectModel, writeTinyModel } from './tiny-models.js';

export const TOKEN = 'test-token-0123456789';
/** A Standard Webhooks key: whsec_ + base64 of 24 bytes. */
export const SECRET = `whsec_${Buffer.from('bg-native-test-secret-key!').toString('base64')}`;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
  at: number;
}

/** An HTTP receiver for webhooks on 127.0.0.1; `status` decides the answer. */
export class WebhookReceiver {
  readonly received: Received[] = [];
  status = 200;
  private server?: http.Server;
  private waiters: (() => void)[] = [];
  constructor(public port = 0) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        this.received.push({ headers: req.headers, raw, body: JSON.parse(raw || '{}'), at: Date.now() });
        res.writeHead(this.status).end();
        for (const w of this.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Resolves once `pred` holds for the received list. */
  async until(pred: (r: Received[]) => boolean, timeoutMs = 30_000): Promise<Received[]> {
    const end = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      if (Date.now() > end)
        throw new Error(`webhook receiver: condition not met within ${timeoutMs} ms (got ${this.received.length})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.received;
  }
}

/** Serves one JPEG at any path; while `hold` is on, requests wait (the job is then "running"). */
export class SlowImageHost {
  hold = true;
  inFlight = 0;
  requests = 0;
  private pending: http.ServerResponse[] = [];
  private server?: http.Server;
  port = 0;
  constructor(private readonly image: Buffer) {}

  url(name: string): string {
    return `http://127.0.0.1:${this.port}/${name}.jpg`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((_req, res) => {
      this.requests++;
      if (!this.hold) return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(this.image);
      this.inFlight++;
      res.on('close', () => this.inFlight--);
      this.pending.push(res);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  release(): void {
    this.hold = false;
    for (const res of this.pending.splice(0))
      if (!res.destroyed) res.writeHead(200, { 'content-type': 'image/jpeg' }).end(this.image);
  }

  async stop(): Promise<void> {
    for (const res of this.pending.splice(0)) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Fixture {
  dir: string;
  model: string;
  inputs: string;
  photo: string;
  jpeg: Buffer;
}

/** The tiny model, an INPUT_ROOTS folder with one photo (red subject on blue), an output folder. */
export async function makeFixture(dir: string): Promise<Fixture> {
  const inputs = path.join(dir, 'inputs');
  mkdirSync(inputs, { recursive: true });
  const model = writeTinyModel(dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
  const jpeg = await halvesJpeg(64, 48);
  const photo = path.join(inputs, 'chair.jpg');
  writeFileSync(photo, jpeg);
  return { dir, model, inputs, photo, jpeg };
}

/** True when a `redis-server` binary is on PATH. */
export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A throwaway redis-server on a free port (no persistence). */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.write('PING\r\n');
          s.once('data', (d) => {
            s.destroy();
            resolve(d.toString().startsWith('+PONG'));
          });
        });
        s.once('error', () => resolve(false));
      }),
    10_000,
    `redis-server on port ${port} (${out.slice(-300)})`,
  );
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface Child {
  proc: ChildProcess;
  url?: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * `bg-native <args>` in a child process (the CLI from src/ through tsx), with `env` added to the
 * environment. Resolves once it printed its "listening on"/"worker running" line.
 */
export async function startCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Child> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'test', 'helpers', 'server-cli.ts'), ...args],
    {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = { proc, output: () => out, exited };
  await waitFor(
    () => /listening on (\S+)|worker running/.test(out) || proc.exitCode !== null,
    timeoutMs,
    `bg-native ${args[0]} to start`,
  );
  if (proc.exitCode !== null) throw new Error(`bg-native ${args[0]} exited with ${proc.exitCode}:\n${out}`);
  const m = /listening on (\S+)/.exec(out);
  if (m) child.url = m[1]!;
  return child;
}

/** Headers for the test token. */
export function auth(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${TOKEN}`, ...extra };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = auth(),
): Promise<{ status: number; json: ServerReply; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

export async function getJson(
  url: string,
  headers: Record<string, string> = auth(),
): Promise<{ status: number; json: ServerReply }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/**
 * The server configuration the loopback tests start from: the test token and webhook key, the
 * fixture's INPUT_ROOTS folder, artifacts and queue under `dir`, one job at a time, fast polling.
 */
export function testServerConfig(fx: Fixture, dir: string, over: ServerConfigInput = {}): ServerConfigInput {
  return {
    port: 0,
    host: '127.0.0.1',
    apiToken: TOKEN,
    webhookSecret: SECRET,
    inputRoots: [fx.inputs],
    outputDir: path.join(dir, 'out'),
    queueDb: path.join(dir, 'queue.db'),
    threads: 1,
    concurrency: 1,
    pollMs: 50,
    ...over,
  };
}
