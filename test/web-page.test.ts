/**
 * The web page at `/`, as a person uses it in a real browser (Debian's chromium driven by
 * playwright-core): sign in with the token, upload a red-on-green photo, choose a preset, follow
 * the job, drag the before/after slider, look at the mask, download the result and the mask,
 * run a batch, and read plain-words errors for a file that is not a photo, an unknown preset in
 * a shared link, a wrong token and a stopped server. Real server on loopback, the tiny
 * segmentation model, the studio engine. Screenshots of the finished states go to test/.out/web/
 * and are attached to the test results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import type { PageGlobals, PageImage } from './helpers/page-globals.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { TOKEN } from './helpers/server-harness.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`web page tests skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

const OUT = path.join(repoRoot, 'test', '.out', 'web');
const tmp = tempDir('bgn-web-');

/** A red product (a rounded box with a darker band) on a green backdrop: what the tiny model cuts out. */
async function productJpeg(width: number, height: number): Promise<Buffer> {
  const w = Math.round(width * 0.36);
  const h = Math.round(height * 0.56);
  const x = Math.round((width - w) / 2);
  const y = Math.round(height * 0.24);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="rgb(40,165,70)"/>
    <rect x="${x}" y="${y}" width="${w}" height="${h}" rx="${Math.round(w * 0.12)}" fill="rgb(225,30,30)"/>
    <rect x="${x}" y="${y + Math.round(h * 0.42)}" width="${w}" height="${Math.round(h * 0.12)}" fill="rgb(170,20,25)"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 92 }).toBuffer();
}

async function shot(page: Page, ctx: TestContext, name: string, fullPage = false): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, `${name}.png`);
  await page.evaluate(() => (globalThis as unknown as PageGlobals).scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage });
  Object.assign(ctx.task.meta, { [`screenshot:${name}`]: file });
  await ctx.annotate(`screenshot: ${path.relative(repoRoot, file)}`, 'screenshot', {
    path: file,
    contentType: 'image/png',
  });
  return file;
}

