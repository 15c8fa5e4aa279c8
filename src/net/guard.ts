/**
 * Outbound requests made for a client (the server fetching `inputUrl`, the webhook sender posting
 * to `callbackUrl`) go to any public http(s) host by default, as webhook services do; a non-empty
 * allow-list (WEBHOOK_ALLOWED_HOSTS) narrows them to the hosts it names. Loopback, link-local,
 * private and otherwise internal addresses are refused unless that exact host is listed. The
 * address is checked after DNS resolution, inside the connection's own lookup, so a name cannot
 * resolve to a public address for the check and a private one for the connection.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

/** Why an URL was refused; the server answers 403 with the message. */
export class UrlRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlRefusedError';
  }
}

const internal = new net.BlockList();
/** Internal IPv4 ranges: address, prefix length. */
const INTERNAL_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
/** Internal IPv6 ranges: address, prefix length. */
const INTERNAL_V6 = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
] as const;
for (const [addr, bits] of INTERNAL_V4) internal.addSubnet(addr, bits, 'ipv4');
for (const [addr, bits] of INTERNAL_V6) internal.addSubnet(addr, bits, 'ipv6');

/**
 * True for loopback, link-local, private, CGNAT, multicast, documentation and unspecified
 * addresses (v4, v6, v4-mapped v6).
 */
export function isInternalAddress(ip: string): boolean {
  const family = net.isIP(ip);
  if (family === 4) return internal.check(ip, 'ipv4');
  if (family === 6) {
    const lower = ip.toLowerCase();
    const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped) return internal.check(mapped[1]!, 'ipv4');
    const hex = /^(?:0*:)*:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (hex) {
      const hi = parseInt(hex[1]!, 16);
      const lo = parseInt(hex[2]!, 16);
      return internal.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, 'ipv4');
    }
    if (/^64:ff9b::/.test(lower)) return true; // NAT64 can reach anything: treat as internal
    return internal.check(ip, 'ipv6');
  }
  return true; // not an address: refuse
}

export interface HostMatch {
  allowed: boolean;
  /** Listed by exact name: internal addresses are then allowed too. */
  exact: boolean;
}

function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
}

/**
 * Matches a host name against `host`, `*.domain` and `*` entries. An empty list allows every
 * host (internal addresses are refused separately, since no host is listed exactly).
 */
export function matchHost(hostname: string, allowed: readonly string[]): HostMatch {
  const host = bareHost(hostname);
  if (!allowed.some((raw) => bareHost(raw.trim()) !== '')) return { allowed: true, exact: false };
  let wild = false;
  for (const raw of allowed) {
    const entry = bareHost(raw.trim());
    if (!entry) continue;
    if (entry === host) return { allowed: true, exact: true };
    if (entry === '*') wild = true;
    else if (entry.startsWith('*.') && host.endsWith(entry.slice(1)) && host.length > entry.length - 1) wild = true;
  }
  return { allowed: wild, exact: false };
}

export interface UrlPolicy {
  /** Empty: any public host; otherwise only the hosts listed (`host`, `*.domain`, `*`). */
  allowedHosts: readonly string[];
}

const LIST_EXACTLY = 'list that exact host in WEBHOOK_ALLOWED_HOSTS to allow it';

/** Checks scheme and host of `text` (no DNS); returns the URL and whether internal addresses are allowed for it. */
export function checkUrlSyntax(text: string, policy: UrlPolicy, what: string): { url: URL; exact: boolean } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UrlRefusedError(`${what} is not a valid URL: ${JSON.stringify(text.slice(0, 200))}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UrlRefusedError(`${what} must be an http:// or https:// URL, got ${url.protocol}.`);
  }
  const match = matchHost(url.hostname, policy.allowedHosts);
  if (!match.allowed) {
    throw new UrlRefusedError(
      `${what} host ${JSON.stringify(bareHost(url.hostname))} is not allowed: add it to WEBHOOK_ALLOWED_HOSTS ` +
        `(now ${policy.allowedHosts.join(', ')}), or add \`*\` to allow any public host.`,
    );
  }
  const literal = bareHost(url.hostname);
  if (net.isIP(literal) && isInternalAddress(literal) && !match.exact) {
    throw new UrlRefusedError(`${what} points at the internal address ${literal}; ${LIST_EXACTLY}.`);
  }
  return { url, exact: match.exact };
}

