/**
 * `{{var}}` / `{{a.b}}` / `{{items.0.id}}` templates over a context object, as the seed's JSON
 * workflows write them. Lookup only — nothing between the braces is ever evaluated — and only
 * the context's own properties are visible (no prototype names such as `constructor`).
 *
 *   "{{seed}}"            → the value itself (number, boolean, object …)
 *   "out/{{media.id}}.png" → text, values converted with String() (objects as JSON)
 *
 * Every unknown variable in the whole parameter tree is reported at once, by name and place.
 */
import { BgNativeError } from '../errors.js';

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const WHOLE = /^\{\{([^{}]*)\}\}$/;
const NAME = /^[A-Za-z_$][\w$-]*(?:\.[\w$-]+)*$/;

const MISSING = Symbol('missing');

function lookup(context: Record<string, unknown>, name: string): unknown {
  let cur: unknown = context;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return MISSING;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined ? MISSING : cur;
}

function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

interface Problems {
  unknown: { name: string; where: string }[];
  invalid: { expr: string; where: string }[];
}

function renderString(s: string, context: Record<string, unknown>, where: string, p: Problems): unknown {
  const whole = WHOLE.exec(s);
  if (whole) {
    const name = whole[1]!.trim();
    if (!NAME.test(name)) {
      p.invalid.push({ expr: s, where });
      return s;
    }
    const v = lookup(context, name);
    if (v === MISSING) p.unknown.push({ name, where });
    return v === MISSING ? s : v;
  }
  return s.replace(PLACEHOLDER, (all, inner: string) => {
    const name = inner.trim();
    if (!NAME.test(name)) {
      p.invalid.push({ expr: all, where });
      return all;
    }
    const v = lookup(context, name);
    if (v === MISSING) {
      p.unknown.push({ name, where });
      return all;
    }
    return asText(v);
  });
}

function walk(value: unknown, context: Record<string, unknown>, where: string, p: Problems): unknown {
  if (typeof value === 'string') return renderString(value, context, where, p);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, context, `${where}[${i}]`, p));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, context, `${where}.${k}`, p);
    return out;
  }
  return value;
}

/**
 * Renders every string in `value` against `context`; throws E_BAD_INPUT naming unknown variables and non-variable
 * expressions.
 */
export function renderTemplate<T>(value: T, context: Record<string, unknown>, where = 'parameters'): T {
  const p: Problems = { unknown: [], invalid: [] };
  const out = walk(value, context ?? {}, where, p);
  const parts: string[] = [];
  if (p.invalid.length) {
    parts.push(
      `${p.invalid.map((i) => `\`${i.expr}\` in ${i.where}`).join(', ')} ` +
        `${p.invalid.length > 1 ? 'are not variable names' : 'is not a variable name'}: templates only look ` +
        'values up ({{name}}, {{a.b}}, {{items.0.id}}); nothing is evaluated',
    );
  }
  if (p.unknown.length) {
    const names = [...new Set(p.unknown.map((u) => u.name))];
    const known = Object.keys(context ?? {});
    parts.push(
      `unknown variable${names.length > 1 ? 's' : ''} ` +
        `${p.unknown.map((u) => `\`${u.name}\` (in ${u.where})`).join(', ')}; the context has ` +
        `${known.length ? known.map((k) => `\`${k}\``).join(', ') : 'no variables'}`,
    );
  }
  if (parts.length)
    throw new BgNativeError('E_BAD_INPUT', `Cannot fill the workflow node's templates: ${parts.join('; ')}.`);
  return out as T;
}
