/**
 * A local stand-in for Runway's API (version 2024-11-06) on 127.0.0.1, following its documented
 * contract closely enough to test the client against it:
 *
 *   POST   /v1/text_to_image   checks Authorization, X-Runway-Version and the body
 *                              (model, promptText ≤ 1000, ratio from the enum, referenceImages
 *                              [{ uri, tag }] with data URIs ≤ 5 MB and valid tags, seed range) → { id }
 *   GET    /v1/tasks/{id}      { id, status, createdAt, progress? (RUNNING), output? (SUCCEEDED),
 *                              failure?, failureCode? (FAILED) }; each poll moves one step along
 *                              the scenario's steps (the last one repeats)
 *   DELETE /v1/tasks/{id}      cancels a task that has not finished → 204
 *   GET    /outputs/…          the output image (no credentials); each task read issues a fresh
 *                              pre-signed-style URL that can expire after N fetches or a time
 *
 * Scenarios inject answers before the normal ones: 429 with or without Retry-After, 5xx,
 * 4xx with Runway's `{ error }` body, or a body that is not JSON.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import sharp from 'sharp';

export const MOCK_RATIOS = [
  '1920:1080',
  '1080:1920',
  '1024:1024',
  '1360:768',
  '1080:1080',
  '1168:880',
  '1440:1080',
  '1080:1440',
  '1808:768',
  '2112:912',
  '1280:720',
  '720:1280',
  '720:720',
  '960:720',
  '720:960',
  '1680:720',
];
const TAG = /^[A-Za-z][A-Za-z0-9_]{2,15}$/;
const DATA_URI = /^data:image\/(jpeg|png|webp);base64,[A-Za-z0-9+/]+=*$/;
const MAX_DATA_URI = 5_000_000;

export type MockStatus = 'PENDING' | 'THROTTLED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface MockStep {
  status: MockStatus;
  progress?: number;
  failure?: string;
  failureCode?: string;
}

/** An injected answer: `body` as a string is sent verbatim (malformed JSON), an object as JSON. */
export interface MockReply {
  status: number;
  body?: string | object;
  headers?: Record<string, string>;
}

export interface RunwayMockScenario {
  /** Answers to POST /v1/text_to_image before it creates a task, in order. */
  createReplies?: MockReply[];
  /** Answers to GET /v1/tasks/{id} before the task itself is read, in order. */
  pollReplies?: MockReply[];
  /** What successive task reads see; the last repeats. Default: RUNNING 0.5, then SUCCEEDED. */
  steps?: MockStep[];
  /** An output URL stops working after this many fetches … */
  outputMaxFetches?: number;
  /** … or this many ms after it was issued. */
  outputTtlMs?: number;
  /** The first N output URLs issued are already expired (a client that waited too long). */
  expireFirstOutputs?: number;
  /** Serve these bytes instead of an image. */
  outputBody?: Buffer;
  /** Output colour (RGB). */
  outputColor?: { r: number; g: number; b: number };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The parsed JSON body, when there was one. */
  json?: unknown;
  at: number;
}

export interface MockTask {
  id: string;
  body: Record<string, unknown>;
  step: number;
  status: MockStatus;
  createdAt: string;
}

