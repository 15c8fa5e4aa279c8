/**
 * `bg-native presets [name]`: the presets replace can use (built-in, BG_PRESET_DIRS, --preset-dir),
 * as a table or JSON; one preset as YAML (its file, validated, defaults filled in) or JSON.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';

import type { CliIO } from './io.js';
import type { CliLibrary } from './library.js';

interface PresetsFlags {
  json?: boolean;
  presetDir?: string[];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2)))
        .join('')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export function registerPresetsCommand(program: Command, io: CliIO, lib: CliLibrary): Command {
  return program
    .command('presets')
    .description('list the presets (name, prompt types, description), or show one')
    .argument('[name]', 'show this preset (YAML, or JSON with --json)')
    .option('--json', 'print JSON instead')
    .option(
      '--preset-dir <dir>',
      'extra folder of preset .yaml files (repeatable; also env BG_PRESET_DIRS)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .exitOverride()
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  bg-native presets                      the table',
        '  bg-native presets vitrinealu           ' +
          'one preset as YAML: prompts per type, generation, background, compositing',
        '  bg-native presets --json               [{ name, description, promptTypes, defaultPromptType, file }]',
        '  bg-native --in a.jpg --out a.png --preset vitrinealu --prompt-type garden',
      ].join('\n'),
    )
    .action((name: string | undefined, flags: PresetsFlags) => {
      const source = flags.presetDir?.length ? { presetDirs: flags.presetDir } : {};
      if (name !== undefined) {
        const p = lib().getPresetFile(name, source);
        if (flags.json) io.stdout(`${JSON.stringify({ file: p.file, ...p.data }, null, 2)}\n`);
        else io.stdout(`# ${p.file}\n${stringify(p.data, { lineWidth: 100 })}`);
        return;
      }
      const all = lib()
        .listPresets(source)
        .map((n) => {
          const { file, data } = lib().getPresetFile(n, source);
          const promptTypes = data.prompts ? Object.keys(data.prompts) : [];
          const defaultPromptType = data.defaultPromptType ?? (data.prompt === undefined ? promptTypes[0] : undefined);
          return {
            name: data.name,
            description: data.description,
            promptTypes,
            ...(defaultPromptType !== undefined ? { defaultPromptType } : {}),
            file,
          };
        });
      if (flags.json) {
        io.stdout(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      const rows = [['NAME', 'PROMPT TYPES', 'DESCRIPTION']];
      for (const p of all) {
        const types = p.promptTypes.map((t) => (t === p.defaultPromptType ? `${t}*` : t)).join(' ') || '-';
        rows.push([p.name, types, p.description]);
      }
      io.stdout(table(rows));
      io.stdout(
        '\n* default prompt type. `bg-native presets <name>` shows one; ' +
          'use it with --preset <name> [--prompt-type <type>].\n',
      );
    });
}
