/**
 * Choosing where the networks run: backends() says what this build and machine can run, and
 * the `device` option of every load follows it. The test machines have no GPU and the default
 * build has no CUDA, so these pin down what a user sees there; the CUDA backend itself is tested
 * kernel by kernel in test/native/test_cuda_*.cpp (on the CUDA emulator everywhere, on the GPU
 * in CUDA builds).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { backends, clearSegmenters, resetDefaultContext, segment } from '../src/index.js';
import { loadAddon } from '../src/native.js';
import { halvesJpeg } from './helpers/images.js';
import { tempDir } from './helpers/paths.js';
import { redSubjectModel, writeTinyModel } from './helpers/tiny-models.js';

const tmp = tempDir();
const model = writeTinyModel(tmp.dir, 'tiny-isnet-imgly.onnx', redSubjectModel());
const savedDevice = process.env.BGN_DEVICE;

afterEach(() => {
  if (savedDevice === undefined) delete process.env.BGN_DEVICE;
  else process.env.BGN_DEVICE = savedDevice;
  resetDefaultContext();
});
afterAll(async () => {
  await clearSegmenters();
  tmp.remove();
});

describe('backends()', () => {
  it('lists the CPU, available, with its threads and GEMM', () => {
    const cpu = backends().find((b) => b.name === 'cpu');
    expect(cpu).toMatchObject({ compiled: true, available: true });
    expect(cpu?.threads).toBeGreaterThan(0);
    expect(cpu?.gemm).toMatch(/openblas|accelerate|cblas|builtin/);
  });

  it("names the kernel of precision 'bf16', and follows BGN_BF16_KERNEL", () => {
    const cpu = () => backends().find((b) => b.name === 'cpu')!;
    const plain = cpu().bf16;
    expect(plain).toMatch(/^(amx-bf16|avx512-bf16|none)$/);
    if (plain === 'none') return;
    process.env.BGN_BF16_KERNEL = 'amx-emulated';
    try {
      expect(cpu().bf16).toBe('amx-bf16 (emulated)');
      process.env.BGN_BF16_KERNEL = 'avx512';
      expect(cpu().bf16).toBe('avx512-bf16');
      process.env.BGN_BF16_KERNEL = 'tiles';
      expect(cpu().bf16).toMatch(/^none \(BGN_BF16_KERNEL=tiles is not one of/);
    } finally {
      delete process.env.BGN_BF16_KERNEL;
    }
  });

  it('lists CUDA once, saying why it cannot run when it cannot', () => {
    const cuda = backends().filter((b) => b.name === 'cuda');
    expect(cuda).toHaveLength(1);
    const entry = cuda[0]!;
    if (entry.available) {
      expect(entry.device).toBeTruthy();
      expect(entry.memoryBytes).toBeGreaterThan(0);
      expect(entry.gemm).toMatch(/cublasLt|cublas|tensor-core kernel/);
    } else {
      expect(entry.reason).toMatch(
        entry.compiled ? /no CUDA device|driver|capability/ : /built without CUDA \(rebuild with BGN_CUDA=1/,
      );
    }
  });
});

describe.skipIf(backends().some((b) => b.name === 'cuda' && b.available))(
  'the device option without a usable GPU',
  () => {
    it("'auto' runs the segmenter on the CPU and says so", async () => {
      const seg = await loadAddon().Segmenter.load(model, { threads: 1, device: 'auto' });
      expect(seg.device).toBe('cpu');
      seg.dispose();
    });

    it("'cuda' and 'cuda:N' fail with E_DEVICE_UNAVAILABLE and the reason", async () => {
      for (const device of ['cuda', 'cuda:0', 'cuda:3'] as const) {
        await expect(loadAddon().Segmenter.load(model, { threads: 1, device })).rejects.toMatchObject({
          code: 'E_DEVICE_UNAVAILABLE',
          message: expect.stringMatching(/device 'cuda' is not available: /) as unknown,
        });
      }
    });

    it('a misspelt device is E_BAD_INPUT naming the choices', async () => {
      for (const device of ['gpu', 'cuda:', 'cuda:x', 'CUDA']) {
        const load = async () => loadAddon().Segmenter.load(model, { threads: 1, device: device as 'cpu' });
        await expect(load()).rejects.toMatchObject({
          code: 'E_BAD_INPUT',
          message: expect.stringMatching(/'auto', 'cpu', 'cuda' or 'cuda:<index>'/) as unknown,
        });
      }
    });

    // The library reads BGN_DEVICE (its default context) and asks the addon for that device; the
    // addon itself reads no environment.
    it("BGN_DEVICE overrides 'auto' (cuda is then demanded) and a bad value is E_CONFIG", async () => {
      const input = await halvesJpeg(64, 64);
      const segmentWith = (device: string) => {
        process.env.BGN_DEVICE = device;
        resetDefaultContext();
        return segment({ input, model, threads: 1, refine: false });
      };
      await expect(segmentWith('cuda')).rejects.toMatchObject({ code: 'E_DEVICE_UNAVAILABLE' });
      expect((await segmentWith('cpu')).alpha.length).toBe(64 * 64);
      await expect(segmentWith('tpu')).rejects.toMatchObject({
        code: 'E_CONFIG',
        message: expect.stringMatching(/BGN_DEVICE/) as unknown,
      });
    });

    it("segment({ device: 'cuda' }) fails before writing anything; 'cpu' segments", async () => {
      const input = await halvesJpeg(64, 64);
      await expect(segment({ input, model, threads: 1, device: 'cuda' })).rejects.toMatchObject({
        code: 'E_DEVICE_UNAVAILABLE',
      });
      const { alpha, width, height } = await segment({ input, model, threads: 1, device: 'cpu' });
      expect([width, height]).toEqual([64, 64]);
      expect(alpha.length).toBe(64 * 64);
    });
  },
);
