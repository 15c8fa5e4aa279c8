/**
 * `bg-native models`: the segmentation models found in rembg's folder ($U2NET_HOME, else
 * $XDG_DATA_HOME/.u2net, else ~/.u2net) and in bg-native's cache folder, each with its family,
 * input size and licence note; `--all` also lists the names bg-native knows but did not find.
 */
import type { Command } from 'commander';

import { CATALOG } from '../models/catalog.js';
import { listModelsIn } from '../models/list.js';
import { cacheDir, u2netHome } from '../models/resolve.js';
import type { CliIO } from './io.js';

interface ModelsFlags {
  json?: boolean;
  all?: boolean;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('');
  return `${rows.map((r) => line(r).trimEnd()).join('\n')}\n`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
}

export function registerModelsCommand(program: Command, io: CliIO, env: NodeJS.ProcessEnv = process.env): Command {
  const dirs = [u2netHome(env), cacheDir(env)];
  return program
    .command('models')
    .description('list the segmentation models found (family, input size, licence)')
    .option('--json', 'print JSON instead')
    .option('--all', 'also list the model names bg-native knows, found or not')
    .exitOverride()
    .addHelpText(
      'after',
      [
        '',
        'Models are looked up by name (--model birefnet-general, --model sam, …) in:',
        ...dirs.map((d) => `  ${d}`),
        'under the file names rembg gives them. Nothing is downloaded.',
      ].join('\n'),
    )
    .action(async (flags: ModelsFlags) => {
      const found = await listModelsIn(dirs);
      const known = flags.all
        ? CATALOG.filter((e) => !found.some((m) => m.name === e.name)).map((e) => ({
            name: e.name,
            family: e.family,
            inputSize: [...e.size] as [number, number],
            licence: e.licence,
            files: e.decoders ? e.files.map((f, i) => `${f} + ${e.decoders![i]}`) : [...e.files],
          }))
        : [];
      if (flags.json) {
        io.stdout(`${JSON.stringify(flags.all ? { found, missing: known } : found, null, 2)}\n`);
        return;
      }
      if (found.length === 0) {
        io.stdout(`No segmentation models found in ${dirs.join(' or ')}.\n`);
      } else {
        const rows = [['NAME', 'FAMILY', 'INPUT', 'SIZE', 'LICENCE', 'FILE']];
        for (const m of found) {
          let file = m.file;
          if (typeof m.decoder === 'object') file += ` (decoder missing: ${m.decoder.missing})`;
          rows.push([m.name, m.family, `${m.inputSize[1]}x${m.inputSize[0]}`, megabytes(m.bytes), m.licence, file]);
        }
        io.stdout(table(rows));
      }
      if (flags.all && known.length > 0) {
        io.stdout('\nKnown, not found:\n');
        const rows = [['NAME', 'FAMILY', 'INPUT', 'LICENCE', 'FILES']];
        for (const k of known) {
          rows.push([k.name, k.family, `${k.inputSize[1]}x${k.inputSize[0]}`, k.licence, k.files.join(' | ')]);
        }
        io.stdout(table(rows));
      }
    });
}
