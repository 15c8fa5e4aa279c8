/**
 * The library context of one CLI run: built from the environment when a command first needs it
 * (so `bg-native --help` never reads a setting), and shared by every call the run makes. It uses
 * the process-wide segmenter cache and pixel pool, which `serve` releases on shutdown.
 */
import { createProcessContext, type BgNative } from '../context/create.js';
import { fromEnv } from '../context/from-env.js';

/** A run's context, made on first use. */
export type CliLibrary = () => BgNative;

export function cliLibrary(env: NodeJS.ProcessEnv = process.env): CliLibrary {
  let lib: BgNative | undefined;
  return () => (lib ??= createProcessContext(fromEnv(env)));
}
