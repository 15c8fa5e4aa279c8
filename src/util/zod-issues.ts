/**
 * One formatter for zod's issues, for every place that turns a failed parse into a message a
 * person reads (the library's options, preset files and their overrides). Each caller words its
 * lines (what an unknown key is called, where the value goes); the walk over the issues, the value
 * each issue points at and the way a value is shown are the same everywhere.
 */
import type { z } from 'zod';

export type ZodIssue = z.ZodError['issues'][number];

/**
 * How a given value is shown in a message. Containers: 'typeof' names the JS type ('object'), as
 * the library's options do; 'shape' says 'a list of 3' / 'a mapping', as YAML presets do.
 */
export function describeValue(v: unknown, containers: 'typeof' | 'shape' = 'typeof'): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (containers === 'shape') {
    if (Array.isArray(v)) return `a list of ${v.length}`;
    return typeof v === 'object' ? 'a mapping' : typeof v;
  }
  if (v instanceof Uint8Array) return `a ${v.byteLength}-byte buffer`;
  return typeof v;
}

/** The value at `path` inside `root` (undefined where the path leaves the objects). */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** How one caller words its lines. */
export interface IssueWording {
  /** The lines for keys the schema does not know, found in the object at `path`. */
  unknownKeys(keys: readonly string[], path: readonly PropertyKey[]): string[];
  /**
   * The line for any other issue: `field` is the dotted path ('' at the root), `message` zod's
   * message without its "Invalid input: " lead, `given` the value found at the path.
   */
  issue(issue: ZodIssue, field: string, message: string, given: unknown): string;
}

/** The lines for a failed parse of `raw`, one or more per issue, in zod's order. */
export function issueLines(error: z.ZodError, raw: unknown, wording: IssueWording): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return wording.unknownKeys(issue.keys, issue.path);
    const field = issue.path.map(String).join('.');
    const message = issue.message.replace(/^Invalid input: /, '');
    return [wording.issue(issue, field, message, valueAt(raw, issue.path))];
  });
}