describe.skipIf(!haveChromium)('web page (chromium + playwright-core)', () => {
  let server: BgServer;
  let url: string;
  let browser: Browser;
  let page: Page;
  let photo: Buffer;

  beforeAll(async () => {
    // The page's script is compiled from web/src by the package's TypeScript; build it fresh.
    const tsc = spawnSync(
      process.execPath,
      [
        path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        path.join(repoRoot, 'web', 'tsconfig.json'),
      ],
      { encoding: 'utf8' },
    );
    if (tsc.status !== 0) throw new Error(`building the web page failed:\n${tsc.stdout}${tsc.stderr}`);
    process.env.BG_SEG_MODEL = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
    photo = await productJpeg(320, 240);
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
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await closeComposePool();
    await clearSegmenters();
    delete process.env.BG_SEG_MODEL;
    tmp.remove();
  });

  it('serves the page without the token but nothing else: the API still answers 401', async () => {
    const shell = await fetch(`${url}/`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-type')).toMatch(/text\/html/);
    expect(shell.headers.get('content-security-policy')).toContain("default-src 'self'");
    const script = await fetch(`${url}/ui/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${url}/v1/presets`)).status).toBe(401);
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok' }); // liveness only
    expect((await fetch(`${url}/ui/no-such-file.js`)).status).toBe(404);
    expect((await fetch(`${url}/ui/..%2Fpackage.json`)).status).toBe(401);
  });

  it('asks for the token, refuses a wrong one in plain words, and connects with the right one', async (ctx) => {
    await page.goto(url);
    await page.locator('#token').fill('not-the-token');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('#token-error').textContent()).toContain('did not accept the access token');
    await shot(page, ctx, 'sign-in');
    await page.locator('#token').fill(TOKEN);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('#app').waitFor();
    expect(await page.locator('#server-text').textContent()).toMatch(/^Connected/);
    // Kept for this tab: a reload does not ask again.
    await page.reload();
    await page.locator('#app').waitFor();
    expect(await page.locator('#gate').isHidden()).toBe(true);
  });

  it("lists the server's presets, with prompt types for the presets that have them", async () => {
    const names = await page.locator('#preset option').allTextContents();
    expect(names).toEqual(expect.arrayContaining(['product-studio', 'studio-gradient', 'vitrinealu']));
    await page.locator('#preset').selectOption('vitrinealu');
    expect(await page.locator('#prompt-row').isVisible()).toBe(true);
    expect(await page.locator('#prompt-type option').allTextContents()).toEqual(
      expect.arrayContaining(['studio', 'garden', 'minimal', 'lifestyle']),
    );
    await page.locator('#preset').selectOption('studio-gradient');
    expect(await page.locator('#prompt-row').isVisible()).toBe(false);
    expect(page.url()).toContain('preset=studio-gradient');
  });

  it('uploads a photo, shows progress while the job runs, then before/after with the job details', async () => {
    await page.locator('#files').setInputFiles({ name: 'red-box.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.locator('#engine').selectOption('studio');
    await page.locator('#seed').fill('7');
    await page.locator('#run').click();
    // The progress panel shows at once (upload), then follows the job until the result arrives.
    expect(await page.locator('#working').isVisible()).toBe(true);
    expect(await page.locator('#run').textContent()).toContain('Working on 1 photo');
    await page.locator('#frame[data-view="compare"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#working').isHidden()).toBe(true);
    const meta = Object.fromEntries(
      await page
        .locator('#meta > div')
        .evaluateAll((rows) =>
          rows.map((r) => [r.querySelector('dt')!.textContent, r.querySelector('dd')!.textContent]),
        ),
    );
    expect(meta).toMatchObject({ Preset: 'studio-gradient', Engine: 'studio', Seed: '7', Size: '320 × 240' });
    expect(meta.Time).toMatch(/^\d+(\.\d)? m?s$/);
    expect(await page.locator('#run').textContent()).toBe('Replace background');
  });

  it('moves the before/after slider by dragging and with the keyboard', async () => {
    const handle = page.getByRole('slider');
    expect(await handle.getAttribute('aria-valuenow')).toBe('50');
    const box = (await page.locator('#compare').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height / 2, { steps: 4 });
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    expect(Number(await handle.getAttribute('aria-valuenow'))).toBeCloseTo(25, -0.5);
    // The original is cut at the handle: its clip covers the right 75 %.
    expect(
      await page
        .locator('#before-img')
        .evaluate((img) => (globalThis as unknown as PageGlobals).getComputedStyle(img).clipPath),
    ).toMatch(/inset\(0(px)? 75%/);

    await handle.focus();
    await page.keyboard.press('End');
    expect(await handle.getAttribute('aria-valuenow')).toBe('100');
    await page.keyboard.press('ArrowLeft');
    expect(await handle.getAttribute('aria-valuenow')).toBe('98');
    await page.keyboard.press('Shift+ArrowLeft');
    expect(await handle.getAttribute('aria-valuenow')).toBe('88');
    await page.keyboard.press('Home');
    expect(await handle.getAttribute('aria-valuenow')).toBe('0');
    await page.keyboard.press('PageUp');
    expect(await handle.getAttribute('aria-valuenow')).toBe('10');
  });

  it('shows the mask: white product, black background', async () => {
    await page.getByRole('tab', { name: 'Mask' }).click();
    const mask = page.locator('#mask-img');
    expect(await mask.isVisible()).toBe(true);
    expect(await mask.evaluate((img: PageImage) => [img.naturalWidth, img.naturalHeight])).toEqual([320, 240]);
    await page.getByRole('tab', { name: 'Result' }).click();
    expect(await page.locator('#after-img').isVisible()).toBe(true);
    expect(await page.locator('#before-img').isVisible()).toBe(false);
    await page.getByRole('tab', { name: 'Before / after' }).click();
  });

  it('downloads the result and the mask at the photo’s size: the product kept, the green backdrop gone', async () => {
    const [dl] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download result' }).click(),
    ]);
    expect(dl.suggestedFilename()).toBe('red-box-studio-gradient.png');
    const result = readFileSync((await dl.path())!);
    const { data, info } = await sharp(result).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([320, 240]);
    const px = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [r, g] = px(160, 100);
    expect(r).toBeGreaterThan(180); // the red product is untouched
    expect(g).toBeLessThan(70);
    const corner = px(8, 8);
    expect(corner[1]! - Math.max(corner[0]!, corner[2]!)).toBeLessThan(20); // no green backdrop left

    const [dm] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download mask' }).click(),
    ]);
    expect(dm.suggestedFilename()).toBe('red-box-mask.png');
    const mask = await sharp(readFileSync((await dm.path())!))
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([mask.info.width, mask.info.height]).toEqual([320, 240]);
    expect(mask.data[100 * 320 + 160]).toBeGreaterThan(200);
    expect(mask.data[8 * 320 + 8]).toBeLessThan(50);
  });

  it('finished state: a screenshot of the page is attached', async (ctx) => {
    await page.getByRole('slider').focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < 5; i++) await page.keyboard.press('PageUp'); // 50 %
    await page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.blur?.());
    const file = await shot(page, ctx, 'finished');
    const meta = await sharp(file).metadata();
    expect([meta.width, meta.height]).toEqual([1280, 860]);
  });

  it('runs a batch of photos and shows them in a grid, each with its own result', async (ctx) => {
    const sizes: [number, number][] = [
      [240, 320],
      [320, 200],
      [256, 256],
    ];
    const files = await Promise.all(
      sizes.map(async ([w, h], i) => ({
        name: `batch-${i + 1}.jpg`,
        mimeType: 'image/jpeg',
        buffer: await productJpeg(w, h),
      })),
    );
    await page.getByRole('button', { name: 'Clear photos' }).click();
    await page.locator('#preset').selectOption('vitrinealu');
    await page.locator('#prompt-type').selectOption('minimal');
    await page.locator('#files').setInputFiles(files.slice(0, 2));
    // The third is dropped onto the page, as from a file manager.
    const dropped = await page.evaluateHandle(
      ({ name, bytes }) => {
        const dt = new (globalThis as unknown as PageGlobals).DataTransfer();
        dt.items.add(
          new (globalThis as unknown as PageGlobals).File([new Uint8Array(bytes)], name, { type: 'image/jpeg' }),
        );
        return dt;
      },
      { name: files[2]!.name, bytes: [...files[2]!.buffer] },
    );
    await page.locator('#drop').dispatchEvent('dragenter', { dataTransfer: dropped });
    expect(await page.locator('.drop-overlay').isVisible()).toBe(true);
    await page.locator('#drop').dispatchEvent('drop', { dataTransfer: dropped });
    expect(await page.locator('.drop-overlay').isVisible()).toBe(false);
    expect(await page.locator('#grid').isVisible()).toBe(true);
    expect(await page.locator('#run').textContent()).toBe('Replace 3 backgrounds');
    await page.locator('#run').click();
    await expect.poll(() => page.locator('.card[data-status="done"]').count(), { timeout: 90_000 }).toBe(3);
    expect(await page.locator('#grid-count').textContent()).toBe('3 photos · 3 done');

    await page.locator('.card', { hasText: 'batch-2.jpg' }).click();
    expect(await page.locator('#viewer-title').textContent()).toBe('batch-2.jpg');
    expect(await page.locator('#meta').textContent()).toContain('320 × 200');
    expect(await page.locator('#meta').textContent()).toContain('vitrinealu · minimal');
    await shot(page, ctx, 'batch', true);
  });

  it('refuses a file that is not a photo in plain words, before and after upload', async () => {
    await page
      .locator('#files')
      .setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('shopping list') });
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the text as rendered
    expect(await page.locator('#message').innerText()).toContain('“notes.txt” is not a photo. Choose JPEG, PNG, WebP');
    expect(await page.locator('.card').count()).toBe(3); // nothing added

    // Named like a photo, but not one: the server says so, and the page puts it plainly.
    await page.getByRole('button', { name: 'Clear photos' }).click();
    await page
      .locator('#files')
      .setInputFiles({ name: 'broken.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not really a jpeg') });
    await page.locator('#run').click();
    await page.locator('#failed').waitFor({ timeout: 60_000 });
    expect(await page.locator('#failed-text').textContent()).toBe(
      'The server could not read “broken.jpg” as a photo. Is it a real JPEG, PNG or WebP image?',
    );
    expect(await page.locator('#failed-detail').textContent()).toMatch(/^E_BAD_INPUT: /);
  });

  it('names an unknown preset from a shared link and keeps a valid one', async () => {
    await page.goto(`${url}/#preset=no-such-look&engine=studio`);
    await page.locator('#app').waitFor();
    await expect
      .poll(() => page.locator('#message').textContent())
      .toContain('This server has no preset “no-such-look”');
    expect(await page.locator('#message').textContent()).toContain('product-studio');
    expect(await page.locator('#engine').inputValue()).toBe('studio');
  });

  it('says in plain words when the server is down', async (ctx) => {
    await page.locator('#files').setInputFiles({ name: 'red-box.jpg', mimeType: 'image/jpeg', buffer: photo });
    await server.close();
    await page.locator('#run').click();
    await expect
      .poll(() => page.locator('#message').textContent())
      .toContain(`Cannot reach the bg-native server at ${url}. Check that it is running`);
    expect(await page.locator('#server-text').textContent()).toBe('Server unreachable');
    expect(await page.locator('#failed-text').textContent()).toBe('Not finished: the server could not be reached.');
    await shot(page, ctx, 'server-down');
  });
});