export interface RunwayMock {
  url: string;
  scenario: RunwayMockScenario;
  requests: RecordedRequest[];
  tasks: Map<string, MockTask>;
  /** Task ids DELETEd. */
  deletes: string[];
  /** Fetches of output URLs, with the answer status. */
  outputFetches: Array<{ path: string; status: number; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

function send(res: http.ServerResponse, reply: MockReply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let body = '';
  if (typeof reply.body === 'string') {
    body = reply.body;
    headers['content-type'] ??= 'application/json';
  } else if (reply.body !== undefined) {
    body = JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(reply.status, headers);
  res.end(body);
}

/** Runway's documented validation of a text_to_image body; the first problem, or undefined. */
function validateBody(b: unknown): string | undefined {
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return 'Expected a JSON object';
  const body = b as Record<string, unknown>;
  for (const k of Object.keys(body)) {
    if (!['model', 'promptText', 'ratio', 'referenceImages', 'seed', 'contentModeration'].includes(k))
      return `Unrecognized key: ${k}`;
  }
  if (body.model !== 'gen4_image' && body.model !== 'gen4_image_turbo')
    return 'model: expected gen4_image or gen4_image_turbo';
  if (typeof body.promptText !== 'string' || body.promptText.length < 1 || body.promptText.length > 1000) {
    return 'promptText: expected a string of 1 to 1000 characters';
  }
  if (typeof body.ratio !== 'string' || !MOCK_RATIOS.includes(body.ratio))
    return `ratio: expected one of ${MOCK_RATIOS.join(', ')}`;
  const refs = body.referenceImages;
  if (refs !== undefined || body.model === 'gen4_image_turbo') {
    if (!Array.isArray(refs) || refs.length < 1 || refs.length > 3) return 'referenceImages: expected 1 to 3 images';
    for (const r of refs as unknown[]) {
      if (typeof r !== 'object' || r === null) return 'referenceImages: expected objects';
      const { uri, tag, ...rest } = r as Record<string, unknown>;
      if (Object.keys(rest).length) return `referenceImages: unrecognized key ${Object.keys(rest)[0]}`;
      if (typeof uri !== 'string') return 'referenceImages.uri: expected a string';
      if (uri.startsWith('data:')) {
        if (!DATA_URI.test(uri)) return 'referenceImages.uri: invalid data URI';
        if (uri.length > MAX_DATA_URI) return 'referenceImages.uri: data URI exceeds 5MB';
      } else if (!uri.startsWith('https://')) {
        return 'referenceImages.uri: expected an HTTPS URL or a data URI';
      }
      if (tag !== undefined && (typeof tag !== 'string' || !TAG.test(tag))) {
        return 'referenceImages.tag: expected 3-16 letters, digits or underscores, starting with a letter';
      }
    }
  }
  if (body.seed !== undefined) {
    if (typeof body.seed !== 'number' || !Number.isInteger(body.seed) || body.seed < 0 || body.seed > 4294967295) {
      return 'seed: expected an integer from 0 to 4294967295';
    }
  }
  return undefined;
}

export async function startRunwayMock(apiKey: string, scenario: RunwayMockScenario = {}): Promise<RunwayMock> {
  const requests: RecordedRequest[] = [];
  const tasks = new Map<string, MockTask>();
  const deletes: string[] = [];
  const outputFetches: RunwayMock['outputFetches'] = [];
  const issued = new Map<string, { taskId: string; at: number; fetches: number }>();
  const images = new Map<string, Buffer>();
  const steps = scenario.steps ?? [{ status: 'RUNNING', progress: 0.5 }, { status: 'SUCCEEDED' }];
  let base = '';
  let issuedCount = 0;

  async function outputImage(task: MockTask): Promise<Buffer> {
    if (scenario.outputBody) return scenario.outputBody;
    let img = images.get(task.id);
    if (!img) {
      const [w, h] = String(task.body.ratio).split(':').map(Number);
      img = await sharp({
        create: {
          width: w ?? 64,
          height: h ?? 64,
          channels: 3,
          background: scenario.outputColor ?? { r: 40, g: 120, b: 200 },
        },
      })
        .png({ compressionLevel: 1 })
        .toBuffer();
      images.set(task.id, img);
    }
    return img;
  }

  function taskView(task: MockTask): Record<string, unknown> {
    const view: Record<string, unknown> = { id: task.id, status: task.status, createdAt: task.createdAt };
    const step = steps[Math.min(task.step, steps.length - 1)];
    if (task.status === 'RUNNING' && step?.progress !== undefined) view.progress = step.progress;
    if (task.status === 'FAILED') {
      view.failure = step?.failure ?? 'Generation failed';
      if (step?.failureCode) view.failureCode = step.failureCode;
    }
    if (task.status === 'SUCCEEDED') {
      const token = randomUUID().replace(/-/g, '');
      const stale = issuedCount++ < (scenario.expireFirstOutputs ?? 0);
      issued.set(token, { taskId: task.id, at: stale ? 0 : Date.now(), fetches: 0 });
      view.output = [`${base}/outputs/${task.id}/${token}.png?X-Amz-Signature=${token}`];
    }
    return view;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', base);
        const raw = Buffer.concat(chunks).toString('utf8');
        const rec: RecordedRequest = {
          method: req.method ?? '',
          path: url.pathname,
          headers: req.headers,
          at: Date.now(),
        };
        if (raw) {
          try {
            rec.json = JSON.parse(raw);
          } catch {
            /* recorded without json */
          }
        }
        requests.push(rec);

        // Output downloads: pre-signed, no credentials.
        const out = /^\/outputs\/([^/]+)\/([0-9a-f]+)\.png$/.exec(url.pathname);
        if (out && req.method === 'GET') {
          const entry = issued.get(out[2] ?? '');
          const task = tasks.get(out[1] ?? '');
          const expired =
            !entry ||
            !task ||
            (scenario.outputMaxFetches !== undefined && entry.fetches >= scenario.outputMaxFetches) ||
            entry.at === 0 ||
            (scenario.outputTtlMs !== undefined && Date.now() - entry.at >= scenario.outputTtlMs);
          if (entry) entry.fetches++;
          if (expired) {
            outputFetches.push({ path: url.pathname, status: 403, headers: req.headers });
            res.writeHead(403, { 'content-type': 'application/xml' });
            res.end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
            return;
          }
          outputFetches.push({ path: url.pathname, status: 200, headers: req.headers });
          const img = await outputImage(task);
          res.writeHead(200, {
            'content-type': scenario.outputBody ? 'application/octet-stream' : 'image/png',
            'content-length': String(img.length),
          });
          res.end(img);
          return;
        }

        // The API proper: credentials and version first.
        if (req.headers.authorization !== `Bearer ${apiKey}`) {
          send(res, { status: 401, body: { error: 'Unauthorized: invalid API key' } });
          return;
        }
        if (req.headers['x-runway-version'] !== '2024-11-06') {
          send(res, { status: 400, body: { error: 'Missing or invalid X-Runway-Version header' } });
          return;
        }

        if (url.pathname === '/v1/text_to_image') {
          if (req.method !== 'POST') return send(res, { status: 405, body: { error: 'Method not allowed' } });
          const injected = scenario.createReplies?.shift();
          if (injected) return send(res, injected);
          if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
            return send(res, { status: 400, body: { error: 'Expected Content-Type: application/json' } });
          }
          if (rec.json === undefined) return send(res, { status: 400, body: { error: 'Invalid JSON body' } });
          const problem = validateBody(rec.json);
          if (problem)
            return send(res, {
              status: 400,
              body: { error: 'Validation of body failed', issues: [{ message: problem }] },
            });
          const id = randomUUID();
          tasks.set(id, {
            id,
            body: rec.json as Record<string, unknown>,
            step: -1,
            status: 'PENDING',
            createdAt: new Date().toISOString(),
          });
          return send(res, { status: 200, body: { id } });
        }

        const m = /^\/v1\/tasks\/([^/]+)$/.exec(url.pathname);
        if (m) {
          const task = tasks.get(decodeURIComponent(m[1] ?? ''));
          if (req.method === 'GET') {
            const injected = scenario.pollReplies?.shift();
            if (injected) return send(res, injected);
            if (!task) return send(res, { status: 404, body: { error: 'Task not found' } });
            // Each read moves one step along the scenario, unless the task was DELETEd.
            if (!deletes.includes(task.id)) {
              task.step = Math.min(task.step + 1, steps.length - 1);
              task.status = steps[task.step]?.status ?? 'PENDING';
            }
            return send(res, { status: 200, body: taskView(task) });
          }
          if (req.method === 'DELETE') {
            if (!task) return send(res, { status: 404, body: { error: 'Task not found' } });
            deletes.push(task.id);
            if (task.status !== 'SUCCEEDED' && task.status !== 'FAILED') task.status = 'CANCELLED';
            res.writeHead(204);
            res.end();
            return;
          }
          return send(res, { status: 405, body: { error: 'Method not allowed' } });
        }
        send(res, { status: 404, body: { error: 'Not found' } });
      })().catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`mock error: ${String(err)}`);
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    scenario,
    requests,
    tasks,
    deletes,
    outputFetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
