/**
 * The README's picture of the web page: starts the server on loopback (default segmentation
 * model, studio engine), opens the page in Debian's chromium, uploads the example photo, runs a
 * preset and saves a screenshot of the finished state.
 *
 *   npm run docs:web-screenshot -- [--photo docs/studio-chair-before.jpg] [--preset product-studio] [--out
 *   docs/web-page.jpg]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';
import sharp from 'sharp';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer } from '../src/server/app.js';

/** The page's focused element, as the script blurs it (the script compiles without the DOM library). */
type PageGlobals = { document: { activeElement: { blur?: () => void } | null } };

const { values } = parseArgs({
  options: {
    photo: { type: 'string', default: 'docs/studio-chair-before.jpg' },
    preset: { type: 'string', default: 'product-studio' },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'docs/web-page.jpg' },
    chromium: { type: 'string', default: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
  },
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'bgn-web-shot-'));
const token = 'docs-screenshot';
const server = await createServer(
  {
    port: 0,
    host: '127.0.0.1',
    apiToken: token,
    outputDir: path.join(dir, 'out'),
    queueDb: path.join(dir, 'queue.db'),
    concurrency: 1,
    pollMs: 50,
    shutdownGraceMs: 1000,
  },
  { logger: false },
);
const url = await server.listen();
const browser = await chromium.launch({
  executablePath: values.chromium,
  args: ['--no-sandbox', '--headless', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  await page.goto(
    `${url}/#preset=${encodeURIComponent(values.preset)}&engine=studio&seed=${encodeURIComponent(values.seed)}`,
  );
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.locator('#app').waitFor();
  await page.locator('#files').setInputFiles(path.resolve(values.photo));
  await page.locator('#run').click();
  await page.locator('#frame[data-view="compare"]').waitFor({ timeout: 300_000 });
  await page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.blur?.());
  const png = await page.screenshot();
  await sharp(png).jpeg({ quality: 82, mozjpeg: true }).toFile(values.out);
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
  await server.close();
  await closeComposePool();
  await clearSegmenters();
  rmSync(dir, { recursive: true, force: true });
}
