/** Paths shared by tests: the repository root, the shared photos, a scratch folder per test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The project's shared test photos (`../shared/photos` next to the repository). */
export const photosDir = path.resolve(repoRoot, '..', 'shared', 'photos');

export function photo(name: string): string {
  return path.join(photosDir, name);
}

/** A fresh temporary folder; remove it with the returned cleanup function. */
export function tempDir(prefix = 'bgn-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
