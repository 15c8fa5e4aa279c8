/**
 * `inputPath` is read only when it resolves — symlinks followed — to a file inside one of the
 * configured INPUT_ROOTS (themselves resolved). Anything else is E_FORBIDDEN (HTTP 403).
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';

import { JobFailure } from '../queue/types.js';

function isInside(child: string, root: string): boolean {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The real path of `input` when it is a file inside a root; throws JobFailure E_FORBIDDEN /
 * E_BAD_INPUT naming `field` (default inputPath).
 */
export function checkInputPath(input: string, roots: readonly string[], field = 'inputPath'): string {
  if (roots.length === 0) {
    throw new JobFailure(
      'E_FORBIDDEN',
      `${field} is disabled on this server: set INPUT_ROOTS to the folders it may read, or upload the file.`,
      false,
    );
  }
  if (input.includes('\0')) throw new JobFailure('E_BAD_INPUT', `${field} contains a NUL byte.`, false);
  if (!path.isAbsolute(input)) {
    throw new JobFailure(
      'E_BAD_INPUT',
      `${field} must be absolute, got ${JSON.stringify(input.slice(0, 200))}.`,
      false,
    );
  }
  const lexical = path.resolve(input);
  const realRoots = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return path.resolve(r);
    }
  });
  const refuse = () =>
    new JobFailure(
      'E_FORBIDDEN',
      `${field} ${JSON.stringify(input.slice(0, 200))} is outside the folders this server may read (INPUT_ROOTS).`,
      false,
    );
  if (!realRoots.some((r) => isInside(lexical, r)) && !roots.some((r) => isInside(lexical, path.resolve(r))))
    throw refuse();
  let real: string;
  try {
    real = realpathSync(lexical);
  } catch {
    throw new JobFailure('E_BAD_INPUT', `${field} ${JSON.stringify(input.slice(0, 200))} does not exist.`, false);
  }
  if (!realRoots.some((r) => isInside(real, r))) throw refuse();
  if (!statSync(real).isFile())
    throw new JobFailure('E_BAD_INPUT', `${field} ${JSON.stringify(input.slice(0, 200))} is not a file.`, false);
  return real;
}
