/**
 * `bg-native [replace]`: the default command, its flags reaching replaceBackground, its --json
 * line and its errors. Runs main() in-process with captured output (and the real bin once), on a
 * red product on green cut out by the tiny real ONNX model of test/helpers/tiny-models.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { main } from '../src/cli/index.js';
import { clearSegmenters, closeComposePool } from '../src/index.js';
import { ResultMetadataSchema } from '../src/result-format.js';
import { readGrey } from './helpers/images.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { snapshotEnv, type EnvSnapshot } from './helpers/env.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir('bgn-cli-replace-');
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const photo = path.join(tmp.dir, 'red-on-green.png');

// Engine selection reads the environment: keep the machine's settings out of these tests.
const ENGINE_ENV = ['BG_ENGINE', 'BG_DIFFUSION_MODEL', 'MODEL_PATH', 'RUNWAY_API_KEY'] as const;
let savedEnv: EnvSnapshot;

beforeAll(async () => {
  savedEnv = snapshotEnv(ENGINE_ENV, { clear: true });
  // A red box (the product) on a green backdrop, 1-px anti-aliased edges.
  const width = 240;
  const height = 180;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = x >= 80 && x < 160 && y >= 40 && y < 130;
      const c = inside ? [215, 25, 30] : [30, 170, 60];
      rgb.set(c, (y * width + x) * 3);
    }
  }
  writeFileSync(
    photo,
    await sharp(rgb, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer(),
  );
});

afterAll(async () => {
  savedEnv.restore();
  await closeComposePool();
  await clearSegmenters();
  tmp.remove();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], onStderr?: (text: string) => void): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'bg-native', ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
      onStderr?.(t);
    },
  });
  return { code, stdout, stderr };
}

let n = 0;
function outPath(ext = 'png'): string {
  n += 1;
  return path.join(tmp.dir, `out-${n}.${ext}`);
}

/** --in/--out plus the tiny model, one thread and the studio engine. */
function job(out: string, ...more: string[]): string[] {
  return ['--in', photo, '--out', out, '--model', model, '--threads', '1', ...more];
}

describe('bg-native replace is the default command', () => {
  it('runs without the word `replace` and writes the output at the photo size', async () => {
    const out = outPath();
    const r = await cli(job(out));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = await sharp(out).metadata();
    expect([m.width, m.height, m.format]).toEqual([240, 180, 'png']);
  });

  it('runs with the word `replace` too', async () => {
    const out = outPath('jpg');
    const r = await cli(['replace', ...job(out)]);
    expect(r.code).toBe(0);
    expect((await sharp(out).metadata()).format).toBe('jpeg');
  });

  it('a bare `bg-native` prints the help, which names replace as the default', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/replace \[options\]\s+put the subject on a new background\s+\(the default\s+command\)/);
    expect(r.stdout).toMatch(/segment/);
    expect(r.stdout).toMatch(/cleanup/);
  });

  it('--help and --version still answer at the top level; `replace --help` lists the flags by group', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Commands:/);
    expect((await cli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const sub = await cli(['replace', '--help']);
    expect(sub.code).toBe(0);
    for (const heading of [
      'Input and output:',
      'Preset:',
      'Background engine:',
      'Cut-out:',
      'Compositing',
      'Framing',
    ]) {
      expect(sub.stdout).toContain(heading);
    }
    for (const flag of [
      '--no-match-colors',
      '--feather <px>',
      '--shadow [kind]',
      '--output-size <WxH>',
      '--guidance-scale',
      '--mask-out',
    ]) {
      expect(sub.stdout).toContain(flag);
    }
  });

  it('segment still runs as its own command', async () => {
    const out = outPath();
    const r = await cli(['segment', '--in', photo, '--out', out, '--model', model, '--threads', '1']);
    expect(r.code).toBe(0);
    const m = await sharp(out).metadata();
    expect([m.width, m.height, m.channels]).toEqual([240, 180, 1]);
  });

  it('a stray word is refused as a usage error naming the commands', async () => {
    const r = await cli(['segmnt', ...job(outPath())]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bg-native: E_BAD_INPUT: .*"segmnt".*replace, segment, cleanup/);
  });
});

