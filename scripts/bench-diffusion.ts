/**
 * npm run bench:diffusion -- --model file.safetensors [--size 512] [--steps 2] [--threads 2] [--json]
 *
 * Times the diffusion runtime on one single-file checkpoint (e.g. one written by
 * `npm run make-random-model`, SD 1.x / 2.x / SDXL), through the addon's TextEncoder / UNet / Vae
 * classes. SDXL checkpoints run both text encoders (penultimate states concatenated, pooled
 * output of the second) and pass the pooled embedding and time ids to the UNet; their default
 * size is 1024. Only our own runtime is timed: compare with another implementation (e.g.
 * stable-diffusion.cpp) by running it on the same machine and file yourself.
 *
 *   load_s          the three components loaded from the file (also per component)
 *   text_encode_s   prompt + negative prompt, 77 tokens each (one batch of 2)
 *   unet_step_s     mean seconds per sampling step with classifier-free guidance: ONE UNet forward
 *                   on a batch of 2 (conditional + unconditional) at (size/8)², plus the guidance
 *                   mix and an Euler update; every step's time is listed in unet_steps_s
 *   vae_decode_s    one VAE decode of a (1, 4, size/8, size/8) latent to size × size
 *   peak_rss_mb     the process's peak resident set (getrusage maxrss, MiB) after all of the above,
 *                   which counts the mmap'd weight pages the runs touched; peak_rss_after_mb
 *                   has the peak so far after each phase
 *
 *   --size N        image side in pixels, a multiple of 8 (default 512, SDXL 1024); a list "256,512" runs
 *                   each size in its own process (so each peak RSS is that size's own)
 *   --steps N       UNet steps to time (default 2)
 *   --threads N     worker threads (default 2)
 *   --json          print one JSON object (an array of them for a list of sizes)
 *   --sdcpp BIN     also run stable-diffusion.cpp's CLI (sd-cli, built by you from its public source; never a
 *                   dependency) on the same file at each size, right after ours, with the same steps, CFG 7.5,
 *                   Euler and threads (scripts/lib/sdcpp-run.ts), and print both side by side: the warm UNet
 *                   step with CFG (mean over the steps after the first on both sides: pass --steps 3 or more),
 *                   VAE decode, text encoding and peak RSS, the ratios ours / sd.cpp (below 1: we are faster),
 *                   the machine (CPU model, cores, AVX-512 / BF16 / AMX) and the load average before and after
 *                   each pair of runs (others' work on the cores skews a figure: rerun when it is high). E.g.
 *                     npm run bench:diffusion -- --model sd15.safetensors --size 256,512 --steps 3 --sdcpp
 *                     ~/sd.cpp/build/bin/sd-cli
 *   --sdcpp-args "…" extra arguments for sd-cli (e.g. "--diffusion-fa")
 *   --taesd PATH    also time the tiny autoencoder's decode of the same latents (taesd_decode_s)
 *
 * Every component run also times one UNet step without CFG (unet_step_nocfg_s: a batch-1 forward,
 * what guidance ≤ 1 costs per step) and one VAE encode of the decoded image (vae_encode_s: what
 * img2img and inpainting pay once per image).
 *   --e2e           time a whole txt2img instead, through DiffusionModel.generate (Euler, CFG 7.5,
 *                   `--steps` steps): load_s, txt2img_s, unet_step_s (mean interval between the
 *                   progress callbacks after the first), first_step_s (text encoding + first step),
 *                   vae_decode_s (last progress → image: decode + conversion to bytes), peak_rss_mb
 *                   (the model as a user runs it: one large component resident at a time)
 *   --lora F[:S]    --e2e: a LoRA merged into the model at scale S (default 1)
 *   --guidance G    --e2e: the guidance scale (default 7.5; ≤ 1 runs one UNet pass per step)
 *   --tokenizer DIR CLIP vocab.json + merges.txt for --e2e (default $BG_CLIP_TOKENIZER, else the
 *                   shared fixtures' clip-tokenizer next to the repository)
 *   --precision P   the UNet's CPU compute: f32 (default) | bf16 | auto (bf16 where the CPU has
 *                   AVX512-BF16); a list "f32,bf16" runs each in its own process. The result
 *                   names the precision the UNet ran in.
 *   --device D      cpu (default) | cuda | cuda:N | auto; on a GPU the result adds the device name and
 *                   peak_device_mb (the peak of bg-native's device memory pool: weights, activations
 *                   and scratch). A CUDA run needs a CUDA build (BGN_CUDA=1 npm run build:native).
 *                   E.g. the figures of the CUDA issue on one GPU:
 *                     npm run bench:diffusion -- --device cuda --e2e --model sd15.safetensors --size 512 --steps 20
 *                     npm run bench:diffusion -- --device cuda --e2e --model sdxl.safetensors --size 1024 --steps 30
 *
 * Outputs are checked for NaN/Inf (`finite`); random-weight models give noise images, which is
 * fine for timing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseCli } from 'node:util';

import { parseLoraSpec } from '../src/engines/lora-spec.js';
import { loadAddon } from '../src/native.js';
import { loadAverage, machine } from './lib/machine.js';
import { type Comparison, SdcppRuns, comparisonTable } from './lib/sdcpp-compare.js';

interface Args {
  model: string;
  /** --model a,b,c: one run per file (e.g. the same checkpoint as f16 / q8_0 / q4_0). */
  models: string[];
  sizes: number[];
  steps: number;
  threads: number;
  json: boolean;
  e2e: boolean;
  tokenizer?: string;
  device: Device;
  /** stable-diffusion.cpp's CLI, run on the same files as the measuring stick. */
  sdcpp?: string;
  sdcppArgs: string[];
  /** A tiny autoencoder (TAESD) whose decode is timed beside the VAE's. */
  taesd?: string;
  precisions: Precision[];
  /** --e2e: a LoRA merged at load (path and scale) and the guidance scale. */
  lora?: { path: string; scale: number };
  guidance: number;
}

