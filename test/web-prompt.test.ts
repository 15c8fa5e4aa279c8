/**
 * The web page's marks, in a real browser (Debian's chromium through playwright-core): on a glass
 * door's photo the user drags a box around the door, clicks a point on its frame and Alt-clicks one
 * that is not the product; the marks show over the photo, go to the server as `prompt` in photo
 * pixels, and the job's mask keeps nothing outside the box and leaves the panes see-through.
 * "Clear marks" removes them. Real server on loopback, the tiny model, the studio engine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import {
  makeGlassScene,
  promptBoxFor,
  REGION_GLASS,
  REGION_OPAQUE,
  scenePng,
  type GlassScene,
} from '../scripts/lib/glass-scenes.js';
import type { PageGlobals } from './helpers/page-globals.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { TOKEN } from './helpers/server-harness.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const tmp = tempDir('bgn-web-prompt-');
const OUT = path.join(repoRoot, 'test', '.out', 'web');
const W = 320,
  H = 240;

/** The shown original's width in pixels (0 until it has loaded). */
function naturalWidth(page: Page): Promise<number> {
  return page.locator('#before-img').evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth);
}

describe.skipIf(!haveChromium)('web page marks (chromium + playwright-core)', () => {
  let server: BgServer;
  let url: string;
  let browser: Browser;
  let page: Page;
  let door: GlassScene;

  beforeAll(async () => {
    const tscBin = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const webConfig = path.join(repoRoot, 'web', 'tsconfig.json');
    const tsc = spawnSync(process.execPath, [tscBin, '-p', webConfig], { encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`building the web page failed:\n${tsc.stdout}${tsc.stderr}`);
    process.env.BG_SEG_MODEL = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
    door = await makeGlassScene({ kind: 'door', backdrop: 'garden', width: W, height: H, seed: 2 });
    server = await createServer(
      {
        port: 0,
        host: '127.0.0.1',
        apiToken: TOKEN,
        outputDir: path.join(tmp.dir, 'out'),
        queueDb: path.join(tmp.dir, 'queue.db'),
        threads: 1,
        concurrency: 1,
        pollMs: 50,
        syncWaitMs: 0,
        shutdownGraceMs: 1000,
      },
      { logger: false },
    );
    url = await server.listen();
    const args = ['--no-sandbox', '--headless', '--disable-gpu'];
    browser = await chromium.launch({ executablePath: CHROMIUM, args });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await closeComposePool();
    await clearSegmenters();
    delete process.env.BG_SEG_MODEL;
    tmp.remove();
  });

  /** A photo pixel → the page's coordinates over the marks layer. */
  async function at(x: number, y: number): Promise<[number, number]> {
    const r = (await page.locator('#marks').boundingBox())!;
    return [r.x + ((x + 0.5) / W) * r.width, r.y + ((y + 0.5) / H) * r.height];
  }

  it('draws a box and points, sends them as prompt; the cut-out keeps nothing outside the box', async () => {
    await page.goto(url);
    await page.locator('#token').fill(TOKEN);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('#app').waitFor();
    const buffer = await scenePng(door);
    await page.locator('#files').setInputFiles({ name: 'door.png', mimeType: 'image/png', buffer });
    await page.locator('#engine').selectOption('studio');
    await page.locator('#marks-bar').waitFor();
    await expect.poll(() => naturalWidth(page)).toBe(W);

    const box = promptBoxFor(door);
    await page.mouse.move(...(await at(box[0], box[1])));
    await page.mouse.down();
    await page.mouse.move(...(await at(box[0] + box[2] / 2, box[1] + box[3] / 2)), { steps: 3 });
    await page.mouse.move(...(await at(box[0] + box[2], box[1] + box[3])), { steps: 3 });
    await page.mouse.up();
    const frame = door.region.findIndex((r, i) => r === REGION_OPAQUE && i % W > box[0] + 6 && i / W > box[1] + 6);
    await page.mouse.click(...(await at(frame % W, Math.floor(frame / W))));
    await page.keyboard.down('Alt');
    await page.mouse.click(...(await at(box[0] + 2, box[1] + 2)));
    await page.keyboard.up('Alt');
    expect(await page.locator('#marks rect').count()).toBe(1);
    expect(await page.locator('#marks circle').count()).toBe(2);
    expect(await page.locator('#marks circle.negative').count()).toBe(1);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: path.join(OUT, 'marks.png') });
    // The slider did not move while marking.
    expect(await page.locator('#handle').getAttribute('aria-valuenow')).toBe('50');

    // What the page sends: the multipart form's `prompt` field, read as the page's fetch() sends it.
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      const send = g.fetch.bind(g);
      g.fetch = (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
        if (init?.body instanceof g.FormData) g.sentPrompt = init.body.get('prompt');
        return send(input, init);
      };
    });
    const answered = page.waitForResponse((r) => r.url().includes('/v1/replace'));
    await page.locator('#run').click();
    const field = await page.evaluate(() => (globalThis as unknown as PageGlobals).sentPrompt as string | null);
    expect(typeof field).toBe('string');
    const prompt = JSON.parse(field!) as { box: number[]; points: { x: number; y: number; label: number }[] };
    prompt.box.forEach((v, i) => {
      expect(Math.abs(v - box[i]!)).toBeLessThanOrEqual(3);
    });
    expect(prompt.points.map((p) => p.label)).toEqual([1, 0]);
    expect(Math.abs(prompt.points[0]!.x - (frame % W))).toBeLessThanOrEqual(2);

    const { jobId } = (await (await answered).json()) as { jobId: string };
    await page.locator('#frame[data-view="compare"], #frame[data-status="failed"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#failed-detail').textContent()).toBe('');
    expect(await page.locator('#marks-bar').isHidden()).toBe(true);
    const headers = { authorization: `Bearer ${TOKEN}` };
    const job = (await (await fetch(`${url}/v1/jobs/${jobId}`, { headers })).json()) as { result: { maskUrl: string } };
    const mask = await fetch(new URL(job.result.maskUrl, url), { headers });
    const alpha = await sharp(Buffer.from(await mask.arrayBuffer()))
      .extractChannel(0)
      .raw()
      .toBuffer();
    let outside = 0,
      glass = 0,
      gn = 0;
    for (let i = 0; i < W * H; i++) {
      const x = i % W,
        y = Math.floor(i / W);
      const [bx, by, bw, bh] = prompt.box as [number, number, number, number];
      const out = x < bx - 3 || y < by - 3 || x >= bx + bw + 3 || y >= by + bh + 3;
      if (out) outside = Math.max(outside, alpha[i]!);
      else if (door.region[i] === REGION_GLASS) (glass += alpha[i]!), gn++;
    }
    expect(outside).toBe(0);
    expect(glass / gn).toBeLessThan(100);
  });

  it('"Clear marks" removes them', async () => {
    await page.locator('#clear').click();
    const buffer = await scenePng(door);
    await page.locator('#files').setInputFiles({ name: 'door2.png', mimeType: 'image/png', buffer });
    await page.locator('#marks-bar').waitFor();
    await expect.poll(() => naturalWidth(page)).toBe(W);
    await page.mouse.click(...(await at(W / 2, H / 2)));
    expect(await page.locator('#marks circle').count()).toBe(1);
    await page.locator('#marks-clear').click();
    expect(await page.locator('#marks circle').count()).toBe(0);
    expect(await page.locator('#marks-clear').isHidden()).toBe(true);
  });
});
