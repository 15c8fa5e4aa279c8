/**
 * npm run bench:server — load on the bundled server: N enqueue requests (default 500) at
 * concurrency C (default 50) on POST /api/background/replace with the studio engine. The server
 * runs as a child process (`bg-native serve`, embedded SQLite queue, or Redis with --queue-url);
 * this process is the load generator. Reports p50/p99/max enqueue latency, enqueue throughput,
 * errors (must be 0), the time until every job finished, and the server's peak RSS (VmHWM).
 *
 *   npm run bench:server -- [--requests 500] [--concurrency 50] [--workers 2] [--queue-url redis://…] [--json]
 *
 * The photo is a synthetic 240×180 JPEG (composited inline: under tsx, Node 20 cannot start the .ts compose worker
 * thread); the segmentation model is BG_SEG_MODEL, else the tiny
 * test model (so the numbers are the server's overhead, not a real network's).
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { halvesJpeg } from '../test/helpers/images.js';
import { redSubjectModel, writeTinyModel } from '../test/helpers/tiny-models.js';
import { untilListening } from './lib/serve-child.js';

const here = fileURLToPath(import.meta.url);

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One POST on a keep-alive connection (node:http: one socket per concurrent request, no client-side queueing). */
function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(data)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '50' },
      workers: { type: 'string', default: '2' },
      'queue-url': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const total = Number(values.requests);
  const conc = Number(values.concurrency);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bgn-bench-server-'));
  const inputs = path.join(dir, 'inputs');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(inputs);
  const photo = path.join(inputs, 'photo.jpg');
  writeFileSync(photo, await halvesJpeg(240, 180));
  const model = process.env.BG_SEG_MODEL ?? writeTinyModel(dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
  const token = 'bench-token';

  const child = spawn(process.execPath, ['--import', 'tsx', here, '--child'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      API_TOKEN: token,
      INPUT_ROOTS: inputs,
      OUTPUT_DIR: path.join(dir, 'out'),
      QUEUE_DB: path.join(dir, 'queue.db'),
      ...(values['queue-url'] ? { QUEUE_URL: values['queue-url'], QUEUE_PREFIX: `bench${Date.now()}` } : {}),
      QUEUE_MAX: String(total * 2),
      CONCURRENCY: values.workers,
      BG_SEG_MODEL: model,
      BG_THREADS: '1',
      BG_ENGINE: 'studio',
      QUEUE_POLL: '100ms',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serving = await untilListening(child);
  const url = serving.url;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const rssIdle = peakRss(child.pid!);

  // warm-up: one job through the whole pipeline
  const workers = Number(values.workers);
  const warm = await fetch(`${url}/v1/replace?wait=${workers ? 60 : 0}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ imagePath: photo, engine: 'studio' }),
  }).catch((err: Error) => {
    throw new Error(`the server did not answer (${err.message}); its output:\n${serving.output().slice(-3000)}`);
  });
  if (warm.status !== (workers ? 200 : 202))
    throw new Error(`warm-up job failed: HTTP ${warm.status} ${await warm.text()}`);

  // Open the `conc` keep-alive connections and warm the enqueue route (not measured).
  await Promise.all(
    Array.from({ length: conc }, (_, i) =>
      post(`${url}/api/background/replace`, headers, {
        mediaId: `warm${i}`,
        projectId: 'bench',
        inputPath: photo,
        overrides: { engine: 'studio' },
      }),
    ),
  );

  const latencies: number[] = [];
  const order: number[] = [];
  const ids: string[] = [];
  const errors: string[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < total) {
        const i = next++;
        const s = performance.now();
        try {
          const res = await post(`${url}/api/background/replace`, headers, {
            mediaId: `m${i}`,
            projectId: 'bench',
            inputPath: photo,
            preset: 'product-studio',
            overrides: { engine: 'studio', seed: i },
          });
          const body = res.json as { jobId?: string };
          latencies.push(performance.now() - s);
          order.push(performance.now() - s);
          if (res.status !== 202 || !body.jobId) errors.push(`HTTP ${res.status}`);
          else ids.push(body.jobId);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    }),
  );
  const enqueueMs = performance.now() - t0;

  // until every job ended
  let failed = 0;
  for (; workers > 0; ) {
    const h = (await (await fetch(`${url}/health`, { headers })).json()) as {
      queue: { queued: number; running: number };
    };
    if (h.queue.queued + h.queue.running === 0) break;
    if (performance.now() - t0 > 30 * 60_000) throw new Error('jobs did not finish within 30 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  const doneMs = performance.now() - t0;
  for (const id of workers ? ids.slice(0, 20) : []) {
    const j = (await (await fetch(`${url}/api/background/jobs/${id}`, { headers })).json()) as { status: string };
    if (j.status !== 'succeeded') failed++;
  }
  const rssPeak = peakRss(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  if (process.env.BENCH_TRACE) console.log(order.map((x) => x.toFixed(0)).join(' '));
  const report = {
    machine:
      `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ` +
      `${process.version}`,
    queue: values['queue-url'] ? 'redis' : 'sqlite',
    requests: total,
    concurrency: conc,
    workers: Number(values.workers),
    enqueue: {
      p50_ms: +percentile(latencies, 50).toFixed(1),
      p99_ms: +percentile(latencies, 99).toFixed(1),
      max_ms: +(latencies.at(-1) ?? NaN).toFixed(1),
      throughput_rps: +((total / enqueueMs) * 1000).toFixed(0),
    },
    errors: errors.length,
    jobs: {
      all_done_s: +(doneMs / 1000).toFixed(1),
      jobs_per_s: +((ids.length / doneMs) * 1000).toFixed(1),
      sampled_not_succeeded: failed,
    },
    server_rss_mib: { idle: +rssIdle.toFixed(0), peak: +rssPeak.toFixed(0) },
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(`bench:server — ${report.machine}, queue ${report.queue}`);
    console.log(
      `  ${total} enqueue requests at concurrency ${conc}: p50 ${report.enqueue.p50_ms} ms, p99 ` +
        `${report.enqueue.p99_ms} ms, max ${report.enqueue.max_ms} ms, ${report.enqueue.throughput_rps} req/s, ` +
        `errors ${report.errors}`,
    );
    console.log(
      `  all ${ids.length} jobs done after ${report.jobs.all_done_s} s (${report.jobs.jobs_per_s} jobs/s ` +
        `with ${report.workers} workers, studio engine)`,
    );
    console.log(`  server RSS: ${report.server_rss_mib.idle} MiB after start, peak ${report.server_rss_mib.peak} MiB`);
    if (errors.length) console.log(`  errors: ${[...new Set(errors)].join(', ')}`);
  }
  if (errors.length || failed) process.exitCode = 1;
}

if (process.argv[2] === '--child') {
  const { main } = await import('../src/cli/index.js');
  process.exitCode = await main([process.argv[0]!, 'bg-native', 'serve']);
} else {
  await bench();
}
