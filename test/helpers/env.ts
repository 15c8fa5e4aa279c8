/** Environment variables a test changes, put back as they were afterwards. */
export interface EnvSnapshot {
  /** Restores every snapshotted variable (unset again if it was unset). */
  restore(): void;
}

/** Records `keys` as they are now; with `clear`, unsets them until restore(). */
export function snapshotEnv(keys: readonly string[], options: { clear?: boolean } = {}): EnvSnapshot {
  const saved = new Map(keys.map((k) => [k, process.env[k]] as const));
  if (options.clear) for (const k of keys) delete process.env[k];
  return {
    restore() {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
}
