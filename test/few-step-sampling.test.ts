/**
 * Few-step sampling: the LCM sampler's schedule and limits, trailing timestep spacing, Karras
 * schedules under every spacing against an independent float64 computation, one UNet pass per
 * step without CFG, and the 'fast' generation profile's detection.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FAST_PROFILE, looksLikeLcm, resolveGenerationProfile } from '../src/engines/generation-profile.js';
import { loadAddon, type NativeDiffusionModel } from '../src/native.js';
import { GenerationSchema } from '../src/presets/schema.js';
import { fixturesPresent, modelsDir, sd1Tiny, sd15SchedulerConfig, tokenizerDir } from './helpers/diffusion.js';
import { tempDir } from './helpers/paths.js';

interface Trace {
  timesteps: Float64Array;
  sigmas: Float32Array;
  initNoiseSigma: number;
  samples: Float32Array;
  denoised?: Float32Array;
}
const addon = () =>
  loadAddon() as unknown as {
    schedulerTrace(o: Record<string, unknown>): Trace;
    pipelineTrace(o: Record<string, unknown>): Promise<{ unetInputs: Float32Array; stepDenoised: Float32Array }>;
    UNet: { load(p: string, o?: object): Promise<unknown> };
    Vae: { load(p: string, o?: object): Promise<unknown> };
  };
const sd15 = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
};

function trace(scheduler: string, config: object, steps: number, per = 1): Trace {
  return addon().schedulerTrace({
    scheduler,
    config,
    steps,
    noise: new Float32Array(per).fill(1),
    modelOutputs: new Float32Array(steps * per).fill(0.5),
    ancestralNoise: new Float32Array(steps * per),
  });
}

function codeOf(f: () => unknown): { code?: string; message: string } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

// ---- an independent float64 reference of the SD schedules (diffusers' formulas) --------------------

const f32 = Math.fround;
/** torch.linspace(float32) as the reference build computes it (fused multiply-adds, 8-wide blocks). */
function betasScaledLinear(T: number): number[] {
  const s = f32(Math.sqrt(0.00085));
  const e = f32(Math.sqrt(0.012));
  const step = f32(f32(e - s) / (T - 1));
  const half = Math.floor(T / 2);
  const at = (i: number) => (i < half ? f32(step * i + s) : f32(-step * (T - 1 - i) + e));
  const out: number[] = [];
  const vec = Math.floor(T / 16) * 16;
  let i = 0;
  for (; i < vec; i += 8) for (let j = 0, base = at(i); j < 8; j++) out.push(f32(j * step + base));
  for (; i < T; i++) out.push(at(i));
  return out.map((b) => f32(b * b));
}
const T = 1000;
const train = (() => {
  let acc = 1;
  const ac = betasScaledLinear(T).map((b) => f32((acc *= f32(1 - b))));
  return ac.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
})();
const logTrain = train.map((s) => f32(Math.log(s)));

