/** Per-stage wall-clock timings for result metadata. */
export interface Metrics {
  /** Total wall-clock time of the call, in milliseconds. */
  elapsed_ms: number;
  /** Milliseconds per stage, in the order the stages ran. */
  stages: Record<string, number>;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

export class Timer {
  private readonly start = performance.now();
  private readonly stages = new Map<string, number>();

  add(stage: string, ms: number): void {
    this.stages.set(stage, (this.stages.get(stage) ?? 0) + ms);
  }

  get(stage: string): number | undefined {
    return this.stages.get(stage);
  }

  async time<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(stage, performance.now() - t0);
    }
  }

  timeSync<T>(stage: string, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.add(stage, performance.now() - t0);
    }
  }

  metrics(): Metrics {
    const stages: Record<string, number> = {};
    for (const [k, v] of this.stages) stages[k] = round(v);
    return { elapsed_ms: round(performance.now() - this.start), stages };
  }
}
