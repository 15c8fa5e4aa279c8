/**
 * A `bg-native serve` child process as the benchmarks drive it: its output collected, and its
 * address once it prints `listening on <url>`.
 */
import type { ChildProcess } from 'node:child_process';

export interface ServingChild {
  url: string;
  /** Everything the child printed so far (stdout and stderr). */
  output(): string;
}

/** Resolves with the address the child listens on; throws with its output if it exits or takes over `timeoutMs`. */
export async function untilListening(child: ChildProcess, timeoutMs = 60_000): Promise<ServingChild> {
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const started = Date.now();
  let m: RegExpExecArray | null;
  while (!(m = /listening on (\S+)/.exec(out))) {
    if (child.exitCode !== null || Date.now() - started > timeoutMs) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: m[1]!, output: () => out };
}
