/**
 * The rooms of src/ stay clean: no import cycle anywhere (type-only imports included), and the
 * layers point one way — the queue and the webhook sender never import the server.
 */
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { importCycles, importGraph } from './helpers/import-graph.js';
import { repoRoot } from './helpers/paths.js';

const graph = importGraph(path.join(repoRoot, 'src'));

describe('the import graph of src/', () => {
  it('is read from the sources', () => {
    expect(graph.get('server/app.ts')).toContain('server/config.ts');
    expect(graph.get('cli/replace.ts')).toContain('cli/batch.ts'); // a dynamic import('./batch.js')
  });

  it('has no import cycle', () => {
    expect(importCycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('queue/ and webhooks/ do not import server/', () => {
    const upward = [...graph]
      .filter(([file]) => file.startsWith('queue/') || file.startsWith('webhooks/'))
      .flatMap(([file, targets]) => targets.filter((t) => t.startsWith('server/')).map((t) => `${file} → ${t}`));
    expect(upward).toEqual([]);
  });
});
