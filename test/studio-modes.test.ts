/**
 * The studio modes through the library and the command line: cleanup, segment and replace with a
 * clean plate or two shots, on PNGs of the synthetic studio scene (test/helpers/studio-scene.ts)
 * and the tiny real segmentation model; bad plates fail naming the field and file, writing nothing.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli/index.js';
import { cleanup, clearSegmenters, replaceBackground, segment } from '../src/index.js';
import { tempDir } from './helpers/paths.js';
import { flatBackdrop, renderShot, sceneTruth, scoreMatte } from './helpers/studio-scene.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir();
afterAll(async () => {
  await clearSegmenters();
  tmp.remove();
});
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const threads = 1;
const W = 160;
const H = 120;
const truth = sceneTruth(W, H);
const black = flatBackdrop({ r: 18, g: 18, b: 20 });
const white = flatBackdrop({ r: 242, g: 242, b: 238 });

async function png(file: string, rgb: Uint8Array, width = W, height = H): Promise<string> {
  const p = path.join(tmp.dir, file);
  writeFileSync(
    p,
    await sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer(),
  );
  return p;
}

const files = {
  shot: await png('shot.png', renderShot(truth, black, { noise: 1, seed: 1 })),
  plate: await png('plate.png', renderShot(truth, black, { noise: 1, seed: 2, plate: true })),
  shot2: await png('shot2.png', renderShot(truth, white, { noise: 1, seed: 3, shift: [2, 1] })),
  plate2: await png('plate2.png', renderShot(truth, white, { noise: 1, seed: 4, shift: [2, 1], plate: true })),
  small: await png('small.png', renderShot(truth, black, { plate: true }).subarray(0, 80 * 60 * 3), 80, 60),
  dark: await png('dark.png', renderShot(truth, white, { shift: [2, 1], plate: true, gain: 0.7 })),
};

async function rgba(file: string | Buffer): Promise<{ alpha: Uint8Array; fg: Uint8Array }> {
  const { data } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const n = W * H;
  const alpha = new Uint8Array(n);
  const fg = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    fg.set(data.subarray(i * 4, i * 4 + 3), i * 3);
    alpha[i] = data[i * 4 + 3]!;
  }
  return { alpha, fg };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'bg-native', ...args], {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

describe('library', () => {
  it('cleanup with two shots gives the exact cut-out (the model alone sees nothing here)', async () => {
    const alone = await segment({ input: files.shot, model, threads });
    expect(Math.max(...alone.alpha)).toBeLessThan(128);
    const out = path.join(tmp.dir, 'two.png');
    const r = await cleanup({
      input: files.shot,
      output: out,
      model,
      threads,
      cleanPlate: files.plate,
      second: { input: files.shot2, cleanPlate: files.plate2 },
    });
    expect(r.metrics.stages.studio).toBeGreaterThan(0);
    const { alpha, fg } = await rgba(out);
    const score = scoreMatte(truth, alpha, fg, 8);
    expect(score.opaque).toBeLessThanOrEqual(3);
    expect(score.glass).toBeLessThanOrEqual(3);
    expect(score.background).toBeLessThanOrEqual(3);
  });

  it('segment returns the studio alpha and says how it aligned the shots', async () => {
    const r = await segment({
      input: files.shot,
      model,
      threads,
      cleanPlate: files.plate,
      second: { input: files.shot2, cleanPlate: files.plate2 },
    });
    expect(r.studio).toMatchObject({ mode: 'two-shot', shifts: { second: [2, 1] } });
    const pane = Math.round(H * 0.4) * W + Math.round(W * 0.4);
    expect(Math.abs(r.alpha[pane]! - 26)).toBeLessThanOrEqual(3); // α 0.1
    expect(r.alpha[Math.round(H * 0.5) * W + Math.round(W * 0.21)]).toBeGreaterThanOrEqual(250); // the frame
  });

  it('keeps nothing outside the prompt box, whatever the plates say', async () => {
    const box: [number, number, number, number] = [
      Math.round(W * 0.1),
      Math.round(H * 0.1),
      Math.round(W * 0.45),
      Math.round(H * 0.8),
    ];
    const r = await segment({ input: files.shot, model, threads, cleanPlate: files.plate, prompt: { box } });
    expect(r.studio?.mode).toBe('clean-plate');
    let outside = 0;
    let inside = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const a = r.alpha[y * W + x]!;
        if (x >= box[0] && x < box[0] + box[2] && y >= box[1] && y < box[1] + box[3]) inside = Math.max(inside, a);
        else outside = Math.max(outside, a);
      }
    }
    expect(outside).toBe(0);
    expect(inside).toBe(255); // the frame's left half
  });

  it('replaceBackground composes the exact F: the pane shows the new background', async () => {
    const r = await replaceBackground({
      input: files.shot,
      model: { segmentation: model },
      threads,
      engine: 'studio',
      shadow: false,
      matchColors: false,
      overrides: { background: { type: 'solid', color: '#ffffff' } },
      cleanPlate: files.plate,
      second: { input: files.shot2, cleanPlate: files.plate2 },
    });
    const { data } = await sharp(r.artifacts.output as Buffer)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const i = (Math.round(H * 0.4) * W + Math.round(W * 0.4)) * 3;
    // Truth over white: 0.1·(150, 185, 170) + 0.9·255.
    expect(Math.abs(data[i]! - 244.5)).toBeLessThanOrEqual(4);
    expect(Math.abs(data[i + 1]! - 248)).toBeLessThanOrEqual(4);
  });

  it('refuses plates of another size or exposure, naming the field and the file, and writes nothing', async () => {
    const out = path.join(tmp.dir, 'never.png');
    await expect(
      cleanup({ input: files.shot, output: out, model, threads, cleanPlate: files.small }),
    ).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/`cleanPlate` \(small\.png\) is 80×60 but the photo is 160×120/),
    });
    await expect(
      cleanup({
        input: files.shot,
        output: out,
        model,
        threads,
        cleanPlate: files.plate,
        second: { input: files.small, cleanPlate: files.plate2 },
      }),
    ).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringMatching(/`second\.input` \(small\.png\)/) });
    await expect(
      cleanup({
        input: files.shot,
        output: out,
        model,
        threads,
        cleanPlate: files.plate,
        second: { input: files.shot2, cleanPlate: files.dark },
      }),
    ).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/`second\.cleanPlate` \(dark\.png\) is 3\d % darker.*±15 %/),
    });
    await expect(
      cleanup({
        input: files.shot,
        output: out,
        model,
        threads,
        second: { input: files.shot2, cleanPlate: files.plate2 },
      }),
    ).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/`cleanPlate`/),
    });
    await expect(
      cleanup({ input: files.shot, output: out, model, threads, cleanPlate: path.join(tmp.dir, 'missing.png') }),
    ).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: expect.stringMatching(/`cleanPlate`.*missing\.png/),
    });
    expect(existsSync(out)).toBe(false);
  });
});

describe('command line', () => {
  it('cleanup --clean-plate --second-in --second-clean-plate writes the exact cut-out', async () => {
    const out = path.join(tmp.dir, 'cli-two.png');
    const r = await cli([
      'cleanup',
      '--in',
      files.shot,
      '--out',
      out,
      '--model',
      model,
      '--threads',
      '1',
      '--clean-plate',
      files.plate,
      '--second-in',
      files.shot2,
      '--second-clean-plate',
      files.plate2,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { alpha, fg } = await rgba(out);
    expect(scoreMatte(truth, alpha, fg, 8).glass).toBeLessThanOrEqual(3);
  });

  it('segment --clean-plate writes the mask; a second shot without its plate is refused', async () => {
    const out = path.join(tmp.dir, 'cli-mask.png');
    const ok = await cli([
      'segment',
      '--in',
      files.shot,
      '--out',
      out,
      '--model',
      model,
      '--threads',
      '1',
      '--clean-plate',
      files.plate,
      '--json',
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).studio).toMatchObject({ mode: 'clean-plate' });
    const bad = await cli([
      'segment',
      '--in',
      files.shot,
      '--out',
      path.join(tmp.dir, 'no.png'),
      '--model',
      model,
      '--clean-plate',
      files.plate,
      '--second-in',
      files.shot2,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/E_BAD_INPUT: --second-clean-plate is missing/);
    expect(existsSync(path.join(tmp.dir, 'no.png'))).toBe(false);
  });

  it('replace names the flag of a bad plate; a batch takes one plate for all and leaves it out', async () => {
    const bad = await cli([
      '--in',
      files.shot,
      '--out',
      path.join(tmp.dir, 'r.png'),
      '--model',
      model,
      '--engine',
      'studio',
      '--clean-plate',
      files.small,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/`cleanPlate` \(--clean-plate\) \(small\.png\) is 80×60/);
    const dir = path.join(tmp.dir, 'shoot');
    const outDir = path.join(tmp.dir, 'shoot-out');
    await import('node:fs').then((fs) => {
      fs.mkdirSync(dir);
      fs.copyFileSync(files.shot, path.join(dir, 'a.png'));
      fs.copyFileSync(files.plate, path.join(dir, 'plate.png'));
    });
    const r = await cli([
      '--in',
      dir,
      '--out',
      outDir,
      '--model',
      model,
      '--threads',
      '1',
      '--engine',
      'studio',
      '--clean-plate',
      path.join(dir, 'plate.png'),
    ]);
    expect(r.code).toBe(0);
    expect(readdirSync(outDir)).toEqual(['a.png']);
    const two = await cli([
      '--in',
      dir,
      '--out',
      outDir,
      '--model',
      model,
      '--clean-plate',
      files.plate,
      '--second-in',
      files.shot2,
      '--second-clean-plate',
      files.plate2,
    ]);
    expect(two.code).toBe(1);
    expect(two.stderr).toMatch(/--second-in and --second-clean-plate belong to one photo/);
  });
});
