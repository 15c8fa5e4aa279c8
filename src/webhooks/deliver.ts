/**
 * Sends one webhook attempt: the stored body, signed now (a fresh webhook-timestamp per attempt,
 * the same webhook-id every time), through the allow-list and internal-address guard.
 * 2xx → delivered; 410 Gone → stop for good; anything else (or no answer) → try again later.
 */
import { guardedRequest, UrlRefusedError, type UrlPolicy } from '../net/guard.js';
import type { DeliveryOutcome, WebhookMessage, WebhookSender } from '../queue/types.js';
import { webhookHeaders } from './signature.js';

export interface SenderOptions extends UrlPolicy {
  secret: string;
  timeoutMs: number;
}

export function createWebhookSender(opts: SenderOptions): WebhookSender {
  return async (msg: WebhookMessage): Promise<DeliveryOutcome> => {
    try {
      const res = await guardedRequest(msg.url, opts, 'callbackUrl', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...webhookHeaders(opts.secret, msg.id, msg.body) },
        body: msg.body,
        timeoutMs: opts.timeoutMs,
        maxBytes: 64 * 1024,
      });
      if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
      if (res.status === 410) return { kind: 'gone', status: res.status };
      return { kind: 'retry', status: res.status, error: `HTTP ${res.status}` };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const error = err instanceof UrlRefusedError ? e.message : `${e.code ?? 'error'}: ${e.message}`;
      return { kind: 'retry', error };
    }
  };
}
