/**
 * Atomic file output: bytes go to a temporary file in the destination folder, which is then
 * renamed over the destination. Readers never see a half-written file, and a failure leaves no
 * partial file behind.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

import { BgNativeError } from '../errors.js';

function ioError(err: unknown, dest: string, dir: string): BgNativeError {
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new BgNativeError(
        'E_IO',
        `Output folder does not exist: ${dir} (create it first, or choose another --out)`,
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new BgNativeError(
        'E_IO',
        `Cannot write to ${dir} (permission denied or read-only); choose another output folder.`,
        { cause: err },
      );
    case 'ENOSPC':
      return new BgNativeError('E_IO', `No space left on the device while writing ${dest}.`, { cause: err });
    case 'EISDIR':
      return new BgNativeError('E_IO', `Output path is a folder, not a file: ${dest}`, { cause: err });
    default:
      return new BgNativeError('E_IO', `Cannot write ${dest}: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
  }
}

/** Checks that `dest` could be written: its folder exists and is a folder, and dest is not a folder. */
export async function checkWritable(dest: string): Promise<void> {
  const dir = path.dirname(path.resolve(dest));
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw ioError(err, dest, dir);
  }
  try {
    if ((await stat(dest)).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(err, dest, dir);
  }
}

/** Writes `data` to `dest` atomically (temp file in the same folder + rename). */
export async function writeFileAtomic(dest: string, data: Uint8Array): Promise<void> {
  const abs = path.resolve(dest);
  const dir = path.dirname(abs);
  const tmp = path.join(dir, `.${path.basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    created = true;
    try {
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
    await rename(tmp, abs);
    created = false;
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw ioError(err, dest, dir);
  }
}
