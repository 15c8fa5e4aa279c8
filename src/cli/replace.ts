/**
 * `bg-native replace` (the default command): every option of replaceBackground as a flag.
 *
 * Flags only convert text (numbers, lists, JSON); ranges, enums and combinations are checked by
 * ReplaceOptionsSchema inside replaceBackground, so the CLI, the library and the server agree.
 * A value that is not even a number is a usage error (exit 2); a number out of range is the
 * library's E_BAD_INPUT (exit 1), with the field's flag named next to it.
 */
import path from 'node:path';

import { type Command, Option } from 'commander';

import { BgNativeError } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../image/atomic-write.js';
import { DeviceSchema, DiffusionPrecisionSchema, SamplerNameSchema, type ReplaceProgress } from '../options.js';
import type { ReplaceResult } from '../pipeline/replace.js';
import { resultJson, type CliIO } from './io.js';
import type { CliLibrary } from './library.js';
import {
  num,
  parseAspect,
  parsePadding,
  parseQuality,
  positiveInt,
  replaceOptionsFromFlags,
  withFlagNames,
  type ReplaceFlags,
} from './replace-flags.js';
import { addOptions, glassFlagOptions, promptFlagOptions } from './subject-flags.js';

function progressLine(p: ReplaceProgress): string {
  const pct = `${Math.round(p.progress * 100)}%`.padStart(4);
  const steps = p.step !== undefined && p.steps !== undefined ? ` step ${p.step}/${p.steps}` : '';
  return `bg-native: progress ${pct} ${p.stage}${steps}\n`;
}

