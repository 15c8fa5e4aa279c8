/**
 * The `bg-native` command line: a thin layer over replaceBackground() (the default command),
 * segment() and cleanup(). Flags map onto the
 * same zod-validated options the library takes; errors print as one line
 * `bg-native: CODE: message` on stderr with a non-zero exit status.
 */
import path from 'node:path';

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import { BgNativeError, toBgError } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../image/atomic-write.js';
import { encodeImage } from '../image/encode.js';
import {
  DeviceSchema,
  ModelProfileNameSchema,
  SegmentPrecisionSchema,
  type CleanupOptions,
  type Device,
  type SegmentOptions,
} from '../options.js';
import { version } from '../version.js';
import { CliExit, EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, resultJson, type CliIO } from './io.js';
import { cliLibrary, type CliLibrary } from './library.js';
import { registerModelsCommand } from './models.js';
import { registerPresetsCommand } from './presets.js';
import { registerReplaceCommand } from './replace.js';
import { registerServeCommands } from './serve.js';
import { studioOptions } from './studio-flags.js';
import { addOptions, glassFlagOptions, glassFromFlags, type SubjectFlags } from './subject-flags.js';

export type { CliIO } from './io.js';
export { EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './io.js';

const defaultIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: Boolean(process.stderr.isTTY),
  get columns() {
    return process.stderr.columns;
  },
};

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive whole number.`);
    }
    return n;
  };
}

interface CommonFlags extends SubjectFlags {
  in: string;
  out: string;
  model?: string;
  variant?: 'medium' | 'small';
  profile?: string;
  precision?: 'auto' | 'f32' | 'bf16';
  box?: [number, number, number, number];
  point?: { x: number; y: number; label: 0 | 1 }[];
  threads?: number;
  device?: Device;
  maxPixels?: number;
  refine: boolean;
  json?: boolean;
  cleanPlate?: string;
  secondIn?: string;
  secondCleanPlate?: string;
}

interface CleanupFlags extends CommonFlags {
  mode: 'transparent' | 'color' | 'blur' | 'gradient';
  color?: string;
  maskOut?: string;
  enhanceFg?: boolean;
  format?: string;
  quality?: number;
}

function addCommon(cmd: Command): Command {
  cmd
    .requiredOption('-i, --in <photo>', 'input photo (JPEG, PNG, WebP, TIFF, GIF, AVIF)')
    .requiredOption('-o, --out <file>', 'output file (written atomically)')
    .option(
      '-m, --model <file.onnx|name>',
      'segmentation model: a file or a name (birefnet-general, sam, …; see `bg-native models`)',
    )
    .addOption(
      new Option('--variant <name>', "which @imgly model: 'medium' (default) or 'small'").choices(['medium', 'small']),
    )
    .addOption(
      new Option('--profile <name>', 'pre/post-processing family (default: inferred)').choices(
        ModelProfileNameSchema.options,
      ),
    )
    .addOption(
      new Option(
        '--precision <p>',
        "the network's CPU compute: 'f32', 'bf16' or 'auto' (bf16 where the CPU has AVX512-BF16); default: the " +
          "family's ('auto' for BiRefNet, RMBG-2.0, BEN2 and SAM, 'f32' for ISNet and U²-Net)",
      ).choices(SegmentPrecisionSchema.options),
    )
    .option('--box <x,y,w,h>', "SAM prompt: the subject's box in photo pixels", parseBox)
    .option(
      '--point <x,y[,label]>',
      'SAM prompt: a point, label 1 subject (default) or 0 background; repeatable',
      parsePoint,
    )
    .option('-t, --threads <n>', 'native worker threads (default: all cores)', positiveInt('--threads'))
    .addOption(
      new Option(
        '--device <name>',
        "where the segmentation network runs: 'auto' (a CUDA GPU when there is one), 'cpu' or 'cuda'",
      ).choices(DeviceSchema.options),
    )
    .option(
      '--max-pixels <n>',
      'refuse larger images (default 100000000, env BG_MAX_PIXELS)',
      positiveInt('--max-pixels'),
    )
    .option('--no-refine', 'skip the full-resolution guided-filter refinement of the mask')
    .option('--clean-plate <file>', 'studio: the same framing shot without the product (difference matting)')
    .option(
      '--second-in <photo>',
      'studio: the product over a second backdrop (with --second-clean-plate: exact alpha)',
    )
    .option('--second-clean-plate <file>', 'studio: the second backdrop without the product')
    .option('--json', 'print the result metadata as JSON on stdout');
  return addOptions(cmd, glassFlagOptions());
}

function numbers(flag: string, v: string, min: number, max: number): number[] {
  const parts = v.split(',').map((x) => Number(x.trim()));
  if (parts.length < min || parts.length > max || parts.some((x) => !Number.isFinite(x))) {
    throw new InvalidArgumentError(
      `${flag} takes ${min === max ? min : `${min} or ${max}`} comma-separated numbers, got '${v}'.`,
    );
  }
  return parts;
}

function parseBox(v: string): [number, number, number, number] {
  return numbers('--box', v, 4, 4) as [number, number, number, number];
}

function parsePoint(
  v: string,
  prev: { x: number; y: number; label: 0 | 1 }[] = [],
): { x: number; y: number; label: 0 | 1 }[] {
  const [x, y, label = 1] = numbers('--point', v, 2, 3);
  if (label !== 0 && label !== 1) {
    throw new InvalidArgumentError(`--point's label must be 1 (subject) or 0 (background), got ${label}.`);
  }
  return [...prev, { x: x!, y: y!, label }];
}

