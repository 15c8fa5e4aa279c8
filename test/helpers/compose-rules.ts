/**
 * What compose.yaml must be, as rules over the parsed file (YAML merge keys resolved): an HTTP
 * server that only enqueues, workers, and Redis, sharing one queue and one output volume, with
 * health checks and the token taken from the environment. Each returns `rule: what is wrong` lines.
 */
import { existsSync } from 'node:fs';
import path from 'node:path/posix';

export interface ImageFacts {
  /** The image's VOLUME, EXPOSE port, ENV and HEALTHCHECK command (from the Dockerfile it builds). */
  volume: string;
  port: string;
  env: ReadonlyMap<string, string>;
  healthcheck: readonly string[];
}

export interface ComposeFacts {
  root: string;
  image: ImageFacts;
  /** Environment variables the package reads. */
  knownEnv: ReadonlySet<string>;
  /** Long flags of `bg-native serve` (`--concurrency`, …). */
  serveFlags: ReadonlySet<string>;
  /** The server's default SHUTDOWN_GRACE in ms. */
  shutdownGraceMs: number;
}

/** compose.yaml as YAML parses it, in the parts the rules read; any of it may be missing. */
export interface ComposeDoc {
  services?: Record<string, ComposeService | undefined>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A service of compose.yaml. */
export interface ComposeService {
  build?: { context?: string; dockerfile?: string };
  image?: string;
  command?: string | string[];
  environment?: string[] | Record<string, string | number | boolean | null>;
  volumes?: (string | { source?: string; target?: string })[];
  ports?: unknown[];
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition?: string } | undefined>;
  stop_grace_period?: string;
  [key: string]: unknown;
}

type Rule = (doc: ComposeDoc, facts: ComposeFacts) => string[];

const TOP_KEYS = new Set(['name', 'services', 'volumes', 'networks', 'secrets', 'configs']);
const SERVICE_KEYS = new Set(
  [
    'build command configs container_name depends_on deploy entrypoint env_file environment expose extra_hosts',
    'gpus healthcheck image init labels logging networks ports profiles pull_policy read_only restart secrets',
    'stop_grace_period stop_signal tmpfs user volumes working_dir',
  ]
    .join(' ')
    .split(' '),
);
const HEALTHCHECK_KEYS = new Set([
  'test',
  'interval',
  'timeout',
  'retries',
  'start_period',
  'start_interval',
  'disable',
]);
const SECRETS = ['API_TOKEN', 'APP_WEBHOOK_SECRET', 'RUNWAY_API_KEY'];

export function envOf(service: ComposeService | undefined): Map<string, string> {
  const env = service?.environment;
  if (Array.isArray(env)) return new Map(env.map((e: string) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
  return new Map(Object.entries(env ?? {}).map(([k, v]) => [k, String(v ?? '')]));
}

function argv(command: unknown): string[] {
  if (Array.isArray(command)) return command.map(String);
  return typeof command === 'string' ? command.split(/\s+/).filter(Boolean) : [];
}

/** Compose durations: `30s`, `1m30s`, `500ms`. */
export function durationMs(text: unknown): number {
  let ms = 0;
  for (const m of String(text ?? '').matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us)/g)) {
    ms += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[m[2] as 'h' | 'm' | 's' | 'ms' | 'us'];
  }
  return ms;
}

/** `name:/target` mounts of named volumes: target → volume name. */
function namedMounts(service: ComposeService | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of service?.volumes ?? []) {
    const [source, target] = typeof v === 'string' ? v.split(':') : [v?.source, v?.target];
    if (source && target && !source.startsWith('.') && !source.startsWith('/')) out.set(target, source);
  }
  return out;
}

const APPS = ['server', 'worker'] as const;

const servicesRule: Rule = (doc) => {
  const out: string[] = [];
  for (const k of Object.keys(doc))
    if (!TOP_KEYS.has(k) && !k.startsWith('x-')) out.push(`keys: unknown top-level key ${k}`);
  for (const name of ['server', 'worker', 'redis']) if (!doc.services?.[name]) out.push(`services: no ${name} service`);
  for (const [name, s] of Object.entries(doc.services ?? {})) {
    for (const k of Object.keys(s ?? {})) if (!SERVICE_KEYS.has(k)) out.push(`keys: ${name}: unknown key ${k}`);
    for (const k of Object.keys(s?.healthcheck ?? {}))
      if (!HEALTHCHECK_KEYS.has(k)) out.push(`keys: ${name}.healthcheck: unknown key ${k}`);
  }
  return out;
};

const imageRule: Rule = (doc, facts) => {
  const out: string[] = [];
  const [server, worker] = APPS.map((n) => doc.services?.[n]);
  for (const [name, s] of APPS.map((n) => [n, doc.services?.[n]] as const)) {
    const file = s?.build?.dockerfile ?? 'Dockerfile';
    if (!s?.build || (s.build.context ?? '.') !== '.')
      out.push(`image: ${name} is not built from the repository (build.context .)`);
    else if (!existsSync(path.join(facts.root, file)))
      out.push(`image: ${name} builds ${file}, which is not in the repository`);
  }
  if (!server?.image || server.image !== worker?.image)
    out.push('image: the server and the worker must run the same image');
  return out;
};

