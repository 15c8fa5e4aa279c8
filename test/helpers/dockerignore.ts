/**
 * `.dockerignore` as Docker reads it: one pattern a line (`#` comments), relative to the context
 * root, `*` and `?` within one path segment, `**` across segments, `!` re-includes; the last
 * matching line decides, and a pattern that matches a folder leaves out everything inside it.
 */

interface Rule {
  pattern: string;
  re: RegExp;
  include: boolean;
}

function toRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      const slashAfter = pattern[i + 2] === '/';
      re += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[' || c === '\\')
      throw new Error(`.dockerignore: character classes and escapes are not used here (${pattern})`);
    else re += c.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): Rule[] {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const include = line.startsWith('!');
    const pattern = (include ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
    if (pattern) rules.push({ pattern, re: toRegExp(pattern), include });
  }
  return rules;
}

/** True when the context path `rel` (e.g. `native/addon/addon.cpp`) is left out of the build context. */
export function isExcluded(rules: readonly Rule[], rel: string): boolean {
  const parts = rel.replace(/^\.\//, '').replace(/\/+$/, '').split('/');
  let excluded = false;
  for (const rule of rules) {
    // The path itself or one of the folders above it.
    const hit = parts.some((_, i) => rule.re.test(parts.slice(0, i + 1).join('/')));
    if (hit) excluded = !rule.include;
  }
  return excluded;
}
