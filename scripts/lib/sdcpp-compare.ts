/**
 * bench:diffusion --sdcpp: our component timings beside stable-diffusion.cpp's on the same file,
 * size, steps and threads, as a table and as JSON. Ratios are ours / sd.cpp: below 1 we are faster.
 */
import path from 'node:path';

import { type Machine, describeMachine } from './machine.js';
import { type SdcppRun, runSdcpp } from './sdcpp-run.js';

/** The fields of one of our bench results that the comparison reads. */
export interface OursTimings {
  model: string;
  size: number;
  steps: number;
  threads: number;
  precision?: string;
  unet_step_warm_s: number;
  vae_decode_s: number;
  text_encode_s: number;
  peak_rss_mb: number;
  /** Load average (1 min) just before our run and just after sd.cpp's. */
  load_before?: number;
  load_after?: number;
}

export interface Comparison {
  ours: OursTimings;
  sdcpp: SdcppRun;
  unet_step_ratio: number;
  vae_decode_ratio: number;
  text_encode_ratio: number;
}

export const BENCH_PROMPT = { prompt: 'a photo of a wooden table in a bright kitchen', negativePrompt: 'blurry' };

/** Runs sd.cpp once per (file, size), however many of our runs (precisions) share it. */
export class SdcppRuns {
  private readonly runs = new Map<string, SdcppRun>();
  constructor(
    private readonly binary: string,
    private readonly extraArgs: string[],
  ) {}

  async compare(ours: OursTimings): Promise<Comparison> {
    const key = `${ours.model}\n${ours.size}`;
    let run = this.runs.get(key);
    if (!run) {
      run = await runSdcpp({
        binary: this.binary,
        model: ours.model,
        size: ours.size,
        steps: ours.steps,
        threads: ours.threads,
        ...BENCH_PROMPT,
        extraArgs: this.extraArgs,
      });
      this.runs.set(key, run);
    }
    return {
      ours,
      sdcpp: run,
      unet_step_ratio: ours.unet_step_warm_s / run.unet_step_warm_s,
      vae_decode_ratio: ours.vae_decode_s / run.vae_decode_s,
      text_encode_ratio: ours.text_encode_s / run.text_encode_s,
    };
  }
}

/** sd-cli's arguments with the model and output paths shown as <model> / <out>, quoted where they have spaces. */
function shownArgs(args: string[]): string {
  return args
    .map((a, i) => (args[i - 1] === '-m' ? '<model>' : args[i - 1] === '-o' ? '<out>' : /\s/.test(a) ? `"${a}"` : a))
    .join(' ');
}

export function comparisonTable(rows: Comparison[], m: Machine): string {
  const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const first = rows[0]?.sdcpp;
  const out = [
    '',
    `ours vs stable-diffusion.cpp — ${describeMachine(m)}`,
    `sd.cpp: ${first ? `${first.binary} (${first.version}), ${shownArgs(first.args)}` : '—'}`,
    'UNet step = one sampling step with CFG 7.5 (cond + uncond), warm mean over the steps after the first; ' +
      'ratio = ours / sd.cpp',
    '',
    'file                         size  prec   UNet step s  sd.cpp s  ratio   VAE decode s  sd.cpp s  ' +
      'ratio   text s  sd.cpp s' +
      '   peak RSS MiB  sd.cpp MiB   load avg',
  ];
  for (const r of rows) {
    const o = r.ours,
      s = r.sdcpp;
    out.push(
      [
        path.basename(o.model).slice(0, 28).padEnd(28),
        String(o.size).padStart(4),
        (o.precision ?? 'f32').padStart(5),
        f(o.unet_step_warm_s).padStart(13),
        f(s.unet_step_warm_s).padStart(9),
        f(r.unet_step_ratio, 3).padStart(6),
        f(o.vae_decode_s).padStart(14),
        f(s.vae_decode_s).padStart(9),
        f(r.vae_decode_ratio, 3).padStart(6),
        f(o.text_encode_s).padStart(8),
        f(s.text_encode_s).padStart(9),
        f(o.peak_rss_mb, 0).padStart(14),
        f(s.peak_rss_mb, 0).padStart(11),
        `${f(o.load_before ?? NaN)} → ${f(o.load_after ?? NaN)}`.padStart(13),
      ].join(' '),
    );
  }
  return out.join('\n');
}
