/**
 * What every `bg-native` command shares: where it writes (CliIO), how an action that printed its
 * own report ends the run (CliExit), the exit statuses, and the --json result line. The command
 * files import this module and never each other, so the CLI has no import loops.
 */
import type { CleanupResult } from '../pipeline/cleanup.js';
import type { ReplaceResult } from '../pipeline/replace.js';
import { toResultMetadata } from '../result-format.js';

/** Where the CLI writes. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: batch mode draws a progress bar instead of one line per photo. */
  isTTY?: boolean;
  /** Width of that terminal. */
  columns?: number;
}

/** Exit statuses: 0 success, 1 the job failed, 2 the command line was wrong, 130 cancelled (Ctrl-C). */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_CANCELLED = 130;

/** Thrown by an action to make main() return this exit status after it printed its own report. */
export class CliExit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
    this.name = 'CliExit';
  }
}

/**
 * The result as printed by --json: the result format (src/result-format.ts; artifacts as absolute
 * paths, `mask: null` without --mask-out) after the CLI's own `command` and `input`, and `output`/
 * `mask` also at the top level as before.
 */
export function resultJson(
  r: ReplaceResult | CleanupResult,
  input: string,
  mask: string | null,
): Record<string, unknown> {
  const output = r.artifacts.output as string;
  const command = 'mode' in r ? 'cleanup' : 'replace';
  return { command, input, output, mask, ...toResultMetadata(r, { output, mask }) };
}
