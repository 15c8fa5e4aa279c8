/**
 * The Node options a worker thread starts with. A worker inherits the process's `execArgv` by
 * default, and some of those options describe only how the main script was given: with
 * `--input-type` (`node --input-type=module -e …`, or code piped on stdin) every worker fails to
 * load its file (ERR_INPUT_TYPE_NOT_ALLOWED). Those are left out; loaders, `--require`/`--import`,
 * memory and diagnostic flags are kept.
 */

/** Options that take the next argument as their value when not written `--opt=value`. */
const WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '-pe', '--input-type']);

function isEntryOnly(name: string): boolean {
  return WITH_VALUE.has(name) || name === '-i' || name === '--interactive';
}

/** `execArgv` without the options that only apply to the main entry point. */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!isEntryOnly(name)) {
      out.push(arg);
      continue;
    }
    if (eq < 0 && WITH_VALUE.has(name)) i++;
  }
  return out;
}
