/**
 * The studio modes' files in a client call: `cleanPlate` and `second: { input, cleanPlate }`,
 * each a path (sent as a server path; read and uploaded with `upload: true`), bytes (uploaded as
 * the multipart files `cleanPlate`, `secondInput`, `secondCleanPlate`) or `{ url }` (the server
 * downloads it).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { BackgroundApiError } from './errors.js';
import type { ImageBytes, StudioFile, StudioFiles } from './types.js';

export interface StudioParts {
  /** …Path / …Url body fields. */
  fields: Record<string, string>;
  /** Multipart files: field, bytes, file name. */
  files: [string, Blob, string][];
}

/** Buffer, Uint8Array, ArrayBuffer or Blob. */
export function isBytes(v: unknown): v is ImageBytes {
  return v instanceof Uint8Array || v instanceof ArrayBuffer || (typeof Blob !== 'undefined' && v instanceof Blob);
}

/** Each role as the call names it, in messages. */
const FIELD_NAMES = { cleanPlate: 'cleanPlate', secondInput: 'second.input', secondCleanPlate: 'second.cleanPlate' };

/** The body fields and uploads of the studio files (none when there are none). */
export async function studioParts(s: StudioFiles, uploadPaths: boolean): Promise<StudioParts> {
  const parts: StudioParts = { fields: {}, files: [] };
  const second = s.second as { input?: unknown; cleanPlate?: unknown } | null | undefined;
  if (second !== undefined && (second === null || typeof second !== 'object' || !second.input || !second.cleanPlate)) {
    const message = 'second must be { input, cleanPlate }: the second shot and its clean plate together.';
    throw new BackgroundApiError('E_BAD_INPUT', message);
  }
  type Role = 'cleanPlate' | 'secondInput' | 'secondCleanPlate';
  const roles: [Role, StudioFile | undefined][] = [
    ['cleanPlate', s.cleanPlate],
    ['secondInput', s.second?.input],
    ['secondCleanPlate', s.second?.cleanPlate],
  ];
  for (const [role, f] of roles) {
    if (f === undefined) continue;
    const field = FIELD_NAMES[role];
    if (typeof f === 'string') {
      if (f.trim() === '') throw new BackgroundApiError('E_BAD_INPUT', `${field} must be a non-empty path.`);
      const abs = path.resolve(f);
      if (!uploadPaths) parts.fields[`${role}Path`] = abs;
      else {
        let bytes: Buffer;
        try {
          bytes = await readFile(abs);
        } catch (err) {
          const message = `Cannot read ${abs} (${field}) to upload it: ${(err as Error).message}`;
          throw new BackgroundApiError('E_BAD_INPUT', message, { cause: err });
        }
        parts.files.push([role, new Blob([new Uint8Array(bytes)]), path.basename(abs)]);
      }
    } else if (isBytes(f)) {
      parts.files.push([role, f instanceof Blob ? f : new Blob([new Uint8Array(f as ArrayBuffer)]), `${role}.bin`]);
    } else if (f && typeof f === 'object' && typeof (f as { url?: unknown }).url === 'string') {
      parts.fields[`${role}Url`] = (f as { url: string }).url;
    } else {
      const message = `${field} must be a path, bytes (Buffer, Uint8Array, ArrayBuffer, Blob) or { url }.`;
      throw new BackgroundApiError('E_BAD_INPUT', message);
    }
  }
  return parts;
}
