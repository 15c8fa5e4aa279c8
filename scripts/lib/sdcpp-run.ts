/**
 * Runs stable-diffusion.cpp's command-line program (`sd-cli`, formerly `sd`) on a checkpoint as a
 * measuring stick for bench:diffusion, and reads its timings from its log. It is never a
 * dependency: the user builds it and passes the binary's path.
 *
 * The run: txt2img, `--steps N --cfg-scale 7.5 --sampling-method euler -H S -W S -t T -s 1`, the same
 * prompt and negative prompt as our bench, plus any extra arguments (e.g. --diffusion-fa). What its
 * log gives:
 *   per step   the progress line "k/N - X.XXs/it" (or "it/s"), once per sampling step; the first
 *              one also counts the graph's set-up, so the warm mean is taken over the later ones
 *   sampling   "sampling completed, taking Xs" (all steps)
 *   text       "get_learned_condition completed, taking Xs" (prompt + negative, weights loaded lazily)
 *   decode     "decode_first_stage completed, taking Xs" (one VAE decode; the VAE's weights are
 *              loaded lazily inside it, a fraction of a second from the page cache)
 *   total      "generate_image completed in Xs"
 * Peak RSS: VmHWM from /proc/<pid>/status, read every 100 ms while it runs (Linux).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SdcppRun {
  binary: string;
  version: string;
  args: string[];
  size: number;
  steps: number;
  threads: number;
  /** Every step's seconds as the progress line reports them. */
  steps_s: number[];
  /** Mean over the steps after the first (all of them when there is one). */
  unet_step_warm_s: number;
  sampling_s: number;
  text_encode_s: number;
  vae_decode_s: number;
  total_s: number;
  peak_rss_mb: number;
}

export interface SdcppOptions {
  binary: string;
  model: string;
  size: number;
  steps: number;
  threads: number;
  prompt: string;
  negativePrompt: string;
  extraArgs?: string[];
}

const num = (re: RegExp, text: string): number => {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
};

/** Seconds per step from the log's progress lines ("k/N - 3.21s/it" or "k/N - 1.50it/s"). */
export function parseSteps(log: string, steps: number): number[] {
  const bySteps = new Map<number, number>();
  const re = /(\d+)\/(\d+) - ([\d.]+)(s\/it|it\/s)/g;
  for (const m of log.matchAll(re)) {
    if (Number(m[2]) !== steps) continue;
    const v = Number(m[3]);
    bySteps.set(Number(m[1]), m[4] === 's/it' ? v : 1 / v);
  }
  return [...bySteps.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

export function parseLog(
  log: string,
  steps: number,
): Omit<SdcppRun, 'binary' | 'version' | 'args' | 'size' | 'steps' | 'threads' | 'peak_rss_mb'> {
  const steps_s = parseSteps(log, steps);
  const warm = steps_s.length > 1 ? steps_s.slice(1) : steps_s;
  return {
    steps_s,
    unet_step_warm_s: warm.length ? warm.reduce((a, b) => a + b, 0) / warm.length : NaN,
    sampling_s: num(/sampling completed, taking ([\d.]+)s/, log),
    text_encode_s: num(/get_learned_condition completed, taking ([\d.]+)s/, log),
    vae_decode_s: num(/decode_first_stage completed, taking ([\d.]+)s/, log),
    total_s: num(/generate_image completed in ([\d.]+)s/, log),
  };
}

function vmHwmMb(pid: number): number {
  try {
    const kb = /VmHWM:\s*(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : 0;
  } catch {
    return 0;
  }
}

function run(
  binary: string,
  args: string[],
  onPid?: (pid: number) => void,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', reject);
    if (child.pid !== undefined) onPid?.(child.pid);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(chunks).toString('utf8') }));
  });
}

export async function sdcppVersion(binary: string): Promise<string> {
  const r = await run(binary, ['--version']).catch(() => ({ code: 1, out: '' }));
  return (
    r.out
      .split('\n')
      .find((l) => /version|commit/i.test(l))
      ?.trim() ?? 'unknown'
  );
}

export async function runSdcpp(o: SdcppOptions): Promise<SdcppRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bgn-sdcpp-'));
  const args = [
    '-m',
    o.model,
    '-p',
    o.prompt,
    '-n',
    o.negativePrompt,
    '--steps',
    String(o.steps),
    '--cfg-scale',
    '7.5',
    '--sampling-method',
    'euler',
    '-H',
    String(o.size),
    '-W',
    String(o.size),
    '-t',
    String(o.threads),
    '-s',
    '1',
    '-o',
    path.join(dir, 'out.png'),
    ...(o.extraArgs ?? []),
  ];
  let peak = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await run(o.binary, args, (pid) => {
      timer = setInterval(() => (peak = Math.max(peak, vmHwmMb(pid))), 100);
    });
    if (r.code !== 0)
      throw new Error(
        `${o.binary} exited with ${r.code}:\n${r.out
          .split(/[\r\n]+/)
          .slice(-15)
          .join('\n')}`,
      );
    const parsed = parseLog(r.out, o.steps);
    if (!Number.isFinite(parsed.sampling_s))
      throw new Error(`no "sampling completed" line in ${o.binary}'s output; is it stable-diffusion.cpp's CLI?`);
    return {
      binary: o.binary,
      version: await sdcppVersion(o.binary),
      args,
      size: o.size,
      steps: o.steps,
      threads: o.threads,
      ...parsed,
      peak_rss_mb: peak,
    };
  } finally {
    if (timer) clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}
