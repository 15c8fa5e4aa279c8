/**
 * The one place that loads the native addon (node-gyp-build: prebuilds/ first, then the local
 * build) and types it. Nothing else imports the .node file.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BgNativeError } from './errors.js';
import type {
  LoraOption,
  NativeComponents,
  NativeVae,
  NativeVaeClass,
  VaeTiled,
  VaeTilingOptions,
} from './native-components.js';

export type { LoraOption, NativeVae, NativeVaeClass, VaeTiled, VaeTilingOptions };

export interface BackendInfo {
  name: 'cpu' | 'cuda';
  /** This build contains the backend (CUDA: built with BGN_CUDA=1 and nvcc). */
  compiled: boolean;
  /** This machine can run it now. */
  available: boolean;
  /** Why not, when not available: 'built without CUDA …', 'no CUDA device', 'no NVIDIA driver …'. */
  reason?: string;
  /** CPU: worker threads. */
  threads?: number;
  /**
   * GEMM path: CPU 'openblas' | 'accelerate' | 'cblas' | 'builtin'; CUDA 'cublasLt' | 'cublas' | 'tensor-core kernel'.
   */
  gemm?: string;
  /**
   * CPU: the kernel of precision 'bf16': 'amx-bf16' (AMX tiles), 'avx512-bf16', 'amx-bf16 (emulated)'
   * (BGN_BF16_KERNEL=amx-emulated, for tests) or 'none' (f32 only).
   */
  bf16?: string;
  /** CUDA: the device name, ordinal, compute capability ('9.0') and memory in bytes. */
  device?: string;
  index?: number;
  computeCapability?: string;
  memoryBytes?: number;
  freeBytes?: number;
  /** CUDA: bytes of bg-native's device pool in use now, and its peak in this process. */
  inUseBytes?: number;
  peakBytes?: number;
  /** The CPU emulation of CUDA (test builds only). */
  emulated?: boolean;
}

export interface TensorInfo {
  name: string;
  /** -1 marks a dynamic dimension. */
  shape: number[];
  /** ONNX element type (1 float32, 7 int64, 10 float16, …; 0 when the graph does not say). */
  elemType?: number;
}

/** One input of runInputs(): float values, converted by the core to the input's declared type. */
export interface TensorInput {
  data: Float32Array;
  shape: number[];
}

