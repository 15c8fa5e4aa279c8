/**
 * The server's studio files, prompt and glass: a clean plate and a second shot with its plate as
 * multipart uploads, as paths inside INPUT_ROOTS and refused outside them; the job's cut-out then
 * equals the library's own; uploads of a refused request are deleted; a second shot without its
 * plate names the field; `prompt` and `glass` as multipart form fields reach the job (a door cut
 * out of its box with see-through panes, and opaque panes with glass 'off'); the retention sweep
 * deletes the studio uploads with their job.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createClient } from '../src/client/index.js';
import { cleanup, clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import type { ServerConfigInput } from '../src/server/config.js';
import { makeGlassScene, promptBoxFor, REGION_GLASS, scenePng, type GlassScene } from '../scripts/lib/glass-scenes.js';
import { tempDir } from './helpers/paths.js';
import { TOKEN, auth, makeFixture, postJson, waitFor, type Fixture } from './helpers/server-harness.js';
import type { ServerReply } from './helpers/server-reply.js';
import { flatBackdrop, renderShot, sceneTruth } from './helpers/studio-scene.js';

const tmp = tempDir('bgn-server-studio-');
const W = 160,
  H = 120;
let fx: Fixture;
let server: BgServer;
let url: string;
const files: Record<string, Buffer> = {};
const paths: Record<string, string> = {};
let door: GlassScene;
let doorPng: Buffer;

async function png(rgb: Uint8Array, width = W, height = H): Promise<Buffer> {
  return sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function start(over: ServerConfigInput = {}): Promise<{ server: BgServer; url: string }> {
  const s = await createServer(
    {
      port: 0,
      host: '127.0.0.1',
      apiToken: TOKEN,
      inputRoots: [fx.inputs],
      outputDir: path.join(tmp.dir, `out-${Object.keys(over).length}`),
      queueDb: path.join(tmp.dir, `queue-${Object.keys(over).length}.db`),
      threads: 1,
      concurrency: 1,
      pollMs: 50,
      syncWaitMs: 30_000,
      ...over,
    },
    { logger: false },
  );
  return { server: s, url: await s.listen() };
}

beforeAll(async () => {
  fx = await makeFixture(tmp.dir);
  process.env.BG_SEG_MODEL = fx.model;
  const truth = sceneTruth(W, H);
  const black = flatBackdrop({ r: 18, g: 18, b: 20 });
  const white = flatBackdrop({ r: 242, g: 242, b: 238 });
  files.shot = await png(renderShot(truth, black, { noise: 1, seed: 1 }));
  files.plate = await png(renderShot(truth, black, { noise: 1, seed: 2, plate: true }));
  files.shot2 = await png(renderShot(truth, white, { noise: 1, seed: 3, shift: [2, 1] }));
  files.plate2 = await png(renderShot(truth, white, { noise: 1, seed: 4, shift: [2, 1], plate: true }));
  for (const [k, v] of Object.entries(files)) writeFileSync((paths[k] = path.join(fx.inputs, `${k}.png`)), v);
  door = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 2 });
  doorPng = await scenePng(door);
  ({ server, url } = await start());
});

afterAll(async () => {
  await server?.close();
  delete process.env.BG_SEG_MODEL;
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

const blob = (b: Buffer) => new Blob([new Uint8Array(b)], { type: 'image/png' });

async function postForm(route: string, form: FormData): Promise<{ status: number; json: ServerReply }> {
  const res = await fetch(`${url}${route}`, { method: 'POST', headers: auth(), body: form });
  return { status: res.status, json: (await res.json()) as ServerReply };
}

async function outputAlpha(json: { result: { outputUrl: string } }): Promise<Buffer> {
  const rel = new URL(json.result.outputUrl, url).pathname;
  const res = await fetch(`${url}${rel}`, { headers: auth() });
  expect(res.status).toBe(200);
  return sharp(Buffer.from(await res.arrayBuffer()))
    .ensureAlpha()
    .extractChannel(3)
    .raw()
    .toBuffer();
}

const meanDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

describe('studio files on the server', () => {
  it("takes the two shots and their plates as uploads; the cut-out is the library's", async () => {
    const form = new FormData();
    form.append('file', blob(files.shot!), 'shot.png');
    form.append('cleanPlate', blob(files.plate!), 'plate.png');
    form.append('secondInput', blob(files.shot2!), 'shot2.png');
    form.append('secondCleanPlate', blob(files.plate2!), 'plate2.png');
    form.append('mode', 'transparent');
    const r = await postForm('/v1/cleanup', form);
    expect(r.status).toBe(200);
    const second = { input: files.shot2!, cleanPlate: files.plate2! };
    const lib = await cleanup({ input: files.shot!, cleanPlate: files.plate!, second, threads: 1 });
    const want = await sharp(lib.artifacts.output as Buffer)
      .ensureAlpha()
      .extractChannel(3)
      .raw()
      .toBuffer();
    const bare = await sharp((await cleanup({ input: files.shot!, threads: 1 })).artifacts.output as Buffer)
      .ensureAlpha()
      .extractChannel(3)
      .raw()
      .toBuffer();
    const got = await outputAlpha(r.json);
    expect(meanDiff(got, want)).toBeLessThan(0.5);
    // Without the plates the tiny network's mask is another one: the plates made the difference.
    expect(meanDiff(bare, want)).toBeGreaterThan(5);
  });

  it('takes a clean plate as a path inside INPUT_ROOTS and refuses one outside, naming the field', async () => {
    const ok = await postJson(`${url}/v1/cleanup`, { imagePath: paths.shot, cleanPlatePath: paths.plate });
    expect(ok.status).toBe(200);
    const outside = path.join(tmp.dir, 'plate-outside.png');
    writeFileSync(outside, files.plate!);
    const bad = await postJson(`${url}/v1/cleanup`, { imagePath: paths.shot, cleanPlatePath: outside });
    expect(bad.status).toBe(403);
    expect(bad.json.error.message).toMatch(/^cleanPlatePath .* outside the folders/);
  });

  it('a second shot without its plate, or a plate given twice, is 400 naming the fields; uploads deleted', async () => {
    const uploads = path.join(server.config.outputDir, '.uploads');
    const before = readdirSync(uploads).sort();
    const form = new FormData();
    form.append('file', blob(files.shot!), 'shot.png');
    form.append('cleanPlate', blob(files.plate!), 'plate.png');
    form.append('secondInput', blob(files.shot2!), 'shot2.png');
    const r = await postForm('/v1/cleanup', form);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'E_BAD_INPUT' });
    expect(r.json.error.message).toMatch(/secondCleanPlate is missing/);
    const twice = new FormData();
    twice.append('file', blob(files.shot!), 'shot.png');
    twice.append('cleanPlate', blob(files.plate!), 'plate.png');
    twice.append('cleanPlatePath', paths.plate!);
    const t = await postForm('/v1/cleanup', twice);
    expect(t.status).toBe(400);
    expect(t.json.error.message).toMatch(/only one of cleanPlatePath, cleanPlateUrl and an uploaded `cleanPlate`/);
    expect(readdirSync(uploads).sort()).toEqual(before);
  });

  it('refuses an unknown file field', async () => {
    const form = new FormData();
    form.append('file', blob(files.shot!), 'shot.png');
    form.append('plate', blob(files.plate!), 'plate.png');
    const r = await postForm('/v1/cleanup', form);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/`cleanPlate`, `secondInput` and `secondCleanPlate` \(got `plate`\)/);
  });

  it('the retention sweep deletes the studio uploads with their job', async () => {
    const kept = await start({ jobRetentionMs: 500, retentionSweepMs: 200 });
    try {
      const form = new FormData();
      form.append('file', blob(files.shot!), 'shot.png');
      form.append('cleanPlate', blob(files.plate!), 'plate.png');
      const res = await fetch(`${kept.url}/v1/cleanup`, { method: 'POST', headers: auth(), body: form });
      expect(res.status).toBe(200);
      const uploads = path.join(kept.server.config.outputDir, '.uploads');
      await waitFor(() => readdirSync(uploads).length === 0, 20_000, 'the uploads to be deleted');
    } finally {
      await kept.server.close();
    }
  });
});

describe('studio files through the client', () => {
  it('uploads bytes and sends paths; a second shot without its plate is refused before sending', async () => {
    const client = createClient({ baseUrl: url, token: TOKEN, env: {} });
    const second = { input: files.shot2!, cleanPlate: files.plate2! };
    const up = await client.cleanup({ image: files.shot!, cleanPlate: new Uint8Array(files.plate!), second });
    const lib = await cleanup({ input: files.shot!, cleanPlate: files.plate!, second, threads: 1 });
    const want = await sharp(lib.artifacts.output as Buffer)
      .ensureAlpha()
      .extractChannel(3)
      .raw()
      .toBuffer();
    expect(meanDiff(await outputAlpha({ result: up.result }), want)).toBeLessThan(0.5);
    const byPath = await client.cleanup({ imagePath: paths.shot!, cleanPlate: paths.plate!, upload: false });
    expect(byPath.status).toBe('succeeded');
    const half = client.cleanup({ imagePath: paths.shot!, second: { input: paths.shot2! } as never });
    await expect(half).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: /second must be \{ input, cleanPlate \}/,
    });
  });
});

describe('prompt and glass on the server', () => {
  function regions(alpha: Buffer): { glass: number; outside: number } {
    const box = promptBoxFor(door);
    let g = 0,
      gn = 0,
      outside = 0;
    for (let i = 0; i < W * H; i++) {
      const x = i % W,
        y = Math.floor(i / W);
      const out = x < box[0] || y < box[1] || x >= box[0] + box[2] || y >= box[1] + box[3];
      if (out) outside = Math.max(outside, alpha[i]!);
      else if (door.region[i] === REGION_GLASS) (g += alpha[i]!), gn++;
    }
    return { glass: g / gn, outside };
  }

  it('multipart prompt and glass fields reach the job: the door cut out of its box, panes see-through', async () => {
    const form = new FormData();
    form.append('file', blob(doorPng), 'door.png');
    form.append('prompt', JSON.stringify({ box: promptBoxFor(door) }));
    const auto = await postForm('/v1/cleanup', form);
    expect(auto.status).toBe(200);
    const a = regions(await outputAlpha(auto.json));
    expect(a.outside).toBe(0);
    expect(a.glass).toBeLessThan(100);
    form.append('glass', 'off');
    const off = await postForm('/v1/cleanup', form);
    expect(off.status).toBe(200);
    expect(regions(await outputAlpha(off.json)).glass).toBeGreaterThan(200);
  });

  it('a replace job takes the box in prompt with its text, and glass with a transmission', async () => {
    const res = await postJson(`${url}/v1/replace`, {
      imagePath: paths.shot,
      engine: 'studio',
      prompt: { text: 'a white studio', box: [10, 10, 140, 100] },
      glass: { transmission: 0.85 },
    });
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('succeeded');
  });

  it('a box outside the photo fails the job naming prompt.box; a bad glass value is 400', async () => {
    const res = await postJson(`${url}/v1/cleanup`, { imagePath: paths.shot, prompt: { box: [150, 10, 40, 40] } });
    expect(res.json.error).toMatchObject({ code: 'E_BAD_INPUT' });
    expect(res.json.error.message).toMatch(/prompt\.box/);
    const glass = await postJson(`${url}/v1/cleanup`, { imagePath: paths.shot, glass: 'sometimes' });
    expect(glass.status).toBe(400);
    expect(glass.json.error.message).toMatch(/`glass`/);
  });
});
