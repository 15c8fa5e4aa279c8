/**
 * npm run make-random-model -- --arch sd15|sd15-inpaint|sd2|sdxl|sdxl-inpaint --dtype f16|f32|bf16 --out
 * file.safetensors [--seed N] [--tiny]
 *
 * Writes a single-file checkpoint with the exact LDM key names and shapes of Stable Diffusion 1.5,
 * 1.5-inpainting (9 input channels), 2.x (OpenCLIP text encoder, linear projections, 1024-wide
 * context) or SDXL base / SDXL inpainting (two text encoders under conditioner.embedders.{0,1},
 * label_emb, transformer depth 2 / 10 per level, 2048-wide context): UNet (model.diffusion_model.*),
 * VAE (first_stage_model.*) and text encoder(s) (cond_stage_model.* / conditioner.embedders.*),
 * with small seeded random weights — N(0, 1/fan_in) for weight matrices and
 * kernels, N(0, 0.02) token / N(0, 0.01) position embeddings, norm weights 1, biases 0 — so
 * activations stay finite through the whole network. For benchmarks: any SD runtime loads it
 * (ours, stable-diffusion.cpp, A1111, ComfyUI); its images are noise.
 *
 * The file is streamed (8-MiB chunks): a 2-GB f16 SD 1.5 needs no more than a few MB of JS memory.
 * Same arguments + same seed → identical bytes.
 *
 * --tiny (sdxl, sdxl-inpaint): the same layout with 32-wide layers (a few MB), for tests.
 *
 * --format gguf --type q8_0|q4_0|q4_K|… --out file.gguf: the same tensors as a GGUF v3 file in the
 * stable-diffusion.cpp layout (LDM names; weight matrices whose rows are whole blocks in --type,
 * other kernels f16, biases and norms f32), via scripts/lib/gguf-writer.ts.
 *
 * --lora [--rank 32] [--alpha R] (sd15, sd15-inpaint, sdxl, sdxl-inpaint): instead of a checkpoint, a
 * kohya / sd-scripts LoRA for that architecture — lora_unet_* on every transformer's proj_in/proj_out,
 * attention projections and feed-forward layers, lora_te_* (SDXL: lora_te1_* / lora_te2_*) on every
 * text-encoder attention and MLP projection — with random factors (scripts/lib/lora-tensors.ts).
 * Alpha defaults to the rank (a merge weight of scale · 1).
 *
 * --taesd --out taesd.safetensors | DIR: the tiny autoencoder (TAESD, 64-wide, encoder and decoder) in
 * diffusers' AutoencoderTiny layout, as one file, or as a folder (config.json +
 * diffusion_pytorch_model.safetensors) when --out does not end in .safetensors
 * (scripts/lib/taesd-tensors.ts). --arch is not needed: TAESD and TAESDXL have the same layout.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs as parseCli } from 'node:util';

import { FILE_TYPE, GGUF_TENSOR_TYPES, type GgufTensorType, typeFor, writeGguf } from './lib/gguf-writer.js';
import { loraMetadata, loraTensors } from './lib/lora-tensors.js';
import {
  ARCHS,
  ARCH_NAMES,
  type ArchName,
  type FloatDType,
  checkpointTensors,
  numel,
  tinyArch,
  valueStream,
  writeCheckpoint,
} from './lib/sd-checkpoint.js';
import { taesdConfig, taesdTensors } from './lib/taesd-tensors.js';

interface Args {
  arch: ArchName;
  dtype: FloatDType;
  out: string;
  seed: number;
  quiet: boolean;
  tiny: boolean;
  format: 'safetensors' | 'gguf';
  type: GgufTensorType;
  /** What is written: the checkpoint, a LoRA for it, or the tiny autoencoder. */
  kind: 'checkpoint' | 'lora' | 'taesd';
  rank: number;
  alpha: number;
}

const USAGE =
  'usage: npm run make-random-model -- --arch sd15|sd15-inpaint|sd2|sdxl|sdxl-inpaint ' +
  '[--dtype f16|f32|bf16] --out file.safetensors [--seed N] [--tiny] [--quiet]\n' +
  '       npm run make-random-model -- --arch … --format gguf --type q8_0|q4_0|q4_K|q5_0|q5_1|q4_1|q5_K|q6_K|f16|f32 ' +
  '--out file.gguf\n' +
  '       npm run make-random-model -- --arch sd15|sd15-inpaint|sdxl|sdxl-inpaint --lora [--rank 32] ' +
  '[--alpha R] --out lora.safetensors\n' +
  '       npm run make-random-model -- --taesd --out taesd.safetensors|DIR';

