// No TypeScript/JavaScript line in the repository over 120 characters (code points, not bytes).
// Biome wraps code at that width; long strings and comments are split by hand. Generated files are exempt.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const EXEMPT = new Set(['src/client/brand-presets.generated.ts']);
const files = execFileSync('git', ['ls-files', '-z', '*.ts', '*.js', '*.mjs', '*.cjs'], { encoding: 'utf8' })
  .split('\0')
  .filter((f) => f && !EXEMPT.has(f) && !f.startsWith('dist/') && !f.startsWith('third_party/'));
const long = [];
for (const file of files) {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const n = [...line].length;
    if (n > LIMIT) long.push(`${file}:${i + 1}: ${n} characters`);
  });
}
if (long.length) {
  console.error(`lint: ${long.length} line(s) over ${LIMIT} characters:\n${long.join('\n')}`);
  process.exit(1);
}
