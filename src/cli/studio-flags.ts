/**
 * The studio modes' flags, shared by segment, cleanup and replace: --clean-plate, --second-in and
 * --second-clean-plate become the options cleanPlate and second.
 */
import { BgNativeError } from '../errors.js';
import type { SegmentOptions } from '../options.js';

export interface StudioFlags {
  cleanPlate?: string | undefined;
  secondIn?: string | undefined;
  secondCleanPlate?: string | undefined;
}

/** --clean-plate / --second-in / --second-clean-plate → cleanPlate / second (the library checks the pair). */
export function studioOptions(f: StudioFlags): Pick<SegmentOptions, 'cleanPlate' | 'second'> {
  if ((f.secondIn === undefined) !== (f.secondCleanPlate === undefined)) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `--${f.secondIn === undefined ? 'second-in' : 'second-clean-plate'} is missing: two-shot matting takes ` +
        'the second shot and its clean plate together.',
    );
  }
  return {
    ...(f.cleanPlate !== undefined ? { cleanPlate: f.cleanPlate } : {}),
    ...(f.secondIn !== undefined && f.secondCleanPlate !== undefined
      ? { second: { input: f.secondIn, cleanPlate: f.secondCleanPlate } }
      : {}),
  };
}
