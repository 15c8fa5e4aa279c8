/**
 * npm run make-random-model -- --arch sd15|sd15-inpaint|sd2|sdxl|sdxl-inpaint --dtype f16|f32|bf16 --out file.safetensors [--seed N] [--tiny]
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
 */
import { statSync } from 'node:fs';
import { parseArgs as parseCli } from 'node:util';

import { FILE_TYPE, GGUF_TENSOR_TYPES, type GgufTensorType, typeFor, writeGguf } from './lib/gguf-writer.js';
import { ARCHS, ARCH_NAMES, type ArchName, type FloatDType, checkpointTensors, numel, tinyArch, valueStream, writeCheckpoint } from './lib/sd-checkpoint.js';

interface Args {
  arch: ArchName;
  dtype: FloatDType;
  out: string;
  seed: number;
  quiet: boolean;
  tiny: boolean;
  format: 'safetensors' | 'gguf';
  type: GgufTensorType;
}

const USAGE =
  'usage: npm run make-random-model -- --arch sd15|sd15-inpaint|sd2|sdxl|sdxl-inpaint [--dtype f16|f32|bf16] --out file.safetensors [--seed N] [--tiny] [--quiet]\n' +
  '       npm run make-random-model -- --arch … --format gguf --type q8_0|q4_0|q4_K|q5_0|q5_1|q4_1|q5_K|q6_K|f16|f32 --out file.gguf';

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
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!v.arch) throw new Error(`--arch is required\n${USAGE}`);
  if (!(ARCH_NAMES as readonly string[]).includes(v.arch)) throw new Error(`--arch must be one of ${ARCH_NAMES.join(', ')}; got '${v.arch}'`);
  if (v.dtype !== 'f16' && v.dtype !== 'f32' && v.dtype !== 'bf16') throw new Error(`--dtype must be f16, f32 or bf16; got '${v.dtype}'`);
  const seed = Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error('--seed must be an integer from 0 to 4294967295');
  if (!v.out) throw new Error(`--out is required\n${USAGE}`);
  if (v.format !== 'safetensors' && v.format !== 'gguf') throw new Error(`--format must be safetensors or gguf; got '${v.format}'`);
  const type = v.type ?? v.dtype;
  if (!(GGUF_TENSOR_TYPES as readonly string[]).includes(type)) throw new Error(`--type must be one of ${GGUF_TENSOR_TYPES.join(', ')}; got '${type}'`);
  if (v.format === 'safetensors' && v.type !== undefined && v.type !== v.dtype) throw new Error('--type needs --format gguf (safetensors files take --dtype f16|f32|bf16)');
  if (!v.out.endsWith(v.format === 'gguf' ? '.gguf' : '.safetensors')) throw new Error(`--out must name a .${v.format} file`);
  if (v.tiny && !v.arch.startsWith('sdxl')) throw new Error(`--tiny is offered for sdxl and sdxl-inpaint; got '${v.arch}'`);
  return { arch: v.arch as ArchName, dtype: v.dtype, out: v.out, seed, quiet: v.quiet, tiny: v.tiny, format: v.format, type: type as GgufTensorType };
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const specs = checkpointTensors(args.tiny ? tinyArch(args.arch) : ARCHS[args.arch]);
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
      .map((t) => ({ name: t.name, shape: t.shape, type: typeFor(t.shape, args.type), data: valueStream(t, args.seed) }));
    writeGguf(args.out, tensors, {
      metadata: {
        'general.name': `random ${args.arch}${args.tiny ? ' (tiny)' : ''}`,
        'general.description': `bg-native make-random-model, seed ${args.seed}, random weights`,
        'general.quantization_version': { type: 'u32', value: 2 },
        ...(FILE_TYPE[args.type] !== undefined ? { 'general.file_type': { type: 'u32', value: FILE_TYPE[args.type]! } } : {}),
      },
      onProgress,
    });
  } else
  writeCheckpoint(args.out, specs, {
    dtype: args.dtype,
    seed: args.seed,
    metadata: { generator: 'bg-native make-random-model', arch: args.arch + (args.tiny ? ' (tiny)' : ''), seed: String(args.seed), weights: 'random' },
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
    `${args.out}: ${args.arch}${args.tiny ? ' (tiny)' : ''} ${args.format === 'gguf' ? `gguf ${args.type}` : args.dtype}, ${specs.length} tensors, ${(params / 1e6).toFixed(1)} M parameters, ` +
      `${(size / 2 ** 30).toFixed(2)} GiB, seed ${args.seed}, written in ${s.toFixed(1)} s`,
  );
}

try {
  main();
} catch (err) {
  console.error(`make-random-model: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