type Precision = 'f32' | 'bf16' | 'auto';
type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

const USAGE =
  'usage: npm run bench:diffusion -- --model file.safetensors[,f16.gguf,q8_0.gguf] [--size 512|256,512] [--steps 2] ' +
  '[--threads 2] [--json] [--e2e [--tokenizer DIR] [--lora FILE[:SCALE]] [--guidance 7.5]] ' +
  '[--device cpu|cuda|cuda:N|auto] ' +
  '[--precision f32|bf16|auto|f32,bf16] [--sdcpp path/to/sd-cli [--sdcpp-args "…"]] [--taesd PATH]';

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      size: { type: 'string', default: '0' },
      steps: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      json: { type: 'boolean', default: false },
      e2e: { type: 'boolean', default: false },
      tokenizer: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      sdcpp: { type: 'string' },
      taesd: { type: 'string' },
      'sdcpp-args': { type: 'string', default: '' },
      precision: { type: 'string', default: 'f32' },
      lora: { type: 'string' },
      guidance: { type: 'string', default: '7.5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!v.model) throw new Error(`--model is required\n${USAGE}`);
  const a: Args = {
    model: v.model,
    models: v.model
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean),
    sizes: v.size.split(',').map((s) => Number(s.trim())),
    steps: Number(v.steps),
    threads: Number(v.threads),
    json: v.json,
    e2e: v.e2e,
    tokenizer: v.tokenizer,
    device: v.device as Device,
    sdcpp: v.sdcpp,
    taesd: v.taesd === undefined ? undefined : path.resolve(v.taesd),
    sdcppArgs: v['sdcpp-args'].split(/\s+/).filter(Boolean),
    precisions: v.precision.split(',').map((p) => p.trim()) as Precision[],
    guidance: Number(v.guidance),
  };
  if (v.lora !== undefined) {
    const spec = parseLoraSpec(v.lora);
    a.lora = { path: path.resolve(spec.path), scale: spec.scale };
  }
  if ((a.lora || v.guidance !== '7.5') && !a.e2e) throw new Error('--lora and --guidance go with --e2e');
  if (!(Number.isFinite(a.guidance) && a.guidance >= 0 && a.guidance <= 100))
    throw new Error('--guidance must be a number from 0 to 100');
  for (const p of a.precisions)
    if (!['f32', 'bf16', 'auto'].includes(p))
      throw new Error('--precision must be f32, bf16 or auto (or a list of them)');
  if (a.sdcpp && (a.e2e || a.device !== 'cpu'))
    throw new Error('--sdcpp compares the CPU component runs: drop --e2e and --device');
  if (!/^(auto|cpu|cuda(:\d+)?)$/.test(a.device)) throw new Error('--device must be cpu, cuda, cuda:N or auto');
  for (const s of a.sizes)
    if (!(a.sizes.length === 1 && s === 0) && !(Number.isInteger(s) && s >= 64 && s <= 4096 && s % 8 === 0))
      throw new Error('--size must be a multiple of 8 from 64 to 4096');
  if (!(Number.isInteger(a.steps) && a.steps >= 1 && a.steps <= 1000))
    throw new Error('--steps must be an integer from 1 to 1000');
  if (!(Number.isInteger(a.threads) && a.threads >= 1 && a.threads <= 1024))
    throw new Error('--threads must be a positive integer');
  return a;
}

