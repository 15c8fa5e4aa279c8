/**
 * npm run bench:soak — many small jobs through the bundled server with retention on, to see that
 * nothing grows without bound: the server's RSS, the queue's SQLite file (with its WAL), the rows
 * in it and the files under OUTPUT_DIR. The server runs as a child process (`bg-native serve`,
 * JOB_RETENTION=1s, JOB_RETENTION_SWEEP=250ms, CONCURRENCY=2); this process sends
 * POST /v1/replace (studio engine, a 64×48 PNG, `?wait=60`) with a few requests in flight and
 * prints a sample every `--every` jobs, then one after the last sweep.
 *
 *   npm run bench:soak -- [--jobs 2000] [--in-flight 4] [--workers 2] [--retention 1s] [--every 100] [--json]
 *
 * The segmentation model is BG_SEG_MODEL, else the tiny test model (the figures are the server's
 * and the queue's, not a real network's). Exits with 1 when a job failed or, with a retention,
 * anything is left after the last sweep (`--retention 0` shows what the same run keeps without one).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import Database from 'better-sqlite3';
import sharp from 'sharp';

import { parseDuration } from '../src/server/config.js';
import { halvesJpeg } from '../test/helpers/images.js';
import { redSubjectModel, writeTinyModel } from '../test/helpers/tiny-models.js';
import { untilListening } from './lib/serve-child.js';

const here = fileURLToPath(import.meta.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const all = { ...headers, 'content-length': String(Buffer.byteLength(data)) };
    const req = http.request(url, { method: 'POST', agent, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

function sizeOf(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}

function countFiles(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    n += e.isDirectory() ? countFiles(path.join(dir, e.name)) : 1;
  }
  return n;
}

interface Sample {
  jobs: number;
  seconds: number;
  rss_mib: number;
  queue_file_kib: number;
  rows: number;
  job_folders: number;
  files: number;
}

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string', default: '2000' },
      'in-flight': { type: 'string', default: '4' },
      workers: { type: 'string', default: '2' },
      retention: { type: 'string', default: '1s' },
      every: { type: 'string', default: '100' },
      json: { type: 'boolean', default: false },
    },
  });
  const total = Number(values.jobs);
  const inFlight = Number(values['in-flight']);
  const every = Number(values.every);
  const retentionMs = parseDuration(values.retention);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bgn-bench-soak-'));
  const inputs = path.join(dir, 'inputs');
  fs.mkdirSync(inputs);
  const photo = path.join(inputs, 'photo.png');
  fs.writeFileSync(
    photo,
    await sharp(await halvesJpeg(64, 48))
      .png()
      .toBuffer(),
  );
  const model = process.env.BG_SEG_MODEL ?? writeTinyModel(dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
  const outputDir = path.join(dir, 'out');
  const queueDb = path.join(dir, 'queue.db');
  const token = 'bench-token';

  const child = spawn(process.execPath, ['--import', 'tsx', here, '--child'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      API_TOKEN: token,
      INPUT_ROOTS: inputs,
      OUTPUT_DIR: outputDir,
      QUEUE_DB: queueDb,
      CONCURRENCY: values.workers,
      BG_SEG_MODEL: model,
      BG_THREADS: '1',
      BG_ENGINE: 'studio',
      QUEUE_POLL: '100ms',
      JOB_RETENTION: String(retentionMs / 1000),
      JOB_RETENTION_SWEEP: '250ms',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serving = await untilListening(child);
  const url = serving.url;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const rowCount = (): number => {
    const db = new Database(queueDb, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const t0 = performance.now();
  const sample = (jobs: number): Sample => ({
    jobs,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    rss_mib: +rssMiB(child.pid!).toFixed(0),
    queue_file_kib: +(['', '-wal'].reduce((n, s) => n + sizeOf(queueDb + s), 0) / 1024).toFixed(0),
    rows: rowCount(),
    job_folders: fs.readdirSync(outputDir).filter((n) => n.startsWith('job_')).length,
    files: countFiles(outputDir),
  });

  const samples: Sample[] = [];
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  const print = (s: Sample) => {
    if (!values.json) {
      console.log(
        `  ${String(s.jobs).padStart(6)} jobs ${String(s.seconds).padStart(7)} s  RSS ${s.rss_mib} MiB  ` +
          `queue file ${s.queue_file_kib} KiB  ` +
          `rows ${s.rows}  job folders ${s.job_folders}  files ${s.files}`,
      );
    }
  };
  const cpu = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`;
  const system = `${os.type()} ${os.release()}, Node ${process.version}`;
  const machine = `${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${system}`;
  if (!values.json) {
    console.log(`bench:soak — ${machine}`);
    const setup = `CONCURRENCY=${values.workers}, JOB_RETENTION=${values.retention}`;
    console.log(`  ${total} jobs, ${inFlight} in flight, ${setup}`);
  }
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        try {
          const body = { imagePath: photo, engine: 'studio', preset: 'product-studio', seed: i };
          const res = await post(`${url}/v1/replace?wait=60`, headers, body);
          if (res.status !== 200) errors.push(`HTTP ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
        } catch (err) {
          errors.push((err as Error).message);
        }
        if (++done % every === 0) {
          const s = sample(done);
          samples.push(s);
          print(s);
        }
      }
    }),
  );
  const allDone = (performance.now() - t0) / 1000;
  // Past the retention, then two sweeps.
  await new Promise((r) => setTimeout(r, retentionMs + 600));
  const last = sample(done);
  print(last);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });

  const peak = (k: keyof Sample) => Math.max(...samples.map((s) => s[k]));
  const report = {
    machine,
    jobs: total,
    seconds: +allDone.toFixed(1),
    jobs_per_s: +(total / allDone).toFixed(1),
    errors: errors.length,
    peak: {
      rss_mib: peak('rss_mib'),
      queue_file_kib: peak('queue_file_kib'),
      rows: peak('rows'),
      job_folders: peak('job_folders'),
      files: peak('files'),
    },
    after_last_sweep: last,
    samples,
  };
  if (values.json) console.log(JSON.stringify(report));
  else {
    console.log(`  ${total} jobs in ${report.seconds} s (${report.jobs_per_s} jobs/s), errors ${errors.length}`);
    console.log(
      `  peaks: RSS ${report.peak.rss_mib} MiB, queue file ${report.peak.queue_file_kib} KiB, ` +
        `rows ${report.peak.rows}, ` +
        `job folders ${report.peak.job_folders}, files ${report.peak.files}`,
    );
    if (errors.length) console.log(`  errors: ${[...new Set(errors)].slice(0, 5).join('; ')}`);
  }
  if (errors.length || (retentionMs > 0 && (last.rows > 0 || last.job_folders > 0))) process.exitCode = 1;
}

if (process.argv[2] === '--child') {
  const { main } = await import('../src/cli/index.js');
  process.exitCode = await main([process.argv[0]!, 'bg-native', 'serve']);
} else {
  await bench();
}
