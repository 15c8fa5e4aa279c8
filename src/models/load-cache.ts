/**
 * A process-wide cache of loaded native models (segmenters, diffusion models): one load per key,
 * shared by every call; a failed load is forgotten so the next call tries again; `clear()`
 * disposes everything it holds.
 */
export class LoadCache<T extends { dispose(): void }> {
  private readonly entries = new Map<string, Promise<T>>();

  get(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.entries.get(key);
    if (!p) {
      p = load();
      this.entries.set(key, p);
      const mine = p;
      p.catch(() => {
        if (this.entries.get(key) === mine) this.entries.delete(key);
      });
    }
    return p;
  }

  /** Disposes and forgets every loaded model; the next get() loads again. */
  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const p of all) {
      try {
        (await p).dispose();
      } catch {
        // A failed load holds nothing.
      }
    }
  }
}
