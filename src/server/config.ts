/**
 * Server configuration: one table of settings, each read from an environment variable (the
 * seeds' names) or the matching `bg-native serve` flag, validated with zod. A bad value is
 * E_CONFIG naming the variable. Secrets (API_TOKEN, APP_WEBHOOK_SECRET, RUNWAY_API_KEY) are
 * kept out of every log line and of `describeConfig()`.
 */
import path from 'node:path';

import { z } from 'zod';

import { fromEnv } from '../context/from-env.js';
import type { BgNativeConfig } from '../context/settings.js';
import { BgNativeError } from '../errors.js';
import { EngineSchema, DeviceSchema } from '../options.js';
import type { QueueSettings } from '../queue/index.js';

/** "500ms", "5s", "5m", "2h", "1d" or a plain number of seconds → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) throw new Error(`must be a duration such as 500ms, 5s, 5m, 2h (got ${JSON.stringify(text)})`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const mult = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return Math.round(n * mult);
}

/** "1mb", "512k", "1048576" → bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb?|mb?|gb?|kib|mib|gib)?\s*$/i.exec(text);
  if (!m) throw new Error(`must be a size such as 1048576, 512kb, 20mb (got ${JSON.stringify(text)})`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Math.round(Number(m[1]) * mult);
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const bool = (s: string) => {
  const v = s.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new Error(`must be true or false (got ${JSON.stringify(s)})`);
};
const int = (s: string) => {
  if (!/^\s*\d+\s*$/.test(s)) throw new Error(`must be a whole number (got ${JSON.stringify(s)})`);
  return Number(s);
};

export const ServerConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(3001),
  host: z.string().min(1).default('0.0.0.0'),
  /** Bearer token every route but /health (when healthPublic) requires. */
  apiToken: z.string().min(1).optional(),
  /** Run without a token: must be asked for explicitly. */
  allowNoAuth: z.boolean().default(false),
  /** /health's liveness answer (`{ status }`) needs no token; false puts it behind the token too. */
  healthPublic: z.boolean().default(true),
  /** Standard Webhooks key: `whsec_<base64>` or raw key text. */
  webhookSecret: z.string().min(1).optional(),
  /** Folders `inputPath` may read (after symlinks). Empty: inputPath is refused. */
  inputRoots: z.array(z.string().min(1)).default([]),
  outputDir: z.string().min(1).default(path.resolve('bg-native-data', 'output')),
  /** Makes artifact URLs absolute, e.g. https://media.example.com/bg. */
  publicBaseUrl: z.url().optional(),
  /**
   * Hosts `callbackUrl` / `inputUrl` may name. Empty: any public host. Otherwise only those listed
   * (`host`, `*.domain`, `*` = any public host). Internal addresses only for hosts listed exactly.
   */
  allowedHosts: z.array(z.string().min(1)).default([]),
  queueDb: z.string().min(1).default(path.resolve('bg-native-data', 'queue.db')),
  /** redis://… → BullMQ instead of the embedded SQLite queue. */
  queueUrl: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  /** Queue name prefix in Redis (several deployments can share one Redis). */
  queuePrefix: z.string().min(1).default('bgn'),
  engine: EngineSchema.optional(),
  device: DeviceSchema.optional(),
  modelId: z.string().min(1).optional(),
  modelPath: z.string().min(1).optional(),
  runwayApiKey: z.string().min(1).optional(),
  debug: z.boolean().default(false),
  /** Jobs this process runs at once; 0 = enqueue only (workers elsewhere). */
  concurrency: z.number().int().min(0).max(256).default(2),
  /** Native threads per job (default: all cores). */
  threads: z.number().int().min(1).max(1024).optional(),
  /** Tries per job, the first included. */
  attempts: z.number().int().min(1).max(100).default(3),
  /** Delay before the first retry; doubles each time. */
  backoffMs: z.number().int().min(0).default(5_000),
  jobTimeoutMs: z.number().int().min(1).default(600_000),
  /** Jobs waiting + running above which POSTs answer 503 + Retry-After. */
  maxQueued: z.number().int().min(1).default(1000),
  retryAfterSec: z.number().int().min(1).default(10),
  /** A running job whose worker stops renewing its lease this long is run again. */
  leaseMs: z.number().int().min(100).default(30_000),
  pollMs: z.number().int().min(10).default(500),
  /** JSON body limit. */
  bodyLimit: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** Upload and inputUrl download limit. */
  uploadLimit: z
    .number()
    .int()
    .min(1024)
    .default(50 * 1024 * 1024),
  /** How long /v1/cleanup and /v1/replace wait for the result before answering 202. */
  syncWaitMs: z.number().int().min(0).default(30_000),
  /** Delays between webhook attempts (the first attempt is immediate). */
  webhookSchedule: z
    .array(z.number().int().min(0))
    .default([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]),
  webhookTimeoutMs: z.number().int().min(1).default(10_000),
  /** Time running jobs get to finish on shutdown before they are put back in the queue. */
  shutdownGraceMs: z.number().int().min(0).default(25_000),
  /** Ended jobs and their files are deleted this long after they ended; 0 keeps them forever. */
  jobRetentionMs: z
    .number()
    .int()
    .min(0)
    .default(7 * 86_400_000),
  /** How often ended jobs are looked for (default: 10 min, or the retention when shorter). */
  retentionSweepMs: z.number().int().min(100).optional(),
  /** Free bytes under OUTPUT_DIR below which new jobs are refused with 503; 0 turns the check off. */
  minFreeDisk: z
    .number()
    .int()
    .min(0)
    .default(256 * 1024 * 1024),
});