interface TextEncoder {
  hiddenSize: number;
  maxPositions: number;
  vocabSize: number;
  encode(
    ids: Int32Array,
    o: { batch: number; clipSkip?: number; finalNorm?: boolean; pooled?: boolean },
  ): Promise<{ lastHiddenState: Float32Array; pooled?: Float32Array; shape: number[] }>;
  dispose(): void;
}
interface UNet {
  inChannels: number;
  outChannels: number;
  contextDim: number;
  heads: number[];
  /** SDXL: takes textEmbeds (pooled) and timeIds. */
  textTime: boolean;
  precision: string;
  forward(a: {
    sample: Float32Array;
    shape: number[];
    timesteps: number[];
    context: Float32Array;
    textEmbeds?: Float32Array;
    timeIds?: Float32Array;
  }): Promise<Float32Array>;
  dispose(): void;
}
interface Vae {
  latentChannels: number;
  scalingFactor: number;
  decode(latents: Float32Array, shape: number[]): Promise<{ image: Float32Array; shape: number[] }>;
  encode(image: Float32Array, shape: number[]): Promise<{ moments: Float32Array; shape: number[] }>;
  dispose(): void;
}
interface TinyVae {
  decode(latents: Float32Array, shape: number[]): Promise<{ image: Float32Array; shape: number[] }>;
  dispose(): void;
}
interface Native {
  TinyVae: { load(p: string, o: { threads: number; device: Device }): Promise<TinyVae> };
  TextEncoder: { load(p: string, o: { threads: number; device: Device; encoder?: 1 | 2 }): Promise<TextEncoder> };
  UNet: { load(p: string, o: { threads: number; device: Device; precision: Precision }): Promise<UNet> };
  Vae: { load(p: string, o: { threads: number; device: Device }): Promise<Vae> };
}

