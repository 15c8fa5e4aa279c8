/** Sub-stage timings of one step (a generator's load/generate/upscale, the compositing chain). */
export interface Stopwatch {
  /** Records the time since the previous lap (or the start) under `name`, in ms to 0.1. */
  lap(name: string): void;
  readonly stages: Record<string, number>;
}

export function stopwatch(): Stopwatch {
  const stages: Record<string, number> = {};
  let t = performance.now();
  return {
    stages,
    lap(name: string) {
      const now = performance.now();
      stages[name] = Math.round((now - t) * 10) / 10;
      t = now;
    },
  };
}
