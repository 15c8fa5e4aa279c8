/**
 * A process-wide cache of loaded native models (segmenters, diffusion models): one load per key,
 * shared by every call; a failed load is forgotten so the next call tries again; `clear()`
 * disposes everything it holds.
 */
export class LoadCache<T extends { dispose(): void }> {
  private readonly entries = new Map<string, Promise<T>>();
  private readonly users = new Map<string, number>();
  private readonly letGoWhenIdle = new Set<string>();

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

  /**
   * get(), with the caller counted as a user of the entry until it calls `release` (once): a
   * letGoIdle() meanwhile disposes the entry only when its last lease ends.
   */
  lease(key: string, load: () => Promise<T>): { value: Promise<T>; release(): void } {
    const value = this.get(key, load);
    this.users.set(key, (this.users.get(key) ?? 0) + 1);
    let done = false;
    return {
      value,
      release: () => {
        if (done) return;
        done = true;
        const left = (this.users.get(key) ?? 1) - 1;
        if (left > 0) {
          this.users.set(key, left);
          return;
        }
        this.users.delete(key);
        if (this.letGoWhenIdle.delete(key)) this.drop(key);
      },
    };
  }

  /**
   * Disposes and forgets the models no lease holds now, and marks the others to go as their last
   * lease ends: their memory is wanted for something else (a local generation). The next get()
   * loads them again.
   */
  letGoIdle(): void {
    for (const key of [...this.entries.keys()]) {
      if (this.users.has(key)) this.letGoWhenIdle.add(key);
      else this.drop(key);
    }
  }

  private drop(key: string): void {
    const p = this.entries.get(key);
    if (!p) return;
    this.entries.delete(key);
    p.then(
      (m) => m.dispose(),
      () => undefined, // a failed load holds nothing
    );
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
