/**
 * The import graph of src/ as the source text states it: every `import … from`, `export … from`,
 * side-effect `import '…'` and `import('…')` of a relative .js path, mapped to the .ts file it
 * names. Type-only imports count: a room's dependencies are what it names, not what survives
 * compilation.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** file (relative to the root, with '/') → the files it imports (same form). */
export type ImportGraph = Map<string, string[]>;

const STATIC = /^\s*(?:import|export)\b[^;'"]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm;
const SIDE_EFFECT = /^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

export function importGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  const rel = (p: string) => path.relative(root, p).split(path.sep).join('/');
  for (const file of tsFiles(root)) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const re of [STATIC, SIDE_EFFECT, DYNAMIC]) {
      for (const m of text.matchAll(re)) {
        const target = path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts'));
        if (existsSync(target)) targets.add(rel(target));
      }
    }
    graph.set(rel(file), [...targets].sort());
  }
  return graph;
}

/** Each import cycle once, as the files around it (the first one repeated at the end). */
export function importCycles(graph: ImportGraph): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return cycles;
}