export interface TensorResult {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SegmenterRunOptions {
  /** Which graph outputs to return: the first (default) or all of them. */
  outputs?: 'first' | 'all';
}

/** A loaded ONNX segmentation network. Methods run on the core's own threads. */
export interface NativeSegmenter {
  readonly path: string;
  readonly threads: number;
  /** Where it runs: 'cpu' or 'cuda'. */
  readonly device: 'cpu' | 'cuda';
  /** What its CPU products compute in ('f32' on a GPU). */
  readonly precision: 'f32' | 'bf16';
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  /** Runs the network on one NCHW f32 tensor. */
  run(input: Float32Array, shape: number[], options?: SegmenterRunOptions): Promise<TensorResult[]>;
  /** Runs a graph of several inputs (a prompt decoder), given in graph-input order. */
  runInputs(inputs: TensorInput[], options?: SegmenterRunOptions): Promise<TensorResult[]>;
  /** Releases this handle's reference to the shared weights. */
  dispose(): void;
}

export interface SegmenterLoadOptions {
  /** Worker threads; default: all cores. */
  threads?: number;
  /**
   * 'auto' (default) runs on a CUDA GPU when this build and machine have one, else the CPU;
   * 'cuda' / 'cuda:N' fail with E_DEVICE_UNAVAILABLE (and the reason) when there is none.
   */
  device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
  /**
   * The CPU's constant-weight matrix products (MatMul, Gemm-like Linear layers, convolutions
   * outside Winograd's): 'f32' (default here), 'bf16' (weights packed once in bf16, sums in f32;
   * E_DEVICE_UNAVAILABLE without AVX512-BF16) or 'auto' (bf16 where the CPU has AVX512-BF16).
   */
  precision?: 'auto' | 'f32' | 'bf16';
}

export interface DiffusionLoadOptions {
  /** Worker threads per model component; default: all cores. */
  threads?: number;
  /**
   * 'auto' (default) runs on a CUDA GPU when this build and machine have one, else the CPU;
   * 'cuda' / 'cuda:N' fail with E_DEVICE_UNAVAILABLE (and the reason) when there is none. A
   * model that does not fit the GPU fails with E_OUT_OF_MEMORY at load.
   */
  device?: 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;
  /**
   * Folder with vocab.json + merges.txt; default: the model folder's tokenizer/, then
   * $BG_CLIP_TOKENIZER, then the CLIP vocabulary that ships with the package.
   */
  tokenizer?: string;
  /** vocab.json / merges.txt contents used when nothing else names a tokenizer (the package's own by default). */
  tokenizerData?: { vocab: string; merges: string };
  /**
   * What the UNet predicts; default: the folder's scheduler config, else 'epsilon'. Single-file
   * SD 2.x 768-v checkpoints need 'v_prediction' (the file does not say).
   */
  predictionType?: 'epsilon' | 'v_prediction' | 'sample';
  /**
   * LoRAs merged into the UNet and text encoders (f32 copies of the touched tensors; the file is
   * never written). Part of the model cache's key: two LoRA sets never share merged weights.
   */
  loras?: LoraOption[];
  /**
   * The UNet's and text encoders' CPU compute (default 'f32', the reference path): 'bf16' rounds weights (once, at
   * load, after any LoRA merge) and activations to bf16 and sums in f32 — about twice as fast on
   * CPUs with AVX512-BF16; 'auto' = 'bf16' where the CPU has AVX512-BF16, else 'f32'. 'bf16' on
   * a CPU without it: E_DEVICE_UNAVAILABLE. Part of the model cache's key.
   */
  precision?: DiffusionPrecision;
}

/** CPU compute precision of a diffusion model's UNet (DiffusionLoadOptions.precision). */
export type DiffusionPrecision = 'auto' | 'f32' | 'bf16';

export interface DiffusionGenerateParams {
  /** Emphasis `(word:1.3)`, `(word)`, `[word]`, `BREAK`; longer prompts run in 75-token chunks. */
  prompt: string;
  negativePrompt?: string;
  /** Multiples of 8 from 64 to 4096; default 512. */
  width?: number;
  height?: number;
  /** 1..1000; default 20. */
  steps?: number;
  /** 0..100; CFG runs when > 1 (at most 1: one UNet pass per step, the negative prompt unused). Default 7.5. */
  guidanceScale?: number;
  /**
   * 'euler' | 'euler_a' | 'ddim' | 'dpmpp_2m' | 'dpmpp_2m_karras' | 'lms' | 'lcm' (or a diffusers class
   * name). 'lcm' takes at most the schedule's original_inference_steps (50) steps.
   */
  sampler?: string;
  /**
   * Where the timesteps sit: 'trailing' for SD-Turbo / SDXL-Turbo / Lightning / Hyper-SD; default the
   * model's scheduler config (single files: 'leading').
   */
  timestepSpacing?: 'leading' | 'linspace' | 'trailing';
  /** Integer 0..2^53-1; default: random (returned in the result). */
  seed?: number;
  /** img2img: how much of the schedule to run, (0, 1]; default 0.8. */
  strength?: number;
  clipSkip?: number;
  /** RGB bytes, width·height·3 (img2img, or inpaint with a mask). */
  initImage?: Uint8Array | Uint8ClampedArray;
  /** width·height values; bytes (≥ 128 repaints) or floats in [0, 1] (≥ 0.5 repaints). */
  mask?: Uint8Array | Uint8ClampedArray | Float32Array;
  /** Initial latents N(0,1), (1, C, height/f, width/f), instead of drawing them from the seed. */
  noise?: Float32Array;
  /** Inpaint: copy unmasked pixels from initImage into the result (default true). */
  pasteBack?: boolean;
  /**
   * VAE tiling (default 'auto'): 'auto' encodes/decodes images larger in area than one tile
   * (SD: above 512×512) in overlapping, blended tiles, bounding the VAE's memory; true tiles any
   * image that does not fit one tile; false never tiles.
   */
  tiled?: VaeTiled;
  /** Tile side in latent pixels, 8..4096; default 64 (512 px for SD). */
  tileSize?: number;
  /** Least overlap of neighbouring tiles in latent pixels, 0..tileSize-1; default 16 (128 px for SD). */
  tileOverlap?: number;
  /**
   * This generation's LoRAs instead of the load's ([] = none). Another set is merged into a second
   * instance of the model (about a load's time and the merged tensors' memory), kept until the next change.
   */
  loras?: LoraOption[];
  /**
   * What decodes the result: 'full' (default, the model's VAE), or the tiny autoencoder (TAESD /
   * TAESDXL) — 'taesd' ($BG_TAESD / $BG_TAESDXL, else taesd/ or taesdxl/ beside the checkpoint) or
   * its path — for a draft in a fraction of the VAE's time.
   */
  vae?: 'full' | 'taesd' | (string & {});
  /** 1..1000: every N-th step's progress call (not the last's) carries a preview; default 0 (none). */
  previewEvery?: number;
  /**
   * The tiny autoencoder for previews; default: `vae`'s when it is one, else 'taesd' (no previews when none is found).
   */
  previewVae?: 'taesd' | (string & {});
}

export interface DiffusionProgress {
  step: number;
  steps: number;
  /** With previewEvery: the tiny autoencoder's decode of the current denoised estimate (longer side <= 256 px). */
  preview?: DiffusionPreview;
}

/** A step preview: RGB, row-major, width·height·3 bytes. */
export interface DiffusionPreview {
  pixels: Uint8Array;
  width: number;
  height: number;
}

/** The tiny autoencoder (TAESD / TAESDXL) on its own. */
export interface NativeTinyVae {
  readonly latentChannels: number;
  readonly imageChannels: number;
  readonly downscale: number;
  readonly scalingFactor: number;
  readonly hasEncoder: boolean;
  readonly hasDecoder: boolean;
  /** 'diffusers' (AutoencoderTiny) or 'taesd' (the original taesd_encoder / taesd_decoder files). */
  readonly layout: string;
  /** image (N, C, H, W) in [-1, 1] → latents (N, latentChannels, H/f, W/f), the UNet's latent space. */
  encode(image: Float32Array, shape: number[]): Promise<{ latents: Float32Array; shape: number[] }>;
  /** latents (N, latentChannels, h, w) → image (N, imageChannels, h·f, w·f) in about [-1, 1], unclamped. */
  decode(latents: Float32Array, shape: number[]): Promise<{ image: Float32Array; shape: number[] }>;
  /** TAESD's 8-bit latent mapping: clamp(x / (2·latent_magnitude) + latent_shift, 0, 1). */
  scaleLatents(latents: Float32Array): Float32Array;
  dispose(): void;
}

export interface NativeTinyVaeClass {
  load(
    pathOrDir: string,
    options?: { threads?: number; device?: DiffusionLoadOptions['device'] },
  ): Promise<NativeTinyVae>;
}

export interface DiffusionRunOptions {
  onProgress?: (progress: DiffusionProgress) => void;
  signal?: AbortSignal;
}

export interface DiffusionImage {
  /** RGB, row-major, width·height·3 bytes. */
  pixels: Uint8Array;
  width: number;
  height: number;
  seed: number;
}

/** A loaded Stable Diffusion model (SD 1.x / 2.x / SDXL, incl. 9-channel inpainting). */
export interface NativeDiffusionModel {
  readonly path: string;
  readonly layout: string;
  /** The model family, read from the weights: SDXL has two text encoders and a 1024² native size. */
  readonly family: 'sd1' | 'sd2' | 'sdxl';
  readonly inChannels: number;
  readonly latentChannels: number;
  readonly downscale: number;
  readonly contextDim: number;
  /** Where it runs: 'cpu' or 'cuda'. */
  readonly device: 'cpu' | 'cuda';
  /** What the UNet's CPU layers compute in ('auto' resolved). */
  readonly precision: 'f32' | 'bf16';
  /**
   * Whether the UNet's weights are loaded now. On the CPU they are only while it denoises: a
   * generation lets them go after its last step and the next builds them again (LoRAs merged again),
   * so the peak memory stays near the checkpoint's size; BGN_KEEP_WEIGHTS_RESIDENT=1 keeps them.
   */
  readonly unetResident: boolean;
  generate(params: DiffusionGenerateParams, options?: DiffusionRunOptions): Promise<DiffusionImage>;
  /** Releases this handle's reference to the shared weights. */
  dispose(): void;
}

export interface NativeDiffusionModelClass {
  load(pathOrDir: string, options?: DiffusionLoadOptions): Promise<NativeDiffusionModel>;
  /** Models alive in the process-wide cache. */
  cachedModels(): number;
}

/**
 * The addon's exports. Methods that do work (load, run, runInputs, encode, decode, forward,
 * generate, pipelineTrace, readSafetensors) return a Promise and report everything, bad arguments
 * included, by rejecting it with a coded error; the rest are synchronous and throw coded errors.
 */
export interface NativeAddon extends NativeComponents {
  backends(): BackendInfo[];
  Segmenter: {
    load(modelPath: string, options?: SegmenterLoadOptions): Promise<NativeSegmenter>;
  };
  DiffusionModel: NativeDiffusionModelClass;
  Vae: NativeVaeClass;
  TinyVae: NativeTinyVaeClass;
  [key: string]: unknown;
}

const require = createRequire(import.meta.url);
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let cached: NativeAddon | undefined;
let loadError: BgNativeError | undefined;

function describeFailure(err: unknown): string {
  const reason = err instanceof Error ? err.message : String(err);
  return [
    `Could not load the bg-native addon for ${process.platform}-${process.arch} (Node ${process.version}).`,
    `Cause: ${reason.split('\n')[0]}`,
    'Possible fixes:',
    '- Build it from source: `npm rebuild @vitrinealu/bg-native` (needs cmake, a C++17 compiler and, for ' +
      'speed, libopenblas-dev).',
    '- On Debian/Ubuntu: `apt-get install -y cmake g++ libopenblas-dev`, then rebuild.',
    '- If you installed with --ignore-scripts, run `npm run build` in the package folder.',
    '- Make sure the Node.js version you run is the one you installed with (the addon uses N-API 8, Node >= 20).',
  ].join('\n');
}

/** Loads (once) and returns the native addon; throws E_ADDON_LOAD with the fixes listed. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    // BGN_ADDON_PATH: another build of the addon (the tests' CUDA-emulator build, a debug build).
    const override = process.env.BGN_ADDON_PATH;
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = override ? (require(path.resolve(override)) as NativeAddon) : load(packageRoot);
    return cached;
  } catch (err) {
    loadError = new BgNativeError('E_ADDON_LOAD', describeFailure(err), { cause: err });
    throw loadError;
  }
}

/** What this build and machine can run. */
export function backends(): BackendInfo[] {
  return loadAddon().backends();
}