describe('bg-native replace --json', () => {
  it('prints one JSON line in the result format, with no Buffers', async () => {
    const out = outPath();
    const mask = path.join(tmp.dir, 'json-mask.png');
    const r = await cli(job(out, '--json', '--seed', '7', '--mask-out', mask));
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const meta = JSON.parse(r.stdout) as Record<string, unknown>;
    // The documented shape, checked by the one schema every front door shares.
    const parsed = ResultMetadataSchema.parse(meta);
    expect(parsed).toMatchObject({ op: 'replace', engine: 'studio', engineFamily: 'studio', preset: 'product-studio' });
    expect(parsed.seed).toBe(7);
    expect(parsed.artifacts).toEqual({ output: out, mask });
    expect(Object.keys(meta).sort()).toEqual(
      [
        ...['command', 'input', 'output', 'mask', 'op', 'engine', 'engineFamily', 'engineReason', 'skipped'],
        ...['engineInfo', 'preset', 'promptType', 'prompt', 'seed', 'artifacts', 'width', 'height', 'format'],
        ...['model', 'metrics'],
      ].sort(),
    );
    // The top-level output/mask of earlier versions stay.
    expect(meta).toMatchObject({ command: 'replace', output: out, mask, width: 240, height: 180, format: 'png' });
    expect(meta.prompt).toBeNull();
    expect(meta.engineReason).toMatch(/\w/);
    expect((meta.model as { path: string }).path).toBe(model);
    const metrics = meta.metrics as { elapsed_ms: number; stages: Record<string, number> };
    expect(metrics.elapsed_ms).toBeGreaterThan(0);
    expect(Object.keys(metrics.stages)).toEqual(expect.arrayContaining(['generate', 'encode', 'write']));
  });

  it('without --mask-out the mask artifact is null; the engine can be passed back as --engine', async () => {
    const out = outPath();
    const r = await cli(job(out, '--json', '--engine', 'studio'));
    expect(r.code).toBe(0);
    const meta = ResultMetadataSchema.parse(JSON.parse(r.stdout));
    expect(meta.artifacts).toEqual({ output: out, mask: null });
    const again = await cli(job(outPath(), '--json', '--engine', meta.engine));
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ engine: 'studio' });
  });

  it('reports the prompt type of a preset that has them', async () => {
    const r = await cli(job(outPath(), '--json', '--preset', 'vitrinealu', '--prompt-type', 'garden'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ preset: 'vitrinealu', promptType: 'garden' });
  });

  it('cleanup --json prints the result format too: engine none, preset and seed null, the mode', async () => {
    const out = outPath();
    const mask = path.join(tmp.dir, 'cleanup-mask.png');
    const cleanup = (...more: string[]) => cli(['cleanup', '--in', photo, '--model', model, '--threads', '1', ...more]);
    const r = await cleanup('--out', out, '--mode', 'color', '--mask-out', mask, '--json');
    expect(r.code, r.stderr).toBe(0);
    const meta = JSON.parse(r.stdout) as Record<string, unknown>;
    const parsed = ResultMetadataSchema.parse(meta);
    expect(parsed).toMatchObject({ op: 'cleanup', engine: 'none', engineFamily: 'none', preset: null, seed: null });
    expect(parsed.mode).toBe('color');
    expect(parsed.artifacts).toEqual({ output: out, mask });
    expect(meta).toMatchObject({ command: 'cleanup', output: out, mask, width: 240, height: 180, format: 'png' });
    expect(parsed.metrics.elapsed_ms).toBeGreaterThan(0);
    const noMask = await cleanup('--out', outPath(), '--json');
    expect(ResultMetadataSchema.parse(JSON.parse(noMask.stdout)).artifacts.mask).toBeNull();
  });
});

