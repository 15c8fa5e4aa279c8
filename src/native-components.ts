/**
 * Types of the addon's diffusion building blocks: the CLIP tokenizer, the text encoder, UNet and
 * VAE on their own, and the functions the fixture runner drives (native/addon/*_binding.cpp,
 * pipeline_trace.cpp, scheduler_trace.cpp, read_safetensors.cpp, parse_prompt_weights.cpp).
 * As everywhere on the addon, methods that do work return a Promise that rejects with a coded
 * error (bad arguments too); tokenizing, prompt parsing and schedulerTrace are synchronous.
 */

/** Where a model runs: 'auto' (a CUDA GPU when there is one, else the CPU), 'cpu', 'cuda' or 'cuda:N'. */
export type DeviceOption = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/**
 * A LoRA: a .safetensors file with kohya (lora_unet_…, lora_te_…) or diffusers/PEFT (…lora_A/lora_B)
 * keys, and its strength from -4 to 4 (default 1). Keys that fit no layer: E_MODEL_FORMAT.
 */
export interface LoraOption {
  path: string;
  scale?: number;
}

/** VAE tiling mode: 'auto' tiles latents larger in area than tileSize², true any that does not fit one tile. */
export type VaeTiled = 'auto' | boolean;

/** Tiled VAE encode/decode (native/models/vae_tiling.h); sizes in latent pixels. Bad values: E_BAD_INPUT. */
export interface VaeTilingOptions {
  /** Default false for the Vae component (the plain, reference-exact pass). */
  tiled?: VaeTiled;
  /** 8..4096; default 64. */
  tileSize?: number;
  /** 0..tileSize-1; default 16. */
  tileOverlap?: number;
}

/** The VAE of a diffusion model on its own (encode to latent moments, decode latents). */
export interface NativeVae {
  readonly scalingFactor: number;
  readonly latentChannels: number;
  readonly downscale: number;
  readonly imageChannels: number;
  readonly layout: string;
  /** image (N, C, H, W) in [-1, 1] → moments (N, 2·latentChannels, H/f, W/f): mean, then logvar. */
  encode(
    image: Float32Array,
    shape: number[],
    tiling?: VaeTilingOptions,
  ): Promise<{ moments: Float32Array; shape: number[] }>;
  /** latents (N, latentChannels, h, w), unscaled → image (N, imageChannels, h·f, w·f), unclamped. */
  decode(
    latents: Float32Array,
    shape: number[],
    tiling?: VaeTilingOptions,
  ): Promise<{ image: Float32Array; shape: number[] }>;
  dispose(): void;
}

export interface NativeVaeClass {
  load(pathOrDir: string, options?: { threads?: number; device?: DeviceOption }): Promise<NativeVae>;
}

export interface ClipEncodeOptions {
  /** Pad or truncate to this many ids (0: neither); default 77. */
  maxLength?: number;
  /** '<|endoftext|>' (default) or '!' (SD 2.x). */
  padToken?: string;
  truncation?: boolean;
}

/** The CLIP BPE tokenizer. */
export interface NativeClipTokenizer {
  readonly bosId: number;
  readonly eosId: number;
  readonly vocabSize: number;
  encode(prompt: string, options?: ClipEncodeOptions): Int32Array;
  tokenize(prompt: string, options?: { padToken?: string }): string[];
  /** Emphasis-weighted 77-id chunks of a prompt. */
  encodeWeighted(prompt: string, options?: { padToken?: string }): { ids: Int32Array; weights: Float32Array }[];
}

export interface NativeClipTokenizerClass {
  load(source?: string | { vocab: string; merges: string }): Promise<NativeClipTokenizer>;
}

export interface ComponentLoadOptions {
  threads?: number;
  device?: DeviceOption;
  attentionHeads?: number;
  loras?: LoraOption[];
}

export interface TextEncodeOptions {
  batch?: number;
  clipSkip?: number;
  hiddenStates?: boolean;
  finalNorm?: boolean;
  pooled?: boolean;
}

