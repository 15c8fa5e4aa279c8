/**
 * Standard Webhooks signatures: what the server sends verifies with verifyWebhook, and anything
 * changed — body, id, timestamp, secret — or too old is refused.
 */
import { createHmac } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { signWebhook, verifyWebhook, webhookHeaders, WebhookVerificationError } from '../src/index.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef');
const secret = `whsec_${key.toString('base64')}`;
const body = JSON.stringify({ type: 'background.job.succeeded', jobId: 'job_1' });

describe('verifyWebhook', () => {
  it('signs v1,<base64 HMAC-SHA256 of id.timestamp.body> with the whsec_ key bytes', () => {
    const expected = createHmac('sha256', key).update(`msg_1.1700000000.${body}`).digest('base64');
    expect(signWebhook(secret, 'msg_1', 1700000000, body)).toBe(`v1,${expected}`);
  });

  it('uses a secret without the whsec_ prefix as raw key bytes', () => {
    const expected = createHmac('sha256', Buffer.from('plain-secret')).update(`m.1.${body}`).digest('base64');
    expect(signWebhook('plain-secret', 'm', 1, body)).toBe(`v1,${expected}`);
  });

  it('accepts what webhookHeaders produced and returns the parsed body', () => {
    const headers = webhookHeaders(secret, 'msg_1', body);
    expect(verifyWebhook(secret, headers, body)).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, new Headers(headers), Buffer.from(body))).toEqual(JSON.parse(body));
  });

  it('accepts a list of signatures when one matches (key rotation)', () => {
    const h = webhookHeaders(secret, 'msg_1', body);
    h['webhook-signature'] = `v1,${Buffer.alloc(32).toString('base64')} ${h['webhook-signature']}`;
    expect(() => verifyWebhook(secret, h, body)).not.toThrow();
  });

  it.each([
    ['a changed body', (h: Record<string, string>) => [h, body.replace('job_1', 'job_2')] as const],
    ['a changed id', (h: Record<string, string>) => [{ ...h, 'webhook-id': 'msg_2' }, body] as const],
    [
      'a changed timestamp',
      (h: Record<string, string>) =>
        [{ ...h, 'webhook-timestamp': String(Number(h['webhook-timestamp']) - 1) }, body] as const,
    ],
  ])('refuses %s', (_name, change) => {
    const [h, b] = change(webhookHeaders(secret, 'msg_1', body));
    expect(() => verifyWebhook(secret, h, b)).toThrow(expect.objectContaining({ reason: 'bad-signature' }));
  });

  it('refuses the wrong secret', () => {
    expect(() =>
      verifyWebhook(`whsec_${Buffer.from('other').toString('base64')}`, webhookHeaders(secret, 'msg_1', body), body),
    ).toThrow(WebhookVerificationError);
  });

  it('refuses a timestamp outside the tolerance', () => {
    const old = webhookHeaders(secret, 'msg_1', body, Date.now() - 600_000);
    expect(() => verifyWebhook(secret, old, body)).toThrow(expect.objectContaining({ reason: 'expired' }));
    expect(() => verifyWebhook(secret, old, body, { toleranceSec: 900 })).not.toThrow();
  });

  it('refuses a message without the three headers', () => {
    expect(() => verifyWebhook(secret, {}, body)).toThrow(expect.objectContaining({ reason: 'missing-headers' }));
  });
});