export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;

interface Setting {
  key: keyof ServerConfig;
  env: string;
  flag: string;
  help: string;
  parse: (text: string) => unknown;
  secret?: boolean;
}

const str = (s: string) => s;

/** Every setting: its environment variable, its `serve` flag and how its text is read. */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'port',
    env: 'PORT',
    flag: '--port <n>',
    help: 'port to listen on (default 3001; 0 = any free port)',
    parse: int,
  },
  { key: 'host', env: 'HOST', flag: '--host <addr>', help: 'address to listen on (default 0.0.0.0)', parse: str },
  {
    key: 'apiToken',
    env: 'API_TOKEN',
    flag: '--api-token <token>',
    help: 'bearer token required on every route',
    parse: str,
    secret: true,
  },
  {
    key: 'allowNoAuth',
    env: 'ALLOW_NO_AUTH',
    flag: '--allow-no-auth',
    help: 'serve without API_TOKEN (anyone reaching the port can use it)',
    parse: bool,
  },
  {
    key: 'healthPublic',
    env: 'HEALTH_PUBLIC',
    flag: '--health-public [bool]',
    help: "/health's liveness answer needs no token (default true; false = token required)",
    parse: bool,
  },
  {
    key: 'webhookSecret',
    env: 'APP_WEBHOOK_SECRET',
    flag: '--webhook-secret <secret>',
    help: 'Standard Webhooks signing key (whsec_<base64> or raw text)',
    parse: str,
    secret: true,
  },
  {
    key: 'inputRoots',
    env: 'INPUT_ROOTS',
    flag: '--input-roots <dirs>',
    help: 'comma-separated folders inputPath may read',
    parse: list,
  },
  {
    key: 'outputDir',
    env: 'OUTPUT_DIR',
    flag: '--output-dir <dir>',
    help: 'where artifacts are stored (served at /files/)',
    parse: str,
  },
  {
    key: 'publicBaseUrl',
    env: 'PUBLIC_BASE_URL',
    flag: '--public-base-url <url>',
    help: 'makes artifact URLs absolute',
    parse: str,
  },
  {
    key: 'allowedHosts',
    env: 'WEBHOOK_ALLOWED_HOSTS',
    flag: '--allowed-hosts <hosts>',
    help: 'narrow callbackUrl/inputUrl to these hosts (host, *.domain, *; default: any public host)',
    parse: list,
  },
  { key: 'queueDb', env: 'QUEUE_DB', flag: '--queue-db <file>', help: 'SQLite file of the embedded queue', parse: str },
  {
    key: 'queueUrl',
    env: 'QUEUE_URL',
    flag: '--queue-url <url>',
    help: 'redis://… to share a BullMQ queue between processes',
    parse: str,
    secret: true,
  },
  {
    key: 'queuePrefix',
    env: 'QUEUE_PREFIX',
    flag: '--queue-prefix <name>',
    help: 'key prefix in Redis (default bgn)',
    parse: str,
  },
  {
    key: 'engine',
    env: 'BG_ENGINE',
    flag: '--engine <name>',
    help: 'default engine: auto, local, runway, studio',
    parse: str,
  },
  {
    key: 'device',
    env: 'DEVICE',
    flag: '--device <name>',
    help: 'auto, cpu or cuda: where the networks run (cuda is demanded for the local engine; the cutout follows cpu)',
    parse: (s) => s.trim().toLowerCase(),
  },
  { key: 'modelId', env: 'MODEL_ID', flag: '--model-id <org/name>', help: 'diffusion model id', parse: str },
  {
    key: 'modelPath',
    env: 'MODEL_PATH',
    flag: '--model-path <path>',
    help: 'diffusion checkpoint file or folder',
    parse: str,
  },
  {
    key: 'runwayApiKey',
    env: 'RUNWAY_API_KEY',
    flag: '--runway-api-key <key>',
    help: 'key for the runway engine',
    parse: str,
    secret: true,
  },
  {
    key: 'debug',
    env: 'DEBUG',
    flag: '--debug',
    help: 'debug logging',
    parse: (s) => (/^(1|true|yes|on|\*|bg-native.*)$/i.test(s.trim()) ? true : bool(s)),
  },
  {
    key: 'concurrency',
    env: 'CONCURRENCY',
    flag: '--concurrency <n>',
    help: 'jobs run at once by this process (default 2; 0 = none)',
    parse: int,
  },
  {
    key: 'threads',
    env: 'BG_THREADS',
    flag: '--threads <n>',
    help: 'native threads per job (default: all cores)',
    parse: int,
  },
  { key: 'attempts', env: 'JOB_ATTEMPTS', flag: '--attempts <n>', help: 'tries per job (default 3)', parse: int },
  {
    key: 'backoffMs',
    env: 'JOB_BACKOFF',
    flag: '--backoff <duration>',
    help: 'delay before the first retry, doubling (default 5s)',
    parse: parseDuration,
  },
  {
    key: 'jobTimeoutMs',
    env: 'JOB_TIMEOUT',
    flag: '--job-timeout <duration>',
    help: 'a job running longer is cancelled (default 10m)',
    parse: parseDuration,
  },
  {
    key: 'maxQueued',
    env: 'QUEUE_MAX',
    flag: '--queue-max <n>',
    help: 'queued + running jobs above which requests get 503 (default 1000)',
    parse: int,
  },
  {
    key: 'leaseMs',
    env: 'QUEUE_LEASE',
    flag: '--queue-lease <duration>',
    help: 'a running job whose worker went silent this long runs again (default 30s)',
    parse: parseDuration,
  },
  {
    key: 'pollMs',
    env: 'QUEUE_POLL',
    flag: '--queue-poll <duration>',
    help: 'how often the queue is polled for work (default 500ms)',
    parse: parseDuration,
  },
  {
    key: 'bodyLimit',
    env: 'BODY_LIMIT',
    flag: '--body-limit <size>',
    help: 'largest JSON body (default 1mb)',
    parse: parseBytes,
  },
  {
    key: 'uploadLimit',
    env: 'UPLOAD_LIMIT',
    flag: '--upload-limit <size>',
    help: 'largest upload or inputUrl download (default 50mb)',
    parse: parseBytes,
  },
  {
    key: 'syncWaitMs',
    env: 'SYNC_WAIT',
    flag: '--sync-wait <duration>',
    help: 'how long /v1 routes wait before answering 202 (default 30s)',
    parse: parseDuration,
  },
  {
    key: 'webhookSchedule',
    env: 'WEBHOOK_RETRY_SCHEDULE',
    flag: '--webhook-retry-schedule <durations>',
    help: 'delays between webhook attempts (default 5s,5m,30m,2h,5h,10h,10h)',
    parse: (s) => list(s).map(parseDuration),
  },
  {
    key: 'webhookTimeoutMs',
    env: 'WEBHOOK_TIMEOUT',
    flag: '--webhook-timeout <duration>',
    help: 'per-attempt webhook timeout (default 10s)',
    parse: parseDuration,
  },
  {
    key: 'shutdownGraceMs',
    env: 'SHUTDOWN_GRACE',
    flag: '--shutdown-grace <duration>',
    help: 'time running jobs get to finish on shutdown (default 25s)',
    parse: parseDuration,
  },
  {
    key: 'jobRetentionMs',
    env: 'JOB_RETENTION',
    flag: '--job-retention <duration>',
    help: 'ended jobs and their files are deleted this long after they ended (default 7d; 0 = keep)',
    parse: parseDuration,
  },
  {
    key: 'retentionSweepMs',
    env: 'JOB_RETENTION_SWEEP',
    flag: '--job-retention-sweep <duration>',
    help: 'how often ended jobs are looked for (default 10m, or the retention when shorter)',
    parse: parseDuration,
  },
  {
    key: 'minFreeDisk',
    env: 'MIN_FREE_DISK',
    flag: '--min-free-disk <size>',
    help: 'free space under OUTPUT_DIR below which new jobs get 503 (default 256mb; 0 = no check)',
    parse: parseBytes,
  },
];

