/**
 * Orchestration: the `background-replace` workflow node with `{{var}}` templates (lookup only,
 * unknown names reported), answering in the seed's result format; and the example n8n workflow,
 * whose every call to our API is checked against the OpenAPI document the real server serves.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BgNativeError } from '../src/errors.js';
import { clearSegmenters, closeComposePool } from '../src/index.js';
import { renderTemplate, runWorkflowNode } from '../src/orchestrator/index.js';
import { ResultMetadataSchema } from '../src/result-format.js';
import { startServer, type BgServer } from '../src/server/index.js';
import { halvesJpeg } from './helpers/images.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { TOKEN } from './helpers/server-harness.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-orch-');
let segModel: string;
let photo: string;

beforeAll(async () => {
  segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
  photo = path.join(tmp.dir, 'chair.jpg');
  writeFileSync(photo, await halvesJpeg(64, 48));
});

afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

function bgError(fn: () => unknown): BgNativeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BgNativeError);
    return err as BgNativeError;
  }
  throw new Error('expected an error');
}

describe('templates', () => {
  const ctx = { seed: 7, media: { id: 'm-1', tags: ['a', 'b'] }, items: [{ id: 'x' }], flag: false };

  it('a whole-string variable keeps its type; inside text it is converted', () => {
    expect(
      renderTemplate(
        {
          seed: '{{seed}}',
          s: '{{ seed }}',
          f: '{{flag}}',
          id: 'out/{{media.id}}-{{items.0.id}}.png',
          t: 'tags={{media.tags}}',
        },
        ctx,
      ),
    ).toEqual({
      seed: 7,
      s: 7,
      f: false,
      id: 'out/m-1-x.png',
      t: 'tags=["a","b"]',
    });
  });

  it('unknown variables are an error naming each one and where it is used', () => {
    const e = bgError(() => renderTemplate({ input: '{{media.path}}', nested: { p: '{{ prompt }}' } }, ctx));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toContain('`media.path` (in parameters.input)');
    expect(e.message).toContain('`prompt` (in parameters.nested.p)');
    expect(e.message).toMatch(/context has `seed`, `media`/);
  });

  it('nothing is evaluated, and prototype names are not variables', () => {
    const e = bgError(() => renderTemplate({ a: '{{ process.exit(1) }}', b: '{{seed + 1}}' }, ctx));
    expect(e.message).toMatch(
      new RegExp(
        /`\{\{ process\.exit\(1\) \}\}` in parameters\.a, `\{\{seed \+ 1\}\}` in parameters\.b /.source +
          /are not variable names.*nothing is evaluated/.source,
      ),
    );
    expect(bgError(() => renderTemplate({ a: '{{constructor}}' }, ctx)).message).toMatch(
      /unknown variable `constructor`/,
    );
    expect(bgError(() => renderTemplate({ a: '{{media.__proto__}}' }, ctx)).message).toMatch(/unknown variable/);
  });
});

describe('runWorkflowNode background-replace', () => {
  it('fills the templates, runs the replacement, answers in the seed’s result format with file artifacts', async () => {
    const node = {
      type: 'background-replace',
      parameters: {
        input: '{{media.path}}',
        output: '{{outDir}}/{{media.id}}.png',
        preset: '{{preset}}',
        seed: '{{seed}}',
        engine: 'studio',
        model: { segmentation: '{{segModel}}' },
      },
    };
    const context = {
      media: { path: photo, id: 'media-9' },
      outDir: tmp.dir,
      preset: 'minimalist',
      seed: 42,
      segModel,
    };
    const r = await runWorkflowNode(node, context);
    expect(r).toMatchObject({
      engine: 'studio',
      preset: 'minimalist',
      seed: 42,
      width: 64,
      height: 48,
      format: 'png',
      artifacts: { output: path.join(tmp.dir, 'media-9.png'), mask: path.join(tmp.dir, 'media-9.mask.png') },
      metrics: { elapsed_ms: expect.any(Number), stages: expect.any(Object) },
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    const meta = ResultMetadataSchema.parse(JSON.parse(JSON.stringify(r)));
    expect(meta).toMatchObject({ op: 'replace', engineFamily: 'studio' });
    expect((await sharp(r.artifacts.output).metadata()).width).toBe(64);
    expect((await sharp(r.artifacts.mask!).metadata()).channels).toBe(1);
    expect(node.parameters.input).toBe('{{media.path}}'); // the node itself is not changed
  });

  it('background-cleanup: the same format, engine none, preset and seed null; mask: false writes none', async () => {
    const parameters = { input: photo, output: '{{dir}}/clean.png', mode: 'color', mask: false, model: segModel };
    const node = { type: 'background-cleanup', parameters };
    const r = await runWorkflowNode(node, { dir: tmp.dir });
    const meta = ResultMetadataSchema.parse(JSON.parse(JSON.stringify(r)));
    expect(meta).toMatchObject({ op: 'cleanup', engine: 'none', engineFamily: 'none', preset: null, seed: null });
    expect(meta.mode).toBe('color');
    expect(meta.artifacts).toEqual({ output: path.join(tmp.dir, 'clean.png'), mask: null });
    expect(existsSync(path.join(tmp.dir, 'clean.mask.png'))).toBe(false);
  });

  it('refuses before any work: unknown variables, unknown node types, unknown options', async () => {
    await expect(
      runWorkflowNode({ type: 'background-replace', parameters: { input: '{{media.path}}' } }, {}),
    ).rejects.toThrow(/unknown variable `media.path`/);
    await expect(runWorkflowNode({ type: 'resize', parameters: {} })).rejects.toThrow(
      /Unknown workflow node type "resize".*'background-replace'/,
    );
    await expect(
      runWorkflowNode({ type: 'background-replace', parameters: { input: photo, colour: 'red' } }),
    ).rejects.toThrow(/unknown option `colour`/);
    await expect(runWorkflowNode({ type: 'background-replace', parameters: {} })).rejects.toThrow(
      /give the photo as `input`/,
    );
    expect(existsSync(path.join(tmp.dir, 'chair.bg.png'))).toBe(false);
  });
});

// ---- the n8n workflow ---------------------------------------------------------------------------

interface N8nNode {
  id: string;
  name: string;
  type: string;
  typeVersion: number;
  position: [number, number];
  parameters: Record<string, unknown>;
}
interface N8nWorkflow {
  name: string;
  nodes: N8nNode[];
  connections: Record<string, { main: { node: string; type: string; index: number }[][] }>;
}
type Pairs = { parameters?: { name: string; value: string }[] } | undefined;

const workflow = JSON.parse(
  readFileSync(path.join(repoRoot, 'automation', 'n8n', 'background-batch.json'), 'utf8'),
) as N8nWorkflow;
const byName = new Map(workflow.nodes.map((n) => [n.name, n]));
const pairs = (p: unknown) => ((p as Pairs)?.parameters ?? []).map((x) => [x.name, x.value] as const);
const API_PREFIX = /^=\{\{\s*\$env\.BACKGROUND_API_URL\s*\}\}/;

describe('automation/n8n/background-batch.json', () => {
  it('is a well-formed n8n workflow: unique names and ids, known node types, connections between its nodes', () => {
    expect(workflow.name).toMatch(/\S/);
    expect(new Set(workflow.nodes.map((n) => n.name)).size).toBe(workflow.nodes.length);
    expect(new Set(workflow.nodes.map((n) => n.id)).size).toBe(workflow.nodes.length);
    for (const n of workflow.nodes) {
      expect(n.type).toMatch(/^n8n-nodes-base\.\w+$/);
      expect(n.typeVersion).toBeGreaterThan(0);
      expect(n.position).toHaveLength(2);
      expect(typeof n.parameters).toBe('object');
    }
    for (const [from, c] of Object.entries(workflow.connections)) {
      expect(byName.has(from), from).toBe(true);
      for (const out of c.main) for (const to of out) expect(byName.has(to.node), to.node).toBe(true);
    }
  });

  it('runs weekly, fetches curated media, works in batches of 5, calls our API, updates the records and logs', () => {
    const types = (t: string) => workflow.nodes.filter((n) => n.type === `n8n-nodes-base.${t}`);
    const [trigger] = types('scheduleTrigger');
    expect((trigger!.parameters.rule as { interval: { field: string }[] }).interval[0]!.field).toBe('weeks');
    const [batches] = types('splitInBatches');
    expect(batches!.parameters.batchSize).toBe(5);
    // Trigger → fetch → batches; the loop output goes to our API, then the update, then back.
    const next = (name: string, out = 0) => workflow.connections[name]!.main[out]!.map((c) => c.node);
    const fetchNode = byName.get(next(trigger!.name)[0]!)!;
    expect(fetchNode.parameters.method).toBe('GET');
    expect(pairs(fetchNode.parameters.queryParameters)).toContainEqual(['status', 'curated']);
    expect(next(fetchNode.name)).toEqual([batches!.name]);
    const api = byName.get(next(batches!.name, 1)[0]!)!;
    expect(api.parameters.url).toMatch(API_PREFIX);
    const update = byName.get(next(api.name)[0]!)!;
    expect(update.parameters.method).toBe('PATCH');
    expect(next(update.name)).toEqual([batches!.name]);
    const log = byName.get(next(batches!.name, 0)[0]!)!;
    expect(log.parameters.jsCode).toMatch(/console\.log/);
  });

  describe('every HTTP node that targets our API matches the OpenAPI document', () => {
    let server: BgServer & { url: string };
    /** An operation of the OpenAPI document, in the parts the check reads. */
    type Operation = { parameters?: unknown[]; requestBody?: { content?: Record<string, { schema?: unknown }> } };
    let doc: { paths: Record<string, Record<string, Operation>>; security?: unknown[] };
    beforeAll(async () => {
      server = await startServer(
        {
          port: 0,
          host: '127.0.0.1',
          apiToken: TOKEN,
          outputDir: path.join(tmp.dir, 'out'),
          queueDb: path.join(tmp.dir, 'q.db'),
        },
        { logger: false, worker: false },
      );
      const res = await fetch(`${server.url}/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
      doc = (await res.json()) as typeof doc;
    });
    afterAll(async () => {
      await server?.close();
    });

    it('method, path, query, body fields (required present, none unknown) and the bearer header', () => {
      const apiNodes = workflow.nodes.filter(
        (n) => n.type === 'n8n-nodes-base.httpRequest' && API_PREFIX.test(String(n.parameters.url)),
      );
      expect(apiNodes.length).toBeGreaterThan(0);
      expect(doc.security).toEqual([{ bearer: [] }]);
      let bodies = 0;
      for (const n of apiNodes) {
        const p = n.parameters;
        // `/v1/jobs/{{ $json.jobId }}` → `/v1/jobs/{id}`
        const route = String(p.url).replace(API_PREFIX, '').split('?')[0]!;
        const docPath = Object.keys(doc.paths).find((k) =>
          new RegExp(`^${k.replace(/\{[^}]+\}/g, '(?:\\{\\{[^}]+\\}\\}|[^/]+)')}$`).test(route),
        );
        expect(docPath, `${n.name}: ${route} is not in the OpenAPI document`).toBeDefined();
        const method = String(p.method ?? 'GET').toLowerCase();
        const op = doc.paths[docPath!]![method];
        expect(op, `${n.name}: ${method.toUpperCase()} ${docPath}`).toBeDefined();

        const headers = new Map(pairs(p.headerParameters).map(([k, v]) => [k.toLowerCase(), v]));
        expect(headers.get('authorization'), `${n.name}: Authorization`).toMatch(
          /^=?Bearer \{\{\s*\$env\.API_TOKEN\s*\}\}$/,
        );

        const params = (op!.parameters ?? []) as { in: string; name: string; required?: boolean }[];
        for (const [q] of pairs(p.queryParameters))
          expect(
            params.some((x) => x.in === 'query' && x.name === q),
            `${n.name}: query ${q}`,
          ).toBe(true);
        for (const [h] of pairs(p.headerParameters)) {
          if (h.toLowerCase() !== 'authorization')
            expect(
              params.some((x) => x.in === 'header' && x.name.toLowerCase() === h.toLowerCase()),
              `${n.name}: header ${h}`,
            ).toBe(true);
        }

        const schema = op!.requestBody?.content?.['application/json']?.schema as
          | { properties?: Record<string, unknown>; required?: string[]; additionalProperties?: boolean }
          | undefined;
        if (!schema) {
          expect(p.sendBody ?? false, `${n.name} sends a body the route does not take`).toBe(false);
          continue;
        }
        expect(p.sendBody).toBe(true);
        expect(p.specifyBody).toBe('keypair');
        bodies++;
        const fields = pairs(p.bodyParameters).map(([k]) => k);
        for (const r of schema.required ?? []) expect(fields, `${n.name}: required body field ${r}`).toContain(r);
        for (const f of fields) expect(Object.keys(schema.properties ?? {}), `${n.name}: body field ${f}`).toContain(f);
        // Literal values must be ones the schema accepts (templated values are checked at run time).
        for (const [k, v] of pairs(p.bodyParameters)) {
          const prop = schema.properties![k] as { enum?: unknown[]; anyOf?: { enum?: unknown[] }[] };
          const allowed = prop.enum ?? prop.anyOf?.flatMap((a) => a.enum ?? []);
          if (!v.startsWith('=') && allowed?.length) expect(allowed, `${n.name}: ${k}=${v}`).toContain(v);
        }
      }
      expect(bodies).toBeGreaterThan(0);
    });
  });
});