function parseArgs(argv: string[]): Args {
  const { values: v } = parseCli({
    args: argv,
    strict: true,
    options: {
      arch: { type: 'string' },
      dtype: { type: 'string', default: 'f16' },
      out: { type: 'string' },
      seed: { type: 'string', default: '0' },
      quiet: { type: 'boolean', default: false },
      tiny: { type: 'boolean', default: false },
      format: { type: 'string', default: 'safetensors' },
      type: { type: 'string' },
      lora: { type: 'boolean', default: false },
      rank: { type: 'string', default: '32' },
      alpha: { type: 'string' },
      taesd: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (v.lora && v.taesd) throw new Error('--lora and --taesd write different files; pick one');
  if (v.taesd) v.arch ??= 'sd15';
  if (!v.arch) throw new Error(`--arch is required\n${USAGE}`);
  if (!(ARCH_NAMES as readonly string[]).includes(v.arch))
    throw new Error(`--arch must be one of ${ARCH_NAMES.join(', ')}; got '${v.arch}'`);
  if (v.dtype !== 'f16' && v.dtype !== 'f32' && v.dtype !== 'bf16')
    throw new Error(`--dtype must be f16, f32 or bf16; got '${v.dtype}'`);
  const seed = Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new Error('--seed must be an integer from 0 to 4294967295');
  if (!v.out) throw new Error(`--out is required\n${USAGE}`);
  if (v.format !== 'safetensors' && v.format !== 'gguf')
    throw new Error(`--format must be safetensors or gguf; got '${v.format}'`);
  const type = v.type ?? v.dtype;
  if (!(GGUF_TENSOR_TYPES as readonly string[]).includes(type))
    throw new Error(`--type must be one of ${GGUF_TENSOR_TYPES.join(', ')}; got '${type}'`);
  if (v.format === 'safetensors' && v.type !== undefined && v.type !== v.dtype)
    throw new Error('--type needs --format gguf (safetensors files take --dtype f16|f32|bf16)');
  const kind = v.lora ? 'lora' : v.taesd ? 'taesd' : 'checkpoint';
  if (kind !== 'checkpoint' && v.format !== 'safetensors') throw new Error(`--${kind} files are safetensors only`);
  if (kind !== 'taesd' && !v.out.endsWith(v.format === 'gguf' ? '.gguf' : '.safetensors'))
    throw new Error(`--out must name a .${v.format} file`);
  if (v.tiny && !v.arch.startsWith('sdxl'))
    throw new Error(`--tiny is offered for sdxl and sdxl-inpaint; got '${v.arch}'`);
  if (kind === 'lora' && v.arch === 'sd2')
    throw new Error('--lora is offered for sd15, sd15-inpaint, sdxl and sdxl-inpaint');
  const rank = Number(v.rank);
  if (!(Number.isInteger(rank) && rank >= 1 && rank <= 1024))
    throw new Error('--rank must be an integer from 1 to 1024');
  const alpha = v.alpha === undefined ? rank : Number(v.alpha);
  if (!(Number.isFinite(alpha) && alpha > 0)) throw new Error('--alpha must be a positive number');
  return {
    arch: v.arch as ArchName,
    dtype: v.dtype,
    out: v.out,
    seed,
    quiet: v.quiet,
    tiny: v.tiny,
    format: v.format,
    type: type as GgufTensorType,
    kind,
    rank,
    alpha,
  };
}

/** --taesd: one file, or a diffusers folder (config.json + diffusion_pytorch_model.safetensors). */
function taesdTarget(out: string): string {
  if (out.endsWith('.safetensors')) return out;
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'config.json'), `${JSON.stringify(taesdConfig(), null, 2)}\n`);
  return path.join(out, 'diffusion_pytorch_model.safetensors');
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const arch = args.tiny ? tinyArch(args.arch) : ARCHS[args.arch];
  const specs =
    args.kind === 'lora'
      ? loraTensors(arch, { rank: args.rank, alpha: args.alpha })
      : args.kind === 'taesd'
        ? taesdTensors()
        : checkpointTensors(arch);
  if (args.kind === 'taesd') args.out = taesdTarget(args.out);
  const what =
    args.kind === 'lora'
      ? {
          arch: `${args.arch}${args.tiny ? ' (tiny)' : ''} LoRA rank ${args.rank} alpha ${args.alpha}`,
          ...loraMetadata(arch, args),
        }
      : args.kind === 'taesd'
        ? { arch: 'taesd (AutoencoderTiny)' }
        : { arch: args.arch + (args.tiny ? ' (tiny)' : '') };
  const params = specs.reduce((s, t) => s + numel(t.shape), 0);
  const t0 = performance.now();
  let lastPct = -1;
  const onProgress = (done: number, total: number) => {
    const pct = Math.floor((100 * done) / total);
    if (!args.quiet && process.stderr.isTTY && pct !== lastPct) process.stderr.write(`\r${pct}%`);
    lastPct = pct;
  };
  if (args.format === 'gguf') {
    const tensors = specs
      .filter((t) => !t.intDtype)
      .map((t) => ({
        name: t.name,
        shape: t.shape,
        type: typeFor(t.shape, args.type),
        data: valueStream(t, args.seed),
      }));
    writeGguf(args.out, tensors, {
      metadata: {
        'general.name': `random ${args.arch}${args.tiny ? ' (tiny)' : ''}`,
        'general.description': `bg-native make-random-model, seed ${args.seed}, random weights`,
        'general.quantization_version': { type: 'u32', value: 2 },
        ...(FILE_TYPE[args.type] !== undefined
          ? { 'general.file_type': { type: 'u32', value: FILE_TYPE[args.type]! } }
          : {}),
      },
      onProgress,
    });
  } else
    writeCheckpoint(args.out, specs, {
      dtype: args.dtype,
      seed: args.seed,
      metadata: { generator: 'bg-native make-random-model', ...what, seed: String(args.seed), weights: 'random' },
      onProgress: (done, total) => {
        const pct = Math.floor((100 * done) / total);
        if (!args.quiet && process.stderr.isTTY && pct !== lastPct) process.stderr.write(`\r${pct}%`);
        lastPct = pct;
      },
    });
  const s = (performance.now() - t0) / 1000;
  if (!args.quiet && process.stderr.isTTY) process.stderr.write('\r');
  const size = statSync(args.out).size;
  console.log(
    `${args.out}: ${what.arch} ${args.format === 'gguf' ? `gguf ${args.type}` : args.dtype}, ${specs.length} ` +
      `tensors, ${(params / 1e6).toFixed(1)} M parameters, ` +
      `${(size / 2 ** 30).toFixed(2)} GiB, seed ${args.seed}, written in ${s.toFixed(1)} s`,
  );
}

try {
  main();
} catch (err) {
  console.error(`make-random-model: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