/** Names of the settings that must never be logged. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(SETTINGS.filter((s) => s.secret).map((s) => s.key));

/**
 * The configuration from `env`, with `overrides` (flags, or a test's values) on top.
 * Throws E_CONFIG naming the variable on a bad value.
 */
export function loadServerConfig(
  overrides: ServerConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): ServerConfig {
  const raw: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const text = env[s.env];
    if (text === undefined || text.trim() === '') continue;
    try {
      raw[s.key] = s.parse(text);
    } catch (err) {
      throw new BgNativeError('E_CONFIG', `${s.env} ${(err as Error).message}.`);
    }
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) raw[k] = v;
  const parsed = ServerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const setting = SETTINGS.find((s) => s.key === key);
    const name = setting ? `${setting.env} (${setting.flag.split(' ')[0]})` : key;
    const shown = SECRET_KEYS.has(key) ? '' : ` (got ${JSON.stringify(raw[key])})`;
    throw new BgNativeError('E_CONFIG', `${name} ${issue.message.replace(/^Invalid input: /, '')}${shown}.`);
  }
  const cfg = parsed.data;
  cfg.outputDir = path.resolve(cfg.outputDir);
  cfg.queueDb = path.resolve(cfg.queueDb);
  cfg.inputRoots = cfg.inputRoots.map((r) => path.resolve(r));
  if (cfg.publicBaseUrl) cfg.publicBaseUrl = cfg.publicBaseUrl.replace(/\/+$/, '');
  return cfg;
}