interface BenchResult {
  model: string;
  /** 'sdxl' when the UNet takes SDXL's added conditioning (two text encoders). */
  family: 'sd' | 'sdxl';
  size: number;
  steps: number;
  threads: number;
  device: string;
  /** GPU runs: the peak of the device memory pool (MiB). */
  peak_device_mb?: number;
  /** How CFG is run: one forward on a batch of 2. */
  cfg: 'batch2';
  /** What the UNet's CPU layers computed in. */
  precision: string;
  load_s: number;
  load_text_encoder_s: number;
  load_unet_s: number;
  load_vae_s: number;
  text_encode_s: number;
  unet_step_s: number;
  /** Mean over the steps after the first (the first pages the weights in); unet_step_s with one step. */
  unet_step_warm_s: number;
  unet_steps_s: number[];
  /** One step without CFG (guidance ≤ 1): a batch-1 forward. */
  unet_step_nocfg_s: number;
  vae_decode_s: number;
  /** One VAE encode of the decoded image (img2img / inpainting do one per image). */
  vae_encode_s: number;
  /** --taesd: the tiny autoencoder's decode of the same latents. */
  taesd_decode_s?: number;
  peak_rss_mb: number;
  /** The peak so far after each phase: where the memory goes. */
  peak_rss_after_mb: { load: number; text_encode: number; unet: number; vae_decode: number };
  finite: boolean;
}

const secs = (t0: number) => (performance.now() - t0) / 1000;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** getrusage maxrss: KiB on Linux → MiB. */
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

/** Where the run happened: 'cpu', or the GPU's name and its pool's peak (MiB). */
function deviceReport(device: Device): { device: string; peak_device_mb?: number } {
  if (device === 'cpu') return { device: 'cpu' };
  const cuda = loadAddon()
    .backends()
    .find((b) => b.name === 'cuda');
  if (!cuda?.available) return { device: 'cpu' };
  return { device: `cuda (${cuda.device ?? '?'})`, peak_device_mb: (cuda.peakBytes ?? 0) / 2 ** 20 };
}

/** Deterministic standard-normal values (Box–Muller on a 32-bit LCG). */
function randn(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 1) / 4294967297;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

function allFinite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; ++i) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