function grid(spacing: string, n: number): number[] {
  if (spacing === 'linspace') {
    return Array.from({ length: n }, (_, i) => f32(n === 1 ? 0 : (i * (T - 1)) / (n - 1))).reverse();
  }
  if (spacing === 'leading') return Array.from({ length: n }, (_, i) => (n - 1 - i) * Math.floor(T / n) + 1);
  const r = T / n;
  return Array.from({ length: Math.ceil(T / r) }, (_, k) => roundHalfEven(T - k * r) - 1);
}
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
function interp(t: number): number {
  if (t >= T - 1) return train[T - 1]!;
  const j = Math.floor(t);
  return t === j ? train[j]! : (train[j + 1]! - train[j]!) * (t - j) + train[j]!;
}
function karras(lo: number, hi: number, n: number): number[] {
  const rho = 7;
  return Array.from({ length: n }, (_, i) => {
    const ramp = n === 1 ? 0 : i / (n - 1);
    return (hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho;
  });
}
function sigmaToT(sigma: number): number {
  const ls = f32(Math.log(Math.max(sigma, 1e-10)));
  let low = 0;
  for (let i = 0; i < T; i++) if (ls >= logTrain[i]!) low = i;
  low = Math.min(low, T - 2);
  const w = Math.min(1, Math.max(0, f32(f32(logTrain[low]! - ls) / f32(logTrain[low]! - logTrain[low + 1]!))));
  return (1 - w) * low + w * (low + 1);
}

describe('LCM sampler', () => {
  const lcm = { ...sd15, original_inference_steps: 50 };
  const expected = (n: number, orig = 50) => {
    const k = Math.floor(T / orig);
    const origin = Array.from({ length: orig }, (_, j) => (orig - j) * k - 1);
    return Array.from({ length: n }, (_, i) => origin[Math.floor(i * (orig / n))]!);
  };

  it('takes its timesteps from the original schedule at every step count', () => {
    for (const n of [1, 2, 3, 4, 6, 8, 13, 50]) {
      expect(Array.from(trace('lcm', lcm, n).timesteps), `${n}`).toEqual(expected(n));
    }
    const short = trace('LCMScheduler', { ...lcm, original_inference_steps: 25 }, 4);
    expect(Array.from(short.timesteps)).toEqual(expected(4, 25));
    // Spacing and offset do not move LCM's timesteps.
    const trailing = trace('lcm', { ...lcm, timestep_spacing: 'trailing', steps_offset: 0 }, 4);
    expect(Array.from(trailing.timesteps)).toEqual([999, 759, 499, 259]);
  });

  it('ends on the boundary-conditioned estimate: the last sample is the last denoised', () => {
    const r = trace('lcm', lcm, 4, 3);
    expect(r.denoised?.length).toBe(12);
    expect(Array.from(r.samples.subarray(9))).toEqual(Array.from(r.denoised!.subarray(9)));
    expect(Array.from(r.samples.subarray(0, 3))).not.toEqual(Array.from(r.denoised!.subarray(0, 3)));
  });

  it('refuses more steps than the schedule has, naming steps', () => {
    const e = codeOf(() => trace('lcm', lcm, 51));
    expect(e.code).toBe('E_BAD_INPUT');
    expect(e.message).toMatch(/steps .*50/);
    expect(codeOf(() => trace('lcm', { ...lcm, original_inference_steps: 4 }, 5)).code).toBe('E_BAD_INPUT');
    expect(codeOf(() => trace('lcm', { ...lcm, timestep_scaling: -1 }, 4)).code).toBe('E_BAD_INPUT');
  });
});

describe('timestep spacing', () => {
  it("'trailing' starts at the last training timestep for Euler, Euler a and DDIM", () => {
    for (const s of ['euler', 'euler_a', 'ddim']) {
      const cfg = { ...sd15, timestep_spacing: 'trailing' };
      expect(Array.from(trace(s, cfg, 4).timesteps), s).toEqual([999, 749, 499, 249]);
      expect(Array.from(trace(s, cfg, 3).timesteps), s).toEqual(grid('trailing', 3));
    }
    // init noise sigma: the largest sigma, not sqrt(sigma² + 1) as with 'leading'.
    const r = trace('euler', { ...sd15, timestep_spacing: 'trailing' }, 4);
    expect(r.initNoiseSigma).toBe(r.sigmas[0]);
    expect(r.sigmas[0]).toBe(f32(train[999]!));
  });

  it('Karras sigmas under every spacing match a float64 computation of the reference formulas', () => {
    const kinds = [
      ['euler', 'linear'],
      ['lms', 'linear'],
      ['euler', 'log_linear'],
    ] as const;
    for (const [sched, interpolation] of kinds) {
      for (const spacing of ['leading', 'trailing', 'linspace']) {
        for (const n of [1, 2, 4, 7, 20, 30]) {
          const label = `${sched}/${interpolation}/${spacing}/${n}`;
          const karrasCfg = { use_karras_sigmas: true, interpolation_type: interpolation };
          const cfg = { ...sd15, timestep_spacing: spacing, ...karrasCfg };
          const r = trace(sched, cfg, n);
          const [hi, lo] = [logTrain[T - 1]!, logTrain[0]!];
          const base =
            interpolation === 'linear'
              ? grid(spacing, n).map(interp)
              : Array.from({ length: n + 1 }, (_, i) => f32(Math.exp(f32(hi + ((lo - hi) * i) / n))));
          const sig = karras(base[base.length - 1]!, base[0]!, n);
          const want = [...sig.map(f32), 0];
          expect(r.sigmas.length, label).toBe(n + 1);
          want.forEach((w, i) => {
            expect(Math.abs(r.sigmas[i]! - w), `${label} σ${i}`).toBeLessThanOrEqual(3e-7 * w);
          });
          sig.forEach((s, i) => {
            expect(Math.abs(r.timesteps[i]! - sigmaToT(s)), `${label} t ${i}`).toBeLessThan(2e-3);
          });
          const top = Math.max(...want);
          const init = spacing === 'leading' ? Math.sqrt(top * top + 1) : top;
          expect(Math.abs(r.initNoiseSigma - init), `${label} init`).toBeLessThanOrEqual(3e-7 * init);
        }
      }
    }
  });

  it('DPM++ 2M Karras keeps one step per timestep, duplicates included', () => {
    const r = trace('dpmpp_2m_karras', sd15, 80);
    expect(r.timesteps.length).toBe(80);
    expect(r.sigmas.length).toBe(81);
    expect(new Set(r.timesteps).size).toBeLessThan(80);
  });
});

describe.runIf(fixturesPresent)('guidance <= 1 runs one UNet pass per step', () => {
  let unet: unknown;
  let vae: unknown;
  beforeAll(async () => {
    unet = await addon().UNet.load(path.join(modelsDir, 'unet-sd1'), { threads: 2 });
    vae = await addon().Vae.load(path.join(modelsDir, 'vae'), { threads: 2 });
  });
  const cond = new Float32Array(77 * 32).map((_, i) => Math.sin(i));
  const L = 4 * 32 * 32;
  const run = (guidance: number, extra: object = {}) =>
    addon().pipelineTrace({
      kind: 'txt2img',
      unet,
      vae,
      scheduler: 'lcm',
      config: sd15SchedulerConfig,
      steps: 3,
      guidance,
      cond,
      height: 64,
      width: 64,
      seed: 3,
      ...extra,
    });

  it('batch 1 and no negative embeddings without CFG; batch 2 (CFG-LCM) above 1', async () => {
    const one = await run(1);
    expect(one.unetInputs.length).toBe(3 * L);
    expect(one.stepDenoised.length).toBe(3 * L);
    const cfg = await run(2, { uncond: new Float32Array(77 * 32) });
    expect(cfg.unetInputs.length).toBe(3 * 2 * L);
    await expect(run(2)).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
  });
});

describe.runIf(fixturesPresent)('DiffusionModel few-step options', () => {
  let model: NativeDiffusionModel;
  beforeAll(async () => {
    model = await loadAddon().DiffusionModel.load(sd1Tiny, { threads: 2, tokenizer: tokenizerDir });
  });
  const base = { prompt: 'a lake', width: 64, height: 64, steps: 2, seed: 7 };

  it('without CFG the negative prompt is not used', async () => {
    const a = await model.generate({ ...base, guidanceScale: 1, sampler: 'lcm', negativePrompt: 'fog' });
    const b = await model.generate({ ...base, guidanceScale: 1, sampler: 'lcm', negativePrompt: '' });
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    const c = await model.generate({ ...base, guidanceScale: 3, sampler: 'lcm', negativePrompt: 'fog' });
    expect(Buffer.from(a.pixels).equals(Buffer.from(c.pixels))).toBe(false);
  });

  it('timestepSpacing changes the schedule; bad values and too many LCM steps are E_BAD_INPUT', async () => {
    const lead = await model.generate({ ...base, sampler: 'euler', timestepSpacing: 'leading' });
    const trail = await model.generate({ ...base, sampler: 'euler', timestepSpacing: 'trailing' });
    expect(Buffer.from(lead.pixels).equals(Buffer.from(trail.pixels))).toBe(false);
    const bad = { ...base, timestepSpacing: 'sideways' } as unknown as Parameters<NativeDiffusionModel['generate']>[0];
    await expect(model.generate(bad)).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: /timestepSpacing/ });
    await expect(model.generate({ ...base, sampler: 'lcm', steps: 51 })).rejects.toMatchObject({
      code: 'E_BAD_INPUT',
      message: /steps/,
    });
  });
});

