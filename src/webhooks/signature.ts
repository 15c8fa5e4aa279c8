/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing and verification.
 *
 *   webhook-id:        msg_… (the same on every retry of one message)
 *   webhook-timestamp: seconds since the epoch, when this attempt was signed
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)> (space-separated list)
 *
 * The key is the secret's base64 payload when it reads `whsec_<base64>`, else the secret's UTF-8 bytes.
 * This file imports nothing but node:crypto, so receivers can use verifyWebhook without the addon.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Thrown by verifyWebhook; `reason` says which check failed. */
export class WebhookVerificationError extends Error {
  readonly reason: 'missing-headers' | 'bad-timestamp' | 'expired' | 'bad-signature' | 'bad-payload';
  constructor(reason: WebhookVerificationError['reason'], message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
    this.reason = reason;
  }
}

/** The HMAC key of a secret: `whsec_<base64>` → the decoded bytes, anything else → its UTF-8 bytes. */
export function webhookKey(secret: string | Uint8Array): Buffer {
  if (typeof secret !== 'string') return Buffer.from(secret);
  if (secret.startsWith('whsec_')) {
    const b64 = secret.slice('whsec_'.length);
    if (/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return Buffer.from(b64, 'base64');
  }
  return Buffer.from(secret, 'utf8');
}

/** `v1,<base64 signature>` of one message. */
export function signWebhook(
  secret: string | Uint8Array,
  id: string,
  timestampSec: number,
  body: string | Uint8Array,
): string {
  const mac = createHmac('sha256', webhookKey(secret));
  mac.update(`${id}.${timestampSec}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

/** The three headers of one delivery attempt. */
export function webhookHeaders(
  secret: string | Uint8Array,
  id: string,
  body: string,
  now: number = Date.now(),
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const ts = Math.floor(now / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signWebhook(secret, id, ts, body) };
}

export type HeaderBag = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const bag = headers as Record<string, string | string[] | undefined>;
  for (const key of Object.keys(bag)) {
    if (key.toLowerCase() === name) {
      const v = bag[key];
      return Array.isArray(v) ? v[0] : v;
    }
  }
  return undefined;
}

export interface VerifyWebhookOptions {
  /** Largest accepted distance between the timestamp and now, in seconds (default 300). */
  toleranceSec?: number;
  /** The time to check against, in ms (default Date.now()). */
  now?: number;
}

/**
 * Checks a received webhook: the timestamp is within `toleranceSec` of now and one of the
 * `v1,` signatures matches (timing-safe compare). Returns the parsed JSON body; throws
 * WebhookVerificationError otherwise. `rawBody` must be the bytes as received, not re-serialised JSON.
 */
export function verifyWebhook(
  secret: string | Uint8Array,
  headers: HeaderBag,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): unknown {
  const id = header(headers, 'webhook-id');
  const tsText = header(headers, 'webhook-timestamp');
  const sigs = header(headers, 'webhook-signature');
  if (!id || !tsText || !sigs) {
    throw new WebhookVerificationError(
      'missing-headers',
      'Missing webhook-id, webhook-timestamp or webhook-signature header.',
    );
  }
  if (!/^\d+$/.test(tsText))
    throw new WebhookVerificationError(
      'bad-timestamp',
      `webhook-timestamp must be whole seconds, got ${JSON.stringify(tsText)}.`,
    );
  const ts = Number(tsText);
  const tolerance = options.toleranceSec ?? 300;
  const nowSec = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSec - ts) > tolerance) {
    throw new WebhookVerificationError(
      'expired',
      `webhook-timestamp ${ts} is more than ${tolerance} s from now (${nowSec}).`,
    );
  }
  const expected = Buffer.from(signWebhook(secret, id, ts, rawBody).slice(3), 'base64');
  let ok = false;
  for (const part of sigs.split(' ')) {
    const [version, value] = part.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    // Compare every candidate (no early exit on a match) so timing does not tell which one matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  if (!ok)
    throw new WebhookVerificationError(
      'bad-signature',
      'No webhook-signature matches the body: wrong secret, or the body was changed.',
    );
  const text = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new WebhookVerificationError('bad-payload', 'The webhook body is not JSON.');
  }
}
