/**
 * Configuration contexts: createBgNative() resolves every setting once, so contexts with other
 * settings work side by side in one process (presets, limits, engine policy, model sources), the
 * default context (the package's top-level functions) reads the environment once, and nothing —
 * server, worker or CLI — writes into process.env.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli/index.js';
import { defaultContext } from '../src/context/index.js';
import {
  clearSegmenters,
  closeComposePool,
  createBgNative,
  createServer,
  fromEnv,
  listPresets,
  resetDefaultContext,
} from '../src/index.js';
import { halvesJpeg } from './helpers/images.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-config-context-');
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
afterAll(async () => {
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

/** A preset folder holding `name`, the built-in minimalist preset with another description. */
function presetFolder(folder: string, name: string, description: string): string {
  const dir = path.join(tmp.dir, folder);
  mkdirSync(dir, { recursive: true });
  const data = parse(readFileSync(path.join(repoRoot, 'presets', 'minimalist.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  writeFileSync(path.join(dir, `${name}.yaml`), stringify({ ...data, name, description }));
  return dir;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return String((err as { code?: string }).code);
  }
}

describe('two contexts in one process', () => {
  it('keep their own preset folders: the same name, two presets', () => {
    const a = createBgNative({ presetDirs: [presetFolder('a', 'house', 'from folder a')] });
    const b = createBgNative({ presetDirs: [presetFolder('b', 'house', 'from folder b')] });
    expect(a.getPreset('house').description).toBe('from folder a');
    expect(b.getPreset('house').description).toBe('from folder b');
    expect(createBgNative().listPresets()).not.toContain('house');
  });

  it('keep their own limits: one refuses the photo the other cuts out', async () => {
    const photo = await halvesJpeg(64, 48);
    const strict = createBgNative({ maxPixels: 3000, segmentationModel: model });
    const lenient = createBgNative({ segmentationModel: model });
    expect(await codeOf(strict.cleanup({ input: photo }))).toBe('E_IMAGE_TOO_LARGE');
    const r = await lenient.segment({ input: photo, threads: 1 });
    expect([r.width, r.height]).toEqual([64, 48]);
    expect(r.model).toMatchObject({ path: model, source: 'env' });
    await Promise.all([strict.close(), lenient.close()]);
  });

  it('keep their own engine policy on the same photo', async () => {
    const photo = await halvesJpeg(64, 48);
    const base = { input: photo, threads: 1, seed: 3, shadow: false, matchColors: false } as const;
    const studio = createBgNative({ engine: 'studio', segmentationModel: model });
    const local = createBgNative({ engine: 'local', segmentationModel: model });
    expect((await studio.replaceBackground(base)).engine).toBe('studio');
    // local demanded with no weights configured: the call fails instead of falling back.
    expect(await codeOf(local.replaceBackground(base))).toMatch(/^E_/);
    await Promise.all([studio.close(), local.close()]);
  });

  it('keep their own model sources', () => {
    const byPath = createBgNative({ diffusionModel: '/models/a.safetensors', modelId: 'org/ignored' });
    const byId = createBgNative({ modelId: 'org/name', hub: { cacheDir: path.join(tmp.dir, 'hub') } });
    expect(byPath.settings.diffusion).toEqual({ path: '/models/a.safetensors', source: 'BG_DIFFUSION_MODEL' });
    expect(byId.settings.diffusion).toEqual({ path: 'org/name', source: 'MODEL_ID', hubId: 'org/name' });
    expect(byId.settings.hub.cacheDir).toBe(path.join(tmp.dir, 'hub'));
    expect(createBgNative().settings.diffusion).toBeUndefined();
  });
});

describe('settings', () => {
  it('are resolved once, frozen, from the documented environment names', () => {
    const s = createBgNative(
      fromEnv({
        BG_ENGINE: 'SDXL',
        BG_MAX_PIXELS: '5000',
        BGN_DEVICE: 'cpu',
        BG_LORAS: 'a.safetensors:0.5',
        BG_DIFFUSION_PRECISION: 'f32',
        BG_CLIP_TOKENIZER: '/tok',
        BG_TAESD: '/taesd',
        RUNWAY_API_KEY: 'key',
        BG_PRESET_DIRS: ['/p1', '/p2'].join(path.delimiter),
      }),
    ).settings;
    expect(s).toMatchObject({
      engine: 'local',
      limits: { maxPixels: 5000 },
      device: 'cpu',
      loras: [{ path: 'a.safetensors', scale: 0.5 }],
      precision: 'f32',
      tokenizer: '/tok',
      taesd: '/taesd',
      runway: { apiKey: 'key' },
      presetDirs: ['/p1', '/p2'],
    });
    expect(Object.isFrozen(s) && Object.isFrozen(s.limits)).toBe(true);
  });

  it('refuse a bad value with E_CONFIG naming the variable', () => {
    for (const [name, value] of [
      ['BG_ENGINE', 'dall-e'],
      ['BGN_DEVICE', 'tpu'],
      ['BG_MAX_PIXELS', 'lots'],
      ['MODEL_ID', 'x'],
    ]) {
      expect(() => createBgNative(fromEnv({ [name!]: value }))).toThrow(
        expect.objectContaining({ code: 'E_CONFIG', message: expect.stringContaining(name!) }),
      );
    }
  });
});

describe('the default context', () => {
  it('reads the environment once, until resetDefaultContext()', () => {
    const saved = process.env.BG_PRESET_DIRS;
    resetDefaultContext();
    try {
      delete process.env.BG_PRESET_DIRS;
      const first = defaultContext();
      process.env.BG_PRESET_DIRS = presetFolder('late', 'late-preset', 'added after the first call');
      expect(defaultContext()).toBe(first);
      expect(listPresets()).not.toContain('late-preset');
      resetDefaultContext();
      expect(listPresets()).toContain('late-preset');
    } finally {
      if (saved === undefined) delete process.env.BG_PRESET_DIRS;
      else process.env.BG_PRESET_DIRS = saved;
      resetDefaultContext();
    }
  });
});

describe('nothing writes process.env', () => {
  it('a server with a Runway key and a model id, then a CLI run', async () => {
    const before = { ...process.env };
    const inputs = path.join(tmp.dir, 'inputs');
    mkdirSync(inputs, { recursive: true });
    const server = await createServer(
      {
        port: 0,
        host: '127.0.0.1',
        allowNoAuth: true,
        inputRoots: [inputs],
        concurrency: 0,
        outputDir: path.join(tmp.dir, 'out'),
        queueDb: path.join(tmp.dir, 'queue.db'),
        runwayApiKey: 'rw_not_in_env',
        modelId: 'org/not-in-env',
      },
      { logger: false },
    );
    const status = (await server.app.inject({ method: 'GET', url: '/v1/status' })).json() as { engines: unknown };
    expect(status.engines).toEqual({ studio: true, local: true, runway: true });
    await server.close();
    const photo = path.join(tmp.dir, 'cli.jpg');
    writeFileSync(photo, await halvesJpeg(32, 32));
    copyFileSync(model, path.join(tmp.dir, 'cli-model.onnx'));
    const args = [
      'segment',
      '--in',
      photo,
      '--out',
      path.join(tmp.dir, 'cli.png'),
      '--model',
      path.join(tmp.dir, 'cli-model.onnx'),
    ];
    const code = await main(['node', 'bg-native', ...args], { stdout: () => undefined, stderr: () => undefined });
    expect(code).toBe(0);
    expect({ ...process.env }).toEqual(before);
  });
});
