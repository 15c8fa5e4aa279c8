/**
 * The machine a benchmark ran on, for its report: CPU model (/proc/cpuinfo, else os.cpus()),
 * logical cores, memory, the vector/matrix features that decide our kernels (AVX2, AVX-512,
 * AVX512-BF16, AMX) and the load average, which says whether others were using the cores.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { backends } from '../../src/native.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** The features among avx2, avx512f, avx512_bf16, amx_bf16, amx_tile that /proc/cpuinfo lists. */
  features: string[];
  os: string;
  node: string;
  /** The kernel our bf16 precision runs on here (the addon's backends()): amx-bf16, avx512-bf16 or none. */
  bf16Kernel: string;
}

const FEATURES = [
  'avx2',
  'fma',
  'avx512f',
  'avx512bw',
  'avx512_vnni',
  'avx512_bf16',
  'amx_tile',
  'amx_bf16',
  'amx_int8',
];

function cpuinfo(): { model?: string; flags: string[] } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
    const flags = (/^flags\s*:\s*(.+)$/m.exec(text)?.[1] ?? '').split(/\s+/);
    return { model, flags };
  } catch {
    return { flags: [] };
  }
}

function bf16Kernel(): string {
  try {
    return backends().find((b) => b.name === 'cpu')?.bf16 ?? 'unknown';
  } catch {
    return 'unknown (the addon did not load)';
  }
}

export function machine(): Machine {
  const info = cpuinfo();
  return {
    cpu: info.model ?? os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    features: FEATURES.filter((f) => info.flags.includes(f)),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    bf16Kernel: bf16Kernel(),
  };
}

/** 1-, 5- and 15-minute load averages, two decimals. */
export function loadAverage(): [number, number, number] {
  const [a, b, c] = os.loadavg();
  const r = (x = 0) => Math.round(x * 100) / 100;
  return [r(a), r(b), r(c)];
}

export function describeMachine(m: Machine): string {
  return (
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB (${m.features.join(' ') || 'no AVX2'}; bf16 kernel ` +
    `${m.bf16Kernel}); ${m.os}; node ${m.node}`
  );
}
