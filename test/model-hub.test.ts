/**
 * Weights by model id (MODEL_ID=org/name): the Hugging Face cache layout, first-run downloads
 * from HF_ENDPOINT (a hub on loopback serving small generated files), resume after a cut
 * connection, checksums, the lock between concurrent downloads, the offline error — and
 * replaceBackground's local engine running on a pipeline fetched this way.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BgNativeError } from '../src/errors.js';
import {
  hubCacheDir,
  repoFolderName,
  resolveHubModel,
  selectModelFiles,
  type HubDownloadProgress,
} from '../src/models/hub.js';
import { fixturesPresent, modelsDir, sd15SchedulerConfig, tokenizerDir } from './helpers/diffusion.js';
import { FakeHub } from './helpers/fake-hub.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-hub-');
let hub: FakeHub;
let n = 0;
/** A fresh, empty cache folder. */
const freshCache = () => path.join(tmp.dir, `cache-${n++}`);

const blobs = {
  unet32: randomBytes(120_000),
  unet16: randomBytes(60_000),
  vae: randomBytes(20_000),
  te: randomBytes(30_000),
};

/**
 * A diffusers pipeline repository with the extras a real one has (fp32 + fp16, .bin, a single-file checkpoint, docs).
 */
function pipelineRepo(): Record<string, { data: Buffer; lfs?: boolean } | string> {
  return {
    'model_index.json': JSON.stringify({
      _class_name: 'StableDiffusionPipeline',
      _diffusers_version: '0.25.0',
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
      text_encoder: ['transformers', 'CLIPTextModel'],
      tokenizer: ['transformers', 'CLIPTokenizer'],
      scheduler: ['diffusers', 'EulerDiscreteScheduler'],
      safety_checker: [null, null],
    }),
    'README.md': '# a model\n',
    'v1-5-pruned.safetensors': { data: randomBytes(50_000), lfs: true },
    'unet/config.json': '{"sample_size":8}',
    'unet/diffusion_pytorch_model.safetensors': { data: blobs.unet32, lfs: true },
    'unet/diffusion_pytorch_model.fp16.safetensors': { data: blobs.unet16, lfs: true },
    'unet/diffusion_pytorch_model.bin': { data: randomBytes(1000), lfs: true },
    'vae/config.json': '{"latent_channels":4}',
    'vae/diffusion_pytorch_model.safetensors': { data: blobs.vae, lfs: true },
    'text_encoder/config.json': '{"hidden_size":32}',
    'text_encoder/model.safetensors': { data: blobs.te, lfs: true },
    'text_encoder/flax_model.msgpack': { data: randomBytes(500), lfs: true },
    'tokenizer/vocab.json': '{"a":0}',
    'tokenizer/merges.txt': '#version: 0.2\n',
    'scheduler/scheduler_config.json': JSON.stringify(sd15SchedulerConfig),
  };
}

const WANTED = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.safetensors',
  'tokenizer/merges.txt',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/diffusion_pytorch_model.fp16.safetensors',
  'vae/config.json',
  'vae/diffusion_pytorch_model.safetensors',
];

beforeAll(async () => {
  hub = await new FakeHub().start();
  hub.addRepo('acme/tiny-pipeline', pipelineRepo());
});

afterAll(async () => {
  await hub.stop();
  tmp.remove();
});

async function expectError(p: Promise<unknown>, code: string, message: RegExp): Promise<BgNativeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BgNativeError);
  expect((err as BgNativeError).code).toBe(code);
  expect((err as BgNativeError).message).toMatch(message);
  return err as BgNativeError;
}

describe('the cache location', () => {
  it('follows HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME/huggingface/hub', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b' })).toBe(path.resolve('/a/hub'));
    expect(hubCacheDir({ HF_HOME: '/b' })).toBe(path.resolve('/b/hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/c' })).toBe(path.resolve('/c/huggingface/hub'));
    expect(repoFolderName('stabilityai/stable-diffusion-xl-base-1.0')).toBe(
      'models--stabilityai--stable-diffusion-xl-base-1.0',
    );
  });

  it('refuses a model id that is not org/name, saying what to use instead', async () => {
    await expectError(resolveHubModel('../../etc', { cacheDir: freshCache() }), 'E_CONFIG', /org\/name.*MODEL_PATH/);
  });
});

describe('choosing the files', () => {
  it('takes a pipeline’s configs, tokenizer, fp16 weights; leaves .bin, flax, docs, the single-file checkpoint', () => {
    const all = Object.keys(pipelineRepo());
    const index = JSON.parse(pipelineRepo()['model_index.json'] as string);
    expect(selectModelFiles(all, index).sort()).toEqual(WANTED);
    expect(selectModelFiles(all, index, '')).toContain('unet/diffusion_pytorch_model.safetensors');
  });
});