async function benchOnce(
  model: string,
  sizeArg: number,
  steps: number,
  threads: number,
  device: Device,
  precision: Precision,
  taesd?: string,
): Promise<BenchResult> {
  const n = loadAddon() as unknown as Native;
  let t = performance.now();
  const unet = await n.UNet.load(model, { threads, device, precision });
  const ranIn = unet.precision;
  const loadUnet = secs(t);
  const xl = unet.textTime;
  const size = sizeArg || (xl ? 1024 : 512);
  t = performance.now();
  const te = await n.TextEncoder.load(model, { threads, device });
  const te2 = xl ? await n.TextEncoder.load(model, { threads, device, encoder: 2 }) : undefined;
  const loadTe = secs(t);
  t = performance.now();
  const vae = await n.Vae.load(model, { threads, device });
  const loadVae = secs(t);
  const rssLoad = peakRssMb();
  let finite = true;

  // Prompt and negative prompt: BOS, a few tokens, EOS padding (CLIP's 49406 / 49407 when the
  // vocabulary has them), encoded together as a batch of 2.
  const T = Math.min(77, te.maxPositions);
  const bos = te.vocabSize > 49407 ? 49406 : 0,
    eos = te.vocabSize > 49407 ? 49407 : te.vocabSize - 1;
  const ids = new Int32Array(2 * T).fill(eos);
  ids[0] = bos;
  ids[T] = bos;
  for (let i = 1; i <= 8; ++i) ids[i] = 320 + i * 37;
  t = performance.now();
  let context: Float32Array; // (2, T, D): [cond, uncond]
  let added: { textEmbeds: Float32Array; timeIds: Float32Array } | undefined;
  if (te2) {
    // SDXL: cat(penultimate raw of encoder 1, of encoder 2) per token; pooled from encoder 2.
    const a = await te.encode(ids, { batch: 2, clipSkip: 1, finalNorm: false });
    const b = await te2.encode(ids, { batch: 2, clipSkip: 1, finalNorm: false, pooled: true });
    const c1 = a.shape[2]!,
      c2 = b.shape[2]!,
      C = c1 + c2;
    context = new Float32Array(2 * T * C);
    for (let r = 0; r < 2 * T; ++r) {
      context.set(a.lastHiddenState.subarray(r * c1, (r + 1) * c1), r * C);
      context.set(b.lastHiddenState.subarray(r * c2, (r + 1) * c2), r * C + c1);
    }
    const ti = [size, size, 0, 0, size, size];
    added = { textEmbeds: b.pooled!, timeIds: Float32Array.from([...ti, ...ti]) };
    finite &&= allFinite(b.pooled!);
  } else {
    context = (await te.encode(ids, { batch: 2 })).lastHiddenState;
  }
  const textEncode = secs(t);
  const rssText = peakRssMb();
  finite &&= allFinite(context);
  if (context.length !== 2 * T * unet.contextDim)
    throw new Error(
      `text encoder width ${context.length / (2 * T)} does not match the UNet's context ${unet.contextDim}`,
    );

  // Sampling steps: one batch-2 forward each (cond + uncond), CFG mix, Euler update.
  const h = size / 8,
    w = size / 8,
    lc = 4,
    plane = lc * h * w;
  const sigmas = [14.6146, 9.7, 6.3, 4.0, 2.5, 1.5, 0.8, 0.3, 0.0];
  let latents = randn(plane, 42).map((v) => v * sigmas[0]!);
  const unetSteps: number[] = [];
  const guidance = 7.5;
  for (let s = 0; s < steps; ++s) {
    const sigma = sigmas[Math.min(s, sigmas.length - 2)]!,
      next = sigmas[Math.min(s + 1, sigmas.length - 1)]!;
    const t0 = performance.now();
    const cIn = 1 / Math.sqrt(sigma * sigma + 1);
    const sample = new Float32Array(2 * unet.inChannels * h * w);
    // Batch element n gets the scaled latents in its first 4 channels (extra inpainting channels: 0).
    for (let b = 0; b < 2; ++b)
      for (let i = 0; i < plane; ++i) sample[b * unet.inChannels * h * w + i] = latents[i]! * cIn;
    const timestep = 999 - Math.round((s * 999) / Math.max(1, steps));
    const eps = await unet.forward({
      sample,
      shape: [2, unet.inChannels, h, w],
      timesteps: [timestep, timestep],
      context,
      ...added,
    });
    const outPlane = unet.outChannels * h * w;
    const next_ = new Float32Array(plane);
    for (let i = 0; i < plane; ++i) {
      const e = eps[outPlane + i]! + guidance * (eps[i]! - eps[outPlane + i]!);
      next_[i] = latents[i]! + (next - sigma) * e;
    }
    latents = next_;
    unetSteps.push(secs(t0));
    finite &&= allFinite(eps);
  }

  // One step without CFG (guidance ≤ 1, e.g. LCM / Turbo): a batch-1 forward on the prompt alone.
  t = performance.now();
  const eps1 = await unet.forward({
    sample: new Float32Array(unet.inChannels * h * w).fill(0.1),
    shape: [1, unet.inChannels, h, w],
    timesteps: [499],
    context: context.subarray(0, context.length / 2),
    ...(added
      ? { textEmbeds: added.textEmbeds.subarray(0, added.textEmbeds.length / 2), timeIds: added.timeIds.subarray(0, 6) }
      : {}),
  });
  const unetStepNoCfg = secs(t);
  finite &&= allFinite(eps1);

  const rssUnet = peakRssMb();
  t = performance.now();
  const scaled = latents.map((v) => v / vae.scalingFactor);
  const img = await vae.decode(scaled, [1, vae.latentChannels, h, w]);
  const vaeDecode = secs(t);
  finite &&= allFinite(img.image);
  // The encoder on the decoded image (img2img and inpainting encode the photo once per image).
  t = performance.now();
  const moments = await vae.encode(
    img.image.map((v) => Math.max(-1, Math.min(1, v))),
    img.shape,
  );
  const vaeEncode = secs(t);
  finite &&= allFinite(moments.moments);
  let taesdDecode: number | undefined;
  if (taesd) {
    const tiny = await n.TinyVae.load(taesd, { threads, device });
    t = performance.now();
    const small = await tiny.decode(latents, [1, 4, h, w]);
    taesdDecode = secs(t);
    finite &&= allFinite(small.image);
    tiny.dispose();
  }
  const peak = peakRssMb();
  const where = deviceReport(device);
  te.dispose();
  te2?.dispose();
  unet.dispose();
  vae.dispose();
  return {
    model,
    family: xl ? 'sdxl' : 'sd',
    size,
    steps,
    threads,
    ...where,
    precision: ranIn,
    cfg: 'batch2',
    load_s: loadTe + loadUnet + loadVae,
    load_text_encoder_s: loadTe,
    load_unet_s: loadUnet,
    load_vae_s: loadVae,
    text_encode_s: textEncode,
    unet_step_s: unetSteps.reduce((a, b) => a + b, 0) / unetSteps.length,
    unet_step_warm_s: mean(unetSteps.length > 1 ? unetSteps.slice(1) : unetSteps),
    unet_steps_s: unetSteps,
    unet_step_nocfg_s: unetStepNoCfg,
    vae_decode_s: vaeDecode,
    vae_encode_s: vaeEncode,
    ...(taesdDecode !== undefined ? { taesd_decode_s: taesdDecode } : {}),
    peak_rss_mb: peak,
    peak_rss_after_mb: { load: rssLoad, text_encode: rssText, unet: rssUnet, vae_decode: peak },
    finite,
  };
}