export interface TextEncodeResult {
  lastHiddenState: Float32Array;
  hiddenStates?: Float32Array;
  pooled?: Float32Array;
  shape: [number, number, number];
}

/** A CLIP text encoder on its own. */
export interface NativeTextEncoder {
  readonly hiddenSize: number;
  readonly layers: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly projectionDim: number;
  readonly layout: string;
  encode(ids: Int32Array, options?: TextEncodeOptions): Promise<TextEncodeResult>;
  dispose(): void;
}

export interface NativeTextEncoderClass {
  /** encoder 2: SDXL's second text encoder. */
  load(pathOrDir: string, options?: ComponentLoadOptions & { encoder?: 1 | 2 }): Promise<NativeTextEncoder>;
}

export interface UNetForwardArgs {
  sample: Float32Array;
  /** [N, C, H, W] */
  shape: number[];
  /** One per batch element, or one for all. */
  timesteps: number | number[] | Float32Array;
  /** N·S·contextDim */
  context: Float32Array;
  /** SDXL: pooled text (N·P) and time ids (N·6). */
  textEmbeds?: Float32Array;
  timeIds?: Float32Array;
}

/** A diffusion UNet on its own. */
export interface NativeUNet {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly contextDim: number;
  readonly heads: number[];
  readonly textTime: boolean;
  readonly layout: string;
  readonly precision: 'f32' | 'bf16';
  forward(args: UNetForwardArgs): Promise<Float32Array>;
  dispose(): void;
}

export interface NativeUNetClass {
  load(pathOrDir: string, options?: ComponentLoadOptions & { precision?: string }): Promise<NativeUNet>;
}

export interface SchedulerTraceOptions {
  scheduler: string;
  config?: unknown;
  steps: number;
  noise: Float32Array;
  modelOutputs: Float32Array;
  ancestralNoise?: Float32Array;
}

export interface SchedulerTrace {
  scheduler: string;
  timesteps: Float64Array;
  sigmas: Float32Array;
  initNoiseSigma: number;
  initialSample: Float32Array;
  scaledModelInputs: Float32Array;
  samples: Float32Array;
  predOriginalSamples: Float32Array;
  denoised?: Float32Array;
}

export interface PipelineTraceOptions extends VaeTilingOptions {
  kind: 'txt2img' | 'img2img' | 'inpaint';
  unet: NativeUNet;
  vae: NativeVae;
  scheduler: string;
  config?: unknown;
  steps?: number;
  guidance?: number;
  strength?: number;
  cond: Float32Array;
  uncond?: Float32Array;
  height: number;
  width: number;
  [key: string]: unknown;
}

export interface PipelineTrace {
  timesteps: Float64Array;
  unetTimesteps: Float32Array;
  unetInputs: Float32Array;
  unetOutputs: Float32Array;
  stepLatents: Float32Array;
  stepDenoised: Float32Array;
  finalLatents: Float32Array;
  imageRaw: Float32Array;
  image: Float32Array;
  initLatents: Float32Array;
  maskedImageLatents: Float32Array;
  maskLatent: Float32Array;
}

export interface SafetensorsContents {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint> }>;
}

export interface PromptWeightPiece {
  text: string;
  weight: number;
  isBreak: boolean;
}

/** The addon's diffusion building blocks and fixture functions (part of NativeAddon). */
export interface NativeComponents {
  ClipTokenizer: NativeClipTokenizerClass;
  TextEncoder: NativeTextEncoderClass;
  UNet: NativeUNetClass;
  parsePromptWeights(prompt: string): PromptWeightPiece[];
  schedulerTrace(options: SchedulerTraceOptions): SchedulerTrace;
  pipelineTrace(options: PipelineTraceOptions): Promise<PipelineTrace>;
  readSafetensors(path: string): Promise<SafetensorsContents>;
}
