/**
 * enqueue(): the seed API, POST /api/background/replace — the job id at once (202; 200 when the
 * Idempotency-Key found the job already made), for callers that take the result by webhook.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';

import { BackgroundApiError } from './errors.js';
import { absolute, inScope, request, type ClientState } from './transport.js';
import type { CallOptions, EnqueueRequest, EnqueueResponse } from './types.js';

/** The seed API's body: the photo as inputPath or inputUrl, every option not named here as overrides. */
function seedBody(req: EnqueueRequest): Record<string, unknown> {
  const {
    mediaId,
    projectId,
    imagePath,
    inputPath,
    imageUrl,
    inputUrl,
    callbackUrl,
    idempotencyKey: _key,
    preset,
    promptType,
    overrides,
    timeoutMs: _timeout,
    signal: _signal,
    ...rest
  } = req;
  const p = imagePath ?? inputPath;
  const u = imageUrl ?? inputUrl;
  if ((p === undefined) === (u === undefined)) {
    const message = 'enqueue() takes one of imagePath (a path on the server) and imageUrl.';
    throw new BackgroundApiError('E_BAD_INPUT', message);
  }
  const merged = { ...rest, ...(overrides ?? {}) };
  return {
    mediaId,
    projectId,
    ...(p !== undefined ? { inputPath: path.resolve(p) } : { inputUrl: u }),
    ...(preset !== undefined ? { preset } : {}),
    ...(promptType !== undefined ? { promptType } : {}),
    ...(Object.keys(merged).length ? { overrides: merged } : {}),
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
  };
}

export async function enqueue(state: ClientState, req: EnqueueRequest): Promise<EnqueueResponse> {
  if (req === null || typeof req !== 'object') {
    const message = 'enqueue() takes an object with mediaId, projectId and imagePath or imageUrl.';
    throw new BackgroundApiError('E_BAD_INPUT', message);
  }
  const body = seedBody(req);
  const { idempotencyKey, timeoutMs, signal } = req;
  return inScope(state, { timeoutMs, signal } as CallOptions, async (scope) => {
    const spec = {
      method: 'POST' as const,
      path: '/api/background/replace',
      json: body,
      idempotencyKey: idempotencyKey ?? randomUUID(),
      what: 'enqueue()',
    };
    const a = await request(state, spec, scope);
    const b = a.body as { jobId?: unknown; status?: unknown; statusUrl?: unknown };
    if (typeof b.jobId !== 'string') {
      const message = 'enqueue(): the server answered without a jobId: is BACKGROUND_API_URL a bg-native server?';
      throw new BackgroundApiError('E_BAD_RESPONSE', message);
    }
    const statusUrl =
      typeof b.statusUrl === 'string' ? b.statusUrl : `/api/background/jobs/${encodeURIComponent(b.jobId)}`;
    return {
      jobId: b.jobId,
      status: String(b.status ?? 'queued'),
      statusUrl: absolute(state, statusUrl),
      created: a.status === 202,
    };
  });
}