async function runReplace(f: ReplaceFlags, io: CliIO, lib: CliLibrary): Promise<void> {
  const options = replaceOptionsFromFlags(f);
  if (f.maskOut) await checkWritable(f.maskOut);

  // Ctrl-C cancels the job (the library throws E_CANCELLED and writes nothing); a second one quits.
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      io.stderr('bg-native: cancelling… (Ctrl-C again to quit at once)\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  options.signal = controller.signal;
  if (f.progress) options.onProgress = (p) => io.stderr(progressLine(p));

  let result: ReplaceResult;
  try {
    result = await lib().replaceBackground(options);
  } catch (err) {
    if (err instanceof BgNativeError && err.code === 'E_BAD_INPUT') {
      throw new BgNativeError('E_BAD_INPUT', withFlagNames(err.message), { cause: err });
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }

  let mask: string | null = null;
  if (f.maskOut) {
    mask = path.resolve(f.maskOut);
    await writeFileAtomic(mask, result.artifacts.mask);
  }
  if (f.json) io.stdout(`${JSON.stringify(resultJson(result, f.in, mask))}\n`);
}

/** Adds `replace` to the program as its default command. */
export function registerReplaceCommand(program: Command, io: CliIO, lib: CliLibrary): Command {
  const cmd = program
    .command('replace', { isDefault: true })
    .description('put the subject on a new background (the default command)')
    .usage('--in <photo|dir|glob> --out <file|dir> [options]')
    .exitOverride()
    .allowExcessArguments(true)
    .optionsGroup('Input and output:')
    .requiredOption(
      '-i, --in <photo|dir|glob>',
      "input photo (JPEG, PNG, WebP, TIFF, GIF, AVIF); a folder or a quoted glob ('photos/*.jpg') runs a batch",
    )
    .requiredOption('-o, --out <file|dir>', 'output file, written atomically; a folder in batch mode')
    .addOption(
      new Option('--format <fmt>', 'output format (default: from --out, else png)').choices([
        'png',
        'jpeg',
        'jpg',
        'webp',
      ]),
    )
    .option(
      '--quality <q>',
      'JPEG/WebP quality 1-100 (default 90); draft: decode with the tiny autoencoder (TAESD)',
      parseQuality,
    )
    .option('--mask-out <file|dir>', 'also write the mask (greyscale PNG, output size); a folder in batch mode')
    .option('--json', 'print the result metadata as one JSON line (batch: one line per photo)')
    .option('--progress', 'print progress lines on stderr')
    .optionsGroup('Batch (--in is a folder or a glob):')
    .option(
      '--concurrency <n>',
      'photos processed at once (default 1: one job already uses every core)',
      positiveInt('--concurrency'),
    )
    .option('--skip-existing', 'leave photos whose output file already exists')
    .optionsGroup('Preset:')
    .option('-p, --preset <name>', 'product-studio (default), minimalist, studio-gradient, …')
    .option('--prompt-type <type>', 'prompt type of the preset (vitrinealu: studio, garden, minimal, lifestyle)')
    .option(
      '--preset-dir <dir>',
      'extra folder of preset .yaml files (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--overrides <json|@file>', 'JSON object merged over the preset, or @file.json')
    .optionsGroup('Background engine:')
    .option('--engine <name>', 'auto (default), local, runway, studio; SDXL = local')
    .option('--seed <n>', 'seed for a repeatable result (default random)', num('--seed'))
    .option('--prompt <text>', "background prompt (default: the preset's)")
    .option('--negative-prompt <text>', 'what the background must not show')
    .option('--steps <n>', 'diffusion steps, 1-150', num('--steps'))
    .option('--guidance, --guidance-scale <g>', 'classifier-free guidance, 0-30', num('--guidance'))
    .option('--strength <s>', 'how far to repaint the old background, 0-1', num('--strength'))
    .addOption(new Option('--sampler <name>', 'diffusion sampler').choices(SamplerNameSchema.options))
    .option('--diffusion-model <path>', 'SD checkpoint or diffusers folder (env BG_DIFFUSION_MODEL)')
    .option('--tokenizer <dir>', 'CLIP tokenizer folder (env BG_CLIP_TOKENIZER)')
    .option(
      '--lora <file[:scale]>',
      'LoRA .safetensors merged into the local model, scale -4 to 4 (repeatable; env BG_LORAS)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--vae <taesd|full|path>',
      "what decodes the local engine's result: full (default), taesd (env BG_TAESD) or a TAESD path",
    )
    .addOption(
      new Option('--device <name>', 'where the local engine runs (default auto)').choices(DeviceSchema.options),
    )
    .addOption(
      new Option(
        '--precision <p>',
        'UNet compute on the CPU: auto (default; bf16 with AVX512-BF16), f32, bf16',
      ).choices(DiffusionPrecisionSchema.options),
    )
    .optionsGroup('Cut-out:')
    .option(
      '-m, --model <path>',
      'an .onnx file: the segmentation model (env BG_SEG_MODEL); otherwise the SD weights, as --diffusion-model',
    )
    .addOption(new Option('--variant <name>', '@imgly model (default medium)').choices(['medium', 'small']))
    .option('--no-refine', 'skip the full-resolution mask refinement')
    .option('--max-pixels <n>', 'refuse larger photos (default 100 MP, env BG_MAX_PIXELS)', num('--max-pixels'))
    .option('-t, --threads <n>', 'native worker threads (default: all cores)', num('--threads'))
    .optionsGroup('Product (where it is, its glass):');
  addOptions(cmd, [...promptFlagOptions(), ...glassFlagOptions()])
    .optionsGroup('Studio (tripod shots; see README):')
    .option(
      '--clean-plate <file>',
      'the same framing without the product: difference matting (batch: one plate for every photo)',
    )
    .option(
      '--second-in <photo>',
      'the product over a second, clearly different backdrop: exact alpha with --second-clean-plate',
    )
    .option('--second-clean-plate <file>', 'the second backdrop without the product')
    .optionsGroup('Compositing (defaults from the preset):')
    .option('--match-colors [strength]', 'match subject colours to the background, 0-1', num('--match-colors'))
    .option('--no-match-colors', 'keep the subject colours exactly')
    .option('--feather <px>', 'soften the edge, px at a 1024-px long side (0-50)', num('--feather'))
    .option('--no-feather', 'hard edge')
    .addOption(new Option('--shadow [kind]', 'add a shadow').choices(['contact', 'drop']))
    .option('--no-shadow', 'no shadow')
    .option('--shadow-opacity <o>', 'shadow opacity, 0-1', num('--shadow-opacity'))
    .option('--shadow-angle <deg>', 'direction the shadow falls (90 = down)', num('--shadow-angle'))
    .option('--shadow-softness <px>', 'shadow blur, px at a 1024-px long side', num('--shadow-softness'))
    .option('--shadow-distance <px>', 'shadow offset, px at a 1024-px long side', num('--shadow-distance'))
    .option('--no-decontaminate', "leave the old background's colour in edge pixels")
    .option('--enhance-fg', 'auto levels + mild sharpening on the subject')
    .optionsGroup('Framing (subject centred):')
    .option('--padding <f|t,r,b,l>', 'margin as a fraction of the side, 0-0.45', parsePadding)
    .option('--output-size <WxH>', 'output size in pixels, e.g. 2000x2000')
    .option('--aspect <W:H>', 'output aspect ratio, e.g. 4:5 or 1.5', parseAspect)
    .optionsGroup('Help:');

  cmd.action(async (flags: ReplaceFlags, self: Command) => {
    if (self.args.length) {
      const known = program.commands.map((c) => c.name()).join(', ');
      self.error(
        `unknown command or stray argument ${JSON.stringify(self.args[0])} (commands: ${known}; photos go after --in)`,
        { exitCode: 2 },
      );
    }
    const batch = await import('./batch.js');
    if (batch.isBatchInput(flags.in)) await batch.runBatch(flags, io, lib);
    else {
      if (flags.concurrency !== undefined || flags.skipExisting) {
        throw new BgNativeError(
          'E_BAD_INPUT',
          '--concurrency and --skip-existing apply to batches: give a folder or a quoted glob as --in.',
        );
      }
      await runReplace(flags, io, lib);
    }
  });
  cmd.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  bg-native --in chair.jpg --out chair.png --preset product-studio --engine studio',
      '  bg-native --in chair.jpg --out chair.jpg --preset vitrinealu --prompt-type garden --seed 42 --json',
      '  bg-native --in photos/ --out out/                      every photo in photos/ → out/<name>.png',
      "  bg-native --in 'shoot/**/*.jpg' --out out/ --format jpeg --concurrency 2 --json",
      '',
      "Batch mode: outputs keep the path below the folder (or below the glob's fixed part) with the",
      "format's extension; a progress bar shows on a terminal, one line per photo otherwise, then a",
      'summary. Exit status 1 when any photo failed, 130 after Ctrl-C.',
    ].join('\n'),
  );
  return cmd;
}
