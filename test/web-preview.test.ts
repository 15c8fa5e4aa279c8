/**
 * The web page shows a running job's step preview in place of the spinner, and drops it when the
 * job ends (Debian's chromium driven by playwright-core). The server's job handler stands in for
 * a local-engine run: it stores a preview, waits for the test, then runs the real job (studio).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clearSegmenters, closeComposePool } from '../src/index.js';
import { createServer, type BgServer } from '../src/server/app.js';
import { createPreviewWriter, previewPath } from '../src/server/job-preview.js';
import { runJob, type JobPayload } from '../src/server/jobs.js';
import type { PageImage } from './helpers/page-globals.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { TOKEN, waitFor } from './helpers/server-harness.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const tmp = tempDir('bgn-web-preview-');

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe.skipIf(!haveChromium)('web page: step previews', () => {
  let server: BgServer;
  let url: string;
  let browser: Browser;
  let page: Page;
  const previewed = gate();
  const finish = gate();
  const payloads: JobPayload[] = [];

  beforeAll(async () => {
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
      { logger: false, worker: false },
    );
    const cfg = server.config;
    server.queue.startWorker(async (job, ctx) => {
      payloads.push(job.payload as JobPayload);
      mkdirSync(path.join(cfg.outputDir, job.id), { recursive: true });
      const writer = createPreviewWriter(previewPath(cfg.outputDir, job.id));
      ctx.progress(0.3, 'generate');
      await previewed.wait;
      writer.push({ pixels: new Uint8Array(40 * 30 * 3).fill(180), width: 40, height: 30 });
      await waitFor(() => existsSync(previewPath(cfg.outputDir, job.id)), 10_000, 'the preview file');
      ctx.progress(0.5, 'generate');
      await finish.wait;
      await writer.close();
      return runJob(job, ctx, cfg);
    }, 1);
    url = await server.listen();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  });

  afterAll(async () => {
    finish.open();
    await browser?.close();
    await server?.close();
    await closeComposePool();
    await clearSegmenters();
    delete process.env.BG_SEG_MODEL;
    tmp.remove();
  });

  it('asks for previews, shows the latest in place of the spinner while the job runs, drops it at end', async () => {
    await page.goto(url);
    await page.locator('#token').fill(TOKEN);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('#app').waitFor();
    const photo = await sharp({
      create: { width: 160, height: 120, channels: 3, background: { r: 40, g: 165, b: 70 } },
    })
      .composite([
        {
          input: await sharp({ create: { width: 60, height: 60, channels: 3, background: { r: 225, g: 30, b: 30 } } })
            .png()
            .toBuffer(),
          left: 50,
          top: 30,
        },
      ])
      .jpeg()
      .toBuffer();
    await page.locator('#files').setInputFiles({ name: 'red-box.jpg', mimeType: 'image/jpeg', buffer: photo });
    await page.locator('#engine').selectOption('studio');
    await page.locator('#run').click();
    await expect
      .poll(() => page.locator('#working-stage').textContent(), { timeout: 20_000 })
      .toBe('Making the new background');
    // Running, no preview yet: the spinner.
    expect(await page.locator('#working-spinner').isVisible()).toBe(true);
    expect(await page.locator('#working-preview').isHidden()).toBe(true);
    expect(payloads[0]!.options.previewEvery).toBe(1);

    previewed.open();
    await page.locator('#working-preview').waitFor({ state: 'visible', timeout: 20_000 });
    expect(await page.locator('#working-spinner').isHidden()).toBe(true);
    const size = await page.locator('#working-preview').evaluate(async (img: PageImage) => {
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    });
    expect(size).toEqual([40, 30]);
    expect(await page.locator('#working-preview').getAttribute('src')).toMatch(/^blob:/);

    finish.open();
    await page.locator('#frame[data-view="compare"]').waitFor({ timeout: 60_000 });
    expect(await page.locator('#working').isHidden()).toBe(true);
    expect(await page.locator('#working-preview').getAttribute('src')).toBeNull();
  }, 120_000);
});