interface E2eResult {
  model: string;
  mode: 'txt2img';
  size: number;
  steps: number;
  threads: number;
  device: string;
  precision: string;
  peak_device_mb?: number;
  load_s: number;
  /** GPU: the first (1-step) generation, which uploads the weights. */
  warmup_s?: number;
  txt2img_s: number;
  first_step_s: number;
  unet_step_s: number;
  vae_decode_s: number;
  peak_rss_mb: number;
  guidance: number;
  lora?: string;
}

function defaultTokenizer(): string | undefined {
  if (process.env.BG_CLIP_TOKENIZER) return process.env.BG_CLIP_TOKENIZER;
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/fixtures/clip-tokenizer');
  return existsSync(path.join(dir, 'vocab.json')) ? dir : undefined;
}

async function benchE2e(
  model: string,
  size: number,
  steps: number,
  threads: number,
  device: Device,
  precision: Precision,
  tokenizer: string | undefined,
  guidance: number,
  lora?: { path: string; scale: number },
): Promise<E2eResult> {
  const t0 = performance.now();
  const m = await loadAddon().DiffusionModel.load(model, {
    threads,
    device,
    precision,
    ...(tokenizer ? { tokenizer } : {}),
    ...(lora ? { loras: [lora] } : {}),
  });
  const ranIn = m.precision;
  const load = secs(t0);
  const prompt = {
    prompt: 'a photo of a wooden table in a bright kitchen',
    negativePrompt: 'blurry',
    ...(size ? { width: size, height: size } : {}),
    guidanceScale: guidance,
    sampler: 'euler' as const,
    seed: 1,
  };
  // On a GPU the first generation uploads the weights and initialises cuBLAS: one 1-step
  // generation first, timed on its own, so txt2img_s is what every later image costs.
  let warmup: number | undefined;
  if (m.device !== 'cpu') {
    const tw = performance.now();
    await m.generate({ ...prompt, steps: 1 });
    warmup = secs(tw);
  }
  const marks: number[] = [];
  const t1 = performance.now();
  const img = await m.generate({ ...prompt, steps }, { onProgress: () => marks.push(performance.now()) });
  const end = performance.now();
  if (size && (img.width !== size || img.height !== size))
    throw new Error(`generate returned ${img.width}×${img.height}`);
  const where = deviceReport(device);
  m.dispose();
  const gaps = marks.slice(1).map((t, i) => (t - marks[i]!) / 1000);
  return {
    model,
    mode: 'txt2img',
    size: img.width,
    steps,
    threads,
    ...where,
    precision: ranIn,
    load_s: load,
    ...(warmup !== undefined ? { warmup_s: warmup } : {}),
    txt2img_s: (end - t1) / 1000,
    first_step_s: marks.length ? (marks[0]! - t1) / 1000 : NaN,
    unet_step_s: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : NaN,
    vae_decode_s: marks.length ? (end - marks.at(-1)!) / 1000 : NaN,
    peak_rss_mb: peakRssMb(),
    guidance,
    ...(lora ? { lora: `${path.basename(lora.path)}:${lora.scale}` } : {}),
  };
}

