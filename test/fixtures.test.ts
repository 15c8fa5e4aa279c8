/**
 * Reference parity: every fixture manifest under BGN_FIXTURES_DIR runs through the native core
 * and matches diffusers/transformers within the manifest's tolerance. Kinds whose runtime is not
 * built yet are listed once (PENDING_KINDS) and must be the only ones left without a handler.
 */
import { existsSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../src/native.js';
import {
  HANDLERS,
  PENDING_KINDS,
  discoverAllManifests,
  fixturesDir,
  pendingReason,
  resolveFixturePath,
  runManifest,
  summarize,
} from './fixtures/runner.js';
import { readSafetensorsFile } from './fixtures/safetensors.js';

const dir = fixturesDir();
const present = existsSync(dir);
const manifests = present ? discoverAllManifests(dir) : [];
const runnable = manifests.filter((m) => HANDLERS[m.kind] && !pendingReason(m));
const pending = manifests.filter((m) => !HANDLERS[m.kind] || pendingReason(m));
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
    const unhandled = [...new Set(pending.filter((m) => !HANDLERS[m.kind]).map((m) => m.kind))].sort();
    expect(unhandled).toEqual(PENDING_KINDS.filter((k) => unhandled.includes(k)).sort());
  });

  it('the native safetensors reader agrees with the reference reader on every fixture tensor file', async () => {
    const read = (
      loadAddon() as unknown as {
        readSafetensors(
          p: string,
        ): Promise<{ tensors: Record<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint> }> }>;
      }
    ).readSafetensors;
    const files = new Set<string>();
    for (const m of manifests)
      for (const key of ['inputs', 'expected'])
        if (typeof (m.body[key] as { file?: unknown } | undefined)?.file === 'string')
          files.add(resolveFixturePath(dir, (m.body[key] as { file: string }).file));
    expect(files.size).toBeGreaterThan(0);
    for (const file of files) {
      const ours = await read(file);
      const ref = readSafetensorsFile(file);
      expect(Object.keys(ours.tensors).sort(), file).toEqual(Object.keys(ref).sort());
      for (const [name, t] of Object.entries(ref)) {
        const o = ours.tensors[name]!;
        expect([o.dtype, o.shape], `${file} ${name}`).toEqual([t.dtype, t.shape]);
        expect(Array.from(o.data, Number), `${file} ${name}`).toEqual(Array.from(t.data));
      }
    }
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