describe('first run: download into the cache', () => {
  it('downloads only the files the runtime loads, as blobs + snapshot links + refs/main, with progress', async () => {
    const cacheDir = freshCache();
    const progress: HubDownloadProgress[] = [];
    const before = hub.requests.length;
    const m = await resolveHubModel('acme/tiny-pipeline', {
      endpoint: hub.url,
      cacheDir,
      onProgress: (p) => progress.push(p),
    });
    const repo = hub.repos.get('acme/tiny-pipeline')!;
    expect(m.source).toBe('download');
    expect(m.commit).toBe(repo.sha);
    const repoDir = path.join(cacheDir, 'models--acme--tiny-pipeline');
    expect(m.path).toBe(path.join(repoDir, 'snapshots', repo.sha));
    expect(m.files).toEqual(WANTED);
    expect(readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(repo.sha);
    // LFS files are stored under their sha256, the others under their git blob id; snapshot entries are relative links.
    const unetLink = path.join(m.path, 'unet', 'diffusion_pytorch_model.fp16.safetensors');
    expect(lstatSync(unetLink).isSymbolicLink()).toBe(true);
    expect(readlinkSync(unetLink)).toBe(`../../../blobs/${createHash('sha256').update(blobs.unet16).digest('hex')}`);
    expect(readFileSync(unetLink).equals(blobs.unet16)).toBe(true);
    const cfg = Buffer.from('{"sample_size":8}');
    expect(readlinkSync(path.join(m.path, 'unet', 'config.json'))).toBe(
      `../../../blobs/${createHash('sha1').update(`blob ${cfg.length}\0`).update(cfg).digest('hex')}`,
    );
    expect(readdirSync(path.join(repoDir, 'blobs')).filter((f) => f.endsWith('.incomplete'))).toEqual([]);
    // Only the listing and the chosen files were requested, each once.
    const got = hub.requests.slice(before).map((r) => r.path);
    expect(got[0]).toBe(`/api/models/acme/tiny-pipeline/revision/main`);
    expect(got.slice(1).sort()).toEqual(WANTED.map((f) => `/acme/tiny-pipeline/resolve/${repo.sha}/${f}`).sort());
    // Progress: bytes only grow and end at the total of the chosen files.
    const last = progress.at(-1)!;
    expect(last.bytes).toBe(last.total);
    expect(last.total).toBe(WANTED.reduce((a, f) => a + repo.files.get(f)!.data.length, 0));
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytes).toBeGreaterThanOrEqual(progress[i - 1]!.bytes);
  });

  it('answers from the cache without any server once the model is there', async () => {
    const cacheDir = freshCache();
    await resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir });
    const before = hub.requests.length;
    const m = await resolveHubModel('acme/tiny-pipeline', { endpoint: 'http://127.0.0.1:9', cacheDir });
    expect(m.source).toBe('cache');
    expect(m.files).toEqual(WANTED);
    expect(hub.requests.length).toBe(before);
    // The same through the environment: HF_HOME/hub, offline.
    const viaHome = await resolveHubModel('acme/tiny-pipeline', {
      env: { HF_HUB_CACHE: cacheDir, HF_HUB_OFFLINE: '1' },
    });
    expect(viaHome.path).toBe(m.path);
  });

  it('resolves a repository holding one checkpoint to that file', async () => {
    const data = randomBytes(10_000);
    hub.addRepo('acme/single-file', { 'model.safetensors': { data, lfs: true }, 'README.md': 'x' });
    const m = await resolveHubModel('acme/single-file', { endpoint: hub.url, cacheDir: freshCache() });
    expect(path.basename(m.path)).toBe('model.safetensors');
    expect(readFileSync(m.path).equals(data)).toBe(true);
  });

  it('sends HF_TOKEN for gated models, and says to set it when it is missing', async () => {
    hub.token = 'hf_secret';
    try {
      await expectError(
        resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir: freshCache(), env: {} }),
        'E_MODEL_NOT_FOUND',
        /gated or private.*HF_TOKEN/,
      );
      const m = await resolveHubModel('acme/tiny-pipeline', {
        endpoint: hub.url,
        cacheDir: freshCache(),
        env: { HF_TOKEN: 'hf_secret' },
      });
      expect(m.source).toBe('download');
    } finally {
      hub.token = undefined;
    }
  });

  it('says so when the hub has no such model', async () => {
    await expectError(
      resolveHubModel('acme/nope', { endpoint: hub.url, cacheDir: freshCache() }),
      'E_MODEL_NOT_FOUND',
      /has no model acme\/nope.*MODEL_ID/,
    );
  });
});