function commonOptions(f: CommonFlags): SegmentOptions {
  const o: SegmentOptions = { input: f.in };
  if (f.model !== undefined) o.model = f.model;
  if (f.variant !== undefined || f.profile !== undefined || f.precision !== undefined) {
    o.segmentation = {
      ...(f.variant !== undefined ? { variant: f.variant } : {}),
      ...(f.profile !== undefined ? { profile: f.profile as never } : {}),
      ...(f.precision !== undefined ? { precision: f.precision } : {}),
    };
  }
  if (f.box !== undefined || f.point !== undefined) {
    o.prompt = { ...(f.box ? { box: f.box } : {}), ...(f.point ? { points: f.point } : {}) };
  }
  if (f.threads !== undefined) o.threads = f.threads;
  if (f.device !== undefined) o.device = f.device;
  if (f.maxPixels !== undefined) o.maxPixels = f.maxPixels;
  if (f.refine === false) o.refine = false;
  Object.assign(o, studioOptions(f));
  const glass = glassFromFlags(f);
  if (glass !== undefined) o.glass = glass;
  return o;
}

async function runSegment(f: CommonFlags, io: CliIO, lib: CliLibrary): Promise<void> {
  await checkWritable(f.out);
  const result = await lib().segment(commonOptions(f));
  const png = await encodeImage({ data: result.alpha, width: result.width, height: result.height, channels: 1 }, 'png');
  const out = path.resolve(f.out);
  await writeFileAtomic(out, png);
  if (f.json) {
    io.stdout(
      `${JSON.stringify({
        command: 'segment',
        input: f.in,
        output: out,
        width: result.width,
        height: result.height,
        model: result.model,
        ...(result.studio ? { studio: result.studio } : {}),
        metrics: result.metrics,
      })}\n`,
    );
  }
}

