/**
 * Builds the libFuzzer harnesses (native/fuzz/fuzz_*.cpp, clang + ASan + UBSan) into build-fuzz/
 * and runs each for a bounded time, growing its corpus in build-fuzz/corpus/<name> from the seeds
 * in native/fuzz/corpus/<name>. Prints executions and executions per second per harness, and the
 * running total over every run recorded in build-fuzz/totals.json.
 *
 *   npm run fuzz -- --seconds 60 [--only safetensors,onnx] [--no-build]
 *
 * Any crash, sanitizer report, leak, timeout or out-of-memory is a finding: the input is saved
 * as build-fuzz/findings/<name>-<kind>-<hash> and the command exits 1. Reproduce with
 * `build-fuzz/fuzz/fuzz_<name> <file>`; once fixed, copy the input into
 * native/fuzz/corpus/<name>/regress-<what> so it stays covered.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const buildDir = path.join(root, 'build-fuzz');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'max-len': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) throw new Error('--seconds must be a positive number');

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

const all = readdirSync(path.join(root, 'native', 'fuzz'))
  .filter((f) => /^fuzz_.*\.cpp$/.test(f))
  .map((f) => f.slice('fuzz_'.length, -'.cpp'.length))
  .sort();
const only = values.only ? values.only.split(',').map((s) => s.trim()) : all;
for (const name of only) if (!all.includes(name)) throw new Error(`no harness '${name}' (have: ${all.join(', ')})`);

if (!values['no-build']) {
  if (spawnSync('clang++', ['--version']).status !== 0) throw new Error('clang++ is needed: apt-get install clang');
  run('cmake', [
    '-S',
    root,
    '-B',
    buildDir,
    '-DCMAKE_CXX_COMPILER=clang++',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    '-DBGN_FUZZ=ON',
    '-DBGN_NATIVE_TESTS=OFF',
    '-DBGN_BLAS=OFF',
    '-DBGN_NATIVE_ARCH=OFF',
  ]);
  run('cmake', ['--build', buildDir, '-j', '2', '--target', ...only.map((n) => `fuzz_${n}`)]);
}

const totalsFile = path.join(buildDir, 'totals.json');
type Totals = Record<string, { execs: number; seconds: number; runs: number }>;
const readTotals = (): Totals => (existsSync(totalsFile) ? JSON.parse(readFileSync(totalsFile, 'utf8')) : {});
const totals = readTotals();
const env = {
  ...process.env,
  ASAN_OPTIONS: 'detect_leaks=1:allocator_may_return_null=0:abort_on_error=1',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  // The prompt harness's tokenizer: a real CLIP vocabulary folder when set, else its small built-in one.
  BGN_FUZZ_TOKENIZER: process.env.BGN_FUZZ_TOKENIZER ?? '',
};

// BPE is quadratic in the length of one word, so long prompts are slow under ASan; 1 KiB still
// covers every bracket/weight/BREAK combination. (Prompt length itself is capped by the API.)
const maxLen: Record<string, number> = { prompt: 1024 };

let findings = 0;
for (const name of only) {
  const bin = path.join(buildDir, 'fuzz', `fuzz_${name}`);
  const work = path.join(buildDir, 'corpus', name);
  const seeds = path.join(root, 'native', 'fuzz', 'corpus', name);
  const out = path.join(buildDir, 'findings');
  mkdirSync(work, { recursive: true });
  mkdirSync(out, { recursive: true });
  const args = [
    `-max_total_time=${seconds}`,
    '-print_final_stats=1',
    '-timeout=10',
    '-rss_limit_mb=2048',
    `-artifact_prefix=${out}/${name}-`,
    `-max_len=${values['max-len'] ?? maxLen[name] ?? 4096}`,
    work,
    ...(existsSync(seeds) ? [seeds] : []),
  ];
  const started = Date.now();
  const child = spawn('nice', ['-n', '10', bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const code: number | null = await new Promise((resolve) => child.on('close', resolve));
  const execs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(log)?.[1] ?? 0);
  const rate = Number(/stat::average_exec_per_sec:\s*(\d+)/.exec(log)?.[1] ?? 0);
  const elapsed = (Date.now() - started) / 1000;
  // Re-read first: another `npm run fuzz` may have recorded runs meanwhile.
  Object.assign(totals, readTotals());
  const t = (totals[name] ??= { execs: 0, seconds: 0, runs: 0 });
  t.execs += execs;
  t.seconds += elapsed;
  t.runs += 1;
  writeFileSync(totalsFile, JSON.stringify(totals, null, 2));
  const status = code === 0 ? 'ok' : 'FINDING';
  console.log(
    `${name.padEnd(16)} ${status.padEnd(8)} ${execs.toLocaleString('en').padStart(13)} execs  ` +
      `${rate.toLocaleString('en').padStart(8)} exec/s  total ${t.execs.toLocaleString('en')} in ${t.runs} ` +
      'run(s)',
  );
  if (code !== 0) {
    findings++;
    const logFile = path.join(out, `${name}-${Date.now()}.log`);
    writeFileSync(logFile, log);
    console.log(
      log
        .split('\n')
        .filter((l) => /ERROR|SUMMARY|finding|artifact|#\d+ in /.test(l))
        .slice(0, 30)
        .join('\n'),
    );
    console.log(`  full log: ${path.relative(root, logFile)}`);
  }
}
process.exit(findings ? 1 : 0);