describe('interrupted and corrupt downloads', () => {
  const big = 'unet/diffusion_pytorch_model.fp16.safetensors';

  it('resumes a cut connection with an HTTP Range from where it stopped', async () => {
    hub.cuts.set(big, { cutAt: 25_000, times: 1 });
    const before = hub.requests.length;
    const m = await resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir: freshCache() });
    const tries = hub.requests.slice(before).filter((r) => r.path.endsWith(big));
    expect(tries.map((r) => r.range)).toEqual([undefined, 'bytes=25000-']);
    expect(readFileSync(path.join(m.path, big)).equals(blobs.unet16)).toBe(true);
  });

  it('keeps what arrived when every attempt fails, and the next run resumes from there', async () => {
    const cacheDir = freshCache();
    hub.cuts.set(big, { cutAt: 40_000, times: 1 });
    await expectError(
      resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir, attempts: 1 }),
      'E_IO',
      /failed 1 times.*resumes/,
    );
    const blobsDir = path.join(cacheDir, 'models--acme--tiny-pipeline', 'blobs');
    const part = readdirSync(blobsDir).find((f) => f.endsWith('.incomplete'))!;
    expect(readFileSync(path.join(blobsDir, part)).length).toBe(40_000);
    const before = hub.requests.length;
    const m = await resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir });
    expect(
      hub.requests
        .slice(before)
        .filter((r) => r.path.endsWith(big))
        .map((r) => r.range),
    ).toEqual(['bytes=40000-']);
    expect(readFileSync(path.join(m.path, big)).equals(blobs.unet16)).toBe(true);
  });

  it('refuses a file whose sha256 does not match, and keeps nothing of it', async () => {
    const cacheDir = freshCache();
    const bad = Buffer.from(blobs.vae);
    bad[100] = bad[100]! ^ 0xff;
    hub.tampered.set('vae/diffusion_pytorch_model.safetensors', bad);
    try {
      await expectError(
        resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir }),
        'E_MODEL_FORMAT',
        /vae\/diffusion_pytorch_model\.safetensors does not match its checksum.*discarded/,
      );
    } finally {
      hub.tampered.clear();
    }
    const repoDir = path.join(cacheDir, 'models--acme--tiny-pipeline');
    const sha = createHash('sha256').update(blobs.vae).digest('hex');
    expect(existsSync(path.join(repoDir, 'blobs', sha))).toBe(false);
    expect(existsSync(path.join(repoDir, 'blobs', `${sha}.incomplete`))).toBe(false);
    expect(existsSync(path.join(repoDir, 'refs', 'main'))).toBe(false);
  });
});

describe('concurrent first runs', () => {
  it('two resolves of the same model download each file once; the second waits for the first', async () => {
    const cacheDir = freshCache();
    hub.delayMs = 30;
    const before = hub.requests.length;
    try {
      const [a, b] = await Promise.all([
        resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir }),
        resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir }),
      ]);
      expect(a.path).toBe(b.path);
      expect([a.source, b.source].sort()).toEqual(['cache', 'download']);
    } finally {
      hub.delayMs = 0;
    }
    const files = hub.requests.slice(before).filter((r) => r.path.includes('/resolve/'));
    expect(files.length).toBe(WANTED.length);
  });

  it('another process downloading the same model makes this one wait, then use its files', async () => {
    const cacheDir = freshCache();
    hub.delayMs = 60;
    const before = hub.requests.length;
    const script = `import { resolveHubModel } from ${JSON.stringify(path.join(repoRoot, 'src/models/hub.ts'))};
      const m = await resolveHubModel('acme/tiny-pipeline', { endpoint: process.argv[2], cacheDir: process.argv[3] });
      console.log(JSON.stringify({ source: m.source, path: m.path }));`;
    const file = path.join(tmp.dir, 'resolve-child.mts');
    writeFileSync(file, script);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', file, hub.url, cacheDir], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      // Start ours once the child holds the lock.
      const lock = path.join(cacheDir, '.locks', 'models--acme--tiny-pipeline', 'bg-native-download.lock');
      const end = Date.now() + 30_000;
      while (!existsSync(lock) && Date.now() < end && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 20));
      const ours = await resolveHubModel('acme/tiny-pipeline', { endpoint: hub.url, cacheDir });
      expect(await exited, out).toBe(0);
      const theirs = JSON.parse(out.trim().split('\n').at(-1)!) as { source: string; path: string };
      expect(theirs.source).toBe('download');
      expect(ours.source).toBe('cache');
      expect(ours.path).toBe(theirs.path);
    } finally {
      hub.delayMs = 0;
    }
    expect(hub.requests.slice(before).filter((r) => r.path.includes('/resolve/')).length).toBe(WANTED.length);
  }, 60_000);
});

