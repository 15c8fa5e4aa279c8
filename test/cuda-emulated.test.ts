/**
 * The whole library on a GPU, through the public API: the addon built against the CUDA emulator
 * (build/Release/bg_native_cuda_emu.node, made beside the real addon with the C++ tests) runs the
 * same bindings, device choice, segmentation, diffusion and engine fallback as a CUDA build, on an
 * emulated device. Outputs are compared with the CPU run in the same process (device 'cpu').
 * Slow: every CUDA thread of every kernel is a CPU thread.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fixturesPresent, sd1Tiny, tokenizerDir } from './helpers/diffusion.js';
import { halvesJpeg } from './helpers/images.js';
import { repoRoot, tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const emulated = path.join(repoRoot, 'build', 'Release', 'bg_native_cuda_emu.node');
const present = existsSync(emulated);
const tmp = tempDir();
const segModel = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());

type Lib = typeof import('../src/index.js');
let lib: Lib;

beforeAll(async () => {
  // Before the first import of the library in this file's process: loadAddon() reads it once.
  process.env.BGN_ADDON_PATH = emulated;
  lib = await import('../src/index.js');
});
afterAll(async () => {
  await lib?.clearSegmenters();
  await lib?.clearDiffusionModels();
  delete process.env.BGN_ADDON_PATH;
  delete process.env.BGN_CUDA_MEMORY_LIMIT_MB;
  tmp.remove();
});

describe.skipIf(!present)('the library on the CUDA emulator', () => {
  it('backends() reports an available, emulated CUDA device with its GEMM path and memory', () => {
    const cuda = lib.backends().find((b) => b.name === 'cuda');
    expect(cuda).toMatchObject({
      compiled: true,
      available: true,
      emulated: true,
      device: 'CUDA emulator (CPU)',
      gemm: 'tensor-core kernel',
    });
    expect(cuda?.memoryBytes).toBeGreaterThan(0);
  });

  it("segment() on device 'cuda' gives the CPU's mask (within one level of 255)", async () => {
    const input = await halvesJpeg(64, 64);
    const onGpu = await lib.segment({ input, model: segModel, threads: 1, device: 'cuda', refine: false });
    const onCpu = await lib.segment({ input, model: segModel, threads: 1, device: 'cpu', refine: false });
    let worst = 0;
    for (let i = 0; i < onCpu.alpha.length; ++i) worst = Math.max(worst, Math.abs(onGpu.alpha[i]! - onCpu.alpha[i]!));
    expect(worst).toBeLessThanOrEqual(1);
    expect(onCpu.alpha.some((v) => v > 200) && onCpu.alpha.some((v) => v < 50)).toBe(true);
  });

  // A whole generation is too slow on the emulator for every test run (thousands of launches, each
  // opening every device allocation); test/native/test_cuda_models.cpp compares the UNet, VAE and
  // text encoders on the emulated GPU with the CPU instead.
  it.skipIf(!fixturesPresent)(
    "DiffusionModel.load with device 'cuda' runs there and says so; 'cpu' stays on the CPU",
    async () => {
      const gpu = await lib.DiffusionModel.load(sd1Tiny, { device: 'cuda', tokenizer: tokenizerDir, threads: 1 });
      const cpu = await lib.DiffusionModel.load(sd1Tiny, { device: 'cpu', tokenizer: tokenizerDir, threads: 1 });
      expect([gpu.device, cpu.device]).toEqual(['cuda', 'cpu']);
      gpu.dispose();
      cpu.dispose();
    },
  );

  it.skipIf(!fixturesPresent)(
    "with device 'auto', a GPU that runs out of memory makes the local engine run on the CPU, and the result says so",
    { timeout: 600_000 },
    async () => {
      process.env.BGN_CUDA_MEMORY_LIMIT_MB = '1';
      try {
        const out = path.join(tmp.dir, 'fallback.png');
        const result = await lib.replaceBackground({
          input: await halvesJpeg(96, 64),
          output: out,
          engine: 'local',
          device: 'auto',
          threads: 1,
          seed: 3,
          shadow: false,
          matchColors: false,
          model: { segmentation: segModel, diffusion: sd1Tiny, tokenizer: tokenizerDir },
          overrides: { generation: { resolution: { width: 64, height: 64 }, steps: 1 } },
        });
        expect(result.engine).toBe('local');
        expect(result.engineInfo).toMatchObject({
          device: 'cpu',
          deviceFallback: expect.stringMatching(/GPU ran out of memory/) as unknown,
        });
        expect((await sharp(out).metadata()).width).toBe(96);
      } finally {
        delete process.env.BGN_CUDA_MEMORY_LIMIT_MB;
      }
    },
  );
});
