/**
 * Sidecar JSON edits that leave the rest of the file as it was, byte for byte: one top-level
 * member is replaced (or appended) in the text itself, so key order, number spellings (1.0,
 * 1e3, integers past 2^53), escapes, whitespace and line endings of every other field survive —
 * a parse + stringify round trip would change all of these.
 */
import { BgNativeError } from '../errors.js';

interface Member {
  key: string;
  /** Where the member's key string starts. */
  keyStart: number;
  valueStart: number;
  valueEnd: number;
}

interface TopLevel {
  open: number;
  close: number;
  members: Member[];
}

const WS = new Set([' ', '\t', '\n', '\r']);

function skipWs(t: string, i: number): number {
  while (i < t.length && WS.has(t[i]!)) i++;
  return i;
}

function skipString(t: string, i: number): number {
  // t[i] === '"'
  for (i++; i < t.length; i++) {
    const c = t[i];
    if (c === '\\') i++;
    else if (c === '"') return i + 1;
  }
  return i;
}

/** End of the JSON value starting at i (the text is known to be valid JSON). */
function skipValue(t: string, i: number): number {
  const c = t[i];
  if (c === '"') return skipString(t, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (; i < t.length; i++) {
      const d = t[i];
      if (d === '"') {
        i = skipString(t, i) - 1;
      } else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return i;
  }
  while (i < t.length && !WS.has(t[i]!) && t[i] !== ',' && t[i] !== '}' && t[i] !== ']') i++;
  return i;
}

function scan(t: string): TopLevel {
  const open = skipWs(t, t.charCodeAt(0) === 0xfeff ? 1 : 0);
  const members: Member[] = [];
  let i = skipWs(t, open + 1);
  if (t[i] === '}') return { open, close: i, members };
  for (;;) {
    const keyStart = i;
    const keyEnd = skipString(t, i);
    const key = JSON.parse(t.slice(keyStart, keyEnd)) as string;
    i = skipWs(t, keyEnd) + 1; // ':'
    const valueStart = skipWs(t, i);
    const valueEnd = skipValue(t, valueStart);
    members.push({ key, keyStart, valueStart, valueEnd });
    i = skipWs(t, valueEnd);
    if (t[i] === ',') {
      i = skipWs(t, i + 1);
      continue;
    }
    return { open, close: i, members };
  }
}

/** Parses sidecar text: must be a JSON object. Errors name the file and what is wrong. */
export function parseSidecar(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `The sidecar ${where} is not valid JSON (${(err as Error).message}); fix or regenerate it — it was ` +
        'left untouched.',
      { cause: err },
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BgNativeError(
      'E_BAD_INPUT',
      `The sidecar ${where} must hold a JSON object, not ` +
        `${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}; it was left untouched.`,
    );
  }
  return value as Record<string, unknown>;
}

/** The whitespace a line starts with, for the line holding position `at`. */
function lineIndent(t: string, at: number): string | undefined {
  let s = at;
  while (s > 0 && (t[s - 1] === ' ' || t[s - 1] === '\t')) s--;
  if (s > 0 && t[s - 1] !== '\n') return undefined; // not at the start of a line: a one-line object
  return t.slice(s, at);
}

/**
 * Sets the top-level member `key` of the JSON object in `text` to `value`: replaced where it
 * stands (the last one, if the key repeats — the one JSON.parse reads), or appended after the
 * last member, written in the file's own indentation and line endings. Every other byte is kept.
 */
export function setTopLevelMember(text: string, key: string, value: unknown, where = 'the sidecar'): string {
  parseSidecar(text, where);
  const top = scan(text);
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const first = top.members[0];
  const unit = first ? lineIndent(text, first.keyStart) : '  ';
  const oneLine = unit === undefined || (first !== undefined && unit === '');
  const render = (indent: string): string => {
    if (oneLine) return JSON.stringify(value);
    return JSON.stringify(value, null, unit!.includes('\t') ? '\t' : unit!.length || 2)
      .split('\n')
      .join(nl + indent);
  };
  const existing = [...top.members].reverse().find((m) => m.key === key);
  if (existing) {
    const indent = lineIndent(text, existing.keyStart) ?? '';
    return text.slice(0, existing.valueStart) + render(indent) + text.slice(existing.valueEnd);
  }
  const member = `${JSON.stringify(key)}: `;
  const last = top.members.at(-1);
  if (!last) {
    const inner =
      oneLine || unit === undefined
        ? ` ${member}${JSON.stringify(value)} `
        : `${nl}${unit}${member}${render(unit)}${nl}`;
    return text.slice(0, top.open + 1) + inner + text.slice(top.close);
  }
  if (oneLine) return `${text.slice(0, last.valueEnd)}, ${member}${render('')}${text.slice(last.valueEnd)}`;
  return `${text.slice(0, last.valueEnd)},${nl}${unit}${member}${render(unit!)}${text.slice(last.valueEnd)}`;
}