const commandRule: Rule = (doc, facts) => {
  const out: string[] = [];
  const serve = argv(doc.services?.server?.command);
  const at = serve.indexOf('--concurrency');
  if (serve[0] !== 'serve' || at < 0 || serve[at + 1] !== '0')
    out.push(`command: the server runs ${JSON.stringify(serve)}, not serve --concurrency 0`);
  for (const flag of serve.filter((a) => a.startsWith('--')))
    if (!facts.serveFlags.has(flag)) out.push(`command: serve has no ${flag} flag`);
  const work = argv(doc.services?.worker?.command);
  if (work[0] !== 'worker') out.push(`command: the worker runs ${JSON.stringify(work)}, not worker`);
  return out;
};

const queueRule: Rule = (doc) => {
  const urls = APPS.map((n) => envOf(doc.services?.[n]).get('QUEUE_URL'));
  if (!urls[0] || urls[0] !== urls[1])
    return [`queue: the server and the worker must share QUEUE_URL (got ${urls.join(' / ')})`];
  let url: URL;
  try {
    url = new URL(urls[0]);
  } catch {
    return [`queue: QUEUE_URL ${urls[0]} is not a URL`];
  }
  const redis = doc.services?.[url.hostname];
  if (url.protocol !== 'redis:' || !/^redis:/.test(String(redis?.image ?? '')))
    return [`queue: QUEUE_URL ${urls[0]} names no redis service`];
  return url.port === '6379' || url.port === '' ? [] : [`queue: QUEUE_URL port ${url.port} is not Redis' 6379`];
};

const envRule: Rule = (doc, facts) => {
  const out: string[] = [];
  for (const name of APPS) {
    for (const [k, v] of envOf(doc.services?.[name])) {
      if (!facts.knownEnv.has(k)) out.push(`env: ${name}: ${k} is not a variable the package reads`);
      if (SECRETS.includes(k) && !/^\$\{\w+(:?[-?][^}]*)?\}$/.test(v))
        out.push(`secret: ${name}: ${k} must come from the environment (\${${k}})`);
    }
  }
  if (!/^\$\{API_TOKEN:\?/.test(envOf(doc.services?.server).get('API_TOKEN') ?? '')) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the compose file's ${…} syntax, quoted
    out.push('secret: the server needs API_TOKEN from the environment, required (${API_TOKEN:?…})');
  }
  return out;
};

const volumeRule: Rule = (doc, facts) => {
  const out: string[] = [];
  const mounts = APPS.map((n) => namedMounts(doc.services?.[n]).get(facts.image.volume));
  if (!mounts[0] || mounts[0] !== mounts[1])
    return [`volume: the server and the worker must mount one named volume at ${facts.image.volume}`];
  if (!(mounts[0] in (doc.volumes ?? {}))) out.push(`volume: ${mounts[0]} is not declared under volumes:`);
  for (const name of APPS) {
    const dir = envOf(doc.services?.[name]).get('OUTPUT_DIR') ?? facts.image.env.get('OUTPUT_DIR') ?? '';
    if (!dir.startsWith(`${facts.image.volume}/`))
      out.push(`volume: ${name}'s OUTPUT_DIR ${dir} is not on the shared volume`);
  }
  return out;
};

const portsRule: Rule = (doc, facts) => {
  const ports: unknown[] = doc.services?.server?.ports ?? [];
  const targets = ports.map((p) =>
    typeof p === 'object' && p
      ? String((p as { target?: unknown }).target)
      : String(p).split(':').at(-1)!.split('/')[0],
  );
  return targets.includes(facts.image.port)
    ? []
    : [`ports: the server publishes no port to ${facts.image.port} (got ${targets.join(', ') || 'none'})`];
};

const healthRule: Rule = (doc, facts) => {
  const out: string[] = [];
  const test = doc.services?.server?.healthcheck?.test;
  if (JSON.stringify(test) !== JSON.stringify(['CMD', ...facts.image.healthcheck])) {
    out.push("healthcheck: the server's test is not the image's /health probe (CMD node -e …)");
  }
  if (doc.services?.worker?.healthcheck?.disable !== true)
    out.push('healthcheck: the worker serves no HTTP: disable the inherited /health probe');
  const redisTest = argv(doc.services?.redis?.healthcheck?.test);
  if (!redisTest.includes('redis-cli') || !redisTest.includes('ping'))
    out.push('healthcheck: redis has no redis-cli ping check');
  return out;
};

const redisRule: Rule = (doc) => {
  const redis = doc.services?.redis;
  const out: string[] = [];
  const image = String(redis?.image ?? '');
  if (!/^redis:[\w.-]+$/.test(image) || /:latest$/.test(image))
    out.push('redis: use the official image with a tag (redis:<version>)');
  if (!argv(redis?.command).join(' ').includes('--maxmemory-policy noeviction'))
    out.push('redis: BullMQ needs --maxmemory-policy noeviction');
  for (const name of APPS) {
    if (doc.services?.[name]?.depends_on?.redis?.condition !== 'service_healthy')
      out.push(`redis: ${name} does not wait for a healthy redis`);
  }
  return out;
};

const shutdownRule: Rule = (doc, facts) =>
  APPS.filter((n) => durationMs(doc.services?.[n]?.stop_grace_period) <= facts.shutdownGraceMs).map(
    (n) => `shutdown: ${n}'s stop_grace_period must exceed SHUTDOWN_GRACE (${facts.shutdownGraceMs / 1000} s)`,
  );

export const COMPOSE_RULES: readonly Rule[] = [
  servicesRule,
  imageRule,
  commandRule,
  queueRule,
  envRule,
  volumeRule,
  portsRule,
  healthRule,
  redisRule,
  shutdownRule,
];

export function composeProblems(doc: ComposeDoc, facts: ComposeFacts): string[] {
  return COMPOSE_RULES.flatMap((rule) => rule(doc, facts));
}
