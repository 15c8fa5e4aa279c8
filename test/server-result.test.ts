/**
 * The server's results in the one result format (src/result-format.ts): a job's `result`, the
 * webhook's `result` and the OpenAPI document's job schema. Real server on loopback, real SQLite
 * file, a real webhook receiver, the tiny segmentation model, the studio engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { ResultMetadataSchema } from '../src/result-format.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { ResultSchema } from '../src/server/schemas.js';
import { tempDir } from './helpers/paths.js';
import { WebhookReceiver, getJson, makeFixture, postJson, testServerConfig } from './helpers/server-harness.js';
import type { Fixture } from './helpers/server-harness.js';
import type { JsonSchema, ServerReply } from './helpers/server-reply.js';

const tmp = tempDir('bgn-server-result-');
let fx: Fixture;
let server: BgServer;
let url: string;
let hook: WebhookReceiver;
const BASE = 'https://media.example.com/bg';

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
  server = await createServer(
    testServerConfig(fx, tmp.dir, {
      allowedHosts: ['127.0.0.1'],
      publicBaseUrl: BASE,
      webhookSchedule: [200, 400, 800],
      syncWaitMs: 20_000,
    }),
    { logger: false, worker: true },
  );
  url = await server.listen();
  hook = await new WebhookReceiver().start();
});

afterAll(async () => {
  await server?.close();
  await hook?.stop();
  await closeComposePool();
  await clearSegmenters();
  delete process.env.BG_SEG_MODEL;
  tmp.remove();
});

describe('a replacement job', () => {
  it('shows its result, and sends it in the webhook, in the result format with URLs as artifacts', async () => {
    const res = await postJson(`${url}/api/background/replace`, {
      mediaId: 'media-r',
      projectId: 'proj-r',
      inputPath: fx.photo,
      preset: 'vitrinealu',
      promptType: 'garden',
      overrides: { engine: 'studio', seed: 11 },
      callbackUrl: hook.url,
    });
    expect(res.status).toBe(202);
    const jobId = res.json.jobId as string;
    const [got] = await hook.until((r) => r.some((m) => (m.body as { jobId?: string }).jobId === jobId));
    const job = await getJson(`${url}/api/background/jobs/${jobId}`);
    expect(job.json.status).toBe('succeeded');

    const output = `${BASE}/files/${jobId}/output.png`;
    const mask = `${BASE}/files/${jobId}/mask.png`;
    for (const result of [job.json.result, (got!.body as { result: unknown }).result]) {
      const meta = ResultMetadataSchema.parse(result);
      expect(meta).toMatchObject({ op: 'replace', engine: 'studio', engineFamily: 'studio', preset: 'vitrinealu' });
      expect(meta.seed).toBe(11);
      expect(meta).toMatchObject({ promptType: 'garden', prompt: null, width: 64, height: 48, format: 'png' });
      expect(meta.artifacts).toEqual({ output, mask });
      expect(meta.metrics.elapsed_ms).toBeGreaterThan(0);
      expect(Object.keys(meta.metrics.stages)).toEqual(expect.arrayContaining(['generate', 'encode']));
      // outputUrl/maskUrl of earlier versions stay, next to artifacts.
      expect(ResultSchema.parse(result)).toMatchObject({ outputUrl: output, maskUrl: mask });
      // What stays on the server: its file paths (segmentation model, weights) and the engines skipped.
      expect(Object.keys(meta)).not.toEqual(expect.arrayContaining(['model']));
      expect(meta).not.toHaveProperty('engineInfo');
      expect(meta).not.toHaveProperty('files');
      expect(JSON.stringify(result)).not.toContain(tmp.dir);
    }
    expect(job.json.result).toEqual((got!.body as { result: unknown }).result);
  });
});

describe('a cleanup job', () => {
  it('answers in the same format: engine none, preset and seed null, its mode', async () => {
    const res = await postJson(`${url}/v1/cleanup`, { imagePath: fx.photo, mode: 'color', color: '#ffffff' });
    expect(res.status).toBe(200);
    const meta = ResultMetadataSchema.parse(res.json.result);
    expect(meta).toMatchObject({ op: 'cleanup', engine: 'none', engineFamily: 'none', preset: null, seed: null });
    expect(meta.mode).toBe('color');
    const files = `${BASE}/files/${res.json.jobId}`;
    expect(meta.artifacts).toEqual({ output: `${files}/output.png`, mask: `${files}/mask.png` });
    expect(res.json.result.outputUrl).toBe(meta.artifacts.output);
  });
});

/** A schema of the OpenAPI document, following a $ref into components. */
function deref(doc: ServerReply, s: JsonSchema | undefined): JsonSchema {
  if (!s) throw new Error('the OpenAPI document lacks a schema the test looks for');
  if (s.$ref) {
    const keys = s.$ref.replace(/^#\//, '').split('/');
    return deref(doc, keys.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc) as JsonSchema);
  }
  return s;
}

describe('the OpenAPI document', () => {
  it('describes a job result with the documented fields always there, for both kinds of job', async () => {
    const doc = (await getJson(`${url}/openapi.json`)).json;
    /** The schema of property `name` of `s`, $ref followed. */
    const prop = (s: JsonSchema, name: string) => deref(doc, s.properties?.[name]);
    const ok = doc.paths['/api/background/jobs/{id}']?.get?.responses['200'];
    const view = deref(doc, ok?.content['application/json']?.schema);
    const result = prop(view, 'result');
    const branches = (result.oneOf ?? result.anyOf ?? []).map((b) => deref(doc, b));
    expect(branches).toHaveLength(2);
    const op = (b: JsonSchema) => prop(b, 'op').const ?? prop(b, 'op').enum?.[0];
    const ops = branches.map(op).sort();
    expect(ops).toEqual(['cleanup', 'replace']);
    for (const b of branches) {
      const documented = ['op', 'engine', 'engineFamily', 'preset', 'seed', 'artifacts', 'metrics'];
      expect(b.required).toEqual(expect.arrayContaining(documented));
      expect(b.required).toEqual(expect.arrayContaining(['outputUrl', 'maskUrl', 'width', 'height', 'format']));
      const artifacts = prop(b, 'artifacts');
      expect(artifacts.required).toEqual(expect.arrayContaining(['output', 'mask']));
      const metrics = prop(b, 'metrics');
      expect(metrics.required).toEqual(expect.arrayContaining(['elapsed_ms', 'stages']));
    }
    const replace = branches.find((b) => op(b) === 'replace');
    expect(replace).toBeDefined();
    expect(prop(replace!, 'engine').enum).toEqual(['local', 'studio', 'runway']);
    expect(prop(replace!, 'engineFamily').enum).toEqual(['stable-diffusion', 'SDXL', 'RUNWAY', 'studio']);
    expect(prop(replace!, 'seed').type).toBe('number');
  });
});