describe("the 'fast' generation profile", () => {
  const { dir: tmp, remove } = tempDir('bgn-fast-profile-');
  afterAll(remove);
  const g = GenerationSchema.parse({
    steps: 30,
    guidanceScale: 7,
    sampler: 'dpmpp_2m_karras',
    strength: 1,
    resolution: { longSide: 512 },
  });
  const safetensors = (file: string, metadata: Record<string, string>) => {
    const header = Buffer.from(JSON.stringify({ __metadata__: metadata }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(file, Buffer.concat([len, header]));
    return file;
  };

  it('is picked for LCM models and LoRAs by path, scheduler config or metadata', () => {
    const plain = safetensors(path.join(tmp, 'style.safetensors'), { ss_output_name: 'watercolor' });
    const meta = safetensors(path.join(tmp, 'pytorch_lora_weights.safetensors'), {
      ss_output_name: 'LCM_LoRA_sd15',
    });
    const folder = path.join(tmp, 'dreamshaper');
    mkdirSync(path.join(folder, 'scheduler'), { recursive: true });
    const config = JSON.stringify({ _class_name: 'LCMScheduler' });
    writeFileSync(path.join(folder, 'scheduler', 'scheduler_config.json'), config);
    expect(looksLikeLcm(plain)).toBe(false);
    expect(looksLikeLcm(meta)).toBe(true);
    expect(looksLikeLcm(folder)).toBe(true);
    expect(looksLikeLcm('/models/lcm-lora-sdv1-5/pytorch_lora_weights.safetensors')).toBe(true);
    expect(looksLikeLcm('/models/calcmodel.safetensors')).toBe(false);

    expect(resolveGenerationProfile(g, '/models/sd15.safetensors', [{ path: plain }])).toEqual(g);
    const withLcm = resolveGenerationProfile(g, '/models/sd15.safetensors', [{ path: meta }]);
    expect(withLcm).toMatchObject({ ...FAST_PROFILE, profile: 'fast' });
    expect(resolveGenerationProfile(g, folder)).toMatchObject(FAST_PROFILE);
  });

  it("an explicit profile wins: 'fast' always, 'standard' never", () => {
    const fast = resolveGenerationProfile({ ...g, profile: 'fast' }, '/models/sd15.safetensors');
    expect(fast).toMatchObject({ steps: 4, sampler: 'lcm', guidanceScale: 1 });
    const standard = resolveGenerationProfile({ ...g, profile: 'standard' }, '/models/lcm.safetensors');
    expect(standard).toMatchObject({ steps: 30, sampler: 'dpmpp_2m_karras' });
  });
});