function table(r: BenchResult): string {
  const f = (x: number) => x.toFixed(2);
  const a = r.peak_rss_after_mb;
  const on = r.device === 'cpu' ? `the CPU, ${r.threads} thread(s), UNet in ${r.precision}` : r.device;
  const taesd = r.taesd_decode_s !== undefined ? `  (tiny autoencoder: ${f(r.taesd_decode_s)} s)` : '';
  return [
    `model ${r.model} (${r.family === 'sdxl' ? 'SDXL' : 'SD 1.x/2.x'}) — ${r.size}×${r.size}, ` +
      `${r.steps} step(s), on ${on}, CFG as one batch-2 forward`,
    `  load           ${f(r.load_s)} s  (text encoder ${f(r.load_text_encoder_s)}, UNet ${f(r.load_unet_s)}, ` +
      `VAE ${f(r.load_vae_s)})`,
    `  text encode    ${f(r.text_encode_s)} s  (prompt + negative${r.family === 'sdxl' ? ', both encoders' : ''})`,
    `  UNet step      ${f(r.unet_step_s)} s  (each: ${r.unet_steps_s.map(f).join(', ')})`,
    `  UNet step      ${f(r.unet_step_nocfg_s)} s without CFG (one batch-1 forward, guidance ≤ 1)`,
    `  VAE decode     ${f(r.vae_decode_s)} s${taesd}`,
    `  VAE encode     ${f(r.vae_encode_s)} s`,
    `  peak RSS       ${r.peak_rss_mb.toFixed(0)} MiB  (after load ${a.load.toFixed(0)}, text ` +
      `${a.text_encode.toFixed(0)}, UNet ${a.unet.toFixed(0)}, VAE ${a.vae_decode.toFixed(0)})`,
    ...(r.peak_device_mb !== undefined
      ? [`  peak device    ${r.peak_device_mb.toFixed(0)} MiB  (bg-native's GPU pool)`]
      : []),
    `  outputs finite ${r.finite}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const m of args.models) statSync(m); // a clear ENOENT before loading the addon
  if (args.sizes.length > 1 || args.models.length > 1 || args.precisions.length > 1 || args.sdcpp) {
    // One process per file and size, so every peak RSS belongs to its own run.
    const script = fileURLToPath(import.meta.url);
    const results: (BenchResult & { file_mb: number })[] = [];
    const sdcpp = args.sdcpp ? new SdcppRuns(args.sdcpp, args.sdcppArgs) : undefined;
    const comparisons: Comparison[] = [];
    for (const model of args.models) {
      for (const size of args.sizes)
        for (const precision of args.precisions) {
          const loadBefore = loadAverage()[0];
          const child = spawnSync(
            process.execPath,
            [
              ...process.execArgv,
              script,
              '--model',
              model,
              '--size',
              String(size),
              '--steps',
              String(args.steps),
              '--threads',
              String(args.threads),
              '--json',
              '--device',
              args.device,
              '--precision',
              precision,
              ...(args.e2e ? ['--e2e'] : []),
              ...(args.tokenizer ? ['--tokenizer', args.tokenizer] : []),
              ...(args.taesd ? ['--taesd', args.taesd] : []),
              ...(args.lora ? ['--lora', `${args.lora.path}:${args.lora.scale}`] : []),
              '--guidance',
              String(args.guidance),
            ],
            { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
          );
          if (child.status !== 0)
            throw new Error(`the run of ${model} at ${size}×${size} failed (exit ${child.status})`);
          const r = { ...(JSON.parse(child.stdout) as BenchResult), file_mb: statSync(model).size / 2 ** 20 };
          results.push(r);
          if (!args.json) console.log(args.e2e ? JSON.stringify(r) : table(r));
          if (sdcpp) {
            const c = await sdcpp.compare({ ...r, load_before: loadBefore });
            c.ours.load_after = loadAverage()[0];
            comparisons.push(c);
          }
        }
    }
    if (args.json && sdcpp) {
      console.log(JSON.stringify({ machine: machine(), comparisons }));
    } else if (args.json) {
      console.log(JSON.stringify(results));
    } else if (sdcpp) {
      console.log(comparisonTable(comparisons, machine()));
    } else if (args.models.length > 1) {
      // Per weight type: step time and peak RSS beside the file size.
      console.log(
        '\nfile                                   size    file MiB   UNet step s   peak RSS MiB   RSS / file',
      );
      for (const r of results) {
        const x = r as unknown as { unet_step_s: number; peak_rss_mb: number };
        console.log(
          `${path.basename(r.model).padEnd(38)} ${String(r.size).padStart(5)} ` +
            `${r.file_mb.toFixed(0).padStart(10)} ${x.unet_step_s.toFixed(2).padStart(13)} ` +
            `${x.peak_rss_mb.toFixed(0).padStart(14)} ${(x.peak_rss_mb / r.file_mb).toFixed(2).padStart(12)}`,
        );
      }
    }
    return;
  }
  if (args.e2e) {
    const r = await benchE2e(
      path.resolve(args.model),
      args.sizes[0]!,
      args.steps,
      args.threads,
      args.device,
      args.precisions[0]!,
      args.tokenizer ?? defaultTokenizer(),
      args.guidance,
      args.lora,
    );
    const f = (x: number) => x.toFixed(2);
    const warmup =
      r.warmup_s !== undefined ? `  (then a 1-step warm-up generation ${f(r.warmup_s)} s: weights to the GPU)` : '';
    console.log(
      args.json
        ? JSON.stringify(r)
        : [
            `model ${r.model}${r.lora ? ` + LoRA ${r.lora}` : ''} — txt2img ${r.size}×${r.size}, ${r.steps} ` +
              `Euler step(s), guidance ${r.guidance}, on ` +
              `${r.device === 'cpu' ? `the CPU, ${r.threads} thread(s), UNet in ${r.precision}` : r.device}, ` +
              'DiffusionModel.generate',
            `  load           ${f(r.load_s)} s${warmup}`,
            `  txt2img        ${f(r.txt2img_s)} s  (text encoding + first step ${f(r.first_step_s)}, later ` +
              `steps ${f(r.unet_step_s)} each, decode ${f(r.vae_decode_s)})`,
            `  peak RSS       ${r.peak_rss_mb.toFixed(0)} MiB = ` +
              `${(r.peak_rss_mb / (statSync(r.model).size / 2 ** 20)).toFixed(3)} × the checkpoint file`,
            ...(r.peak_device_mb !== undefined
              ? [`  peak device    ${r.peak_device_mb.toFixed(0)} MiB  (bg-native's GPU pool)`]
              : []),
          ].join('\n'),
    );
    return;
  }
  const r = await benchOnce(
    path.resolve(args.model),
    args.sizes[0]!,
    args.steps,
    args.threads,
    args.device,
    args.precisions[0]!,
    args.taesd,
  );
  console.log(args.json ? JSON.stringify(r) : table(r));
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  console.error(`bench:diffusion: ${e.code ? `[${e.code}] ` : ''}${e.message ?? String(err)}`);
  process.exit(1);
});
