/**
 * The deep merge of settings objects: preset overrides over a preset, a call's named options over
 * its `overrides`. One set of rules everywhere: plain objects merge key by key, `over` wins,
 * arrays and every other value replace, and `undefined` in `over` leaves the base value.
 */

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Says where an object in `over` replaces the base object whole instead of merging into it
 * (`at`: the keys from the root, e.g. ['generation', 'resolution']).
 */
export type ReplaceWhole = (
  at: readonly string[],
  base: Record<string, unknown>,
  over: Record<string, unknown>,
) => boolean;

/** `over` merged into `base` (neither is changed). */
export function deepMerge(
  base: unknown,
  over: unknown,
  replaceWhole?: ReplaceWhole,
  at: readonly string[] = [],
): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(over) || !isPlainObject(base)) return over;
  if (replaceWhole?.(at, base, over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v, replaceWhole, [...at, k]);
  return out;
}
