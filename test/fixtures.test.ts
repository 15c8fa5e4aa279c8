/**
 * Reference parity: every fixture manifest under BGN_FIXTURES_DIR runs through the native core
 * and matches diffusers/transformers within the manifest's tolerance. Kinds whose runtime is not
 * built yet are listed once (PENDING_KINDS) and must be the only ones left without a handler.
 */
import { existsSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { HANDLERS, PENDING_KINDS, discoverManifests, fixturesDir, runManifest, summarize } from './fixtures/runner.js';

const dir = fixturesDir();
const present = existsSync(dir);
const manifests = present ? discoverManifests(dir) : [];
const runnable = manifests.filter((m) => HANDLERS[m.kind]);
const pending = manifests.filter((m) => !HANDLERS[m.kind]);
const lines: string[] = [];

describe.runIf(present)(`fixtures in ${dir}`, () => {
  afterAll(() => {
    const kinds = [...new Set(pending.map((m) => m.kind))].sort();
    console.log(
      `${lines.join('\n')}\nfixtures: ${runnable.length} cases run, ${pending.length} not yet supported` +
        (kinds.length ? ` (kinds: ${kinds.join(', ')}: ${pending.map((m) => m.case).join(', ')})` : ''),
    );
  });

  it('finds fixture manifests', () => {
    expect(manifests.length).toBeGreaterThan(0);
  });

  it('leaves only the known pending kinds without a handler (a new kind must be noticed)', () => {
    const unhandled = [...new Set(pending.map((m) => m.kind))].sort();
    expect(unhandled).toEqual(PENDING_KINDS.filter((k) => unhandled.includes(k)).sort());
  });

  for (const m of runnable) {
    it(`${m.kind}: ${m.case} matches the reference within tolerance`, async () => {
      const r = await runManifest(m, dir);
      const line = summarize(m, r);
      lines.push(line);
      expect(r.ok, line).toBe(true);
    });
  }
});

describe.runIf(!present)('fixtures', () => {
  it(`are not present at ${dir} (set BGN_FIXTURES_DIR)`, () => {
    expect(process.env.BGN_FIXTURES_DIR, 'BGN_FIXTURES_DIR is set but does not exist').toBeUndefined();
  });
});