/** Refuses to serve HTTP without a token unless that was asked for. */
export function checkAuthConfig(cfg: ServerConfig): void {
  if (!cfg.apiToken && !cfg.allowNoAuth) {
    throw new BgNativeError(
      'E_CONFIG',
      'API_TOKEN is not set: set it (clients send `Authorization: Bearer <token>`), ' +
        'or pass --allow-no-auth / ALLOW_NO_AUTH=true to serve without one.',
    );
  }
}

/** The configuration with secrets replaced by "[set]" — safe to log. */
export function describeConfig(cfg: ServerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) out[k] = SECRET_KEYS.has(k) && v !== undefined ? '[set]' : v;
  return out;
}

/** The queue's part of the configuration: where the queue lives and how it retries. */
export function queueSettings(cfg: ServerConfig): QueueSettings {
  return {
    ...(cfg.queueUrl !== undefined ? { queueUrl: cfg.queueUrl } : {}),
    queuePrefix: cfg.queuePrefix,
    queueDb: cfg.queueDb,
    backoffMs: cfg.backoffMs,
    attempts: cfg.attempts,
    leaseMs: cfg.leaseMs,
    pollMs: cfg.pollMs,
    webhookSchedule: cfg.webhookSchedule,
  };
}

/**
 * The library configuration a server or worker runs its jobs with: the environment's settings
 * (fromEnv) with the server's own on top — MODEL_ID / --model-id and RUNWAY_API_KEY /
 * --runway-api-key — so nothing has to be written back into the environment.
 */
export function libraryConfig(cfg: ServerConfig, env: NodeJS.ProcessEnv = process.env): BgNativeConfig {
  const base = fromEnv(env);
  return {
    ...base,
    ...(cfg.modelId ? { modelId: cfg.modelId } : {}),
    ...(cfg.runwayApiKey ? { runway: { ...base.runway, apiKey: cfg.runwayApiKey } } : {}),
  };
}
