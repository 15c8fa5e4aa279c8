/**
 * The process-wide model cache: one load per key, leases that keep a model while a run holds it,
 * and letGoIdle(), which a local generation calls to free the segmentation models' memory: idle
 * models are disposed at once, held ones as their last lease ends, and a later get() loads again.
 */
import { describe, expect, it } from 'vitest';

import { LoadCache } from '../src/models/load-cache.js';

class Model {
  disposed = 0;
  constructor(readonly id: number) {}
  dispose(): void {
    this.disposed++;
  }
}

function counter() {
  let loads = 0;
  const load = async () => new Model(++loads);
  return { load, loads: () => loads };
}

describe('LoadCache', () => {
  it('loads once per key and shares the model', async () => {
    const cache = new LoadCache<Model>();
    const c = counter();
    const [a, b] = await Promise.all([cache.get('k', c.load), cache.get('k', c.load)]);
    expect(a).toBe(b);
    expect(c.loads()).toBe(1);
    expect(await cache.get('other', c.load)).not.toBe(a);
  });

  it('letGoIdle disposes idle models at once and held ones when their last lease ends', async () => {
    const cache = new LoadCache<Model>();
    const c = counter();
    const idle = await cache.get('idle', c.load);
    const l1 = cache.lease('held', c.load);
    const l2 = cache.lease('held', c.load);
    const held = await l1.value;
    expect(await l2.value).toBe(held);
    cache.letGoIdle();
    await Promise.resolve();
    expect(idle.disposed).toBe(1);
    expect(held.disposed).toBe(0);
    l1.release();
    l1.release(); // a second release of one lease counts once
    expect(held.disposed).toBe(0);
    l2.release();
    await Promise.resolve();
    expect(held.disposed).toBe(1);
    // Both are forgotten: the next get() loads again.
    const again = await cache.get('held', c.load);
    expect(again).not.toBe(held);
    expect(again.disposed).toBe(0);
    expect(c.loads()).toBe(3);
  });

  it('a lease ended without a letGoIdle keeps the model cached; a failed load is not cached', async () => {
    const cache = new LoadCache<Model>();
    const c = counter();
    const lease = cache.lease('k', c.load);
    const m = await lease.value;
    lease.release();
    expect(m.disposed).toBe(0);
    expect(await cache.get('k', c.load)).toBe(m);
    let tries = 0;
    const failing = async (): Promise<Model> => {
      tries++;
      throw new Error('no such file');
    };
    const bad = cache.lease('bad', failing);
    await expect(bad.value).rejects.toThrow('no such file');
    bad.release();
    cache.letGoIdle();
    await expect(cache.get('bad', failing)).rejects.toThrow('no such file');
    expect(tries).toBe(2);
  });
});