describe('bg-native replace flags reach replaceBackground', () => {
  it('--no-shadow --feather 0 --no-match-colors --seed 5: the same bytes twice, seed 5 reported', async () => {
    const flags = ['--no-shadow', '--feather', '0', '--no-match-colors', '--seed', '5', '--json'];
    const a = outPath();
    const b = outPath();
    const ra = await cli(job(a, ...flags));
    const rb = await cli(job(b, ...flags));
    expect([ra.code, rb.code]).toEqual([0, 0]);
    expect(JSON.parse(ra.stdout).seed).toBe(5);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('--no-match-colors --no-feather --no-shadow keep the product pixels exactly', async () => {
    const out = outPath();
    const r = await cli(
      job(
        out,
        '--no-match-colors',
        '--no-feather',
        '--no-shadow',
        '--overrides',
        '{"background":{"type":"solid","color":"#1040e0"}}',
      ),
    );
    expect(r.code).toBe(0);
    const { data, info } = await sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    expect(at(120, 85)).toEqual([215, 25, 30]); // the product, untouched
    expect(at(10, 10)).toEqual([16, 64, 224]); // the new background from --overrides
  });

  it('--overrides @file.json reads the JSON from a file', async () => {
    const file = path.join(tmp.dir, 'overrides.json');
    writeFileSync(file, JSON.stringify({ background: { type: 'solid', color: '#ffffff' } }));
    const out = outPath();
    const r = await cli(job(out, '--no-shadow', '--overrides', `@${file}`));
    expect(r.code).toBe(0);
    const { data } = await sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([...data.subarray(0, 3)]).toEqual([255, 255, 255]);
  });

  it('--output-size 200x100 gives a 200×100 output and mask', async () => {
    const out = outPath();
    const mask = path.join(tmp.dir, 'framed-mask.png');
    const r = await cli(job(out, '--output-size', '200x100', '--mask-out', mask));
    expect(r.code).toBe(0);
    const o = await sharp(out).metadata();
    const m = await sharp(mask).metadata();
    expect([o.width, o.height, m.width, m.height]).toEqual([200, 100, 200, 100]);
  });

  it('--padding and --aspect frame the subject', async () => {
    const out = outPath();
    const r = await cli(job(out, '--padding', '0.2', '--aspect', '1:1', '--json'));
    expect(r.code).toBe(0);
    const meta = JSON.parse(r.stdout) as { width: number; height: number };
    expect(meta.width).toBe(meta.height);
  });

  it('--mask-out writes the mask: greyscale, the output size, white on the product', async () => {
    const mask = path.join(tmp.dir, 'mask.png');
    const r = await cli(job(outPath(), '--mask-out', mask));
    expect(r.code).toBe(0);
    const meta = await sharp(mask).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([240, 180, 1]);
    const { data } = await readGrey(mask);
    expect(data[85 * 240 + 120]).toBeGreaterThan(240);
    expect(data[10 * 240 + 10]).toBeLessThan(16);
  });

  it('--progress prints progress lines on stderr, ending at 100%', async () => {
    const r = await cli(job(outPath(), '--progress'));
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    expect(lines[0]).toMatch(/^bg-native: progress +0% segment$/);
    expect(lines.at(-1)).toMatch(/100% done$/);
  });
});

describe("the seeds' --model", () => {
  it('names the Stable Diffusion weights when not an .onnx file (segmentation model: BG_SEG_MODEL)', async () => {
    const out = outPath();
    const missing = path.join(tmp.dir, 'no-such-sd15.safetensors');
    const saved = snapshotEnv(['BG_SEG_MODEL']);
    process.env.BG_SEG_MODEL = model;
    try {
      const r = await cli(['--in', photo, '--out', out, '--model', missing, '--engine', 'local', '--threads', '1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^bg-native: E_MODEL_NOT_FOUND: Diffusion model not found: .*no-such-sd15\.safetensors/);
      expect(existsSync(out)).toBe(false);
    } finally {
      saved.restore();
    }
  });
});

describe('bg-native replace errors', () => {
  it('--engine SDXL without a diffusion model: E_CONFIG, exit 1, nothing written', async () => {
    const out = outPath();
    const r = await cli(job(out, '--engine', 'SDXL'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bg-native: E_CONFIG: engine 'local' needs a Stable Diffusion model/);
    expect(r.stderr).toMatch(/--diffusion-model/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown preset lists the valid ones, exit 1', async () => {
    const r = await cli(job(outPath(), '--preset', 'sunset-beach'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        /^bg-native: E_BAD_INPUT: Unknown preset "sunset-beach"\. Valid presets: /.source +
          /.*minimalist.*product-studio.*vitrinealu/.source,
      ),
    );
  });

  it('--seed abc is a usage error naming the flag, exit 2', async () => {
    const r = await cli(job(outPath(), '--seed', 'abc'));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^bg-native: E_BAD_INPUT: .*--seed must be a number, got "abc"/);
  });

  it('an out-of-range value is the library error, naming the field and its flag, exit 1', async () => {
    const seed = await cli(job(outPath(), '--seed', '-1'));
    expect(seed.code).toBe(1);
    expect(seed.stderr).toMatch(/^bg-native: E_BAD_INPUT: .*`seed`/);
    const guidance = await cli(job(outPath(), '--guidance', '99'));
    expect(guidance.code).toBe(1);
    expect(guidance.stderr).toMatch(/`guidanceScale` \(--guidance\)/);
    const size = await cli(job(outPath(), '--output-size', 'big'));
    expect(size.code).toBe(1);
    expect(size.stderr).toMatch(/^bg-native: E_BAD_INPUT: .*`framing\.outputSize` \(--output-size\).*"big"/);
  });

  it('an unknown engine lists the engines; an unknown sampler is a usage error', async () => {
    const engine = await cli(job(outPath(), '--engine', 'dalle'));
    expect(engine.code).toBe(1);
    expect(engine.stderr).toMatch(/`engine` must be one of auto, local, runway, studio/);
    const sampler = await cli(job(outPath(), '--sampler', 'heun'));
    expect(sampler.code).toBe(2);
    expect(sampler.stderr).toMatch(/euler, euler_a/);
  });

  it('--overrides that is not JSON says so', async () => {
    const r = await cli(job(outPath(), '--overrides', '{background:'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bg-native: E_BAD_INPUT: --overrides is not valid JSON/);
  });

  it('--no-shadow with --shadow-opacity is refused', async () => {
    const r = await cli(job(outPath(), '--no-shadow', '--shadow-opacity', '0.5'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--no-shadow cannot be combined/);
  });

  it('a missing --out is a usage error, exit 2', async () => {
    const r = await cli(['--in', photo]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bg-native: E_BAD_INPUT: .*--out/);
  });

  it('Ctrl-C cancels: E_CANCELLED, exit 130, no output and no mask', async () => {
    const dir = path.join(tmp.dir, 'cancelled');
    mkdirSync(dir);
    let sent = false;
    const r = await cli(
      [
        '--in',
        photo,
        '--out',
        path.join(dir, 'o.png'),
        '--mask-out',
        path.join(dir, 'm.png'),
        '--model',
        model,
        '--progress',
      ],
      () => {
        if (!sent) {
          sent = true;
          process.emit('SIGINT', 'SIGINT');
        }
      },
    );
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/cancelling/);
    expect(r.stderr).toMatch(/bg-native: E_CANCELLED: /);
    expect(readdirSync(dir)).toEqual([]);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });
});

describe('bg-native from a shell', () => {
  beforeAll(() => {
    // bin/bg-native.js runs dist/: build it from the current sources.
    execFileSync(
      process.execPath,
      [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      { cwd: repoRoot, stdio: 'pipe' },
    );
  }, 120_000);

  it('`bg-native --in … --out … --json` runs replace', async () => {
    const out = outPath();
    const env = { ...process.env };
    for (const k of ENGINE_ENV) delete env[k];
    const r = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'bin', 'bg-native.js'), ...job(out, '--preset', 'minimalist', '--json')],
      {
        cwd: repoRoot,
        encoding: 'utf8',
        env,
        timeout: 120_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      command: 'replace',
      engine: 'studio',
      preset: 'minimalist',
      output: out,
    });
    expect((await sharp(out).metadata()).width).toBe(240);
  });
});