async function runCleanup(f: CleanupFlags, io: CliIO, lib: CliLibrary): Promise<void> {
  const options: CleanupOptions = { ...commonOptions(f), output: f.out, mode: f.mode };
  if (f.color !== undefined) options.color = f.color;
  if (f.enhanceFg) options.enhanceFg = true;
  if (f.format !== undefined) options.format = f.format as CleanupOptions['format'];
  if (f.quality !== undefined) options.quality = f.quality;
  if (f.maskOut) await checkWritable(f.maskOut);
  const result = await lib().cleanup(options);
  let mask: string | undefined;
  if (f.maskOut) {
    mask = path.resolve(f.maskOut);
    await writeFileAtomic(mask, result.artifacts.mask);
  }
  if (f.json) io.stdout(`${JSON.stringify(resultJson(result, f.in, mask ?? null))}\n`);
}

/** Builds the program; actions report through `io`. */
export function buildProgram(io: CliIO = defaultIO, lib: CliLibrary = cliLibrary()): Command {
  const program = new Command('bg-native')
    .description('Offline background removal: cut the subject out of a photo, or put it on a new background.')
    .version(version, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(`bg-native: E_BAD_INPUT: ${s.replace(/^error: /, '').trim()}\n`),
    })
    .exitOverride()
    .addHelpText(
      'after',
      [
        '',
        'Without a command, bg-native runs `replace`:',
        '  bg-native --in chair.jpg --out chair.png',
        '  bg-native --in chair.jpg --out chair.jpg --preset vitrinealu --prompt-type garden --json',
        "  bg-native --in 'photos/*.jpg' --out out/ --concurrency 2     a batch: a folder or a quoted glob",
        '  bg-native replace --help     all replace options',
        '  bg-native presets            the presets and their prompt types',
        '  bg-native models             the segmentation models found (family, input size, licence)',
      ].join('\n'),
    );

  registerReplaceCommand(program, io, lib);

  addCommon(
    program
      .command('segment')
      .description('write the subject mask: an 8-bit greyscale PNG, same size as the photo')
      .exitOverride(),
  ).action(async (flags: CommonFlags) => runSegment(flags, io, lib));

  addCommon(
    program
      .command('cleanup')
      .description('remove the background (transparent) or replace it (color, blur, gradient)')
      .exitOverride(),
  )
    .addOption(
      new Option('--mode <mode>', 'what goes behind the subject')
        .choices(['transparent', 'color', 'blur', 'gradient'])
        .default('transparent'),
    )
    .option(
      '-c, --color <color>',
      "background colour for --mode color/gradient: '#rgb', '#rrggbb', 'rgb(r,g,b)' or a name (default white)",
    )
    .option('--mask-out <file>', 'also write the mask (8-bit greyscale PNG)')
    .option('--enhance-fg', 'auto levels + mild sharpening on the subject only')
    .addOption(
      new Option('--format <fmt>', 'output format (default: from --out extension, else png)').choices([
        'png',
        'jpeg',
        'jpg',
        'webp',
      ]),
    )
    .option('--quality <q>', 'JPEG/WebP quality 1-100 (default 90)', positiveInt('--quality'))
    .action(async (flags: CleanupFlags) => runCleanup(flags, io, lib));

  registerServeCommands(program, io);
  registerPresetsCommand(program, io, lib);
  registerModelsCommand(program, io);

  return program;
}

/** Runs the CLI on `argv` (as process.argv); resolves with the exit status. */
export async function main(argv: string[] = process.argv, io: CliIO = defaultIO): Promise<number> {
  const program = buildProgram(io);
  if (argv.length <= 2) {
    io.stdout(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        return EXIT_OK;
      }
      return EXIT_USAGE;
    }
    if (err instanceof CliExit) return err.status; // the action printed its own report
    const e = err instanceof BgNativeError ? err : toBgError(err);
    const line = e.message.split('\n')[0]!.trim();
    io.stderr(`bg-native: ${e.code}: ${line}\n`);
    // Details (the addon's fixes, each invalid preset field, …) follow the one-line error.
    const details = e.message.split('\n').slice(1).join('\n').trimEnd();
    if (details) io.stderr(`${details}\n`);
    return e.code === 'E_CANCELLED' ? EXIT_CANCELLED : EXIT_FAILED;
  }
}