/** A dns.lookup replacement for http(s).request that refuses internal addresses. */
function guardedLookup(allowInternal: boolean, what: string): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const list = addresses as dns.LookupAddress[];
      if (!allowInternal) {
        const bad = list.find((a) => isInternalAddress(a.address));
        if (bad) {
          const msg = `${what} host ${hostname} resolves to the internal address ${bad.address}; ${LIST_EXACTLY}.`;
          return callback(new UrlRefusedError(msg));
        }
      }
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(new UrlRefusedError(`${what} host ${hostname} has no address.`));
      callback(null, first.address, first.family);
    });
  }) as net.LookupFunction;
}

/** How long the early check waits for DNS before leaving the decision to the connection. */
const EARLY_LOOKUP_MS = 3000;

/**
 * Checks the URL now, for a quick 4xx at enqueue time: scheme, the allow-list, and whether the
 * host resolves to an internal address. A host that does not resolve now (or not quickly) is not
 * refused here: the address is checked again when the request connects, which is the check that
 * protects, and a passing DNS failure should not turn a job away.
 */
export async function checkUrl(text: string, policy: UrlPolicy, what: string): Promise<URL> {
  const { url, exact } = checkUrlSyntax(text, policy, what);
  const host = bareHost(url.hostname);
  if (exact || net.isIP(host)) return url;
  let timer: NodeJS.Timeout | undefined;
  const addrs = await Promise.race([
    dns.promises.lookup(host, { all: true }).catch(() => [] as dns.LookupAddress[]),
    new Promise<dns.LookupAddress[]>((resolve) => {
      timer = setTimeout(() => resolve([]), EARLY_LOOKUP_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  const bad = addrs.find((a) => isInternalAddress(a.address));
  if (bad) {
    throw new UrlRefusedError(`${what} host ${host} resolves to the internal address ${bad.address}; ${LIST_EXACTLY}.`);
  }
  return url;
}

export interface GuardedRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
  /** Refuse responses larger than this (bytes). */
  maxBytes: number;
  /** Redirects to follow (each re-checked); default 0. */
  maxRedirects?: number;
  signal?: AbortSignal;
}

export interface GuardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** An HTTP(S) request that obeys the allow-list and the internal-address rule, with a timeout and a size cap. */
export async function guardedRequest(
  text: string,
  policy: UrlPolicy,
  what: string,
  req: GuardedRequest,
): Promise<GuardedResponse> {
  let current = text;
  for (let hop = 0; ; hop++) {
    const { url, exact } = checkUrlSyntax(current, policy, what);
    const res = await requestOnce(url, exact, what, req);
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location && hop < (req.maxRedirects ?? 0)) {
      current = new URL(location, url).toString();
      continue;
    }
    return res;
  }
}

function requestOnce(url: URL, allowInternal: boolean, what: string, req: GuardedRequest): Promise<GuardedResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const r = mod.request(
      url,
      {
        method: req.method ?? 'GET',
        headers: { 'user-agent': 'bg-native', ...req.headers },
        lookup: guardedLookup(allowInternal, what),
        timeout: req.timeoutMs,
        ...(req.signal ? { signal: req.signal } : {}),
      },
      (res) => {
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared > req.maxBytes) {
          res.destroy();
          const msg = `${what} answered with ${declared} bytes, more than the ${req.maxBytes}-byte limit.`;
          reject(new UrlRefusedError(msg));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > req.maxBytes) {
            res.destroy();
            reject(new UrlRefusedError(`${what} answered with more than the ${req.maxBytes}-byte limit.`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`${what} did not answer within ${req.timeoutMs} ms.`)));
    r.on('error', reject);
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}