describe('offline', () => {
  it('nothing cached, no hub to reach: E_MODEL_NOT_FOUND naming the id, the cache folder and the fixes', async () => {
    const cacheDir = freshCache();
    const err = await expectError(
      resolveHubModel('acme/tiny-pipeline', { endpoint: 'http://127.0.0.1:9', cacheDir }),
      'E_MODEL_NOT_FOUND',
      /acme\/tiny-pipeline/,
    );
    expect(err.message).toContain(path.join(cacheDir, 'models--acme--tiny-pipeline'));
    expect(err.message).toMatch(/HF_ENDPOINT.*MODEL_PATH/);
  });

  it('with HF_HUB_OFFLINE=1 it never touches the network', async () => {
    const before = hub.requests.length;
    await expectError(
      resolveHubModel('acme/tiny-pipeline', {
        env: { HF_HUB_CACHE: freshCache(), HF_HUB_OFFLINE: '1', HF_ENDPOINT: hub.url },
      }),
      'E_MODEL_NOT_FOUND',
      /not in the cache.*HF_HUB_OFFLINE.*MODEL_PATH/,
    );
    expect(hub.requests.length).toBe(before);
  });
});

describe.skipIf(!fixturesPresent)('replaceBackground with MODEL_ID', () => {
  const saved = { ...process.env };
  afterAll(async () => {
    for (const k of ['MODEL_ID', 'HF_HUB_CACHE', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'BG_DIFFUSION_MODEL', 'MODEL_PATH']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    const { clearDiffusionModels, clearSegmenters, closeComposePool } = await import('../src/index.js');
    await clearDiffusionModels();
    await clearSegmenters();
    await closeComposePool();
  });

  it('downloads the pipeline on the first call and runs the local engine on it', async () => {
    const f = (p: string) => ({ data: readFileSync(path.join(modelsDir, p)), lfs: p.endsWith('.safetensors') });
    hub.addRepo('acme/sd-tiny', {
      'model_index.json': JSON.stringify({
        _class_name: 'StableDiffusionPipeline',
        unet: ['diffusers', 'UNet2DConditionModel'],
        vae: ['diffusers', 'AutoencoderKL'],
        text_encoder: ['transformers', 'CLIPTextModel'],
        tokenizer: ['transformers', 'CLIPTokenizer'],
        scheduler: ['diffusers', 'EulerDiscreteScheduler'],
      }),
      'unet/config.json': f('unet-sd1/config.json'),
      'unet/diffusion_pytorch_model.safetensors': f('unet-sd1/diffusion_pytorch_model.safetensors'),
      'vae/config.json': f('vae/config.json'),
      'vae/diffusion_pytorch_model.safetensors': f('vae/diffusion_pytorch_model.safetensors'),
      'text_encoder/config.json': f('te-sd1/config.json'),
      'text_encoder/model.safetensors': f('te-sd1/model.safetensors'),
      'tokenizer/vocab.json': readFileSync(path.join(tokenizerDir, 'vocab.json')),
      'tokenizer/merges.txt': readFileSync(path.join(tokenizerDir, 'merges.txt')),
      'scheduler/scheduler_config.json': JSON.stringify(sd15SchedulerConfig),
    });
    for (const k of ['BG_DIFFUSION_MODEL', 'MODEL_PATH', 'HF_HUB_OFFLINE']) delete process.env[k];
    process.env.MODEL_ID = 'acme/sd-tiny';
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_HUB_CACHE = freshCache();
    const { replaceBackground } = await import('../src/index.js');
    const w = 96;
    const h = 64;
    const rgb = Buffer.alloc(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      rgb.set(x >= 32 && x < 64 && y >= 16 && y < 48 ? [210, 25, 30] : [40, 160, 70], i * 3);
    }
    const input = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer();
    const result = await replaceBackground({
      input,
      model: { segmentation: writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel()) },
      engine: 'auto',
      threads: 2,
      steps: 1,
      seed: 3,
      overrides: { generation: { resolution: { width: 64, height: 64 } } },
    });
    expect(result.engine).toBe('local');
    expect(result.engineReason).toMatch(/MODEL_ID/);
    expect(result.engineInfo).toMatchObject({
      modelId: 'acme/sd-tiny',
      modelSource: 'download',
      commit: hub.repos.get('acme/sd-tiny')!.sha,
    });
    expect(String(result.engineInfo.model)).toContain(path.join('models--acme--sd-tiny', 'snapshots'));
  }, 120_000);
});
